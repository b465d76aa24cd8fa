// The real obsmon binary on loopback: an outage of a real HTTP target becomes an incident of its
// length; SIGKILL and restart keep the history; SIGTERM drains and exits 0; a bad config stops
// obsmon with file:line:column; Prometheus's own promtool accepts the live /metrics.
#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "core/clock.h"
#include "probes/exposition_parser.h"
#include "storage/storage.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::ScratchDir;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

const std::string kObsmon = std::string(OBSMON_BINARY_DIR) + "/obsmon";

TimestampMs NowMs() { return SystemClock::Instance().NowMs(); }

// A health endpoint that can be taken down and brought back on the same port.
class Target {
 public:
  Target() {
    Start();
    port_ = bound_port_;
  }
  ~Target() { Stop(); }
  void Start() {
    server_ = std::make_unique<httplib::Server>();
    server_->Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"OK\"}", "application/json");
    });
    if (port_ == 0) {
      bound_port_ = server_->bind_to_any_port("127.0.0.1");
    } else {
      // The port was ours a moment ago; retry briefly in case the kernel holds it.
      WaitUntil([&] { return server_->bind_to_port("127.0.0.1", port_); }, 5s);
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    WaitUntil([&] { return server_->is_running(); }, 5s);
  }
  void Stop() {
    if (!server_) return;
    server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int bound_port_ = 0;
};

class ObsmonDaemonTest : public ::testing::Test {
 protected:
  std::string WriteConfig(int target_port, const std::string& extra_probe = "") {
    const std::string path = dir_.File("obsmon.yml");
    WriteWholeFile(path, "listen: 127.0.0.1:0\n"
                         "uptime_refresh: 500ms\n"
                         "storage:\n  path: " + dir_.File("obsmon.db") + "\n"
                         "components:\n"
                         "  - name: web\n"
                         "    labels: {job: web-staging}\n"
                         "    probes:\n"
                         "      - name: health\n"
                         "        kind: http\n"
                         "        url: http://127.0.0.1:" + std::to_string(target_port) + "/health\n"
                         "        interval: 200ms\n"
                         "        timeout: 150ms\n" + extra_probe);
    return path;
  }

  // Starts obsmon and waits until its HTTP server listens; returns its port.
  int StartObsmon(const std::string& config, int run = 0) {
    log_ = dir_.File("obsmon-" + std::to_string(run) + ".log");
    obsmon_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kObsmon, "run", "--config", config, "--log-level", "debug"}, log_);
    EXPECT_TRUE(obsmon_->started());
    int port = 0;
    EXPECT_TRUE(WaitUntil([&] {
      const std::string out = obsmon_->Output();
      auto at = out.find("(port ");
      if (at == std::string::npos) return false;
      port = std::stoi(out.substr(at + 6));
      return true;
    })) << obsmon_->Output();
    return port;
  }

  std::vector<ProbeRun> StoredRuns() {
    auto reader = storage::Reader::Open(dir_.File("obsmon.db"));
    EXPECT_TRUE(reader.ok()) << reader.status().message();
    if (!reader.ok()) return {};
    auto runs = (*reader)->ProbeRuns("web", 0, NowMs() + 60'000);
    EXPECT_TRUE(runs.ok());
    return runs.ok() ? *runs : std::vector<ProbeRun>{};
  }

  nlohmann::json ReportJson(TimestampMs from, TimestampMs to) {
    auto [code, out] = RunCommand({kObsmon, "report", "web", "--db", dir_.File("obsmon.db"),
                                   "--from", std::to_string(from / 1000.0), "--to",
                                   std::to_string(to / 1000.0), "--format", "json"},
                                  dir_.File("report.out"));
    EXPECT_EQ(code, 0) << out;
    return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  }

  ScratchDir dir_;
  std::string log_;
  std::unique_ptr<Subprocess> obsmon_;
};

// p95 by the nearest rank, from the values themselves: rank ceil(0.95 n), 1-based.
double HandP95(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[(95 * values.size() + 99) / 100 - 1];
}

// Issue 15, item 4: an exec health script whose start-up takes ~250 ms next to an HTTP endpoint
// answering in about a millisecond. The SLA (200 ms, probes not named: the http health probe by
// default) passes on the HTTP probe; each probe's p95 in the report equals the nearest-rank p95
// of its stored runs' durations, computed here. 200 ms: under the script's p95 (over 250 ms, as
// checked), so judging the script or the pooled figure it tops fails; not 50 ms, which two
// scheduling stalls among the ~20 HTTP runs of a loaded sanitized run would exceed.
TEST_F(ObsmonDaemonTest, LatencySlaIsAboutTheHttpProbeNotTheExecScript) {
  Target target;
  const std::string config = dir_.File("obsmon.yml");
  WriteWholeFile(config, "listen: 127.0.0.1:0\n"
                         "storage:\n  path: " + dir_.File("obsmon.db") + "\n"
                         "components:\n"
                         "  - name: web\n"
                         "    objective: {latency_p95: 200ms}\n"
                         "    probes:\n"
                         "      - {name: health, kind: http, interval: 200ms, timeout: 150ms,\n"
                         "         url: \"http://127.0.0.1:" + std::to_string(target.port()) +
                         "/health\"}\n"
                         "      - {name: script, kind: exec, interval: 500ms, timeout: 450ms,\n"
                         "         command: [/bin/sh, -c, \"sleep 0.25\"]}\n");
  const TimestampMs from = NowMs();
  StartObsmon(config);
  auto count = [&](const std::string& probe) {
    size_t n = 0;
    for (const auto& r : StoredRuns()) n += r.key.probe == probe && r.success;
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return count("script") >= 8 && count("health") >= 20; }, 20s));
  obsmon_->Signal(SIGTERM);
  ASSERT_EQ(obsmon_->Wait(), 0);
  const TimestampMs to = NowMs();

  std::map<std::string, std::vector<double>> durations;
  for (const auto& r : StoredRuns()) {
    if (r.success && r.ts_ms >= from && r.ts_ms < to) durations[r.key.probe].push_back(r.duration_seconds);
  }
  ASSERT_GE(durations["script"].size(), 8u);
  EXPECT_GT(HandP95(durations["script"]), 0.25);  // the script's start-up, as in the issue
  auto [code, out] = RunCommand({kObsmon, "report", "web", "--config", config, "--from",
                                 std::to_string(from / 1000.0), "--to",
                                 std::to_string(to / 1000.0), "--format", "json"},
                                dir_.File("report.out"));
  ASSERT_EQ(code, 0) << out;
  const auto report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["objective"]["latency_probes"], nlohmann::json::array({"health"}));
  ASSERT_EQ(report["latency_by_probe"].size(), 2u) << report.dump(2);
  for (const auto& p : report["latency_by_probe"]) {
    const std::string probe = p["probe"];
    SCOPED_TRACE(probe);
    EXPECT_EQ(p["sla"].get<bool>(), probe == "health");
    EXPECT_EQ(p["latency"]["count"].get<size_t>(), durations[probe].size());
    EXPECT_DOUBLE_EQ(p["latency"]["p95_seconds"].get<double>(), HandP95(durations[probe]));
  }
  bool judged = false;
  for (const auto& c : report["verdict"]["criteria"]) {
    if (c["name"] != "latency_p95") continue;
    judged = true;
    EXPECT_TRUE(c["met"].get<bool>()) << c.dump();
    EXPECT_DOUBLE_EQ(c["value"].get<double>(), HandP95(durations["health"]));
  }
  EXPECT_TRUE(judged) << report.dump(2);
  // The pooled figure is still there, labelled, and is not what was judged.
  EXPECT_EQ(report["latency"]["scope"], "all health probes, pooled");
}

TEST_F(ObsmonDaemonTest, StoppedTargetShowsAsIncidentOfTheOutageLength) {
  Target target;
  const TimestampMs t0 = NowMs();
  StartObsmon(WriteConfig(target.port()));
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= 8; }));

  const TimestampMs outage_start = NowMs();
  target.Stop();
  std::this_thread::sleep_for(3s);  // the outage: real time, against a real process
  target.Start();
  const TimestampMs outage_end = NowMs();
  // Let a few successful runs land after the outage.
  ASSERT_TRUE(WaitUntil([&] {
    auto runs = StoredRuns();
    return !runs.empty() && runs.back().success && runs.back().ts_ms > outage_end + 600;
  }));

  obsmon_->Signal(SIGTERM);
  EXPECT_EQ(obsmon_->Wait(), 0) << obsmon_->Output();

  const nlohmann::json report = ReportJson(t0, NowMs());
  ASSERT_FALSE(report.is_discarded());
  // The outage's incident is the one that overlaps it. Any other is a scheduling stall of one
  // run (a 150 ms timeout on a loaded sanitized machine, flake audit #8), never more.
  nlohmann::json incident;
  double others_ms = 0;
  for (const auto& inc : report["incidents"]) {
    const bool overlaps = inc["start_ms"].get<TimestampMs>() < outage_end &&
                          inc["end_ms"].get<TimestampMs>() > outage_start;
    if (overlaps) {
      EXPECT_TRUE(incident.is_null()) << "two incidents in one outage:\n" << report.dump(2);
      incident = inc;
      continue;
    }
    EXPECT_LE(inc["duration_ms"].get<double>(), 400) << inc.dump(2);
    EXPECT_NE(inc["first_reason"].get<std::string>().find("timeout after"), std::string::npos)
        << "outside the outage only a stalled run may fail:\n" << inc.dump(2);
    others_ms += inc["duration_ms"].get<double>();
  }
  ASSERT_FALSE(incident.is_null()) << report.dump(2);
  const double measured = incident["duration_ms"].get<double>();
  const double outage = static_cast<double>(outage_end - outage_start);
  // Probes run every 200 ms: the incident may start up to one interval after the outage began
  // and end up to one interval after it ended, plus scheduling slack.
  EXPECT_NEAR(measured, outage, 500) << incident.dump(2);
  EXPECT_EQ(incident["first_probe"], "health");
  EXPECT_EQ(incident["first_reason"], "connection refused") << incident.dump(2);
  EXPECT_FALSE(incident["ongoing"].get<bool>());
  EXPECT_NEAR(report["uptime"]["down_ms"].get<double>(), measured + others_ms, 1.0);
}

TEST_F(ObsmonDaemonTest, SigkillAndRestartKeepTheHistory) {
  Target target;
  const std::string config = WriteConfig(target.port());
  StartObsmon(config, 0);
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= 15; }));
  // What was committed a moment before the kill must survive it.
  const std::vector<ProbeRun> before = StoredRuns();
  obsmon_->Kill();  // SIGKILL: no draining, no clean close

  auto [code, integrity] = RunCommand({"sqlite3", dir_.File("obsmon.db"), "PRAGMA integrity_check;"},
                                      dir_.File("integrity.out"));
  EXPECT_EQ(code, 0);
  EXPECT_EQ(integrity, "ok\n");

  StartObsmon(config, 1);
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= before.size() + 5; }));
  obsmon_->Signal(SIGTERM);
  EXPECT_EQ(obsmon_->Wait(), 0);

  const std::vector<ProbeRun> after = StoredRuns();
  for (const ProbeRun& run : before) {
    bool found = false;
    for (const ProbeRun& a : after) found |= (a.ts_ms == run.ts_ms && a.key == run.key);
    EXPECT_TRUE(found) << "run at " << run.ts_ms << " lost after SIGKILL";
  }
  EXPECT_GT(after.size(), before.size());
}

// The watched process restarts while obsmon is stopped: the next obsmon counts it, from the
// process start time the previous one stored. A restart of obsmon alone counts nothing.
TEST_F(ObsmonDaemonTest, ProcessRestartWhileObsmonIsStoppedIsCounted) {
  Target target;
  const std::string pid_file = dir_.File("app.pid");
  const std::string config = WriteConfig(target.port(),
                                         "      - name: app\n"
                                         "        kind: process\n"
                                         "        pid_file: " + pid_file + "\n"
                                         "        interval: 200ms\n");
  auto restarts = [&] {
    auto reader = storage::Reader::Open(dir_.File("obsmon.db"));
    if (!reader.ok()) return -1.0;
    auto v = (*reader)->CounterTotal("process_restarts_total",
                                     Labels{{"component", "web"}, {"probe", "app"}});
    return v.ok() ? *v : 0.0;
  };
  auto start_times_stored = [&] {
    auto reader = storage::Reader::Open(dir_.File("obsmon.db"));
    if (!reader.ok()) return size_t{0};
    auto s = (*reader)->Samples("process_start_time_seconds", Labels{{"probe", "app"}}, 0,
                                NowMs() + 60'000);
    return s.ok() ? s->size() : size_t{0};
  };
  auto app = std::make_unique<Subprocess>(std::vector<std::string>{"/bin/sleep", "600"});
  WriteWholeFile(pid_file, std::to_string(app->pid()) + "\n");

  StartObsmon(config, 0);
  ASSERT_TRUE(WaitUntil([&] { return start_times_stored() >= 3; })) << obsmon_->Output();
  obsmon_->Signal(SIGTERM);
  ASSERT_EQ(obsmon_->Wait(), 0);

  StartObsmon(config, 1);  // obsmon restarts, the process does not
  const size_t seen = start_times_stored();
  ASSERT_TRUE(WaitUntil([&] { return start_times_stored() >= seen + 3; }));
  obsmon_->Signal(SIGTERM);
  ASSERT_EQ(obsmon_->Wait(), 0);
  EXPECT_EQ(restarts(), 0.0);

  // While obsmon is stopped the process is replaced (start times 2 s apart at least).
  app.reset();
  std::this_thread::sleep_for(2s);
  app = std::make_unique<Subprocess>(std::vector<std::string>{"/bin/sleep", "600"});
  WriteWholeFile(pid_file, std::to_string(app->pid()) + "\n");
  StartObsmon(config, 2);
  const size_t before = start_times_stored();
  ASSERT_TRUE(WaitUntil([&] { return start_times_stored() >= before + 3; }));
  obsmon_->Signal(SIGTERM);
  ASSERT_EQ(obsmon_->Wait(), 0);
  EXPECT_EQ(restarts(), 1.0);
}

TEST_F(ObsmonDaemonTest, SigtermDrainsQueueAndExitsZero) {
  Target target;
  StartObsmon(WriteConfig(target.port()));
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= 3; }));
  obsmon_->Signal(SIGTERM);
  EXPECT_EQ(obsmon_->Wait(10s), 0);
  const std::string out = obsmon_->Output();
  EXPECT_NE(out.find("draining"), std::string::npos) << out;
  EXPECT_NE(out.find("0 dropped"), std::string::npos) << out;
}

TEST_F(ObsmonDaemonTest, BadConfigExitsNonZeroNamingFileLineColumn) {
  const std::string path = dir_.File("bad.yml");
  WriteWholeFile(path,
                 "components:\n"
                 "  - name: web\n"
                 "    probes:\n"
                 "      - name: health\n"
                 "        kind: http\n"
                 "        url: http://127.0.0.1:1/health\n"
                 "        interval: 10 seconds\n");
  for (const char* cmd : {"run", "check"}) {
    auto [code, out] = RunCommand({kObsmon, cmd, "--config", path}, dir_.File("bad.out"));
    EXPECT_EQ(code, 1) << cmd << ": " << out;
    EXPECT_NE(out.find(path + ":7:19: bad duration for 'interval'"), std::string::npos)
        << cmd << ": " << out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.File("obsmon.db")));
}

TEST_F(ObsmonDaemonTest, PromtoolAcceptsLiveMetrics) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool not installed";
  Target target;
  const int port = StartObsmon(WriteConfig(
      target.port(),
      "      - name: down-port\n"
      "        kind: tcp\n"
      "        address: 127.0.0.1:1\n"
      "        interval: 200ms\n"
      "        timeout: 100ms\n"));
  httplib::Client client("127.0.0.1", port);
  std::string body;
  ASSERT_TRUE(WaitUntil([&] {
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) return false;
    body = res->body;
    return body.find("probe=\"down-port\"") != std::string::npos &&
           body.find("obsmon_component_uptime_ratio") != std::string::npos;
  }, 30s)) << body;
  EXPECT_EQ(client.Get("/metrics")->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  WriteWholeFile(dir_.File("metrics.txt"), body);
  auto [code, out] = RunCommand({"sh", "-c", "promtool check metrics < " + dir_.File("metrics.txt")},
                                dir_.File("promtool.out"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "") << "promtool complained:\n" << out;
  // obsmon's own scrape parser reads obsmon's own exposition without a single complaint.
  const probes::ParseOutput parsed = probes::Parse(body);
  EXPECT_EQ(parsed.error_count, 0u) << (parsed.errors.empty() ? "" : parsed.errors[0].message);
  EXPECT_TRUE(parsed.fatal.empty()) << parsed.fatal;
  size_t probe_success = 0;
  for (const auto& sample : parsed.samples) probe_success += sample.name == "probe_success";
  EXPECT_EQ(probe_success, 2u);  // health and down-port
  for (const char* family : {"probe_success", "probe_duration_seconds", "obsmon_component_up",
                             "obsmon_probe_runs_total", "obsmon_scheduler_lag_seconds_count",
                             "obsmon_storage_queue_depth", "obsmon_storage_commit_duration_seconds_sum",
                             "obsmon_storage_dropped_batches_total",
                             "obsmon_storage_dropped_late_runs_total"}) {
    EXPECT_NE(body.find(family), std::string::npos) << family;
  }
}

TEST_F(ObsmonDaemonTest, ApiAnswersStateAndRefusesBadParameters) {
  Target target;
  const int port = StartObsmon(WriteConfig(target.port()));
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(WaitUntil([&] {
    auto res = client.Get("/api/v1/components/web");
    if (!res || res->status != 200) return false;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    return !j.is_discarded() && j["data"]["state"] == "up";
  }));
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.Get("/api/v1/components/nope")->status, 404);
  EXPECT_EQ(client.Get("/api/v1/components/nope/report")->status, 404);
  for (const char* bad : {"?last=soon", "?from=yesterday", "?format=pdf", "?bogus=1",
                          "?from=2025-10-14&last=1d", "?from=2030-01-01&to=2029-01-01"}) {
    auto res = client.Get((std::string("/api/v1/components/web/report") + bad).c_str());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    EXPECT_EQ(j["status"], "error") << bad;
  }
  // Runs reach the report once the writer's group commit (storage.commit_interval, 1 s by
  // default) has happened.
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= 2; }));
  auto res = client.Get("/api/v1/components/web/report?last=1h&format=markdown");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("web"), std::string::npos);
  EXPECT_EQ(client.Post("/api/v1/components", "x", "text/plain")->status, 405);
}

TEST_F(ObsmonDaemonTest, ObservationPeriodReportAndOverviewPage) {
  Target target;
  const std::string config = WriteConfig(target.port());
  const int port = StartObsmon(config);
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= 3; }));
  // Started from the CLI while the daemon runs, as a team would on deployment day.
  auto [code, out] = RunCommand({kObsmon, "observe", "start", "web", "--days", "7", "--config",
                                 config},
                                dir_.File("observe.out"));
  ASSERT_EQ(code, 0) << out;
  httplib::Client client("127.0.0.1", port);
  // Until a run lands inside the period (interval 100 ms), its coverage is 0 and the verdict
  // INSUFFICIENT DATA, rightly; the period "just began" once one has.
  const size_t at_start = StoredRuns().size();
  ASSERT_TRUE(WaitUntil([&] { return StoredRuns().size() >= at_start + 2; }));
  // The CLI wrote the database itself (listen port 0: it cannot find the daemon), so the page
  // shows the period from the next refresh on (uptime_refresh 500 ms), as documented.
  int page_status = 0;
  std::string page_type, page_body;
  ASSERT_TRUE(WaitUntil([&] {
    auto page = client.Get("/");
    if (!page) return false;
    page_status = page->status;
    page_type = page->get_header_value("Content-Type");
    page_body = page->body;
    return page_body.find("/api/v1/components/web/report?format=html&amp;period=1") !=
           std::string::npos;
  })) << page_body;
  EXPECT_EQ(page_status, 200);
  EXPECT_NE(page_type.find("text/html"), std::string::npos);
  // A 7-day period that just began is IN PROGRESS, once stored runs cover it: in its first
  // instants the newest runs may not be committed yet (group commit, <= 1 s), their time is
  // unknown, and "coverage so far" of a window a second long can be below 99 % (INSUFFICIENT
  // DATA). That made this test flaky in the sanitized build, so both reports are asked again
  // (bounded) until they agree.
  int html_status = 0;
  std::string html, json;
  WaitUntil([&] {
    auto h = client.Get("/api/v1/components/web/report?period=1&format=html");
    auto c = client.Get("/api/v1/components/web/report?format=json");  // the current period
    html_status = h ? h->status : 0;
    html = h ? h->body : "";
    json = c ? c->body : "";
    return html.find("IN PROGRESS") != std::string::npos &&
           json.find("IN PROGRESS") != std::string::npos;
  });
  EXPECT_EQ(html_status, 200) << html;
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("IN PROGRESS"), std::string::npos)
      << html.substr(std::min(html.size(), html.find("id=\"verdict\"")), 600);
  auto j = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json;
  EXPECT_EQ(j["verdict"]["status"], "IN PROGRESS") << json.substr(0, 800);
  EXPECT_EQ(client.Get("/api/v1/components/web/report?period=99&format=json")->status, 404);
  EXPECT_EQ(client.Get("/api/v1/components/web/report?period=abc")->status, 400);
}

}  // namespace
}  // namespace obsmon
