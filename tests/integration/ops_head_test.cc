// The heads of samples and runs (storage/head.h) under what users do beside the real obsmon:
// sqlite3 reading `samples` and `probe_runs` all along, a SIGHUP, kill -9 and a restart, across
// several of the heads' 15 s moves. The truth is the target's own count of the requests it
// answered; every stored run (in exactly one of its two tables) must have its probe_success
// sample (same time, same verdict) in exactly one of the samples' two tables, and each hourly
// rollup (latency histogram included) must be what sqlite3 computes from the stored runs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "tests/integration/ops_support.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::MetricValue;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

// Components web0..web<n-1>, each with an http health probe of the target every 200 ms. The
// head moves every 15 s (the default is 60 s): several moves within the test's half minute, and
// the key is read (ignored, the first move would come after the 30 s wait below).
std::string Config(const std::string& db, int target_port, int components) {
  std::string yaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + db +
                     "\n  head_move_interval: 15s\ncomponents:\n";
  for (int i = 0; i < components; ++i) {
    yaml += testing::HealthComponentYaml("web" + std::to_string(i), target_port);
  }
  return yaml;
}

int64_t Sql(const ScratchDir& dir, const std::string& db, const std::string& sql) {
  auto [rc, out] = RunCommand({"sqlite3", "-readonly", db, sql}, dir.File("sql.out"));
  EXPECT_EQ(rc, 0) << sql << ": " << out;
  return rc == 0 ? std::stoll(out) : -1;
}

std::string Metrics(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto res = c.Get("/metrics");
  return res ? res->body : "";
}

TEST(OpsHeadTest, EveryRunKeepsItsSampleAcrossMovesReadsReloadsAndKill9) {
  ScratchDir dir;
  testing::HealthTarget target;
  constexpr int kComponents = 3;
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("obsmon.yml"), Config(db, target.port(), kComponents));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();

  // sqlite3 beside the daemon all along: what `samples` and `probe_runs` show never shrinks,
  // even while rows move from one table to the other.
  std::atomic<bool> stop_reading{false};
  std::atomic<int> shrank{0}, reads{0};
  std::thread reader([&] {
    int64_t last = 0, last_runs = 0;
    while (!stop_reading) {
      // One snapshot for both counts: -separator ' ' prints "samples runs".
      auto [rc, out] = RunCommand({"sqlite3", "-readonly", "-separator", " ", db,
                                   "SELECT (SELECT count(*) FROM samples), (SELECT count(*) "
                                   "FROM probe_runs)"},
                                  dir.File("reader.out"));
      if (rc == 0 && !out.empty()) {
        std::istringstream counts(out);
        int64_t n = 0, r = 0;
        if (!(counts >> n >> r)) continue;
        if (n < last || r < last_runs) ++shrank;
        last = std::max(last, n);
        last_runs = std::max(last_runs, r);
        ++reads;
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  // Joined however the test ends (an ASSERT returns early).
  struct JoinReader {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~JoinReader() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } join_reader{stop_reading, reader};

  std::this_thread::sleep_for(12s);
  ASSERT_TRUE(obsmon->Signal(SIGHUP));
  // Past the first move (15 s after the first commit): rows are in both tables now.
  ASSERT_TRUE(WaitUntil([&] { return Sql(dir, db, "SELECT count(*) FROM samples_by_series") > 0; },
                        30s));
  std::this_thread::sleep_for(3s);
  obsmon->Kill();  // SIGKILL: no draining
  const int64_t answered_at_kill = target.answered();
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  // The restarted writer moves what the killed one left in the head at its first commit.
  ASSERT_TRUE(WaitUntil(
      [&] { return MetricValue(Metrics(port), "obsmon_storage_head_rows_moved_total").value_or(0) > 0; },
      20s));
  std::this_thread::sleep_for(8s);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
  stop_reading = true;
  reader.join();
  const int64_t answered = target.answered();

  EXPECT_GT(reads.load(), 50);
  EXPECT_EQ(shrank.load(), 0) << "samples or runs seen by sqlite3 shrank while rows moved";
  // One place per key: below the floor in the table by series (or probe), at or above it in the
  // head; and rows in each.
  for (const auto& [by_key, head] : {std::pair{"samples_by_series", "samples_head"},
                                     std::pair{"probe_runs_by_probe", "probe_runs_head"}}) {
    SCOPED_TRACE(head);
    const std::string floor = "(SELECT floor_ms FROM samples_head_floor)";
    EXPECT_EQ(Sql(dir, db, std::string("SELECT count(*) FROM ") + by_key + " WHERE ts_ms >= " +
                               floor),
              0);
    EXPECT_EQ(Sql(dir, db, std::string("SELECT count(*) FROM ") + head + " WHERE ts_ms < " + floor),
              0);
    EXPECT_GT(Sql(dir, db, std::string("SELECT count(*) FROM ") + by_key), 0);
    EXPECT_GT(Sql(dir, db, std::string("SELECT count(*) FROM ") + head), 0);
  }

  // Every stored run has one probe_success sample at its time with its verdict, and there are
  // no others.
  const int64_t runs = Sql(dir, db, "SELECT count(*) FROM probe_runs");
  const int64_t success_samples =
      Sql(dir, db, "SELECT count(*) FROM samples x JOIN series s ON s.id = x.series_id "
                   "WHERE s.name = 'probe_success'");
  const int64_t matched = Sql(
      dir, db,
      "SELECT count(*) FROM probe_runs r JOIN probes p ON p.id = r.probe_id JOIN series s ON "
      "s.name = 'probe_success' AND instr(s.labels, 'component=\"' || p.component || '\"') > 0 "
      "JOIN samples x ON x.series_id = s.id AND x.ts_ms = r.ts_ms AND x.value = r.success");
  EXPECT_EQ(success_samples, runs);
  EXPECT_EQ(matched, runs);
  // Against the target's own count: no success stored that it did not answer (a run that timed
  // out on a loaded machine is stored as down, and may or may not have been answered); and lost
  // only what the kill could lose (runs done but not committed: the group commit's wait, and
  // those in flight).
  const int64_t up = Sql(dir, db, "SELECT count(*) FROM probe_runs WHERE success = 1");
  EXPECT_LE(up, answered);
  EXPECT_GE(runs, answered - testing::RunsAKillMayLose(200) * kComponents)
      << "answered " << answered << " (" << answered_at_kill << " before the kill), stored "
      << runs << " (" << up << " up)";

  // Each probe's hourly rollup, which two daemons added to (the second merging its histograms
  // into what the killed one committed, in its upserts), says what the stored runs say: counts,
  // and the latency histogram bucket by bucket, computed here by sqlite3 from the runs'
  // durations (bucket k >= 1 holds [100 us * 2^((k-1)/8), 100 us * 2^(k/8)); docs/storage.md).
  const std::string truth =
      "WITH b AS (SELECT probe_id, ts_ms - ts_ms % 3600000 AS hour_ms, CASE WHEN "
      "duration_seconds < 1e-4 THEN 0 ELSE min(163, CAST(floor(8 * log2(duration_seconds / "
      "1e-4)) AS INTEGER) + 1) END AS k FROM probe_runs WHERE success = 1), c AS (SELECT "
      "probe_id, hour_ms, k, count(*) AS n FROM b GROUP BY 1, 2, 3 ORDER BY 1, 2, 3), h AS "
      "(SELECT probe_id, hour_ms, group_concat(k || ':' || n, ',') AS hist FROM c GROUP BY 1, "
      "2), r AS (SELECT probe_id, ts_ms - ts_ms % 3600000 AS hour_ms, count(*) AS runs, "
      "sum(success) AS up FROM probe_runs GROUP BY 1, 2) ";
  EXPECT_EQ(Sql(dir, db, truth + "SELECT count(*) FROM r"),
            Sql(dir, db, "SELECT count(*) FROM rollup_hourly"));
  EXPECT_EQ(Sql(dir, db, truth + "SELECT count(*) FROM r JOIN rollup_hourly x USING (probe_id, "
                                 "hour_ms) LEFT JOIN h USING (probe_id, hour_ms) WHERE x.runs = "
                                 "r.runs AND x.up = r.up AND x.latency_hist = "
                                 "coalesce(h.hist, '')"),
            Sql(dir, db, "SELECT count(*) FROM rollup_hourly"))
      << "rollups that differ from their runs";
  EXPECT_GE(Sql(dir, db, "SELECT count(*) FROM rollup_hourly"), kComponents);
}

}  // namespace
}  // namespace obsmon
