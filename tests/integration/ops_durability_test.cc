// Durability of the real obsmon binary under what users do beside it (issue "Durable under real
// operation"): a second daemon on the same address, the database moved away and back while
// obsmon runs, and a reload that removes a component. Each outcome is checked against what
// another process (sqlite3) reads, or against /metrics and /healthz as a scraper sees them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthComponentYaml;
using testing::HealthTarget;
using testing::MetricValue;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

std::string Config(const std::string& listen, const std::string& db,
                   const std::string& components) {
  return "listen: " + listen + "\nuptime_refresh: 500ms\nstorage:\n  path: " + db +
         "\ncomponents:\n" + components;
}

std::string Get(int port, const std::string& path, int* status = nullptr) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto res = c.Get(path);
  if (status) *status = res ? res->status : 0;
  return res ? res->body : "";
}

int64_t CountRuns(const ScratchDir& dir, const std::string& db, const std::string& where = "1") {
  auto [rc, out] = RunCommand({"sqlite3", db, "SELECT count(*) FROM probe_runs WHERE " + where},
                              dir.File("count.out"));
  if (rc != 0) return -1;
  return std::stoll(out);
}

// cpp-httplib sets SO_REUSEPORT by default: a second daemon would bind the same port and the
// two would answer requests (and Prometheus's scrapes) in turn.
TEST(OpsDurabilityTest, ASecondDaemonOnTheSameListenAddressIsRefused) {
  ScratchDir dir;
  HealthTarget target;
  const std::string listen = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  WriteWholeFile(dir.File("a.yml"),
                 Config(listen, dir.File("a.db"), HealthComponentYaml("web", target.port())));
  WriteWholeFile(dir.File("b.yml"),
                 Config(listen, dir.File("b.db"), HealthComponentYaml("web", target.port())));
  int port_a = 0;
  auto a = StartObsmon(dir.File("a.yml"), dir.File("a.log"), &port_a);
  ASSERT_GT(port_a, 0) << a->Output();
  testing::Subprocess b({testing::kObsmonBinary, "run", "--config", dir.File("b.yml")},
                        dir.File("b.log"));
  const auto rc = b.Wait();
  ASSERT_TRUE(rc.has_value()) << "the second daemon kept running: " << b.Output();
  EXPECT_NE(*rc, 0) << b.Output();
  EXPECT_NE(b.Output().find("Address already in use"), std::string::npos) << b.Output();
  EXPECT_NE(b.Output().find(listen), std::string::npos) << b.Output();
  // Every request still reaches the first daemon.
  for (int i = 0; i < 10; ++i) {
    int status = 0;
    EXPECT_NE(Get(port_a, "/api/v1/components", &status).find("web"), std::string::npos);
  }
  a->Signal(SIGTERM);
  EXPECT_EQ(a->Wait(), 0);
}

// The database moved away while obsmon runs: /healthz and /metrics say so within a refresh (the
// writer checks the file before each commit), nothing is written into the unlinked file, and
// when the file comes back the runs probed meanwhile are stored.
TEST(OpsDurabilityTest, ADatabaseMovedAwayIsUnhealthyAndNothingIsLostWhenItComesBack) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 not installed";
  ScratchDir dir;
  HealthTarget target;
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("obsmon.yml"), Config("127.0.0.1:0", db, HealthComponentYaml("web", target.port())));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] { return CountRuns(dir, db) >= 3; }, 20s));
  int status = 0;
  ASSERT_EQ(Get(port, "/healthz", &status), "OK\n");

  std::filesystem::rename(db, dir.File("moved.db"));
  const auto moved_at = std::chrono::system_clock::now();
  std::string body;
  ASSERT_TRUE(WaitUntil(
      [&] {
        body = Get(port, "/healthz", &status);
        return status == 503;
      },
      10s))
      << body;
  EXPECT_NE(body.find("was deleted"), std::string::npos) << body;
  const std::string metrics = Get(port, "/metrics");
  EXPECT_EQ(MetricValue(metrics, "obsmon_storage_healthy"), 0.0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "obsmon_storage_last_write_successful"), 0.0);
  std::this_thread::sleep_for(1s);  // runs are probed while the file is away (real time)

  std::filesystem::rename(dir.File("moved.db"), db);
  ASSERT_TRUE(WaitUntil(
      [&] {
        body = Get(port, "/healthz", &status);
        return status == 200;
      },
      10s))
      << body;
  const int64_t away_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              moved_at.time_since_epoch()).count();
  // Another process sees the runs probed while the file was away (stamped after the move).
  EXPECT_TRUE(WaitUntil(
      [&] { return CountRuns(dir, db, "ts_ms > " + std::to_string(away_ms + 300)) >= 3; }, 10s));
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// After a reload that removes a component, none of its series stay on /metrics.
TEST(OpsDurabilityTest, AReloadThatRemovesAComponentRemovesAllItsSeries) {
  ScratchDir dir;
  HealthTarget target;
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("obsmon.yml"),
                 Config("127.0.0.1:0", db,
                        HealthComponentYaml("web", target.port()) + HealthComponentYaml("gone", target.port())));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return MetricValue(Get(port, "/metrics"), "obsmon_component_uptime_ratio",
                           "component=\"gone\"")
            .has_value();
      },
      20s));
  WriteWholeFile(dir.File("obsmon.yml"), Config("127.0.0.1:0", db, HealthComponentYaml("web", target.port())));
  obsmon->Signal(SIGHUP);
  std::string metrics;
  EXPECT_TRUE(WaitUntil(
      [&] {
        metrics = Get(port, "/metrics");
        return metrics.find("component=\"gone\"") == std::string::npos &&
               metrics.find("component=\"web\"") != std::string::npos;
      },
      10s))
      << metrics;
  EXPECT_EQ(MetricValue(metrics, "obsmon_config_last_reload_successful"), 1.0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// A reload that changes a log probe's settings builds a new instance, which reads the stored
// cursor; the old instance's last batch may still wait in group commit then. Reloading every
// few hundred ms while lines are written makes that overlap happen many times: every ERROR line
// must still be counted exactly once (the truth is what this test wrote).
TEST(OpsDurabilityTest, ReloadsThatChangeTheLogProbeCountEveryLineOnce) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 not installed";
  ScratchDir dir;
  const std::string db = dir.File("obsmon.db");
  const std::string log = dir.File("app.log");
  WriteWholeFile(log, "");
  auto config = [&](int generation) {
    return Config("127.0.0.1:0", db,
                  "  - name: app\n    probes:\n      - name: logs\n        kind: log\n"
                  "        paths: [" + log + "]\n        interval: 100ms\n"
                  "        labels: {generation: \"" + std::to_string(generation) + "\"}\n");
  };
  WriteWholeFile(dir.File("obsmon.yml"), config(0));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  std::ofstream out(log, std::ios::app);
  int written = 0;
  for (int generation = 1; generation <= 25; ++generation) {
    for (int i = 0; i < 20; ++i) {
      out << "2026-11-30 ERROR line " << ++written << "\n";
      out.flush();
      std::this_thread::sleep_for(5ms);  // the writer's pace, so runs see lines in flight
    }
    WriteWholeFile(dir.File("obsmon.yml"), config(generation));
    obsmon->Signal(SIGHUP);
    std::this_thread::sleep_for(150ms);
  }
  auto error_sum = [&] {
    return RunCommand(
        {"sqlite3", db,
         "SELECT sum(c.value) FROM counters c JOIN series x ON x.id = c.series_id WHERE "
         "x.name = 'obsmon_log_matches_total' AND x.labels LIKE '%severity=\"error\"%'"},
        dir.File("sum.out"));
  };
  // SIGTERM stops the probes without a last run: the lines written since the previous
  // generation last ran are read by the last generation's first run, up to an interval after a
  // reload that a loaded sanitized run may not finish within the 150 ms above. Wait until they
  // are committed: a lost line never is, and a line counted twice still fails below.
  WaitUntil(
      [&] {
        auto [code, sum] = error_sum();
        return code == 0 && std::atoll(sum.c_str()) >= written;
      },
      30s);
  obsmon->Signal(SIGTERM);  // drains the queue: everything read is committed
  ASSERT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  auto [rc, total] = error_sum();
  ASSERT_EQ(rc, 0) << total;
  EXPECT_EQ(std::stoll(total), written) << obsmon->Output().substr(0, 4000);
  auto [rc2, events] = RunCommand({"sqlite3", db, "SELECT count(DISTINCT line) || ' ' || count(*) FROM log_events"},
                                  dir.File("events.out"));
  ASSERT_EQ(rc2, 0) << events;
  EXPECT_EQ(events, std::to_string(written) + " " + std::to_string(written) + "\n");
}

// A `sqlite3` shell holds the write lock (BEGIN IMMEDIATE, as a user's open transaction or a
// script's does) while a log grows fast: the writer's queue fills and refuses the log probe's
// batches, and their state waits in the daemon for the probe's next batch. Meanwhile a new file
// the glob matches appears and is rotated, and the first file is rotated twice, the second time
// over its older copy (logrotate's `rotate 1`): a probe that re-read from the stored cursor
// lost whole generations (fresh eyes). After the lock goes, every line counts exactly once (the
// truth is what this test wrote), in the database and on /metrics.
TEST(OpsDurabilityTest, AWriteLockThatFillsTheQueueLosesNoLogLine) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 not installed";
  ScratchDir dir;
  const std::string db = dir.File("obsmon.db");
  const std::string a = dir.File("a.log"), b = dir.File("b.log");
  WriteWholeFile(a, "");
  std::string config = Config("127.0.0.1:0", db,
                              "  - name: app\n    probes:\n      - name: logs\n        kind: log\n"
                              "        paths: ['" + dir.path() + "/*.log']\n"
                              "        interval: 100ms\n        max_events_per_run: 1000000\n");
  // Short, so that the writer's failed transactions come back often.
  config.replace(config.find("components:"), 0, "  busy_timeout: 100ms\n");
  WriteWholeFile(dir.File("obsmon.yml"), config);
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  std::map<std::string, int64_t> errors, lines;  // what this test wrote, by file
  auto write = [&](const std::string& path, int count) {
    std::string text;
    for (int i = 0; i < count; ++i) {
      ++lines[path];
      if (i % 10 == 9) {
        text += "2026-11-30 INFO fine\n";
      } else {
        text += "2026-11-30 ERROR line " + std::to_string(++errors[path]) + "\n";
      }
    }
    testing::AppendToFile(path, text);
  };
  auto metrics = [&] { return Get(port, "/metrics"); };
  write(a, 1000);
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(metrics(), "obsmon_log_lines_read_total", "a.log").value_or(0) == 1000;
  }, 20s)) << obsmon->Output();

  // sqlite3 takes the write lock and keeps it until the test creates `release`.
  WriteWholeFile(dir.File("lock.sql"),
                 ".timeout 5000\nBEGIN IMMEDIATE;\n.shell touch " + dir.File("locked") +
                     "\n.shell while [ ! -e " + dir.File("release") +
                     " ]; do sleep 0.05; done\nCOMMIT;\n");
  testing::Subprocess lock({"/bin/sh", "-c", "sqlite3 " + db + " < " + dir.File("lock.sql")},
                           dir.File("lock.out"));
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir.File("locked")); }, 20s))
      << lock.Output();
  // The queue holds 500,000 rows: a run's matched lines are rows (max_events_per_run above).
  double dropped = 0;
  for (int burst = 0; burst < 40 && dropped == 0; ++burst) {
    write(a, 50'000);
    std::this_thread::sleep_for(300ms);
    dropped = MetricValue(metrics(), "obsmon_storage_dropped_batches_total").value_or(0);
  }
  ASSERT_GT(dropped, 0) << "the queue never refused a batch\n" << obsmon->Output();
  // The probe has read a file's lines (its /metrics totals come from its runs, not from
  // storage): only then is the file rotated away, as logrotate would a slow reader's log.
  auto read_all = [&](const std::string& path) {
    return WaitUntil([&] {
      int64_t seen = 0;
      std::istringstream in(metrics());
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("obsmon_log_lines_read_total{", 0) == 0 &&
            line.find("source=\"" + path + "\"") != line.npos) {
          seen = std::atoll(line.substr(line.rfind(' ') + 1).c_str());
        }
      }
      return seen == lines[path];
    }, 30s);
  };
  // What rotation moved away still counts under the followed path's name.
  auto rotate = [&](const std::string& path) {
    ASSERT_TRUE(read_all(path)) << path << "\n" << obsmon->Output();
    std::filesystem::rename(path, path + ".1");  // over an older .1, as `rotate 1` does
    WriteWholeFile(path, "");
  };
  write(b, 500);  // a new match, whose first batches the full queue refuses
  write(a, 100);
  rotate(b);
  rotate(a);
  write(a, 100);
  write(b, 100);
  rotate(a);
  // Until the full queue has refused some of the batches since b.log appeared (a transaction's
  // retry takes its batches out for a moment and lets a few in, so how many varies).
  double dropped_while_locked = dropped;
  WaitUntil([&] {
    write(a, 100);
    write(b, 100);
    std::this_thread::sleep_for(200ms);
    dropped_while_locked =
        MetricValue(metrics(), "obsmon_storage_dropped_batches_total").value_or(0);
    return dropped_while_locked > dropped;
  }, 30s);
  WriteWholeFile(dir.File("release"), "");
  ASSERT_EQ(lock.Wait(), 0) << lock.Output();
  write(a, 10);
  write(b, 10);

  // Summed over the severities (only the ERROR lines match one).
  auto stored = [&](const std::string& name, const std::string& path) -> int64_t {
    auto [rc, out] = RunCommand(
        {"sqlite3", db,
         "SELECT coalesce(sum(c.value), 0) FROM counters c JOIN series x ON x.id = c.series_id "
         "WHERE x.name = '" + name + "' AND x.labels LIKE '%source=\"" + path + "\"%'"},
        dir.File("sum.out"));
    return rc == 0 ? std::atoll(out.c_str()) : -1;
  };
  auto exported = [](const std::string& text, const std::string& name, const std::string& path) {
    double sum = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + "{", 0) == 0 && line.find("source=\"" + path + "\"") != line.npos) {
        sum += std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return static_cast<int64_t>(sum);
  };
  // A lost line never arrives, a line counted twice overshoots: wait for the truth, then check.
  WaitUntil([&] {
    return stored("obsmon_log_lines_read_total", a) >= lines[a] &&
           stored("obsmon_log_lines_read_total", b) >= lines[b];
  }, 60s);
  const std::string text = metrics();
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  for (const std::string& path : {a, b}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(stored("obsmon_log_lines_read_total", path), lines[path]);
    EXPECT_EQ(stored("obsmon_log_matches_total", path), errors[path]);
    // /metrics shows what storage has, not what a refused run had read.
    EXPECT_EQ(exported(text, "obsmon_log_lines_read_total", path), lines[path]);
    EXPECT_EQ(exported(text, "obsmon_log_matches_total", path), errors[path]);
  }
  // The queue refused batches with b.log's lines too.
  EXPECT_GT(dropped_while_locked, dropped);
  std::printf("batches refused: %.0f before b.log appeared, %.0f in all\n", dropped,
              dropped_while_locked);
  // Refused state waited in the daemon; no accepted batch was lost.
  for (const char* reason : {"refused", "retry_overflow"}) {
    EXPECT_EQ(MetricValue(text, "obsmon_storage_lost_batches_total", reason).value_or(-1), 0);
  }
  EXPECT_EQ(MetricValue(text, "obsmon_storage_superseded_state_batches_total").value_or(-1), 0);
}

}  // namespace
}  // namespace obsmon
