// remote_write of the real obsmon to real receivers started here on loopback: Prometheus 2.42
// (--web.enable-remote-write-receiver) and VictoriaMetrics single node. The truth is obsmon's own
// SQLite, read with the sqlite3 CLI: every sample it has acknowledged (ts < the remote's stored
// cursor) is in each receiver with its exact value and timestamp, once; the receivers hold nothing
// else. Between the two, both receivers are stopped for a while and restarted, and obsmon is
// killed with -9 and started again while they are down.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/ops_support.h"
#include "tests/remote/receiver.h"
#include "tests/support/files.h"
#include "tests/support/loopback.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_http_server.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::WriteWholeFile;
using testing::WaitUntil;

// A sample keyed by series text (name + sorted labels without `site`) and timestamp.
using Key = std::pair<std::string, int64_t>;

std::string SeriesText(const std::map<std::string, std::string>& metric) {
  std::string out = metric.count("__name__") ? metric.at("__name__") : "";
  std::string labels;
  for (const auto& [k, v] : metric) {
    if (k == "__name__" || k == "site") continue;
    labels += (labels.empty() ? "" : ",") + k + "=\"" + v + "\"";
  }
  return out + (labels.empty() ? "" : "{" + labels + "}");
}

// The stored samples with ts_ms < the remote's cursor, and that cursor (sqlite3 CLI; the samples
// with Python's sqlite3).
int64_t CursorOf(const std::string& db, const std::string& remote) {
  auto [rc, out] = RunCommand({"sqlite3", db,
                               "SELECT cursor_ms FROM remote_write_cursors WHERE remote = '" +
                                   remote + "'"},
                              db + ".cursor.out");
  return rc == 0 && !out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))
             ? std::stoll(out)
             : 0;
}

std::map<Key, double> StoredBefore(const std::string& db, const std::string& remote,
                                   int64_t* cursor) {
  *cursor = CursorOf(db, remote);
  // The values through Python's sqlite3 module, whose repr() is exact: the sqlite3 shell's
  // printf('%.17g') is off by one unit in the last place for some doubles (SQLite 3.40).
  auto [rc2, rows] = RunCommand(
      {"python3", "-c",
       "import sqlite3, sys\n"
       "c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n"
       "for s, t, v in c.execute('SELECT x.name || x.labels, s.ts_ms, s.value FROM samples s "
       "JOIN series x ON x.id = s.series_id WHERE s.ts_ms < ?', (int(sys.argv[2]),)):\n"
       "    print(f'{s}\\t{t}\\t{float(\"nan\") if v is None else v!r}')\n",
       db, std::to_string(*cursor)},
      db + ".samples.out");
  std::map<Key, double> out_map;
  std::istringstream in(rows);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string series, ts, value;
    std::getline(f, series, '\t');
    std::getline(f, ts, '\t');
    std::getline(f, value, '\t');
    if (!ts.empty()) out_map[{series, std::stoll(ts)}] = std::strtod(value.c_str(), nullptr);
  }
  return out_map;
}

struct Received {
  std::map<Key, double> samples;
  int duplicates = 0;
  int without_site = 0;
};

void Add(Received* r, const std::map<std::string, std::string>& metric, int64_t ts, double v) {
  if (!metric.count("site") || metric.at("site") != "lab") ++r->without_site;
  if (!r->samples.emplace(Key{SeriesText(metric), ts}, v).second) ++r->duplicates;
}

// Prometheus: every series' raw samples over the last hour.
Received FromPrometheus(int port) {
  Received r;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto res = c.Get("/api/v1/query", httplib::Params{{"query", "{__name__=~\".+\"}[1h]"}},
                   httplib::Headers{});
  if (!res || res->status != 200) return r;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return r;
  for (const auto& series : j["data"]["result"]) {
    std::map<std::string, std::string> metric = series["metric"];
    for (const auto& v : series["values"]) {
      const double t = v[0].get<double>();
      Add(&r, metric, std::llround(t * 1000), std::strtod(v[1].get<std::string>().c_str(), nullptr));
    }
  }
  return r;
}

// VictoriaMetrics: /api/v1/export, one JSON line per series.
Received FromVictoria(int port) {
  Received r;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto res = c.Get("/api/v1/export", httplib::Params{{"match[]", "{__name__!=\"\"}"}},
                   httplib::Headers{});
  if (!res || res->status != 200) return r;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    std::map<std::string, std::string> metric = j["metric"];
    for (size_t i = 0; i < j["values"].size(); ++i) {
      Add(&r, metric, j["timestamps"][i].get<int64_t>(), j["values"][i].get<double>());
    }
  }
  return r;
}

std::unique_ptr<testing::Subprocess> StartPrometheus(const testing::ScratchDir& dir, int port) {
  return std::make_unique<testing::Subprocess>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir.File("prometheus.yml"),
                               "--storage.tsdb.path=" + dir.File("tsdb"),
                               "--web.enable-remote-write-receiver",
                               "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir.File("prometheus.log"));
}

std::unique_ptr<testing::Subprocess> StartVictoria(const testing::ScratchDir& dir, int port) {
  return std::make_unique<testing::Subprocess>(
      std::vector<std::string>{"/usr/bin/victoria-metrics",
                               "-storageDataPath=" + dir.File("vm"), "-retentionPeriod=1d",
                               "-httpListenAddr=127.0.0.1:" + std::to_string(port),
                               "-search.disableCache", "-search.latencyOffset=0"},
      dir.File("vm.log"));
}

bool Ready(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1);
  auto res = c.Get(path);
  return res && res->status == 200;
}

// The receiver holds exactly the acknowledged samples, each once, with its value.
void ExpectSame(const std::map<Key, double>& stored, const Received& got, const std::string& who) {
  EXPECT_EQ(got.duplicates, 0) << who;
  EXPECT_EQ(got.without_site, 0) << who << ": external label site=lab missing";
  size_t missing = 0, wrong = 0;
  for (const auto& [key, value] : stored) {
    auto it = got.samples.find(key);
    if (it == got.samples.end()) {
      if (++missing <= 5) ADD_FAILURE() << who << " lacks " << key.first << " @" << key.second;
    } else if (it->second != value && !(std::isnan(value) && std::isnan(it->second))) {
      if (++wrong <= 5) {
        ADD_FAILURE() << who << ": " << key.first << " @" << key.second << " is " << it->second
                      << ", stored " << value;
      }
    }
  }
  size_t extra = 0;
  for (const auto& [key, value] : got.samples) {
    if (!stored.count(key) && ++extra <= 5) {
      ADD_FAILURE() << who << " has " << key.first << " @" << key.second << " not acknowledged";
    }
  }
  EXPECT_EQ(missing, 0u) << who;
  EXPECT_EQ(wrong, 0u) << who;
}

TEST(RemoteWriteTest, EverySampleInPrometheusAndVictoriaAcrossOutageAndKill) {
  if (!std::filesystem::exists("/usr/bin/prometheus") ||
      !std::filesystem::exists("/usr/bin/victoria-metrics") ||
      !std::filesystem::exists("/usr/bin/sqlite3")) {
    GTEST_SKIP() << "prometheus, victoria-metrics or sqlite3 not installed";
  }
  testing::ScratchDir dir;
  testing::HealthTarget target;
  const int prom_port = testing::FreeLoopbackPort();
  const int vm_port = testing::FreeLoopbackPort();
  WriteWholeFile(dir.File("prometheus.yml"), "global:\n  scrape_interval: 1m\n");
  auto prom = StartPrometheus(dir, prom_port);
  auto vm = StartVictoria(dir, vm_port);
  ASSERT_TRUE(WaitUntil([&] { return Ready(prom_port, "/-/ready"); }, 20s));
  ASSERT_TRUE(WaitUntil([&] { return Ready(vm_port, "/health"); }, 20s));
  const std::string db = dir.File("obsmon.db");
  const std::string queue = "    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, "
                            "max_backoff: 400ms}\n";
  WriteWholeFile(dir.File("config.yml"),
                 "listen: 127.0.0.1:0\nstorage: {path: " + db +
                     "}\nexternal_labels: {site: lab}\nremote_write:\n"
                     "  - name: prom\n    url: http://127.0.0.1:" + std::to_string(prom_port) +
                     "/api/v1/write\n" + queue +
                     "  - name: vm\n    url: http://127.0.0.1:" + std::to_string(vm_port) +
                     "/api/v1/write\n" + queue + "components:\n" +
                     testing::HealthComponentYaml("carbon", target.port()));
  int port = 0;
  auto obsmon = testing::StartObsmon(dir.File("config.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon.log"));
  std::this_thread::sleep_for(4s);  // sending live

  // Both receivers down; obsmon keeps retrying, is killed with -9 and started again meanwhile.
  prom->Signal(SIGTERM);
  vm->Signal(SIGTERM);
  ASSERT_TRUE(prom->Wait(20s).has_value());
  ASSERT_TRUE(vm->Wait(20s).has_value());
  std::this_thread::sleep_for(2s);
  obsmon->Kill();
  obsmon = testing::StartObsmon(dir.File("config.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon2.log"));
  std::this_thread::sleep_for(2s);
  const int64_t back_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  prom = StartPrometheus(dir, prom_port);
  vm = StartVictoria(dir, vm_port);
  ASSERT_TRUE(WaitUntil([&] { return Ready(prom_port, "/-/ready"); }, 20s));
  ASSERT_TRUE(WaitUntil([&] { return Ready(vm_port, "/health"); }, 20s));
  // Caught up: both cursors past the receivers' return.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return CursorOf(db, "prom") > back_ms && CursorOf(db, "vm") > back_ms;
      },
      20s))
      << ReadWholeFile(dir.File("obsmon2.log"));
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(20s), 0) << ReadWholeFile(dir.File("obsmon2.log"));

  for (const std::string remote : {"prom", "vm"}) {
    int64_t cursor = 0;
    const auto stored = StoredBefore(db, remote, &cursor);
    // ~12 s of a 200 ms probe, two samples a run: the outage is inside.
    ASSERT_GT(stored.size(), 60u) << remote;
    Received got;
    // VictoriaMetrics makes new data searchable within about a second.
    WaitUntil(
        [&] {
          got = remote == "prom" ? FromPrometheus(prom_port) : FromVictoria(vm_port);
          return got.samples.size() >= stored.size();
        },
        10s);
    ExpectSame(stored, got, remote);
  }
}

// A config's head: the daemon's database `db`, remote_write to VictoriaMetrics on `vm_port` with
// `queue_config`, external label site=lab; the components follow.
std::string ToVictoria(const std::string& db, int vm_port, const std::string& queue_config) {
  return "listen: 127.0.0.1:0\nstorage: {path: " + db +
         "}\nexternal_labels: {site: lab}\nremote_write:\n"
         "  - name: vm\n    url: http://127.0.0.1:" + std::to_string(vm_port) +
         "/api/v1/write\n    queue_config: " + queue_config + "\ncomponents:\n";
}

// VictoriaMetrics holds every acknowledged sample of `stored`, once (it makes new data
// searchable within about a second).
void ExpectVictoriaHolds(const std::map<Key, double>& stored, int vm_port) {
  Received got;
  WaitUntil(
      [&] {
        got = FromVictoria(vm_port);
        return got.samples.size() >= stored.size();
      },
      10s);
  ExpectSame(stored, got, "vm");
}

// A `sqlite3` shell's write transaction held beside the daemon for longer than the settle delay
// (docs/storage.md calls sqlite3 writes safe): the writer's commit waits for it, and the runs of
// those seconds commit behind the settle delay. The senders wait for them (the writer's earliest
// uncommitted sample bounds each window) instead of moving their cursors past them: fresh eyes,
// issue 17, found 10-32 samples of such a 4 s hold in SQLite and never in VictoriaMetrics.
TEST(RemoteWriteTest, ASqlite3WriteLockPastTheSettleDelayLosesNoSample) {
  if (!std::filesystem::exists("/usr/bin/victoria-metrics") ||
      !std::filesystem::exists("/usr/bin/sqlite3")) {
    GTEST_SKIP() << "victoria-metrics or sqlite3 not installed";
  }
  testing::ScratchDir dir;
  testing::HealthTarget target;
  const int vm_port = testing::FreeLoopbackPort();
  auto vm = StartVictoria(dir, vm_port);
  ASSERT_TRUE(WaitUntil([&] { return Ready(vm_port, "/health"); }, 20s));
  const std::string db = dir.File("obsmon.db");
  // The default settle delay: the probes' 150 ms timeout + the 1 s group commit + 1 s.
  WriteWholeFile(dir.File("config.yml"),
                 ToVictoria(db, vm_port, "{batch_send_deadline: 100ms}") +
                     testing::HealthComponentYaml("carbon", target.port()));
  int port = 0;
  auto obsmon = testing::StartObsmon(dir.File("config.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon.log"));
  std::this_thread::sleep_for(3s);  // sending live
  // 4 s of write lock, under the writer's 5 s busy timeout: its transaction waits it out.
  auto [rc, out] = RunCommand(
      {"sh", "-c", "printf 'BEGIN IMMEDIATE;\\n.shell sleep 4\\nCOMMIT;\\n' | sqlite3 " + db},
      dir.File("lock.out"));
  ASSERT_EQ(rc, 0) << out;
  const int64_t released_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  ASSERT_TRUE(WaitUntil([&] { return CursorOf(db, "vm") > released_ms + 1'000; }, 20s))
      << ReadWholeFile(dir.File("obsmon.log"));
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(20s), 0) << ReadWholeFile(dir.File("obsmon.log"));
  int64_t cursor = 0;
  const auto stored = StoredBefore(db, "vm", &cursor);
  // ~8 s of a 200 ms probe, two samples a run, the lock's 4 s inside.
  ASSERT_GT(stored.size(), 50u);
  ExpectVictoriaHolds(stored, vm_port);
}

// A run longer than the settle delay: a target that answers after 2.5 s, under an explicit
// `settle_delay: 1s`. The run's samples are stamped with its start and reach the writer 2.5 s
// later; the senders' windows end at the start of the earliest run still going, so the cursor
// waits for them. Fresh eyes, issue 17, found such runs' samples in SQLite and never at the
// receiver (the window had passed their start before they were written).
TEST(RemoteWriteTest, ARunLongerThanTheSettleDelayIsSentWhenItEnds) {
  if (!std::filesystem::exists("/usr/bin/victoria-metrics")) {
    GTEST_SKIP() << "victoria-metrics not installed";
  }
  testing::ScratchDir dir;
  testing::HealthTarget target;
  testing::TestHttpServer slow;
  slow.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    slow.WaitStopped(2500ms);
    res.set_content("late", "text/plain");
  });
  ASSERT_GT(slow.Start(), 0);
  const int vm_port = testing::FreeLoopbackPort();
  auto vm = StartVictoria(dir, vm_port);
  ASSERT_TRUE(WaitUntil([&] { return Ready(vm_port, "/health"); }, 20s));
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("config.yml"),
                 ToVictoria(db, vm_port, "{batch_send_deadline: 100ms, settle_delay: 1s}") +
                     testing::HealthComponentYaml("carbon", target.port()) +
                     "  - name: slowpoke\n    probes:\n      - name: late\n        kind: http\n"
                     "        url: " + slow.Url("/slow") + "\n        interval: 3s\n"
                     "        timeout: 3s\n");
  int port = 0;
  auto obsmon = testing::StartObsmon(dir.File("config.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon.log"));
  // Two runs of the slow probe (every 3 s, 2.5 s each); then the cursor past the second's end.
  const auto late_runs = [&] {
    auto [rc, out] = RunCommand({"sqlite3", db,
                                 "SELECT count(*) FROM probe_runs r JOIN probes p ON "
                                 "p.id = r.probe_id WHERE p.probe = 'late'"},
                                dir.File("late.out"));
    return rc == 0 && !out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))
               ? std::stoi(out)
               : 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return late_runs() >= 2; }, 30s))
      << ReadWholeFile(dir.File("obsmon.log"));
  const int64_t second_ended = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  ASSERT_TRUE(WaitUntil([&] { return CursorOf(db, "vm") > second_ended; }, 20s))
      << ReadWholeFile(dir.File("obsmon.log"));
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(20s), 0) << ReadWholeFile(dir.File("obsmon.log"));
  int64_t cursor = 0;
  const auto stored = StoredBefore(db, "vm", &cursor);
  int late_samples = 0;
  for (const auto& [key, value] : stored) {
    if (key.first.find("probe=\"late\"") != std::string::npos) ++late_samples;
  }
  ASSERT_GE(late_samples, 4) << "the slow probe's runs, two samples each, before the cursor";
  ExpectVictoriaHolds(stored, vm_port);
}

TEST(RemoteWriteTest, BadRequestDroppedAndCountedNeverRetried) {
  testing::ScratchDir dir;
  testing::HealthTarget target;
  testing::FakeReceiver receiver;
  receiver.Script({400}, /*repeat_last=*/true);
  WriteWholeFile(dir.File("config.yml"),
                 "listen: 127.0.0.1:0\nstorage: {path: " + dir.File("obsmon.db") +
                     "}\nremote_write:\n  - name: refusing\n    url: " + receiver.Url() +
                     "\n    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms}\n"
                     "components:\n" +
                     testing::HealthComponentYaml("carbon", target.port()));
  int port = 0;
  auto obsmon = testing::StartObsmon(dir.File("config.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon.log"));
  ASSERT_TRUE(WaitUntil([&] { return receiver.requests() >= 5; }, 20s));
  httplib::Client c("127.0.0.1", port);
  // Between two requests the counter equals what the receiver was sent (polled: a request may
  // be in flight at one read).
  double dropped = -1, requests = -1;
  EXPECT_TRUE(WaitUntil(
      [&] {
        const size_t sent_before = receiver.samples_in_requests();
        auto res = c.Get("/metrics");
        if (!res) return false;
        dropped = testing::MetricValue(res->body, "obsmon_remote_write_samples_dropped_total",
                                       "reason=\"rejected\"")
                      .value_or(-1);
        requests = testing::MetricValue(res->body, "obsmon_remote_write_requests_total",
                                        "code=\"400\"")
                       .value_or(-1);
        return dropped == static_cast<double>(sent_before) &&
               sent_before == receiver.samples_in_requests() &&
               requests == static_cast<double>(receiver.requests());
      },
      10s))
      << "dropped " << dropped << " requests " << requests << " vs " << receiver.samples_in_requests()
      << " in " << receiver.requests();
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(20s), 0);
  EXPECT_EQ(receiver.duplicate_samples(), 0u);  // no sample was ever sent twice
  // The body is logged, but not once per request: the first, then once a minute with the count.
  const std::string log = ReadWholeFile(dir.File("obsmon.log"));
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("samples dropped: refused by the test receiver", at)) !=
                      std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_GE(lines, 1u) << log;
  EXPECT_LT(lines, static_cast<size_t>(receiver.requests())) << log;
  EXPECT_NE(log.find("repeats are logged at most once per"), std::string::npos) << log;
}

TEST(RemoteWriteTest, CheckReportsBadRemoteWriteWithPlace) {
  testing::ScratchDir dir;
  WriteWholeFile(dir.File("config.yml"),
                 "remote_write:\n  - url: ftp://x\n    queue_config: {shards: 0}\n"
                 "components:\n  - name: c\n    probes:\n      - {name: t, kind: tcp, "
                 "address: '127.0.0.1:1'}\n");
  auto [rc, out] = RunCommand({testing::kObsmonBinary, "check", "--config", dir.File("config.yml")},
                              dir.File("check.out"));
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("config.yml:2:10: unsupported url scheme 'ftp'"), std::string::npos) << out;
  EXPECT_NE(out.find("config.yml:3:28: shards must be between 1 and 32"), std::string::npos) << out;
}

// A secret or CA file that cannot be read and a selector the store would refuse: `obsmon check`
// names each place, `obsmon run` refuses to start, and a reload to such a config is refused with
// the running one kept (its remote goes on sending).
TEST(RemoteWriteTest, UnusableFilesAndSelectorsAreRefusedByCheckStartAndReload) {
  testing::ScratchDir dir;
  testing::HealthTarget target;
  testing::FakeReceiver receiver;
  WriteWholeFile(dir.File("rw.token"), "s3cret\n");
  const std::string head = "listen: 127.0.0.1:0\nstorage: {path: " + dir.File("obsmon.db") +
                           "}\nremote_write:\n  - name: good\n    url: " + receiver.Url() +
                           "\n    bearer_token_file: rw.token\n"
                           "    queue_config: {batch_send_deadline: 200ms}\n";
  const std::string components =
      "components:\n" + testing::HealthComponentYaml("carbon", target.port());
  const std::string bad_remotes =
      "  - name: bad\n    url: https://127.0.0.1:1/w\n"          // lines 8 and 9
      "    bearer_token_file: missing.token\n"                     // 10
      "    tls_config: {ca_file: missing-ca.pem}\n"                // 11
      "  - name: worse\n    url: http://127.0.0.1:1/w\n"          // 12 and 13
      "    basic_auth: {username: u, password_file: missing.pw}\n";  // 14
  const std::string bad_source =
      "  - name: site\n    source: {url: 'http://127.0.0.1:1', selector: '{job=blackbox}'}\n";
  // `obsmon check` names every place, and the daemon refuses to start, naming them too. (The
  // remote_write section is read once the rest of the config is valid, hence two files.)
  struct BadFile {
    std::string yaml;
    std::vector<std::string> errors;  // after "<file>:"
  };
  const std::vector<BadFile> bad_files = {
      {head + bad_remotes + components,
       {"10:24: bearer_token_file: '" + dir.File("missing.token") + "' does not exist",
        "11:27: ca_file: '" + dir.File("missing-ca.pem") + "' does not exist",
        "14:46: password_file: '" + dir.File("missing.pw") + "' does not exist"}},
      {head + components + bad_source,
       {"17:51: selector '{job=blackbox}' is not a list of label matchers such as "
        "{job=\"blackbox\"}: expected a quoted value"}}};
  for (const BadFile& bad : bad_files) {
    WriteWholeFile(dir.File("bad.yml"), bad.yaml);
    auto [rc, out] = RunCommand(
        {testing::kObsmonBinary, "check", "--config", dir.File("bad.yml")}, dir.File("check.out"));
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find(std::to_string(bad.errors.size()) + " error"), std::string::npos) << out;
    int port = 0;
    auto refused = testing::StartObsmon(dir.File("bad.yml"), dir.File("refused.log"), &port, {},
                                        std::chrono::milliseconds(0));
    EXPECT_EQ(refused->Wait(20s), 1);
    const std::string refused_log = ReadWholeFile(dir.File("refused.log"));
    EXPECT_NE(refused_log.find("not starting"), std::string::npos) << refused_log;
    for (const std::string& want : bad.errors) {
      EXPECT_NE(out.find(dir.File("bad.yml") + ":" + want), std::string::npos)
          << want << "\nin:\n" << out;
      EXPECT_NE(refused_log.find(dir.File("bad.yml") + ":" + want), std::string::npos)
          << want << "\nin:\n" << refused_log;
    }
  }

  // A good config runs; a reload to each bad part is refused and the good remote keeps sending.
  WriteWholeFile(dir.File("obsmon.yml"), head + components);
  int port = 0;
  auto obsmon = testing::StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << ReadWholeFile(dir.File("obsmon.log"));
  ASSERT_TRUE(WaitUntil([&] { return receiver.requests() >= 2; }, 20s));
  EXPECT_EQ(receiver.header("Authorization"), "Bearer s3cret");
  httplib::Client c("127.0.0.1", port);
  auto reload_ok = [&] {
    auto res = c.Get("/metrics");
    return res ? testing::MetricValue(res->body, "obsmon_config_last_reload_successful")
               : std::nullopt;
  };
  for (const std::string& part : {head + bad_remotes + components, head + components + bad_source}) {
    WriteWholeFile(dir.File("obsmon.yml"), part);
    obsmon->Signal(SIGHUP);
    ASSERT_TRUE(WaitUntil([&] { return reload_ok() == 0.0; }, 10s)) << obsmon->Output();
    const int before = receiver.requests();
    EXPECT_TRUE(WaitUntil([&] { return receiver.requests() >= before + 2; }, 20s))
        << "the running remote stopped sending after a refused reload";
    WriteWholeFile(dir.File("obsmon.yml"), head + components);  // fixed: accepted again
    obsmon->Signal(SIGHUP);
    ASSERT_TRUE(WaitUntil([&] { return reload_ok() == 1.0; }, 10s)) << obsmon->Output();
  }
  const std::string log = ReadWholeFile(dir.File("obsmon.log"));
  EXPECT_NE(log.find("reload refused"), std::string::npos) << log;
  EXPECT_NE(log.find(":10:24: bearer_token_file: '" + dir.File("missing.token")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(":17:51: selector '{job=blackbox}'"), std::string::npos) << log;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(20s), 0);
}

}  // namespace
}  // namespace obsmon
