// probe_spans and run_durations_hourly (storage/run_summaries.h) with the real Writer and Reader
// on temporary files: whatever order runs are written in (late batches, duplicates, a writer
// restarted mid-stream), RunSpans equals CompressRuns of the runs written, SuccessDurations
// equals the durations grouped straight from the runs (sealed or not), RunsOfRole equals the
// filtered runs. Also: sealing of 7 days written in order, the upgrade of a schema-3 database,
// retention, and late runs that retention makes impossible to place.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/run_span.h"
#include "storage/duration_blob.h"
#include "storage/migrations.h"
#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ScratchDir;
using Window = std::pair<TimestampMs, TimestampMs>;

constexpr TimestampMs kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z, an hour boundary
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 86'400'000;
constexpr const char* kComponent = "carbon";

TimestampMs HourOf(TimestampMs ts) { return ts / kHour * kHour; }



ProbeRun MakeRun(const std::string& probe, TimestampMs ts, bool ok, double secs, int64_t valid_for,
             ProbeRole role = ProbeRole::kHealth, const std::string& component = kComponent) {
  ProbeRun r;
  r.key = {component, probe};
  r.role = role;
  r.ts_ms = ts;
  r.success = ok;
  r.duration_seconds = secs;
  r.valid_for_ms = valid_for;
  r.reason = ok ? "" : "status " + std::to_string(500 + ts % 7);
  return r;
}

int64_t Count(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// ---- What the reads must return, computed from the runs written (in write order). ----

// The runs storage keeps: of two runs of one probe at the same ms, the first written.
std::vector<ProbeRun> Stored(const std::vector<ProbeRun>& written) {
  std::set<std::tuple<std::string, std::string, TimestampMs>> seen;
  std::vector<ProbeRun> out;
  for (const ProbeRun& r : written) {
    if (seen.insert({r.key.component, r.key.probe, r.ts_ms}).second) out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const ProbeRun& a, const ProbeRun& b) {
    return std::tie(a.key, a.ts_ms) < std::tie(b.key, b.ts_ms);
  });
  return out;
}

std::vector<ProbeRun> OfComponent(const std::vector<ProbeRun>& runs) {
  std::vector<ProbeRun> out;
  for (const ProbeRun& r : runs) {
    if (r.key.component == kComponent) out.push_back(r);
  }
  return out;
}

// RunSpans' restriction: spans starting in [from, to) plus each probe's last one before `from`.
std::vector<RunSpan> ExpectedSpans(const std::vector<ProbeRun>& written, Window w) {
  std::vector<RunSpan> all = CompressRuns(OfComponent(written));
  std::vector<RunSpan> out;
  for (size_t i = 0; i < all.size(); ++i) {
    const bool last_before = all[i].start_ms < w.first &&
                             (i + 1 == all.size() || all[i + 1].key != all[i].key ||
                              all[i + 1].start_ms >= w.first);
    if (last_before || (all[i].start_ms >= w.first && all[i].start_ms < w.second)) {
      out.push_back(all[i]);
    }
  }
  return out;
}

bool Excluded(const std::vector<Window>& ex, TimestampMs ts) {
  for (const auto& [a, b] : ex) {
    if (ts >= a && ts < b) return true;
  }
  return false;
}

std::vector<HourDurations> ExpectedDurations(const std::vector<ProbeRun>& written, ProbeRole role,
                                             Window w, const std::vector<Window>& ex) {
  std::vector<HourDurations> out;
  for (const ProbeRun& r : Stored(OfComponent(written))) {
    if (r.role != role || !r.success || r.ts_ms < w.first || r.ts_ms >= w.second ||
        Excluded(ex, r.ts_ms)) {
      continue;
    }
    if (out.empty() || out.back().key != r.key || out.back().hour_ms != HourOf(r.ts_ms)) {
      out.push_back({r.key, r.role, HourOf(r.ts_ms), {}});
    }
    out.back().seconds.push_back(r.duration_seconds);
  }
  for (auto& g : out) std::sort(g.seconds.begin(), g.seconds.end());
  return out;
}

std::vector<ProbeRun> ExpectedRunsOfRole(const std::vector<ProbeRun>& written, ProbeRole role,
                                         Window w) {
  std::vector<ProbeRun> out;
  for (const ProbeRun& r : Stored(OfComponent(written))) {
    if (r.role == role && r.ts_ms >= w.first && r.ts_ms < w.second) out.push_back(r);
  }
  return out;
}

std::string Describe(const RunSpan& s) {
  return s.key.probe + "@" + std::to_string(s.start_ms) + ".." + std::to_string(s.last_run_ms) +
         " end " + std::to_string(s.end_ms) + (s.success ? " up" : " down") + " x" +
         std::to_string(s.runs) + " '" + s.reason + "'";
}

void ExpectSpans(const std::vector<RunSpan>& got, const std::vector<RunSpan>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << what << " span " << i << ": got " << Describe(got[i])
                               << ", want " << Describe(want[i]);
  }
}

void ExpectDurations(const std::vector<HourDurations>& got, const std::vector<HourDurations>& want,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key) << what << " group " << i;
    EXPECT_EQ(got[i].role, want[i].role) << what << " group " << i;
    EXPECT_EQ(got[i].hour_ms, want[i].hour_ms) << what << " group " << i;
    ASSERT_EQ(got[i].seconds, want[i].seconds) << what << " group " << i;
  }
}

void ExpectRuns(const std::vector<ProbeRun>& got, const std::vector<ProbeRun>& want,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key) << what << " run " << i;
    EXPECT_EQ(got[i].role, want[i].role) << what << " run " << i;
    EXPECT_EQ(got[i].ts_ms, want[i].ts_ms) << what << " run " << i;
    EXPECT_EQ(got[i].success, want[i].success) << what << " run " << i;
    EXPECT_EQ(got[i].duration_seconds, want[i].duration_seconds) << what << " run " << i;
    EXPECT_EQ(got[i].valid_for_ms, want[i].valid_for_ms) << what << " run " << i;
    EXPECT_EQ(got[i].reason, want[i].reason) << what << " run " << i;
  }
}

// Every sealed row must equal the successful durations of its hour's raw runs; returns the
// sealed (probe name, hour) pairs.
std::set<std::pair<std::string, TimestampMs>> CheckSealedRows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT p.probe, d.probe_id, d.hour_ms, d.count, d.durations FROM "
                      "run_durations_hourly d JOIN probes p ON p.id = d.probe_id");
  std::set<std::pair<std::string, TimestampMs>> out;
  while (q.executeStep()) {
    const int64_t id = q.getColumn(1).getInt64();
    const TimestampMs hour = q.getColumn(2).getInt64();
    std::vector<double> sealed;
    auto blob = q.getColumn(4);
    EXPECT_TRUE(DecodeDurations(blob.getBlob(), static_cast<size_t>(blob.getBytes()),
                                q.getColumn(3).getInt64(), &sealed));
    EXPECT_TRUE(std::is_sorted(sealed.begin(), sealed.end()));
    SQLite::Statement raw(db,
                          "SELECT duration_seconds FROM probe_runs WHERE probe_id = ? AND "
                          "ts_ms >= ? AND ts_ms < ? AND success = 1 ORDER BY duration_seconds");
    raw.bind(1, id);
    raw.bind(2, hour);
    raw.bind(3, hour + kHour);
    std::vector<double> want;
    while (raw.executeStep()) want.push_back(raw.getColumn(0).getDouble());
    EXPECT_EQ(sealed, want) << "sealed hour " << hour << " of " << q.getColumn(0).getString();
    out.insert({q.getColumn(0).getString(), hour});
  }
  return out;
}

// ---- The randomized property test. ----

// One probe's runs: random verdicts in streaks, random coverage, random gaps (holes).
std::vector<ProbeRun> ProbeHistory(std::mt19937_64& rng, const std::string& probe, ProbeRole role,
                                   const std::string& component, TimestampMs from,
                                   TimestampMs to, int64_t step_ms) {
  std::vector<ProbeRun> out;
  std::uniform_int_distribution<int> pct(0, 99);
  std::uniform_real_distribution<double> latency(0.001, 0.5);
  bool up = true;
  for (TimestampMs ts = from + static_cast<int64_t>(rng() % 997); ts < to;) {
    if (pct(rng) < 3) up = !up;  // streaks
    const int64_t valid_for = pct(rng) < 5 ? step_ms / 2 : step_ms + step_ms / 2;
    out.push_back(MakeRun(probe, ts, up, latency(rng), valid_for, role, component));
    // Mostly on time, sometimes a hole longer than the coverage.
    ts += pct(rng) < 2 ? step_ms * 5 + static_cast<int64_t>(rng() % 1000)
                       : step_ms - 100 + static_cast<int64_t>(rng() % 200);
  }
  return out;
}

class RunSummariesPropertyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RunSummariesPropertyTest, ReadsEqualWhatWasWrittenWhateverTheOrder) {
  std::mt19937_64 rng(GetParam());
  ScratchDir dir;
  const TimestampMs start = kT0 + 17 * 60'000 + 123;  // not aligned to an hour
  const TimestampMs end = start + 5 * kHour + 20 * 60'000;
  FakeClock clock(end + kHour);
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = &clock;

  std::vector<ProbeRun> history;
  for (auto [probe, role, component, step] :
       {std::tuple{"a-health", ProbeRole::kHealth, kComponent, 2'000},
        std::tuple{"b-health", ProbeRole::kHealth, kComponent, 5'000},
        std::tuple{"smoke", ProbeRole::kIntegration, kComponent, 600'000},
        std::tuple{"stats", ProbeRole::kNone, kComponent, 7'000},
        std::tuple{"a-health", ProbeRole::kHealth, "other", 3'000}}) {
    auto runs = ProbeHistory(rng, probe, role, component, start, end, step);
    history.insert(history.end(), runs.begin(), runs.end());
  }
  // Interleave probes in time order, then batch: one to three runs per batch.
  std::stable_sort(history.begin(), history.end(),
                   [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
  std::vector<WriteBatch> batches;
  std::uniform_int_distribution<int> pct(0, 99);
  for (size_t i = 0; i < history.size();) {
    WriteBatch b;
    const size_t n = 1 + rng() % 3;
    for (size_t k = 0; k < n && i < history.size(); ++k) b.runs.push_back(history[i++]);
    // Duplicates: the same run again (another duration): storage keeps the first written.
    if (pct(rng) < 2 && !batches.empty()) {
      ProbeRun dup = batches[rng() % batches.size()].runs.front();
      dup.duration_seconds += 1;
      dup.success = !dup.success;
      b.runs.push_back(dup);
    }
    batches.push_back(std::move(b));
  }
  // Late batches: some move ahead of later ones (up to ~15 minutes of runs later).
  for (size_t i = 0; i + 1 < batches.size(); ++i) {
    if (pct(rng) < 3) {
      const size_t j = std::min(batches.size() - 1, i + 1 + rng() % 400);
      std::rotate(batches.begin() + static_cast<std::ptrdiff_t>(i),
                  batches.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                  batches.begin() + static_cast<std::ptrdiff_t>(j) + 1);
    }
  }

  std::vector<ProbeRun> written;  // in write order
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  const size_t restart_at = batches.size() / 2 + rng() % (batches.size() / 4);
  for (size_t i = 0; i < batches.size(); ++i) {
    if (i == restart_at) {  // a writer stopped and another started on the same file
      ASSERT_TRUE(w->Flush().ok());
      w.reset();  // releases the database's lock
      w = testing::StartWriterOrFail(o);
      ASSERT_TRUE(w);
    }
    written.insert(written.end(), batches[i].runs.begin(), batches[i].runs.end());
    ASSERT_TRUE(w->Enqueue(batches[i]));
    if (pct(rng) < 5) {  // many transactions of random sizes
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(w->Stats().dropped_late_runs, 0u);
  w->Stop();
  // The test means something only if runs did come late (before their probe's last run).
  size_t late = 0;
  std::map<std::pair<std::string, std::string>, TimestampMs> newest;
  for (const ProbeRun& r : written) {
    auto [it, fresh] = newest.try_emplace({r.key.component, r.key.probe}, r.ts_ms);
    if (!fresh && r.ts_ms < it->second) ++late;
    it->second = std::max(it->second, r.ts_ms);
  }
  EXPECT_GT(late, 20u);

  // Windows: everything, unaligned ones, one inside an hour, one before any run.
  std::vector<Window> windows = {{start - kHour, end + kHour},
                                 {start + 41 * 60'000 + 7, end - 33 * 60'000},
                                 {HourOf(start) + 2 * kHour, HourOf(start) + 4 * kHour},
                                 {start + 2 * kHour + 60'000, start + 2 * kHour + 1'800'000},
                                 {start - 2 * kHour, start - kHour}};
  for (int i = 0; i < 4; ++i) {
    TimestampMs a = start + static_cast<int64_t>(rng() % (end - start));
    TimestampMs b = a + static_cast<int64_t>(rng() % (end - a + kHour));
    windows.push_back({a, b});
  }
  auto random_exclusions = [&] {
    std::vector<Window> ex;
    TimestampMs t = start - kHour;
    for (int n = static_cast<int>(rng() % 4); n > 0; --n) {
      t += static_cast<int64_t>(rng() % (2 * kHour));
      const TimestampMs len = 1 + static_cast<int64_t>(rng() % (kHour + kHour / 2));
      ex.push_back({t, t + len});
      t += len;
    }
    return ex;
  };

  auto check_reads = [&](const std::string& phase) {
    auto r = testing::OpenReaderOrFail(o.path);
    ASSERT_TRUE(r);
    for (const Window& win : windows) {
      const std::string what = phase + " window [" + std::to_string(win.first) + ", " +
                               std::to_string(win.second) + ")";
      auto spans = r->RunSpans(kComponent, win.first, win.second);
      ASSERT_TRUE(spans.ok()) << spans.status().ToString();
      ExpectSpans(*spans, ExpectedSpans(written, win), what);
      for (ProbeRole role : {ProbeRole::kHealth, ProbeRole::kIntegration, ProbeRole::kNone}) {
        auto runs = r->RunsOfRole(kComponent, role, win.first, win.second);
        ASSERT_TRUE(runs.ok()) << runs.status().ToString();
        ExpectRuns(*runs, ExpectedRunsOfRole(written, role, win), what);
      }
      for (const std::vector<Window>& ex : {std::vector<Window>{}, random_exclusions()}) {
        for (ProbeRole role : {ProbeRole::kHealth, ProbeRole::kIntegration}) {
          auto got = r->SuccessDurations(kComponent, role, win.first, win.second, ex);
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ExpectDurations(*got, ExpectedDurations(written, role, win, ex),
                          what + " with " + std::to_string(ex.size()) + " exclusions");
        }
      }
    }
  };
  check_reads("sealed");
  if (HasFatalFailure()) return;

  // Sealing: every hour before each probe's last run's hour is sealed, the last one is not, and
  // each sealed row equals its raw runs.
  const auto sealed = CheckSealedRows(o.path);
  std::map<std::pair<std::string, std::string>, TimestampMs> last_hour;
  for (const ProbeRun& r : written) {
    auto& h = last_hour[{r.key.component, r.key.probe}];
    h = std::max(h, HourOf(r.ts_ms));
  }
  size_t expected_sealed = 0;
  std::set<std::tuple<std::string, std::string, TimestampMs>> hours;
  for (const ProbeRun& r : written) hours.insert({r.key.component, r.key.probe, HourOf(r.ts_ms)});
  for (const auto& [component, probe, hour] : hours) {
    if (hour < last_hour[{component, probe}]) ++expected_sealed;
    if (component != kComponent) continue;  // `sealed` is keyed by probe name only
    const size_t want = hour < last_hour[{component, probe}] ? 1 : 0;
    EXPECT_EQ(sealed.count({probe, hour}), want)
        << probe << " hour " << hour;
  }
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly"),
            static_cast<int64_t>(expected_sealed));
  EXPECT_GT(expected_sealed, 10u);

  // The same reads with nothing sealed: from the raw runs only, same answers.
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM run_durations_hourly");
  }
  check_reads("unsealed");
}

INSTANTIATE_TEST_SUITE_P(Seeds, RunSummariesPropertyTest,
                         ::testing::Values(1u, 2u, 3u, 20251014u, 987654321u));

// ---- Specific cases. ----

TEST(RunSummariesTest, SevenDaysInOrderSealEveryHourButTheLast) {
  ScratchDir dir;
  FakeClock clock(kT0 + 7 * kDay + kHour);
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = &clock;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  std::vector<ProbeRun> written;
  WriteBatch b;
  for (TimestampMs ts = kT0; ts <= kT0 + 7 * kDay - 1000; ts += 1000) {
    const bool up = (ts - kT0) % kDay < 36'000'000 || (ts - kT0) % kDay >= 36'120'000;
    b.runs.push_back(MakeRun("health", ts, up, 0.001 * static_cast<double>(ts % 977), 1500));
    if (b.runs.size() == 1000 || ts == kT0 + 7 * kDay - 1000) {
      written.insert(written.end(), b.runs.begin(), b.runs.end());
      while (!w->Enqueue(b)) ASSERT_TRUE(w->Flush().ok());
      b.runs.clear();
    }
  }
  ASSERT_TRUE(b.runs.empty());
  ASSERT_TRUE(w->Flush().ok());
  w->Stop();
  ASSERT_EQ(written.size(), 604'800u);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly"), 7 * 24 - 1);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly WHERE hour_ms = " +
                              std::to_string(kT0 + 7 * kDay - kHour)),
            0);
  EXPECT_EQ(Count(o.path, "SELECT sum(count) FROM run_durations_hourly"),
            (7 * 24 - 1) * 3600 - 7 * 120);
  CheckSealedRows(o.path);
  auto r = testing::OpenReaderOrFail(o.path);
  auto spans = r->RunSpans(kComponent, kT0, kT0 + 7 * kDay);
  ASSERT_TRUE(spans.ok());
  EXPECT_EQ(spans->size(), 7u * 2 + 1);
  ExpectSpans(*spans, CompressRuns(written), "7 days");
  auto durations =
      r->SuccessDurations(kComponent, ProbeRole::kHealth, kT0, kT0 + 7 * kDay, Exclusions{});
  ASSERT_TRUE(durations.ok());
  ExpectDurations(*durations,
                  ExpectedDurations(written, ProbeRole::kHealth, {kT0, kT0 + 7 * kDay}, {}),
                  "7 days");

  // Maintenance cutting sealed hours: by a little (the excluded runs are taken out of the sealed
  // row), by half or more (the rest is read from the runs), across an hour boundary and across
  // the daily outage; the same durations either way.
  const TimestampMs d2 = kT0 + 2 * kDay;
  const std::vector<Window> cuts = {
      {d2 + 5 * kHour + 10 * kMinute, d2 + 5 * kHour + 20 * kMinute},   // 10 min
      {d2 + 7 * kHour, d2 + 7 * kHour + 30 * kMinute},                  // exactly half
      {d2 + 8 * kHour + 5 * kMinute, d2 + 8 * kHour + 55 * kMinute},    // 50 min
      {d2 + 9 * kHour + 50 * kMinute, d2 + 10 * kHour + 1 * kMinute},   // 10 + 1 min, 2 hours
      {d2 + 10 * kHour + 59 * kMinute, d2 + 11 * kHour + 7 * kMinute}}; // the outage hour
  std::vector<std::pair<TimestampMs, TimestampMs>> excl(cuts.begin(), cuts.end());
  auto cut_read = r->SuccessDurations(kComponent, ProbeRole::kHealth, kT0 + kDay + 1234,
                                      kT0 + 4 * kDay - 5678, excl);
  ASSERT_TRUE(cut_read.ok());
  ExpectDurations(*cut_read,
                  ExpectedDurations(written, ProbeRole::kHealth,
                                    {kT0 + kDay + 1234, kT0 + 4 * kDay - 5678}, cuts),
                  "7 days, maintenance");

  // Streamed in three passes (Reader::StreamSuccessDurations): each hands on the same groups,
  // one at a time, from one snapshot: a late run written between the first two passes is seen
  // by the next read only.
  const TimestampMs late_ts = d2 + 3 * kHour + 500;
  struct Passes final : HourDurationsPasses {
    void Visit(const HourDurations& g) override { seen.back().push_back(g); }
    bool AnotherPass() override {
      if (seen.size() == 1) between();
      if (seen.size() == 3) return false;
      seen.emplace_back();
      return true;
    }
    std::function<void()> between;
    std::vector<std::vector<HourDurations>> seen{1};
  } passes;
  passes.between = [&] {
    w.reset();  // its lock: one writer per database
    WriteBatch late;
    late.runs.push_back(MakeRun("health", late_ts, true, 42.0, 1500));
    testing::WriteThroughWriter(o.path, clock, late);
  };
  ASSERT_TRUE(r->StreamSuccessDurations(kComponent, ProbeRole::kHealth, kT0 + kDay + 1234,
                                        kT0 + 4 * kDay - 5678, excl, passes)
                  .ok());
  ASSERT_EQ(passes.seen.size(), 3u);
  for (const auto& pass : passes.seen) ExpectDurations(pass, *cut_read, "7 days, streamed");
  auto after = r->SuccessDurations(kComponent, ProbeRole::kHealth, late_ts - 500, late_ts + 500,
                                   Exclusions{});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].seconds, std::vector<double>({0.001 * static_cast<double>(
                                                           (late_ts - 500) % 977),
                                                       42.0}));
}

// A database written by the obsmon before probe_spans existed (schema version 3) with runs.
void CreateSchema3Database(const std::string& path, const std::vector<ProbeRun>& runs) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  for (int i = 0; i < 3; ++i) db.exec(std::string(Migrations()[i].sql));
  db.exec("PRAGMA user_version = 3");
  db.exec("INSERT INTO probes (id, component, probe, role) VALUES (1, 'carbon', 'health', "
          "'health'), (2, 'carbon', 'other', 'health')");
  db.exec("BEGIN");
  SQLite::Statement ins(db,
                        "INSERT INTO probe_runs (probe_id, ts_ms, success, duration_seconds, "
                        "valid_for_ms, reason) VALUES (?, ?, ?, ?, ?, ?)");
  // The schema-3 writer kept rollups: the backlog of hours to seal is found from them.
  SQLite::Statement rollup(db,
                           "INSERT INTO rollup_hourly VALUES (?, ?, 1, ?, ?, 0, 0, 0, 0, '') "
                           "ON CONFLICT DO UPDATE SET runs = runs + 1, up = up + excluded.up, "
                           "down = down + excluded.down");
  for (const ProbeRun& r : runs) {
    const int64_t id = r.key.probe == "health" ? 1 : 2;
    ins.reset();
    ins.bind(1, id);
    ins.bind(2, r.ts_ms);
    ins.bind(3, r.success ? 1 : 0);
    ins.bind(4, r.duration_seconds);
    ins.bind(5, r.valid_for_ms);
    ins.bind(6, r.reason);
    ins.exec();
    rollup.reset();
    rollup.bind(1, id);
    rollup.bind(2, HourOf(r.ts_ms));
    rollup.bind(3, r.success ? 1 : 0);
    rollup.bind(4, r.success ? 0 : 1);
    rollup.exec();
  }
  db.exec("COMMIT");
}

TEST(RunSummariesTest, SchemaThreeDatabaseUpgradesToExactSpansAndGetsSealed) {
  ScratchDir dir;
  std::mt19937_64 rng(42);
  std::vector<ProbeRun> written =
      ProbeHistory(rng, "health", ProbeRole::kHealth, kComponent, kT0, kT0 + 2 * kDay, 10'000);
  auto other =
      ProbeHistory(rng, "other", ProbeRole::kHealth, kComponent, kT0, kT0 + 2 * kDay, 60'000);
  written.insert(written.end(), other.begin(), other.end());
  // A negative valid_for (never written by obsmon, but possible in a hand-made row) covers 0.
  written.push_back(MakeRun("other", kT0 + 2 * kDay + 5, false, 0.1, -5));
  StorageOptions o;
  o.path = dir.File("old.db");
  FakeClock clock(kT0 + 3 * kDay);
  o.clock = &clock;
  CreateSchema3Database(o.path, written);

  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  EXPECT_EQ(Count(o.path, "PRAGMA user_version"), LatestSchemaVersion());
  const Window all{kT0 - kDay, kT0 + 4 * kDay};
  {
    auto r = testing::OpenReaderOrFail(o.path);
    auto spans = r->RunSpans(kComponent, all.first, all.second);
    ASSERT_TRUE(spans.ok()) << spans.status().ToString();
    ExpectSpans(*spans, ExpectedSpans(written, all), "after the upgrade");
    EXPECT_GT(spans->size(), 20u);
    EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly"), 0);  // not yet
  }
  // The writer seals the backlog a few hours per transaction while it writes.
  // Hours before each probe's last run's hour: 47 of "health", 48 of "other" (its last run is in
  // the 49th hour).
  const int64_t backlog = 47 + 48;
  for (int i = 0; i < 20; ++i) {
    WriteBatch b;
    b.counters.push_back({"ticks_total", Labels(), 1});
    ASSERT_TRUE(w->Enqueue(b));
    ASSERT_TRUE(w->Flush().ok());
    auto r = testing::OpenReaderOrFail(o.path);
    auto got = r->SuccessDurations(kComponent, ProbeRole::kHealth, all.first, all.second, {});
    ASSERT_TRUE(got.ok());
    ExpectDurations(*got, ExpectedDurations(written, ProbeRole::kHealth, all, {}),
                    "while sealing the backlog, round " + std::to_string(i));
  }
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly"), backlog);
  CheckSealedRows(o.path);
  // New runs continue the backfilled spans by the same rule.
  WriteBatch more;
  for (TimestampMs ts = kT0 + 2 * kDay + 1000; ts < kT0 + 2 * kDay + kHour; ts += 10'000) {
    more.runs.push_back(MakeRun("health", ts, true, 0.2, 15'000));
  }
  written.insert(written.end(), more.runs.begin(), more.runs.end());
  ASSERT_TRUE(w->Enqueue(more));
  ASSERT_TRUE(w->Flush().ok());
  w->Stop();
  auto r = testing::OpenReaderOrFail(o.path);
  auto spans = r->RunSpans(kComponent, all.first, all.second);
  ASSERT_TRUE(spans.ok());
  ExpectSpans(*spans, ExpectedSpans(written, all), "after new runs");
}

TEST(RunSummariesTest, RetentionDeletesSealedHoursWithRawRunsAndSpansWithRollups) {
  ScratchDir dir;
  FakeClock clock(kT0 + 50 * kDay);
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = &clock;
  o.retention_ms = 10 * kDay;
  o.rollup_retention_ms = 30 * kDay;
  o.retention_batch_rows = 50;
  // Advancing the FakeClock wakes the writer; with the default period it would run retention
  // itself before the test counts what is there to delete. Only the RunRetention() below runs it.
  o.retention_interval_ms = 365 * kDay;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  std::vector<ProbeRun> written;
  WriteBatch b;
  for (TimestampMs ts = kT0; ts < kT0 + 50 * kDay; ts += 600'000) {
    // Down for 20 minutes every 6 hours: four spans a day.
    const bool up = (ts - kT0) % (6 * kHour) >= 1'200'000;
    b.runs.push_back(MakeRun("health", ts, up, 0.5 + static_cast<double>(ts % 1000) / 1e4, 900'000));
  }
  written = b.runs;
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  clock.Advance(5 * kDay);  // five more days of sealed hours age out
  const TimestampMs now = clock.NowMs();
  const TimestampMs raw_cutoff = now - 10 * kDay, span_cutoff = now - 30 * kDay;
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly WHERE hour_ms < " +
                              std::to_string(raw_cutoff)),
            5 * 24);
  ASSERT_TRUE(w->RunRetention().ok());
  w->Stop();

  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly WHERE hour_ms < " +
                              std::to_string(raw_cutoff)),
            0);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM run_durations_hourly"), 5 * 24 - 1);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_spans WHERE last_run_ms < " +
                              std::to_string(span_cutoff)),
            0);
  // Spans outlive the raw runs: those between 30 and 10 days old are still there, exactly.
  std::vector<RunSpan> want;
  for (const RunSpan& s : CompressRuns(written)) {
    if (s.last_run_ms >= span_cutoff) want.push_back(s);
  }
  auto r = testing::OpenReaderOrFail(o.path);
  auto spans = r->RunSpans(kComponent, kT0, now);
  ASSERT_TRUE(spans.ok());
  ExpectSpans(*spans, want, "after retention");
  EXPECT_GT(want.size(), 4u * 25);
  std::vector<ProbeRun> kept;
  for (const ProbeRun& run : written) {
    if (run.ts_ms >= raw_cutoff) kept.push_back(run);
  }
  auto got = r->SuccessDurations(kComponent, ProbeRole::kHealth, kT0, now, {});
  ASSERT_TRUE(got.ok());
  ExpectDurations(*got, ExpectedDurations(kept, ProbeRole::kHealth, {kT0, now}, {}),
                  "after retention");
  CheckSealedRows(o.path);
}

TEST(RunSummariesTest, LateRunWhoseSpanLostRawRunsIsDroppedAndCounted) {
  ScratchDir dir;
  FakeClock clock(kT0 + 40 * kDay);
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = &clock;
  o.retention_ms = 35 * kDay;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  // One long up span: 40 days of runs every 10 minutes; retention deletes its first 5 days.
  std::vector<ProbeRun> written;
  WriteBatch b;
  for (TimestampMs ts = kT0; ts < kT0 + 40 * kDay; ts += 600'000) {
    b.runs.push_back(MakeRun("health", ts, true, 0.25, 900'000));
  }
  written = b.runs;
  ASSERT_TRUE(w->Enqueue(b));
  ASSERT_TRUE(w->Flush().ok());
  ASSERT_TRUE(w->RunRetention().ok());
  ASSERT_EQ(Count(o.path, "SELECT count(*) FROM probe_spans"), 1);

  // A late failure inside that span cannot be placed exactly: refused, counted, nothing changes.
  WriteBatch late;
  late.runs.push_back(MakeRun("health", kT0 + 20 * kDay + 5, false, 3.0, 900'000));
  ASSERT_TRUE(w->Enqueue(late));
  EXPECT_TRUE(w->Flush().ok());
  EXPECT_EQ(w->Stats().dropped_late_runs, 1u);
  EXPECT_EQ(Count(o.path, "SELECT count(*) FROM probe_runs WHERE success = 0"), 0);
  auto r = testing::OpenReaderOrFail(o.path);
  EXPECT_EQ(r->CounterTotal("obsmon_storage_dropped_late_runs_total",
                            Labels{{"component", kComponent}})
                .value(),
            1.0);
  auto spans = r->RunSpans(kComponent, kT0, kT0 + 41 * kDay);
  ASSERT_TRUE(spans.ok());
  ExpectSpans(*spans, CompressRuns(written), "after the refused late run");

  // After a new span starts (raw runs complete from there), a late run inside it is placed.
  WriteBatch down;
  down.runs.push_back(MakeRun("health", kT0 + 40 * kDay, false, 1.0, 900'000));
  WriteBatch up;
  for (TimestampMs ts = kT0 + 40 * kDay + 600'000; ts < kT0 + 41 * kDay; ts += 600'000) {
    up.runs.push_back(MakeRun("health", ts, true, 0.25, 900'000));
  }
  WriteBatch late_ok;
  late_ok.runs.push_back(MakeRun("health", kT0 + 40 * kDay + 3 * kHour + 1, false, 2.0, 900'000));
  for (const WriteBatch* x : {&down, &up, &late_ok}) {
    written.insert(written.end(), x->runs.begin(), x->runs.end());
    ASSERT_TRUE(w->Enqueue(*x));
    ASSERT_TRUE(w->Flush().ok());
  }
  EXPECT_EQ(w->Stats().dropped_late_runs, 1u);
  w->Stop();
  spans = r->RunSpans(kComponent, kT0, kT0 + 42 * kDay);
  ASSERT_TRUE(spans.ok());
  ExpectSpans(*spans, CompressRuns(written), "after the placed late run");
  EXPECT_EQ(spans->size(), 5u);  // up (long), down, up, late down, up
  CheckSealedRows(o.path);
}

}  // namespace
}  // namespace obsmon::storage
