// `obsmon report --source URL` against the real stores (issue 16, item 3): a week of runs with
// outages, unknown gaps, slow runs and failing integration checks is written to obsmon's SQLite
// (through storage's Writer, as the daemon writes) AND to a real store: Prometheus 2.42 (blocks
// built by promtool from OpenMetrics, then Prometheus started on them; three days of it, see
// StartPrometheus) or VictoriaMetrics (/api/v1/import/prometheus, the whole week). The truth is
// the SQLite report of the real obsmon binary: the report from the store must equal it, figure
// for figure, in `--format json`. Only fields that differ by construction are set aside, each
// named in Comparable (text, never a number).
//
// A blackbox_exporter-style data set (job and instance labels only, no config) gets a verdict
// too, equal to the SQLite one of the same runs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <climits>
#include <cmath>
#include <fstream>

#include "core/clock.h"
#include "core/records.h"
#include "source/store_runs.h"
#include "storage/storage.h"
#include "tests/integration/ops_support.h"
#include "tests/support/files.h"
#include "tests/support/loopback.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::WriteWholeFile;
using testing::WaitUntil;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

// A week ending on the hour eight days ago (both stores keep it: Prometheus's retention counts
// from its newest sample, VictoriaMetrics is told 100y).
const TimestampMs kFrom = FloorMs(SystemClock::Instance().NowMs() - 8 * kDay, kHour);
const TimestampMs kTo = kFrom + 7 * kDay;

struct Series {
  Labels labels;  // without __name__
  std::vector<ProbeRun> runs;
};

// A deterministic week of three probes of component `carbon` as obsmon writes them: a 30 s http
// health probe, a 60 s tcp health probe, a 10 min integration check. Start times carry
// milliseconds (scheduling jitter). Outages, gaps (nobody looking), slow runs, failing checks.
std::vector<Series> CarbonWeek() {
  struct Probe {
    std::string name;
    ProbeRole role;
    int64_t interval;
  };
  const Probe probes[] = {{"health", ProbeRole::kHealth, 30'000},
                          {"tcp", ProbeRole::kHealth, 60'000},
                          {"e2e", ProbeRole::kIntegration, 600'000}};
  auto in = [](TimestampMs t, TimestampMs start, int64_t len) {
    return t >= start && t < start + len;
  };
  std::vector<Series> out;
  uint64_t rng = 42;
  for (const Probe& p : probes) {
    Series s;
    s.labels = Labels{{"component", "carbon"}, {"instance", "http://127.0.0.1:1/" + p.name},
                      {"job", "carbon"}, {"probe", p.name}};
    for (TimestampMs base = kFrom - 2 * kHour; base < kTo + kHour / 2; base += p.interval) {
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      const TimestampMs t = base + static_cast<TimestampMs>((rng >> 33) % 1000);
      // obsmon was down: no run of any probe.
      if (in(t, kFrom + 2 * kDay + 5 * kHour, 25 * 60'000) || in(t, kFrom + 5 * kDay, 2 * kHour)) {
        continue;
      }
      bool up = true;
      if (p.role == ProbeRole::kHealth) {
        up = !in(t, kFrom + kDay + 3 * kHour, 12 * 60'000) &&
             !in(t, kFrom + 3 * kDay + 10 * kHour, 40 * 60'000) &&
             !(p.name == "health" && in(t, kFrom + 6 * kDay + 7 * kHour, 95'000)) &&
             !(p.name == "health" && in(t, kFrom + 4 * kDay + 15 * kHour, 180'000));
      } else {
        up = !in(t, kFrom + 4 * kDay + 2 * kHour, 600'000) && !in(t, kFrom + 6 * kDay, 600'000);
      }
      // Durations of a few ms, slower by the day, every 97th run slow, a failed run's timeout.
      const int64_t k = (base - kFrom) / p.interval;
      double seconds = 0.040 + 0.001 * static_cast<double>((rng >> 40) % 50) +
                       0.002 * static_cast<double>((base - kFrom) / kDay);
      if (k % 97 == 0) seconds = 2.5;
      if (!up) seconds = 5.0;
      // Measured in nanoseconds, as obsmon's steady clock gives them: at most 10 significant
      // digits, which VictoriaMetrics keeps exactly (it keeps about 14; 0.047000000000000006,
      // a sum of doubles, would come back as 0.047).
      seconds = std::round(seconds * 1e9) / 1e9;
      ProbeRun r;
      r.key = {"carbon", p.name};
      r.role = p.role;
      r.ts_ms = t;
      r.success = up;
      r.duration_seconds = seconds;
      r.valid_for_ms = static_cast<int64_t>(std::llround(static_cast<double>(p.interval) * 1.5));
      r.reason = up ? "" : "HTTP 503 from /" + p.name;  // what SQLite has and the store has not
      s.runs.push_back(std::move(r));
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The same kind of week as a blackbox_exporter scraped every 30 s gives: job and instance only.
std::vector<Series> BlackboxWeek() {
  Series s;
  s.labels = Labels{{"instance", "https://site.example/health"}, {"job", "blackbox"}};
  uint64_t rng = 7;
  for (TimestampMs t = kFrom - kHour; t < kTo + kHour / 2; t += 30'000) {
    if (t >= kFrom + 6 * kDay && t < kFrom + 6 * kDay + 50 * 60'000) continue;  // Prometheus down
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    const bool up = !(t >= kFrom + 2 * kDay && t < kFrom + 2 * kDay + 20 * 60'000);
    ProbeRun r;
    r.key = {"site", "https://site.example/health"};
    r.ts_ms = t;
    r.success = up;
    r.duration_seconds =
        up ? std::round((0.1 + 0.0001 * static_cast<double>((rng >> 33) % 3000)) * 1e9) / 1e9
           : 10.0;
    r.valid_for_ms = 45'000;
    r.reason = up ? "" : "blackbox: probe failed";
    s.runs.push_back(std::move(r));
  }
  return {s};
}

// Every run through storage's Writer, in time order, one batch per run (as the daemon writes).
void WriteToSqlite(const std::string& db, const std::vector<Series>& all) {
  std::vector<ProbeRun> runs;
  for (const auto& s : all) runs.insert(runs.end(), s.runs.begin(), s.runs.end());
  std::stable_sort(runs.begin(), runs.end(),
                   [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
  storage::StorageOptions o;
  o.path = db;
  auto writer = testing::StartWriterOrFail(o);
  ASSERT_NE(writer, nullptr);
  for (auto& r : runs) {
    WriteBatch b;
    b.runs.push_back(r);
    ASSERT_TRUE(writer->Enqueue(std::move(b)));
  }
  ASSERT_TRUE(writer->Flush().ok());
  writer->Stop();
}

std::string LabelText(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels.pairs()) {
    out += (out.empty() ? "" : ",") + k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  return "{" + out + "}";
}

// probe_success and probe_duration_seconds of every run. `seconds_ts`: OpenMetrics (promtool)
// wants seconds, "1700000000.123"; the Prometheus text format of VictoriaMetrics' import, ms.
// Only the runs with from <= ts < to.
std::string Exposition(const std::vector<Series>& all, bool openmetrics,
                       TimestampMs from = INT64_MIN, TimestampMs to = INT64_MAX) {
  std::string out;
  for (const char* metric : {"probe_success", "probe_duration_seconds"}) {
    if (openmetrics) out += fmt::format("# TYPE {} gauge\n", metric);
    const bool success = std::string(metric) == "probe_success";
    for (const auto& s : all) {
      const std::string labels = LabelText(s.labels);
      for (const auto& r : s.runs) {
        if (r.ts_ms < from || r.ts_ms >= to) continue;
        const std::string value =
            success ? (r.success ? "1" : "0") : fmt::format("{}", r.duration_seconds);
        const std::string ts = openmetrics
                                   ? fmt::format("{}.{:03}", r.ts_ms / 1000, r.ts_ms % 1000)
                                   : std::to_string(r.ts_ms);
        out += fmt::format("{}{} {} {}\n", metric, labels, value, ts);
      }
    }
  }
  if (openmetrics) out += "# EOF\n";
  return out;
}

bool Ready(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1);
  c.set_read_timeout(2);
  auto res = c.Get(path);
  return res && res->status == 200;
}

// What differs by construction between a report from SQLite and one from a store, set aside in
// both so that every other field (every number) is compared:
// - now / now_ms: when each command ran;
// - a failure's reason (incidents[].first_reason, checks[].first_failure.reason): the store
//   keeps none; the store's report says source::kStoreFailureReason instead;
// - the log lines: SQLite has them (none here), the store has no log evidence, which the
//   store's report says (logs.available false, its reason, no critical_lines criterion, and
//   one more verdict reason saying so).
json Comparable(json r, bool from_store) {
  r["window"].erase("now");
  r["window"].erase("now_ms");
  for (auto& inc : r["incidents"]) {
    if (from_store) {
      EXPECT_EQ(inc["first_reason"], source::kStoreFailureReason);
    }
    inc.erase("first_reason");
  }
  for (auto& c : r["checks"]) {
    if (c.contains("first_failure") && c["first_failure"].is_object()) {
      if (from_store) {
        EXPECT_EQ(c["first_failure"]["reason"], source::kStoreFailureReason);
      }
      c["first_failure"].erase("reason");
    }
  }
  json& logs = r["log_lines"];
  EXPECT_EQ(logs["available"], !from_store);
  EXPECT_EQ(logs["critical"], 0);
  r.erase("log_lines");
  json& v = r["verdict"];
  json criteria = json::array();
  for (auto& c : v["criteria"]) {
    if (c["name"] != "critical_lines") criteria.push_back(c);
  }
  EXPECT_EQ(criteria.size() + (from_store ? 0 : 1), v["criteria"].size());
  v["criteria"] = criteria;
  json reasons = json::array();
  for (auto& reason : v["reasons"]) {
    const std::string text = reason;
    if (text == "no critical log line" || text.rfind("critical log lines not evaluated", 0) == 0) {
      continue;
    }
    reasons.push_back(reason);
  }
  v["reasons"] = reasons;
  return r;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Only the runs with from <= ts < to.
std::vector<Series> Between(std::vector<Series> all, TimestampMs from, TimestampMs to) {
  for (auto& s : all) {
    std::erase_if(s.runs, [&](const ProbeRun& r) { return r.ts_ms < from || r.ts_ms >= to; });
  }
  return all;
}

// Each test writes the runs of both components to obsmon's SQLite and to one store.
class ReportFromStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/prometheus") ||
        !std::filesystem::exists("/usr/bin/promtool") ||
        !std::filesystem::exists("/usr/bin/victoria-metrics")) {
      GTEST_SKIP() << "prometheus, promtool or victoria-metrics not installed";
    }
    all_ = CarbonWeek();
    const auto site = BlackboxWeek();
    all_.insert(all_.end(), site.begin(), site.end());
    WriteToSqlite(dir_.File("obsmon.db"), all_);
  }

  // Prometheus 2.42 on blocks that promtool built from OpenMetrics, with the runs of
  // [from, to): promtool writes one block per 2 hours, each costing a fixed ~0.3 s of CPU (28 s
  // of wall time for a week on the shared 2-core machine), so this test reads three days.
  void StartPrometheus(TimestampMs from, TimestampMs to) {
    const auto t0 = std::chrono::steady_clock::now();
    WriteWholeFile(dir_.File("runs.om"), Exposition(Between(all_, from, to), /*openmetrics=*/true));
    auto [code, out] = RunCommand({"promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                                   dir_.File("runs.om"), dir_.File("tsdb")},
                                  dir_.File("promtool.log"));
    ASSERT_EQ(code, 0) << out;
    WriteWholeFile(dir_.File("prometheus.yml"), "global:\n  scrape_interval: 1h\n");
    const int port = testing::FreeLoopbackPort();
    store_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{"/usr/bin/prometheus",
                                 "--config.file=" + dir_.File("prometheus.yml"),
                                 "--storage.tsdb.path=" + dir_.File("tsdb"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port)},
        dir_.File("prometheus.log"));
    ASSERT_TRUE(WaitUntil([&] { return Ready(port, "/-/ready"); }, 30s))
        << ReadWholeFile(dir_.File("prometheus.log")).substr(0, 3000);
    url_ = "http://127.0.0.1:" + std::to_string(port);
    std::cerr << "Prometheus: promtool and start " << SecondsSince(t0) << " s\n";
  }

  // VictoriaMetrics with every run: the Prometheus text format with ms timestamps, then a
  // flush so that a query sees it at once.
  void StartVictoriaMetrics() {
    const auto t0 = std::chrono::steady_clock::now();
    const int port = testing::FreeLoopbackPort();
    store_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{"/usr/bin/victoria-metrics", "-storageDataPath=" + dir_.File("vm"),
                                 "-httpListenAddr=127.0.0.1:" + std::to_string(port),
                                 "-retentionPeriod=100y", "-search.latencyOffset=0s",
                                 "-search.disableCache"},
        dir_.File("vm.log"));
    ASSERT_TRUE(WaitUntil([&] { return Ready(port, "/health"); }, 20s))
        << ReadWholeFile(dir_.File("vm.log")).substr(0, 3000);
    httplib::Client vm("127.0.0.1", port);
    vm.set_read_timeout(30);
    auto imported = vm.Post("/api/v1/import/prometheus", Exposition(all_, false), "text/plain");
    ASSERT_TRUE(imported && imported->status == 204)
        << (imported ? imported->body : httplib::to_string(imported.error()));
    auto flushed = vm.Get("/internal/force_flush");
    ASSERT_TRUE(flushed && flushed->status == 200);
    url_ = "http://127.0.0.1:" + std::to_string(port);
    std::cerr << "VictoriaMetrics: start and import " << SecondsSince(t0) << " s\n";
  }

  std::string Config() {
    const std::string path = dir_.File("obsmon.yml");
    WriteWholeFile(path,
                   "storage:\n  path: " + dir_.File("obsmon.db") +
                       "\n"
                       "components:\n"
                       "  - name: carbon\n"
                       "    objective:\n      uptime: 99.5\n      min_coverage: 95\n"
                       "      latency_p95: 500ms\n"
                       "    probes:\n"
                       "      - name: health\n        kind: http\n"
                       "        url: http://127.0.0.1:1/health\n        interval: 30s\n"
                       "      - name: tcp\n        kind: tcp\n        address: 127.0.0.1:1\n"
                       "        interval: 60s\n"
                       "      - name: e2e\n        kind: exec\n        role: integration\n"
                       "        command: [/bin/true]\n        interval: 10m\n");
    return path;
  }

  // `obsmon report COMPONENT --from --to --format json` with `extra` arguments, parsed; null on
  // failure.
  json Report(const std::string& component, TimestampMs from, TimestampMs to,
              std::vector<std::string> extra) {
    std::vector<std::string> argv{testing::kObsmonBinary, "report", component,
                                  "--from", std::to_string(from / 1000),
                                  "--to", std::to_string(to / 1000), "--format", "json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string out_file = dir_.File("report-" + std::to_string(++reports_) + ".json");
    const auto t0 = std::chrono::steady_clock::now();
    auto [code, out] = RunCommand(argv, testing::SubprocessOptions{
                                            .output_path = out_file,
                                            .stderr_path = out_file + ".err"});
    last_seconds_ = SecondsSince(t0);
    EXPECT_EQ(code, 0) << ReadWholeFile(out_file + ".err");
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out.substr(0, 2000);
    return j.is_discarded() ? json() : j;
  }

  // obsmon's series of `carbon` with the config: the store's report equals the SQLite one.
  void ExpectSameCarbonReport(TimestampMs from, TimestampMs to, const std::string& store) {
    const std::string config = Config();
    const json sqlite = Report("carbon", from, to, {"-c", config});
    const double sqlite_seconds = last_seconds_;
    // Chunks of 5 h: edges off the hour, 15 chunks per metric for three days.
    const json from_store = Report("carbon", from, to, {"-c", config, "--source", url_, "--chunk", "5h"});
    ASSERT_TRUE(sqlite.is_object());
    ASSERT_TRUE(from_store.is_object());
    std::cerr << store << ": report from the store " << last_seconds_ << " s, from SQLite "
              << sqlite_seconds << " s\n";
    // The data set is what it should be: every kind of evidence is there.
    EXPECT_EQ(sqlite["verdict"]["status"], "FAIL");
    EXPECT_GE(sqlite["incidents"].size(), 2u);
    EXPECT_GE(sqlite["monitoring_gaps"].size(), 1u);
    EXPECT_GT(sqlite["uptime"]["down_ms"].get<int64_t>(), 0);
    EXPECT_GT(sqlite["uptime"]["unknown_ms"].get<int64_t>(), 0);
    EXPECT_GE(sqlite["checks"][0]["failed"].get<int>(), 1);
    EXPECT_EQ(sqlite["days"].size(), static_cast<size_t>((to - from) / kDay));
    EXPECT_TRUE(from_store["log_lines"]["unavailable_reason"].is_string());
    const json a = Comparable(sqlite, false);
    const json b = Comparable(from_store, true);
    EXPECT_EQ(a, b) << "diff (SQLite -> " << store << "): " << json::diff(a, b).dump(1).substr(0, 4000);
  }

  // A blackbox user: no config, the series selected by job and named by instance, the interval
  // inferred from the samples. The verdict and every figure equal obsmon's SQLite report of the
  // same runs (stored with the same validity, 30 s x 1.5).
  void ExpectSameBlackboxReport(TimestampMs from, TimestampMs to) {
    const json sqlite = Report("site", from, to, {"--db", dir_.File("obsmon.db")});
    ASSERT_TRUE(sqlite.is_object());
    EXPECT_EQ(sqlite["verdict"]["status"], "PASS");  // 20 min down: 99.5 % or better
    const json from_store = Report("site", from, to, {"--source", url_, "--selector",
                                   R"({job="blackbox"})", "--probe-label", "instance"});
    ASSERT_TRUE(from_store.is_object());
    EXPECT_EQ(from_store["verdict"]["status"], "PASS");
    // The interval was inferred, and the CLI says so on stderr (stdout is the JSON).
    const std::string err =
        ReadWholeFile(dir_.File("report-" + std::to_string(reports_) + ".json.err"));
    EXPECT_NE(err.find("probe 'https://site.example/health': interval 30s inferred"),
              std::string::npos)
        << err;
    const json a = Comparable(sqlite, false);
    const json b = Comparable(from_store, true);
    EXPECT_EQ(a, b) << json::diff(a, b).dump(1).substr(0, 4000);
  }

  testing::ScratchDir dir_;
  std::vector<Series> all_;
  std::unique_ptr<testing::Subprocess> store_;
  std::string url_;
  int reports_ = 0;
  double last_seconds_ = 0;
};

// Three days (the 3rd to the 5th of the week): an outage of both health probes, obsmon's gap of
// 25 minutes, a failed integration check, slow runs every day.
// OBSMON_PROMETHEUS_WEEK=1 reads the whole week (10 s measured on a quiet machine; promtool
// alone took 28 s under load, hence three days by default).
TEST_F(ReportFromStoreTest, PrometheusGivesTheSqliteReportFigureForFigure) {
  const bool week = std::getenv("OBSMON_PROMETHEUS_WEEK") != nullptr;
  const TimestampMs from = week ? kFrom : kFrom + 2 * kDay;
  const TimestampMs to = week ? kTo : kFrom + 5 * kDay;
  ASSERT_NO_FATAL_FAILURE(StartPrometheus(from - 2 * kHour, to + kHour / 2));
  ExpectSameCarbonReport(from, to, "Prometheus 2.42");
  ExpectSameBlackboxReport(from, to);
}

// The whole week; then the daemon's report API for a component with `source:` in its config
// (and no probe of its own) answers what the CLI prints.
TEST_F(ReportFromStoreTest, VictoriaMetricsGivesTheSqliteReportFigureForFigure) {
  ASSERT_NO_FATAL_FAILURE(StartVictoriaMetrics());
  ExpectSameCarbonReport(kFrom, kTo, "VictoriaMetrics");
  ExpectSameBlackboxReport(kFrom, kTo);

  const std::string config = dir_.File("daemon.yml");
  WriteWholeFile(config, "listen: 127.0.0.1:0\nstorage:\n  path: " + dir_.File("daemon.db") +
                             "\ncomponents:\n  - name: site\n    source:\n      url: " + url_ +
                             "\n      selector: '{job=\"blackbox\"}'\n"
                             "      probe_label: instance\n");
  const json cli = Report("site", kFrom, kTo, {"-c", config});
  ASSERT_TRUE(cli.is_object());
  EXPECT_EQ(cli["verdict"]["status"], "PASS");
  int port = 0;
  auto daemon = testing::StartObsmon(config, dir_.File("daemon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir_.File("daemon.log")).substr(0, 3000);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30);
  auto res = client.Get(fmt::format("/api/v1/components/site/report?from={}&to={}&format=json",
                                    kFrom / 1000, kTo / 1000));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const json api = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(api.is_discarded());
  EXPECT_EQ(Comparable(api, true), Comparable(cli, true));
  // Periods and days live in obsmon's database: refused for a component read from a store.
  auto period = client.Get("/api/v1/components/site/report?period=1&format=json");
  ASSERT_TRUE(period);
  EXPECT_EQ(period->status, 400) << period->body;
}

// The flags are checked before any read, naming the flag: a selector the store would answer
// with a 400 (or that is not one) and a probe label that is not a label name. The port is never
// opened (nothing listens there).
TEST(ReportFromStoreFlagsTest, BadSelectorOrProbeLabelFlagIsAUsageErrorNamingTheFlag) {
  testing::ScratchDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  auto [rc, out] = RunCommand({testing::kObsmonBinary, "report", "site", "--source", url,
                               "--selector", "{job=blackbox}", "--last", "1h"},
                              dir.File("selector.out"));
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("obsmon report: --selector: selector '{job=blackbox}' is not a list of "
                     "label matchers such as {job=\"blackbox\"}: expected a quoted value"),
            std::string::npos)
      << out;
  auto [rc2, out2] = RunCommand({testing::kObsmonBinary, "report", "site", "--source", url,
                                 "--probe-label", "probe-name", "--last", "1h"},
                                dir.File("label.out"));
  EXPECT_EQ(rc2, 2) << out2;
  EXPECT_NE(out2.find("obsmon report: --probe-label: 'probe-name' is not a label name"),
            std::string::npos)
      << out2;
}

}  // namespace
}  // namespace obsmon
