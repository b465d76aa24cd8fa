// The Writer and Reader together on real SQLite files: round trips, atomicity, group commit,
// retention, the per-day event cap, the single-writer lock, draining and the bounded queue.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "storage/latency_histogram.h"
#include "storage/storage.h"
#include "tests/support/storage_writer.h"
#include "tests/support/malloc_count.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ScratchDir;

constexpr TimestampMs kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z, an hour boundary
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;

StorageOptions Options(const ScratchDir& dir, const Clock* clock = nullptr) {
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  if (clock) o.clock = clock;
  return o;
}


ProbeRun MakeRun(const std::string& probe, TimestampMs ts, bool ok, double secs,
                 ProbeRole role = ProbeRole::kHealth, const std::string& component = "carbon") {
  ProbeRun r;
  r.key = {component, probe};
  r.role = role;
  r.ts_ms = ts;
  r.success = ok;
  r.duration_seconds = secs;
  r.valid_for_ms = 22'500;
  r.reason = ok ? "" : "status 503";
  return r;
}

LogEvent Event(TimestampMs ts, const std::string& line, const std::string& component = "carbon") {
  return LogEvent{{component, "logs"}, ts, "/var/log/carbon.log", "error", line};
}

int64_t Count(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// What a probe reads back when obsmon starts: the newest sample among the matching series,
// whatever order samples were written in; nothing for an unknown series or label.
TEST(SqliteWriterTest, LatestSampleIsTheNewestOfTheMatchingSeries) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  Labels a{{"component", "carbon"}, {"probe", "process"}, {"instance", "a.pid"}};
  Labels b{{"component", "carbon"}, {"probe", "process"}, {"instance", "b.pid"}};
  Labels other{{"component", "other"}, {"probe", "process"}};
  WriteBatch batch;
  batch.samples.push_back({"process_start_time_seconds", a, kT0 + 3000, 30});
  batch.samples.push_back({"process_start_time_seconds", a, kT0 + 1000, 10});
  batch.samples.push_back({"process_start_time_seconds", b, kT0 + 2000, 20});
  batch.samples.push_back({"process_start_time_seconds", other, kT0 + 9000, 90});
  ASSERT_TRUE(w->Enqueue(batch));
  ASSERT_TRUE(w->Flush().ok());

  auto r = testing::OpenReaderOrFail(o.path);
  ASSERT_TRUE(r);
  auto latest = r->LatestSample("process_start_time_seconds",
                                Labels{{"component", "carbon"}, {"probe", "process"}});
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->ts_ms, kT0 + 3000);
  EXPECT_EQ(latest->value, 30);
  EXPECT_EQ(latest->labels, a);
  auto only_b = r->LatestSample("process_start_time_seconds", Labels{{"instance", "b.pid"}});
  ASSERT_TRUE(only_b.has_value());
  EXPECT_EQ(only_b->value, 20);
  EXPECT_FALSE(r->LatestSample("nope", Labels()).has_value());
  EXPECT_FALSE(
      r->LatestSample("process_start_time_seconds", Labels{{"component", "x"}}).has_value());
  EXPECT_TRUE(r->TakeStateError().ok());
}

TEST(SqliteWriterTest, EveryRecordTypeRoundTrips) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  WriteBatch b;
  b.runs.push_back(MakeRun("health", kT0 + 1000, true, 0.012));
  b.runs.push_back(MakeRun("health", kT0 + 16000, false, 2.0));
  b.runs.push_back(MakeRun("smoke", kT0 + 5000, true, 0.5, ProbeRole::kIntegration));
  Labels sl{{"component", "carbon"}, {"job", "tta-staging-carbon"}, {"quote", "a\"b\\c\nd"}};
  b.samples.push_back({"probe_success", sl, kT0 + 1000, 1});
  b.samples.push_back({"probe_success", sl, kT0 + 16000, 0});
  b.samples.push_back({"odd", Labels(), kT0, std::numeric_limits<double>::quiet_NaN()});
  b.samples.push_back({"odd", Labels(), kT0 + 1, std::numeric_limits<double>::infinity()});
  b.log_events.push_back(Event(kT0 + 2000, "ERROR disk on fire \xE2\x9C\x93"));
  LogCursor c{
      {"carbon", "logs"}, "/var/log/carbon.log", 2049, 0xFFFFFFFFFFFFFF00ull, "abcdef0123", 4096,
      kT0 + 2000};
  c.birth_ns = 1'764'892'800'123'456'789;
  b.log_cursors.push_back(c);
  Labels cl{{"component", "carbon"}, {"probe", "logs"}, {"severity", "error"}};
  b.counters.push_back({"obsmon_log_matches_total", cl, 3});
  b.counters.push_back({"obsmon_log_matches_total", cl, 2});
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());

  auto r = testing::OpenReaderOrFail(o.path);
  ASSERT_TRUE(r);
  auto runs = r->ProbeRuns("carbon", kT0, kT0 + kHour);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  // Ordered by probe then time.
  EXPECT_EQ((*runs)[0].key.probe, "health");
  EXPECT_EQ((*runs)[0].ts_ms, kT0 + 1000);
  EXPECT_TRUE((*runs)[0].success);
  EXPECT_DOUBLE_EQ((*runs)[0].duration_seconds, 0.012);
  EXPECT_EQ((*runs)[0].valid_for_ms, 22'500);
  EXPECT_EQ((*runs)[1].ts_ms, kT0 + 16000);
  EXPECT_FALSE((*runs)[1].success);
  EXPECT_EQ((*runs)[1].reason, "status 503");
  EXPECT_EQ((*runs)[2].key.probe, "smoke");
  EXPECT_EQ((*runs)[2].role, ProbeRole::kIntegration);

  auto samples =
      r->Samples("probe_success", Labels{{"job", "tta-staging-carbon"}}, kT0, kT0 + kHour);
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].labels, sl);
  EXPECT_EQ((*samples)[1].value, 0);
  auto odd = r->Samples("odd", Labels(), kT0, kT0 + 10);
  ASSERT_TRUE(odd.ok());
  ASSERT_EQ(odd->size(), 2u);
  EXPECT_TRUE(std::isnan((*odd)[0].value));
  EXPECT_TRUE(std::isinf((*odd)[1].value));
  EXPECT_TRUE(r->Samples("probe_success", Labels{{"job", "other"}}, kT0, kT0 + kHour)->empty());
  // Every series at once (what the alert rules are refilled from at start), and its bound.
  auto all = r->AllSamples(kT0, kT0 + kHour, 100);
  ASSERT_TRUE(all.ok()) << all.status().message();
  size_t success_samples = 0, odd_samples = 0;
  for (const auto& s : *all) {
    if (s.name == "probe_success" && s.labels == sl) ++success_samples;
    if (s.name == "odd") ++odd_samples;
  }
  EXPECT_EQ(success_samples, 2u);
  EXPECT_EQ(odd_samples, 2u);
  EXPECT_FALSE(r->AllSamples(kT0, kT0 + kHour, 1).ok());
  EXPECT_TRUE(r->AllSamples(kT0 - kHour, kT0, 100)->empty());

  auto events = r->LogEvents("carbon", kT0, kT0 + kHour, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].line, "ERROR disk on fire \xE2\x9C\x93");
  EXPECT_EQ((*events)[0].key.probe, "logs");
  EXPECT_EQ((*events)[0].file, "/var/log/carbon.log");

  auto cursors = r->LogCursors({"carbon", "logs"});
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0].dev, 2049u);
  EXPECT_EQ(cursors[0].inode, 0xFFFFFFFFFFFFFF00ull);
  EXPECT_EQ(cursors[0].fingerprint, "abcdef0123");
  EXPECT_EQ(cursors[0].offset, 4096);
  EXPECT_EQ(cursors[0].updated_ms, kT0 + 2000);
  EXPECT_EQ(cursors[0].birth_ns, 1'764'892'800'123'456'789);

  auto counters = r->Counters({"carbon", "logs"});
  ASSERT_EQ(counters.size(), 1u);
  EXPECT_EQ(counters[0].value, 5);
  EXPECT_EQ(counters[0].labels, cl);
  EXPECT_TRUE(r->Counters({"carbon", "other"}).empty());
  EXPECT_TRUE(r->TakeStateError().ok());

  auto comps = r->Components();
  ASSERT_TRUE(comps.ok());
  EXPECT_EQ(*comps, std::vector<std::string>{"carbon"});
  auto latest = r->LatestRuns();
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0].ts_ms, kT0 + 16000);
  EXPECT_EQ((*latest)[1].key.probe, "smoke");

  WriterStats s = w->Stats();
  EXPECT_EQ(s.committed_batches, 1u);
  EXPECT_EQ(s.committed_rows, 3u + 4u + 1u);
  EXPECT_EQ(s.write_errors, 0u);
}

TEST(SqliteWriterTest, ProbeRunsIncludeTheLastRunBeforeTheWindow) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  WriteBatch b;
  for (int i = 0; i < 10; ++i) b.runs.push_back(MakeRun("a", kT0 + i * 60'000, i % 3 != 0, 0.1));
  b.runs.push_back(MakeRun("b", kT0 - kDay, true, 0.1));  // long before, still "the last before"
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  auto r = testing::OpenReaderOrFail(o.path);
  auto runs = r->ProbeRuns("carbon", kT0 + 5 * 60'000 + 1, kT0 + 8 * 60'000);
  ASSERT_TRUE(runs.ok());
  std::vector<std::pair<std::string, TimestampMs>> got;
  for (const auto& run : *runs) got.emplace_back(run.key.probe, run.ts_ms);
  std::vector<std::pair<std::string, TimestampMs>> want = {
      {"a", kT0 + 5 * 60'000}, {"a", kT0 + 6 * 60'000}, {"a", kT0 + 7 * 60'000}, {"b", kT0 - kDay}};
  EXPECT_EQ(got, want);
}

TEST(SqliteWriterTest, RollupsAggregateRunsPerHour) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  // Two batches (two transactions) into the same hour: the upsert must add them up.
  std::vector<double> up_durations;
  for (int part = 0; part < 2; ++part) {
    WriteBatch b;
    for (int i = 0; i < 30; ++i) {
      int n = part * 30 + i;
      bool ok = n % 10 != 0;
      double secs = 0.010 + 0.001 * n;
      b.runs.push_back(MakeRun("health", kT0 + n * 60'000, ok, secs));
      if (ok) up_durations.push_back(secs);
    }
    ASSERT_TRUE(w->Enqueue(b));
    ASSERT_TRUE(w->Flush().ok());
  }
  WriteBatch next_hour;
  next_hour.runs.push_back(MakeRun("health", kT0 + kHour + 5, true, 0.5));
  ASSERT_TRUE(w->Enqueue(next_hour));
  ASSERT_TRUE(w->Flush().ok());

  auto r = testing::OpenReaderOrFail(o.path);
  auto rollups = r->Rollups("carbon", kT0, kT0 + 2 * kHour);
  ASSERT_TRUE(rollups.ok());
  ASSERT_EQ(rollups->size(), 2u);
  const HourlyRollup& h = (*rollups)[0];
  EXPECT_EQ(h.hour_ms, kT0);
  EXPECT_EQ(h.runs, 60);
  EXPECT_EQ(h.down, 6);
  EXPECT_EQ(h.up, 54);
  double sum_all = 0, sum_up = 0;
  for (int n = 0; n < 60; ++n) sum_all += 0.010 + 0.001 * n;
  for (double d : up_durations) sum_up += d;
  EXPECT_NEAR(h.duration_sum, sum_all, 1e-9);
  EXPECT_NEAR(h.up_duration_sum, sum_up, 1e-9);
  EXPECT_DOUBLE_EQ(h.duration_min, 0.010);
  EXPECT_DOUBLE_EQ(h.duration_max, 0.010 + 0.001 * 59);
  auto hist = LatencyHistogram::Decode(h.latency_hist);
  ASSERT_TRUE(hist.has_value());
  EXPECT_EQ(hist->count(), 54u);
  std::sort(up_durations.begin(), up_durations.end());
  double exact_p95 = up_durations[static_cast<size_t>(std::ceil(0.95 * 54)) - 1];
  EXPECT_NEAR(*hist->Quantile(0.95), exact_p95, exact_p95 * 0.045);
  EXPECT_EQ((*rollups)[1].hour_ms, kT0 + kHour);
  EXPECT_EQ((*rollups)[1].runs, 1);
}

// Each hour's stored latency histogram is that of the hour's committed successful runs, the
// writer merging it in its upsert (storage/batch_applier.cc): truth is the test's own list of
// the runs committed. A transaction that failed after one probe's rollup was written (a user's
// trigger refuses another probe's; the batch is refused), late runs of the hour before the
// newest, and a row deleted by hand with sqlite3 (its hour then starts again) all leave it so.
TEST(SqliteWriterTest, RollupHistogramsAreThoseOfTheCommittedRunsAfterAFailureAndLateRuns) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  std::map<TimestampMs, LatencyHistogram> want;  // probe "p": hour -> committed durations
  std::map<TimestampMs, int64_t> want_runs;
  int n = 0;
  auto runs_of_p = [&](WriteBatch& b, TimestampMs hour, int count, bool committed) {
    for (int i = 0; i < count; ++i, ++n) {
      const double secs = 0.001 * (1 + n % 37);
      b.runs.push_back(MakeRun("p", hour + 1000 * n, true, secs));
      if (committed) {
        want[hour].Add(secs);
        ++want_runs[hour];
      }
    }
  };
  auto commit = [&](WriteBatch b, bool refused = false) {
    ASSERT_TRUE(w->Enqueue(std::move(b)));
    EXPECT_EQ(w->Flush().ok(), !refused);
  };
  WriteBatch first;
  runs_of_p(first, kT0, 10, true);
  commit(std::move(first));
  {
    SQLite::Database user(o.path, SQLite::OPEN_READWRITE);
    user.exec(
        "CREATE TRIGGER refuse_q BEFORE INSERT ON rollup_hourly WHEN NEW.probe_id <> (SELECT id "
        "FROM probes WHERE probe = 'p') BEGIN SELECT RAISE(ABORT, 'refused by a test'); END");
  }
  WriteBatch refused;
  runs_of_p(refused, kT0, 5, false);
  refused.runs.push_back(MakeRun("q", kT0 + 999, true, 0.5));
  commit(std::move(refused), /*refused=*/true);
  EXPECT_EQ(w->Stats().rejected_batches, 1u);
  {
    SQLite::Database user(o.path, SQLite::OPEN_READWRITE);
    user.exec("DROP TRIGGER refuse_q");
  }
  WriteBatch after;
  runs_of_p(after, kT0, 5, true);
  commit(std::move(after));
  WriteBatch next_hour;
  runs_of_p(next_hour, kT0 + kHour, 3, true);
  commit(std::move(next_hour));
  WriteBatch late_and_new;
  runs_of_p(late_and_new, kT0, 2, true);  // late: the hour before the newest
  runs_of_p(late_and_new, kT0 + kHour, 4, true);
  commit(std::move(late_and_new));
  WriteBatch newest_again;
  runs_of_p(newest_again, kT0 + kHour, 6, true);
  commit(std::move(newest_again));

  {
    SQLite::Database user(o.path, SQLite::OPEN_READWRITE);
    user.exec("DELETE FROM rollup_hourly WHERE hour_ms = " + std::to_string(kT0 + kHour));
  }
  want.erase(kT0 + kHour);
  want_runs.erase(kT0 + kHour);
  WriteBatch after_the_delete;
  runs_of_p(after_the_delete, kT0 + kHour, 2, true);
  commit(std::move(after_the_delete));

  auto r = testing::OpenReaderOrFail(o.path);
  ASSERT_TRUE(r);
  auto rollups = r->Rollups("carbon", kT0, kT0 + 2 * kHour);
  ASSERT_TRUE(rollups.ok());
  std::map<TimestampMs, LatencyHistogram> got;
  std::map<TimestampMs, int64_t> got_runs;
  for (const HourlyRollup& h : *rollups) {
    ASSERT_EQ(h.key.probe, "p");
    auto hist = LatencyHistogram::Decode(h.latency_hist);
    ASSERT_TRUE(hist.has_value()) << h.latency_hist;
    got[h.hour_ms] = *hist;
    got_runs[h.hour_ms] = h.runs;
  }
  EXPECT_EQ(got_runs, want_runs);
  EXPECT_EQ(got_runs, (std::map<TimestampMs, int64_t>{{kT0, 17}, {kT0 + kHour, 2}}));
  EXPECT_TRUE(got == want);
  for (const auto& [hour, hist] : got) {
    EXPECT_EQ(hist.count(), static_cast<uint64_t>(want_runs[hour])) << hour;
  }
}

TEST(SqliteWriterTest, DuplicateRunIsStoredOnceAndCountedOnce) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  WriteBatch b;
  b.runs.push_back(MakeRun("health", kT0, true, 0.1));
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  auto r = testing::OpenReaderOrFail(o.path);
  EXPECT_EQ(r->ProbeRuns("carbon", kT0, kT0 + 1)->size(), 1u);
  EXPECT_EQ(r->Rollups("carbon", kT0, kT0 + kHour)->at(0).runs, 1);
}

TEST(SqliteWriterTest, ReaderInSameProcessSeesCommittedDataOnly) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  WriteBatch first;
  first.runs.push_back(MakeRun("health", kT0, true, 0.1));
  ASSERT_TRUE(w->Enqueue(first));
  ASSERT_TRUE(w->Flush().ok());
  auto r = testing::OpenReaderOrFail(o.path);  // opened while the writer is running
  EXPECT_EQ(r->ProbeRuns("carbon", kT0, kT0 + kDay)->size(), 1u);
  for (int i = 1; i <= 20; ++i) {
    WriteBatch b;
    b.runs.push_back(MakeRun("health", kT0 + i * 1000, true, 0.1));
    ASSERT_TRUE(w->Enqueue(b));
  }
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(r->ProbeRuns("carbon", kT0, kT0 + kDay)->size(), 21u);
}

TEST(SqliteWriterTest, GroupCommitUnderConcurrentProducers) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  constexpr int kThreads = 8, kBatches = 400, kSamples = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        WriteBatch b;
        for (int k = 0; k < kSamples; ++k) {
          b.samples.push_back({"load",
                               Labels{{"thread", std::to_string(t)}, {"k", std::to_string(k)}},
                               kT0 + i, static_cast<double>(i)});
        }
        b.counters.push_back({"batches_total", Labels{{"thread", std::to_string(t)}}, 1});
        EXPECT_TRUE(w->Enqueue(std::move(b)));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(w->Flush().ok());
  WriterStats s = w->Stats();
  EXPECT_EQ(s.committed_batches, static_cast<uint64_t>(kThreads * kBatches));
  EXPECT_EQ(s.committed_rows, static_cast<uint64_t>(kThreads * kBatches * kSamples));
  EXPECT_LT(s.commits, s.committed_batches) << "batches should share transactions";
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), kThreads * kBatches * kSamples);
  auto r = testing::OpenReaderOrFail(o.path);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(r->CounterTotal("batches_total", Labels{{"thread", std::to_string(t)}}).value(),
              kBatches);
  }
}

// A log file gone with its rotations is retired by its probe: storage forgets its cursor and
// its counters in the same transaction, and only those (fresh eyes, stop 47: they were kept for
// ever and restored at every start). A counter given again after that starts from zero.
TEST(SqliteWriterTest, ARetiredCursorAndForgottenCountersAreDeletedAndOnlyThose) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  const Labels a{{"component", "carbon"}, {"probe", "logs"}, {"source", "/a.log"}};
  const Labels b{{"component", "carbon"}, {"probe", "logs"}, {"source", "/b.log"}};
  WriteBatch first;
  first.log_cursors.push_back({{"carbon", "logs"}, "/a.log", 1, 2, "ff", 10, kT0});
  first.log_cursors.push_back({{"carbon", "logs"}, "/b.log", 1, 3, "ee", 20, kT0});
  first.counters.push_back({"obsmon_log_lines_read_total", a, 4});
  first.counters.push_back({"obsmon_log_lines_read_total", b, 7});
  ASSERT_TRUE(w->Enqueue(first));
  ASSERT_TRUE(w->Flush().ok());
  WriteBatch retire;
  LogCursor gone{{"carbon", "logs"}, "/b.log"};
  gone.retired = true;
  retire.log_cursors.push_back(gone);
  CounterDelta forget{"obsmon_log_lines_read_total", b, 0};
  forget.forget = true;
  retire.counters.push_back(forget);
  retire.counters.push_back({"obsmon_log_lines_read_total", a, 1});
  ASSERT_TRUE(w->Enqueue(retire));
  ASSERT_TRUE(w->Flush().ok());
  {
    auto r = testing::OpenReaderOrFail(o.path);
    auto cursors = r->LogCursors({"carbon", "logs"});
    ASSERT_EQ(cursors.size(), 1u);
    EXPECT_EQ(cursors[0].path, "/a.log");
    auto counters = r->Counters({"carbon", "logs"});
    ASSERT_EQ(counters.size(), 1u);
    EXPECT_EQ(counters[0].labels, a);
    EXPECT_EQ(counters[0].value, 5);
  }
  WriteBatch again;
  again.counters.push_back({"obsmon_log_lines_read_total", b, 2});
  ASSERT_TRUE(w->Enqueue(again));
  ASSERT_TRUE(w->Flush().ok());
  auto r = testing::OpenReaderOrFail(o.path);
  double b_total = -1;
  for (const auto& c : r->Counters({"carbon", "logs"})) {
    if (c.labels == b) b_total = c.value;
  }
  EXPECT_EQ(b_total, 2);
}

TEST(SqliteWriterTest, FailedBatchLeavesNothingAndIsRetriedWhole) {
  ScratchDir dir;
  auto o = Options(dir);
  o.retry_backoff_ms = 20;
  auto w = testing::StartWriterOrFail(o);
  // Cap the database at about its current size: the big batch cannot fit (SQLITE_FULL).
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now + 8192).ok());
  WriteBatch b;
  b.log_cursors.push_back({{"carbon", "logs"}, "/l", 1, 2, "ff", 123456, kT0});
  for (int i = 0; i < 2000; ++i) b.log_events.push_back(Event(kT0 + i, std::string(200, 'x')));
  b.counters.push_back(
      {"obsmon_log_matches_total", Labels{{"component", "carbon"}, {"probe", "logs"}}, 2000});
  ASSERT_TRUE(w->Enqueue(b));
  Status flushed = w->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("full"), std::string::npos) << flushed.message();
  WriterStats s = w->Stats();
  EXPECT_GE(s.write_errors, 1u);
  EXPECT_FALSE(s.last_error.empty());
  {
    auto r = testing::OpenReaderOrFail(o.path);
    EXPECT_TRUE(r->LogCursors({"carbon", "logs"}).empty());
    EXPECT_TRUE(r->LogEvents("carbon", 0, kT0 + kDay, 10)->empty());
    EXPECT_TRUE(r->Counters({"carbon", "logs"}).empty());
  }
  // Room again: the kept batch is written, all of it.
  ASSERT_TRUE(w->SetMaxDatabaseBytes(0).ok());
  Status retried = w->Flush();
  ASSERT_TRUE(retried.ok()) << retried.ToString() << " / " << w->Stats().write_errors;
  auto r = testing::OpenReaderOrFail(o.path);
  ASSERT_EQ(r->LogCursors({"carbon", "logs"}).size(), 1u);
  EXPECT_EQ(r->LogCursors({"carbon", "logs"})[0].offset, 123456);
  EXPECT_EQ(r->LogEvents("carbon", 0, kT0 + kDay, 5000)->size(), 1000u);  // the daily cap
  EXPECT_EQ(r->Counters({"carbon", "logs"}).at(0).value, 2000);
  EXPECT_EQ(w->Stats().lost_batches, 0u);
  EXPECT_TRUE(w->Stats().last_error.empty());
}

// Issue 17, item 1: obsmon_storage_queue_bytes says what the batches waiting for the writer
// hold. Truth: malloc's own count of what 300 HTTP runs' batches (a run and seven samples each,
// names longer than a string's own buffer, labels shared with their probe as a probe shares
// them) kept once queued behind a failing disk.
TEST(SqliteWriterTest, QueueBytesAgreeWithMalloc) {
  if (!testing::kMallocCounts) GTEST_SKIP() << "malloc is AddressSanitizer's";
  ScratchDir dir;
  auto o = Options(dir);
  o.retry_backoff_ms = 600'000;  // stays failed: everything stays queued
  auto w = testing::StartWriterOrFail(o);
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now).ok());
  const Labels probe_labels{{"instance", "http://carbon.staging.example.com:8080/health"},
                            {"job", "carbon"}};
  const char* names[] = {"probe_success", "probe_duration_seconds", "probe_http_status_code",
                         "probe_http_content_length", "probe_dns_lookup_time_seconds",
                         "probe_http_duration_seconds", "probe_tls_handshake_seconds"};
  auto run = [&](int i) {
    WriteBatch b;
    ProbeRun r;
    r.key = {"carbon-staging", "health-check-" + std::to_string(i)};
    r.ts_ms = kT0 + i;
    r.reason = i % 2 ? "connect: connection refused by the target host" : "";
    b.runs.push_back(r);
    for (const char* n : names) b.samples.push_back({n, probe_labels, kT0 + i, 1.0 * i});
    b.state_key = r.key;
    return b;
  };
  WriteBatch first;  // too large for the database's cap: it fails, and the writer backs off
  for (int k = 0; k < 300; ++k) {
    first.samples.push_back({"m", Labels{{"k", std::to_string(k)}}, kT0, 1.0});
  }
  ASSERT_TRUE(w->Enqueue(std::move(first)));
  ASSERT_FALSE(w->Flush().ok());
  const uint64_t queued_before = w->Stats().queue_bytes;
  const size_t before = testing::MallocInUse();
  for (int i = 1; i <= 300; ++i) ASSERT_TRUE(w->Enqueue(run(i)));
  const size_t held = testing::MallocInUse() - before;
  const WriterStats s = w->Stats();
  EXPECT_EQ(s.queue_depth, 301u);
  const double estimated = static_cast<double>(s.queue_bytes - queued_before);
  EXPECT_NEAR(estimated / static_cast<double>(held), 1.0, 0.1)
      << "estimated " << estimated << ", malloc " << held;
  ASSERT_TRUE(w->SetMaxDatabaseBytes(0).ok());
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(w->Stats().queue_bytes, 0u);
}

// Regression (fresh eyes, issue 13, F2): the queue was bounded by batches only; two scrapes of
// 49k series a second outran the writer and RSS passed 2 GB before 65,536 batches queued.
TEST(SqliteWriterTest, QueueIsBoundedByRowsToo) {
  ScratchDir dir;
  auto o = Options(dir);
  o.queue_capacity_rows = 700;
  o.retry_backoff_ms = 60'000;  // stays failed until the cap is lifted
  auto w = testing::StartWriterOrFail(o);
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now).ok());
  auto big = [](int i) {
    WriteBatch b;
    for (int k = 0; k < 300; ++k) {
      b.samples.push_back({"m", Labels{{"k", std::to_string(k)}}, kT0 + i, 1.0 * i});
    }
    return b;
  };
  ASSERT_TRUE(w->Enqueue(big(0)));
  ASSERT_FALSE(w->Flush().ok());     // batch 0 is back in the queue: 300 rows
  EXPECT_TRUE(w->Enqueue(big(1)));   // 600
  EXPECT_FALSE(w->Enqueue(big(2)));  // 900 > 700: dropped, counted
  WriterStats s = w->Stats();
  EXPECT_EQ(s.dropped_batches, 1u);
  EXPECT_EQ(s.queue_depth, 2u);
  EXPECT_EQ(s.queue_rows, 600u);  // what obsmon_storage_queue_rows shows: the two kept batches
  ASSERT_TRUE(w->SetMaxDatabaseBytes(0).ok());
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_TRUE(w->Enqueue(big(3)));  // room again once written
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(Count(o.path, "SELECT count(DISTINCT ts_ms) FROM samples"), 3);
}

// Fresh eyes, issue 13, second pass F2: under row pressure whole batches were dropped, and with
// them a quarter of two big scrapes' runs (the uptime evidence). A batch now gives up its
// samples first: its run is kept, the samples are counted.
TEST(SqliteWriterTest, UnderRowPressureABatchKeepsItsRunsAndGivesUpItsSamples) {
  ScratchDir dir;
  auto o = Options(dir);
  o.queue_capacity_rows = 700;
  o.retry_backoff_ms = 60'000;
  auto w = testing::StartWriterOrFail(o);
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now).ok());
  auto scrape = [](int i) {
    WriteBatch b;
    b.runs.push_back(MakeRun("metrics", kT0 + i * 1000, true, 0.01));
    for (int k = 0; k < 300; ++k) {
      b.samples.push_back({"m", Labels{{"k", std::to_string(k)}}, kT0 + i * 1000, 1.0 * i});
    }
    return b;
  };
  ASSERT_TRUE(w->Enqueue(scrape(0)));
  ASSERT_FALSE(w->Flush().ok());        // 301 rows queued
  EXPECT_TRUE(w->Enqueue(scrape(1)));   // 602
  EXPECT_TRUE(w->Enqueue(scrape(2)));   // 903 > 700: kept as its run alone (603)
  WriterStats s = w->Stats();
  EXPECT_EQ(s.queue_rows, 603u);
  EXPECT_EQ(s.dropped_batches, 0u);
  EXPECT_EQ(s.dropped_samples, 300u);
  ASSERT_TRUE(w->SetMaxDatabaseBytes(0).ok());
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs"), 3);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), 600);
}

TEST(SqliteWriterTest, QueueFullDropsAreCountedAndKeptBatchesSurvive) {
  ScratchDir dir;
  auto o = Options(dir);
  o.queue_capacity = 4;
  o.retry_backoff_ms = 60'000;  // stays failed until the cap is lifted
  auto w = testing::StartWriterOrFail(o);
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now).ok());
  auto big = [](int i) {
    WriteBatch b;
    for (int k = 0; k < 300; ++k) {
      b.samples.push_back({"m", Labels{{"k", std::to_string(k)}}, kT0 + i, 1.0 * i});
    }
    return b;
  };
  ASSERT_TRUE(w->Enqueue(big(0)));
  ASSERT_FALSE(w->Flush().ok());  // the attempt failed: batch 0 is back in the queue
  EXPECT_TRUE(w->Enqueue(big(1)));
  EXPECT_TRUE(w->Enqueue(big(2)));
  EXPECT_TRUE(w->Enqueue(big(3)));
  EXPECT_FALSE(w->Enqueue(big(4)));  // full
  EXPECT_FALSE(w->Enqueue(big(5)));
  WriterStats s = w->Stats();
  EXPECT_EQ(s.dropped_batches, 2u);
  EXPECT_EQ(s.queue_depth, 4u);
  ASSERT_TRUE(w->SetMaxDatabaseBytes(0).ok());
  Status flushed = w->Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(Count(o.path, "SELECT count(DISTINCT ts_ms) FROM samples"), 4);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), 4 * 300);
}

TEST(SqliteWriterTest, StopDrainsTheQueue) {
  ScratchDir dir;
  auto o = Options(dir);
  {
    auto w = testing::StartWriterOrFail(o);
    for (int i = 0; i < 2000; ++i) {
      WriteBatch b;
      b.runs.push_back(MakeRun("health", kT0 + i * 1000, true, 0.01));
      b.samples.push_back({"probe_success", Labels{{"probe", "health"}}, kT0 + i * 1000, 1});
      ASSERT_TRUE(w->Enqueue(std::move(b)));
    }
    w->Stop();
    w->Stop();                               // idempotent
    EXPECT_FALSE(w->Enqueue(WriteBatch{}));  // refused once stopped
    EXPECT_EQ(w->Stats().committed_batches, 2000u);
  }
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs"), 2000);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), 2000);
}

TEST(SqliteWriterTest, DestructorDrainsTheQueue) {
  ScratchDir dir;
  auto o = Options(dir);
  {
    auto w = testing::StartWriterOrFail(o);
    for (int i = 0; i < 500; ++i) {
      WriteBatch b;
      b.counters.push_back({"n_total", Labels(), 1});
      ASSERT_TRUE(w->Enqueue(std::move(b)));
    }
  }
  auto r = testing::OpenReaderOrFail(o.path);
  EXPECT_EQ(r->CounterTotal("n_total", Labels()).value(), 500);
}

// Issue 17: the writer's page cache stays within StorageOptions::cache_bytes however large the
// database grows (it was 64 MiB of resident memory that grew with the file), and every row is
// still written. The stats report what SQLite itself accounts for the connection's cache.
TEST(SqliteWriterTest, PageCacheStaysWithinItsBoundWhileTheDatabaseGrows) {
  ScratchDir dir;
  auto o = Options(dir);
  o.cache_bytes = 256 << 10;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  constexpr int kBatches = 400, kSeries = 50, kPerSeries = 40;  // 800,000 samples
  for (int b = 0; b < kBatches; ++b) {
    WriteBatch batch;
    for (int s = 0; s < kSeries; ++s) {
      Labels l{{"component", "carbon"}, {"series", std::to_string(s)}};
      for (int i = 0; i < kPerSeries; ++i) {
        batch.samples.push_back({"m", l, kT0 + (b * kPerSeries + i) * 1000, double(i)});
      }
    }
    while (!w->Enqueue(batch)) std::this_thread::yield();  // the queue is bounded: wait
  }
  ASSERT_TRUE(w->Flush().ok());
  const WriterStats stats = w->Stats();
  EXPECT_GT(stats.cache_bytes, 0u);
  // SQLite's bound is on pages; each page carries a header of its own beside its 4 KiB.
  EXPECT_LE(stats.cache_bytes, static_cast<uint64_t>(o.cache_bytes) * 5 / 4);
  w->Stop();
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"),
            int64_t{kBatches} * kSeries * kPerSeries);
  int64_t file_bytes = 0;  // the database and its WAL (Stop may leave pages in either)
  for (const std::string& f : {o.path, o.path + "-wal"}) {
    struct stat st{};
    if (::stat(f.c_str(), &st) == 0) file_bytes += st.st_size;
  }
  EXPECT_GT(file_bytes, 16 * o.cache_bytes) << "the database must outgrow the cache";
}

// Issue 17: the writer's in-memory parts on /metrics follow the truth. The series-id cache holds
// one entry per series written (counted here in the database), the queue's rows go back to 0
// once written, and SQLite's memory includes the writer's page cache.
TEST(SqliteWriterTest, MemoryFiguresFollowWhatTheWriterHolds) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  WriteBatch batch;
  for (int s = 0; s < 37; ++s) {
    for (int i = 0; i < 3; ++i) {
      batch.samples.push_back({"m", Labels{{"series", std::to_string(s)}}, kT0 + i * 1000, 1.0});
    }
  }
  ASSERT_TRUE(w->Enqueue(batch));
  ASSERT_TRUE(w->Flush().ok());
  const WriterStats stats = w->Stats();
  EXPECT_EQ(stats.queue_rows, 0u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(static_cast<int64_t>(stats.series_id_cache_entries),
            Count(o.path, "SELECT count(*) FROM series"));
  EXPECT_EQ(stats.series_id_cache_entries, 37u);
  EXPECT_GT(stats.cache_bytes, 0u);
  EXPECT_GE(stats.sqlite_memory_bytes, stats.cache_bytes);
}

TEST(SqliteWriterTest, SecondWriterOnSamePathFailsClearly) {
  ScratchDir dir;
  auto o = Options(dir);
  auto first = testing::StartWriterOrFail(o);
  ASSERT_TRUE(first);
  auto second = Writer::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "database " + o.path + " is in use by another obsmon (pid " +
                                           std::to_string(getpid()) + ")");
  first.reset();  // releases the lock
  auto third = Writer::Start(o);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(SqliteWriterTest, LogEventsAreCappedPerComponentSeverityAndDayWithDropsCounted) {
  ScratchDir dir;
  auto o = Options(dir);
  o.max_log_events_per_day = 5;
  const TimestampMs day1 = kT0 + 3 * kHour, day2 = kT0 + kDay + 1;
  {
    auto w = testing::StartWriterOrFail(o);
    for (int batch = 0; batch < 2; ++batch) {  // 4 + 4 events on day 1, in two transactions
      WriteBatch b;
      for (int i = 0; i < 4; ++i) b.log_events.push_back(Event(day1 + batch * 10 + i, "e"));
      ASSERT_TRUE(w->Enqueue(b));
      ASSERT_TRUE(w->Flush().ok());
    }
    WriteBatch b;
    for (int i = 0; i < 3; ++i) b.log_events.push_back(Event(day2 + i, "d2"));
    for (int i = 0; i < 6; ++i) b.log_events.push_back(Event(day1 + 100 + i, "other", "api"));
    ASSERT_TRUE(w->Enqueue(b));
    ASSERT_TRUE(w->Flush().ok());
    EXPECT_EQ(w->Stats().dropped_log_events, 3u + 1u);
  }
  {
    // A new writer (fresh caches) still knows day 1 is full of errors, and that it has room for
    // critical lines: each severity has its cap (so that a day of errors leaves the critical
    // lines their evidence).
    auto w = testing::StartWriterOrFail(o);
    WriteBatch b;
    b.log_events.push_back(Event(day1 + 500, "late"));
    b.log_events.push_back(Event(day1 + 501, "late"));
    for (int i = 0; i < 6; ++i) {
      LogEvent critical = Event(day1 + 600 + i, "critical " + std::to_string(i));
      critical.severity = "critical";
      b.log_events.push_back(critical);
    }
    ASSERT_TRUE(w->Enqueue(b));
    ASSERT_TRUE(w->Flush().ok());
  }
  auto r = testing::OpenReaderOrFail(o.path);
  EXPECT_EQ(r->LogEvents("carbon", kT0, kT0 + kDay, 100)->size(), 5u + 5u);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM log_events WHERE severity = 'critical'"), 5);
  EXPECT_EQ(r->LogEvents("carbon", kT0 + kDay, kT0 + 2 * kDay, 100)->size(), 3u);
  EXPECT_EQ(r->LogEvents("api", kT0, kT0 + kDay, 100)->size(), 5u);
  EXPECT_EQ(r->LogEvents("carbon", kT0, kT0 + 2 * kDay, 2)->size(), 2u);  // limit
  EXPECT_EQ(
      r->CounterTotal("obsmon_log_events_dropped_total", Labels{{"component", "carbon"}}).value(),
      3 + 2 + 1);
  EXPECT_EQ(
      r->CounterTotal("obsmon_log_events_dropped_total", Labels{{"component", "api"}}).value(), 1);
}

TEST(SqliteWriterTest, RetentionDeletesOldRowsInBatchesAndKeepsRecentOnes) {
  ScratchDir dir;
  FakeClock clock(kT0 + 100 * kDay);
  auto o = Options(dir, &clock);
  o.retention_ms = 35 * kDay;
  o.rollup_retention_ms = 90 * kDay;
  o.retention_batch_rows = 7;  // many small statements
  auto w = testing::StartWriterOrFail(o);
  const TimestampMs now = clock.NowMs();
  const TimestampMs old_ts = now - 40 * kDay, ancient = now - 95 * kDay, recent = now - kDay;
  WriteBatch b;
  for (int i = 0; i < 50; ++i) {
    b.runs.push_back(MakeRun("health", old_ts + i * 1000, true, 0.1));
    b.runs.push_back(MakeRun("health", recent + i * 1000, true, 0.1));
    b.samples.push_back({"probe_success", Labels{{"p", "a"}}, old_ts + i, 1});
    b.samples.push_back({"probe_success", Labels{{"p", "b"}}, old_ts + i, 1});
    b.samples.push_back({"probe_success", Labels{{"p", "a"}}, recent + i, 1});
    b.log_events.push_back(Event(old_ts + i, "old"));
    b.log_events.push_back(Event(recent + i, "new"));
  }
  b.runs.push_back(MakeRun("health", ancient, true, 0.1));          // an ancient run and its rollup
  b.runs.push_back(MakeRun("health", now - 35 * kDay, true, 0.1));  // exactly at the cutoff: kept
  b.counters.push_back({"kept_total", Labels(), 1});
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  ASSERT_TRUE(w->RunRetention().ok());

  // Deleted: 50 old runs + 1 ancient run, 100 old samples, 50 old events, 1 ancient rollup hour,
  // the ancient run's span (spans follow the rollups) and the series {p="b"}, whose samples
  // were all old.
  EXPECT_EQ(w->Stats().retention_deleted_rows, 50u + 1u + 100u + 50u + 1u + 1u + 1u);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM series WHERE labels = '{p=\"b\"}'"), 0);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM series WHERE labels = '{p=\"a\"}'"), 1);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM series WHERE name = 'kept_total'"), 1)
      << "a stored counter holds its series";
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs"), 51);
  EXPECT_EQ(Count(o.path, "SELECT min(ts_ms) FROM probe_runs"), now - 35 * kDay);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), 50);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM log_events"), 50);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM log_events WHERE line = 'old'"), 0);
  // Rollups outlive raw runs: the 40-day-old hour stays, the 95-day-old one goes.
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM rollup_hourly WHERE hour_ms < " +
                              std::to_string(now - 90 * kDay)),
            0);
  EXPECT_GE(Count(o.path, "SELECT count(*) FROM rollup_hourly WHERE hour_ms < " +
                              std::to_string(now - 35 * kDay)),
            1);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM counters"), 1);

  // Time passes: the next pass removes what aged out meanwhile, and writes still work.
  clock.Advance(2 * kDay);
  ASSERT_TRUE(w->RunRetention().ok());
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs"), 50);
  WriteBatch more;
  more.runs.push_back(MakeRun("health", clock.NowMs(), true, 0.1));
  // The deleted series again: a new row, not the deleted id the writer had cached.
  more.samples.push_back({"probe_success", Labels{{"p", "b"}}, clock.NowMs(), 1});
  ASSERT_TRUE(w->Enqueue(more));
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs"), 51);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples WHERE series_id NOT IN (SELECT id FROM "
                          "series)"),
            0);
  auto r = testing::OpenReaderOrFail(o.path);
  ASSERT_TRUE(r);
  auto b_samples =
      r->Samples("probe_success", Labels{{"p", "b"}}, clock.NowMs(), clock.NowMs() + 1);
  ASSERT_TRUE(b_samples.ok());
  EXPECT_EQ(b_samples->size(), 1u);
}

TEST(SqliteWriterTest, ProbeRoleFollowsTheLatestRun) {
  ScratchDir dir;
  auto o = Options(dir);
  auto w = testing::StartWriterOrFail(o);
  WriteBatch a;
  a.runs.push_back(MakeRun("check", kT0, true, 0.1, ProbeRole::kNone));
  ASSERT_TRUE(w->Enqueue(a));
  ASSERT_TRUE(w->Flush().ok());
  WriteBatch b;
  b.runs.push_back(MakeRun("check", kT0 + 1000, true, 0.1, ProbeRole::kIntegration));
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  auto r = testing::OpenReaderOrFail(o.path);
  auto runs = r->ProbeRuns("carbon", kT0, kT0 + kDay);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].role, ProbeRole::kIntegration);
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT role FROM probes WHERE probe = 'check'").getString(),
            "integration");
}

TEST(SqliteWriterTest, BatchRefusedBySqliteIsIsolatedAndTheOthersAreWritten) {
  ScratchDir dir;
  auto o = Options(dir);
  {
    auto w = testing::StartWriterOrFail(o);  // creates the schema
  }
  {
    // A user's trigger (or any constraint) that refuses one batch's data, in whichever part of
    // `samples` it goes to (storage/head.h).
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    for (const char* table : {"samples_head", "samples_by_series"}) {
      db.exec(std::string("CREATE TRIGGER refuse_") + table + " BEFORE INSERT ON " + table +
              " WHEN NEW.value = 666 BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END");
    }
  }
  auto w = testing::StartWriterOrFail(o);
  for (double v : {1.0, 666.0, 3.0}) {
    WriteBatch b;
    b.samples.push_back({"m", Labels(), kT0 + static_cast<int64_t>(v), v});
    b.counters.push_back({"batches_total", Labels(), 1});
    ASSERT_TRUE(w->Enqueue(b));
  }
  Status flushed = w->Flush();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("refused by test trigger"), std::string::npos)
      << flushed.message();
  EXPECT_EQ(w->Stats().rejected_batches, 1u);
  auto r = testing::OpenReaderOrFail(o.path);
  auto samples = r->Samples("m", Labels(), kT0, kT0 + 1000);
  ASSERT_TRUE(samples.ok());
  std::vector<double> values;
  for (const auto& x : *samples) values.push_back(x.value);
  EXPECT_EQ(values, (std::vector<double>{1.0, 3.0}));
  // The refused batch's counter increment went with it: batches are atomic.
  EXPECT_EQ(r->CounterTotal("batches_total", Labels()).value(), 2);
  // Later batches are unaffected.
  WriteBatch later;
  later.samples.push_back({"m", Labels(), kT0 + 10, 10});
  ASSERT_TRUE(w->Enqueue(later));
  EXPECT_TRUE(w->Flush().ok());
}

TEST(SqliteWriterTest, StopGivesUpOnAFullDiskInsteadOfHanging) {
  ScratchDir dir;
  auto o = Options(dir);
  o.retry_backoff_ms = 60'000;
  auto w = testing::StartWriterOrFail(o);
  const int64_t size_now = Count(o.path, "PRAGMA page_count") * Count(o.path, "PRAGMA page_size");
  ASSERT_TRUE(w->SetMaxDatabaseBytes(size_now).ok());
  for (int i = 0; i < 3; ++i) {
    WriteBatch b;
    for (int k = 0; k < 500; ++k)
      b.samples.push_back({"m", Labels{{"k", std::to_string(k)}}, kT0 + i, 1});
    ASSERT_TRUE(w->Enqueue(b));
  }
  EXPECT_FALSE(w->Flush().ok());
  w->Stop();  // must return although nothing can be written
  WriterStats s = w->Stats();
  EXPECT_EQ(s.lost_batches, 3u);
  EXPECT_EQ(s.committed_batches, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM samples"), 0);
}

}  // namespace
}  // namespace obsmon::storage
