// Samples and probe runs in two parts (storage/head.h): whatever the writer was given, in
// whatever order, across compactions, writer restarts and databases migrated from before each
// head, every reader sees exactly what a log of the writes says, and a key is in one table only.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <tuple>

#include "storage/migrations.h"
#include "storage/remote_cursor_store.h"
#include "storage/head.h"
#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ScratchDir;

constexpr TimestampMs kT0 = 1'760'400'000'000;  // the FakeClock's start

// Moves every 15 s (the default is 60 s): the tests below were written to cross several moves,
// restarts and late rows within a minute or two of writes.
StorageOptions Options(const ScratchDir& dir, const Clock* clock) {
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = clock;
  o.head_move_interval_ms = 15'000;
  return o;
}

Labels Instance(int i) { return Labels{{"component", "c"}, {"instance", std::to_string(i)}}; }

// The writes as the test made them: (instance, ts) -> value, a later write replacing.
using Log = std::map<std::pair<int, TimestampMs>, double>;

// The runs as the test made them: (probe "p<i>" of component "c", ts) -> run, the first write
// of a probe and millisecond staying.
using RunLog = std::map<std::pair<int, TimestampMs>, ProbeRun>;

ProbeRun MakeRun(int probe, TimestampMs ts, bool success, double seconds) {
  ProbeRun r;
  r.key = {"c", "p" + std::to_string(probe)};
  r.role = ProbeRole::kHealth;
  r.ts_ms = ts;
  r.success = success;
  r.duration_seconds = seconds;
  r.valid_for_ms = 1500;
  r.reason = success ? "" : "down at " + std::to_string(ts);
  return r;
}

// Adds the run to the batch and, unless its probe has one at that ms already, to the log.
void AddRun(WriteBatch& b, RunLog& runs, const ProbeRun& r) {
  b.runs.push_back(r);
  runs.emplace(std::pair{std::stoi(r.key.probe.substr(1)), r.ts_ms}, r);
}

std::tuple<std::string, TimestampMs, bool, double, int64_t, std::string> Fields(const ProbeRun& r) {
  return {r.key.probe, r.ts_ms, r.success, r.duration_seconds, r.valid_for_ms, r.reason};
}

int64_t Scalar(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getInt64();
}

// Starts a writer on `o`, gives it `seconds` of writes (each second, for each of `instances`:
// one sample, and one run at +i ms, every fourth second down), then stops it. Logs what it wrote;
// returns the writer's floor repairs.
uint64_t WriteSeconds(const StorageOptions& o, FakeClock& clock, int seconds, int instances,
                      Log& log, RunLog& runs) {
  auto w = testing::StartWriterOrFail(o);
  if (!w) return 0;
  for (int second = 0; second < seconds; ++second) {
    WriteBatch b;
    for (int i = 0; i < instances; ++i) {
      b.samples.push_back({"m", Instance(i), clock.NowMs(), second * 10.0 + i});
      log[{i, clock.NowMs()}] = second * 10.0 + i;
      AddRun(b, runs, MakeRun(i, clock.NowMs() + i, second % 4 != 0, 0.002 * second));
    }
    EXPECT_TRUE(w->Enqueue(std::move(b)));
    EXPECT_TRUE(w->Flush().ok());
    clock.Advance(1000);
  }
  return w->Stats().head_floor_repairs;
}

// The split the writer promises: the tables by series and by probe below the floor, the heads at
// or above it, so no key twice.
void ExpectSplit(const std::string& path) {
  EXPECT_EQ(Scalar(path, "SELECT count(*) FROM samples_head_floor"), 1);
  const std::string floor = std::to_string(Scalar(path, "SELECT floor_ms FROM samples_head_floor"));
  for (const auto& [by_key, head] : {std::pair{"samples_by_series", "samples_head"},
                                     std::pair{"probe_runs_by_probe", "probe_runs_head"}}) {
    EXPECT_EQ(Scalar(path, std::string("SELECT count(*) FROM ") + by_key + " WHERE ts_ms >= " +
                               floor),
              0)
        << by_key;
    EXPECT_EQ(Scalar(path, std::string("SELECT count(*) FROM ") + head + " WHERE ts_ms < " + floor),
              0)
        << head;
  }
}

// Everything a reader can say about the runs, against their log: every run of a window and the
// one before it, the durations of the successful ones by hour, each probe's latest run.
void ExpectRunReadersAgree(Reader& r, const RunLog& runs) {
  if (runs.empty()) return;
  auto components = r.Components();
  ASSERT_TRUE(components.ok());
  EXPECT_EQ(*components, std::vector<std::string>{"c"});
  const TimestampMs newest = std::max_element(runs.begin(), runs.end(), [](const auto& a,
                                                                           const auto& b) {
                               return a.first.second < b.first.second;
                             })->first.second;
  for (TimestampMs from : {kT0 - 3'600'000, kT0 + 20'000, newest - 5'000, newest + 1}) {
    SCOPED_TRACE("from " + std::to_string(from));
    const TimestampMs to = newest + 1;
    // Per probe in name order (the reader's), the latest run before `from`, then [from, to).
    std::map<std::string, std::vector<const ProbeRun*>> want_by_probe;
    for (const auto& [key, run] : runs) {
      auto& v = want_by_probe[run.key.probe];
      if (run.ts_ms < from) {
        if (v.empty()) v.push_back(&run);
        else if (v.back()->ts_ms < run.ts_ms) v.back() = &run;
      } else if (run.ts_ms < to) {
        v.push_back(&run);
      }
    }
    std::vector<std::tuple<std::string, TimestampMs, bool, double, int64_t, std::string>> want, got;
    for (const auto& [probe, v] : want_by_probe) {
      for (const ProbeRun* run : v) want.push_back(Fields(*run));
    }
    auto read = r.ProbeRuns("c", from, to);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    for (const ProbeRun& run : *read) got.push_back(Fields(run));
    EXPECT_EQ(got, want);

    // The successful runs' durations of [from, to), by probe and hour, each group ascending.
    std::map<std::pair<std::string, TimestampMs>, std::vector<double>> want_hours, got_hours;
    for (const auto& [key, run] : runs) {
      if (run.success && run.ts_ms >= from && run.ts_ms < to) {
        want_hours[{run.key.probe, run.ts_ms - run.ts_ms % 3'600'000}].push_back(
            run.duration_seconds);
      }
    }
    for (auto& [k, v] : want_hours) std::sort(v.begin(), v.end());
    auto hours = r.SuccessDurations("c", ProbeRole::kHealth, from, to, {});
    ASSERT_TRUE(hours.ok()) << hours.status().ToString();
    for (const HourDurations& h : *hours) {
      EXPECT_TRUE(std::is_sorted(h.seconds.begin(), h.seconds.end()));
      auto& v = got_hours[{h.key.probe, h.hour_ms}];
      v.insert(v.end(), h.seconds.begin(), h.seconds.end());
    }
    EXPECT_EQ(got_hours, want_hours);
  }
  std::map<std::string, const ProbeRun*> latest;
  for (const auto& [key, run] : runs) latest[run.key.probe] = &run;  // ascending ts per probe
  std::vector<std::tuple<std::string, TimestampMs, bool, double, int64_t, std::string>> want, got;
  for (const auto& [probe, run] : latest) want.push_back(Fields(*run));
  auto read = r.LatestRuns();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  for (const ProbeRun& run : *read) got.push_back(Fields(run));
  EXPECT_EQ(got, want);
}

// Everything a reader can say about the samples, against the log.
void ExpectReadersAgree(const std::string& path, const Log& log, int instances,
                        const RunLog& runs = {}) {
  ExpectSplit(path);
  auto r = testing::OpenReaderOrFail(path);
  ASSERT_TRUE(r);
  ExpectRunReadersAgree(*r, runs);
  // Samples(): per series in label order, each in time order.
  constexpr TimestampMs kEnd = std::numeric_limits<int64_t>::max();
  auto got = r->Samples("m", Labels{{"component", "c"}}, kT0 - 3'600'000, kEnd);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::map<std::string, std::vector<std::pair<TimestampMs, double>>> want_by_labels;
  for (const auto& [key, v] : log) {
    want_by_labels[Instance(key.first).ToString()].push_back({key.second, v});
  }
  std::vector<std::pair<TimestampMs, double>> want, seen;
  std::vector<std::string> want_labels, seen_labels;
  for (const auto& [labels, points] : want_by_labels) {
    for (const auto& p : points) {
      want.push_back(p);
      want_labels.push_back(labels);
    }
  }
  for (const Sample& s : *got) {
    seen.push_back({s.ts_ms, s.value});
    seen_labels.push_back(s.labels.ToString());
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(seen_labels, want_labels);
  // StreamSamples(): the same, one at a time.
  std::vector<std::pair<TimestampMs, double>> streamed;
  std::vector<std::string> streamed_labels;
  ASSERT_TRUE(r->StreamSamples("m", Labels{{"component", "c"}}, kT0 - 3'600'000, kEnd,
                               [&](const Labels& labels, TimestampMs ts, double v) {
                                 streamed.push_back({ts, v});
                                 streamed_labels.push_back(labels.ToString());
                               })
                  .ok());
  EXPECT_EQ(streamed, want);
  EXPECT_EQ(streamed_labels, want_labels);

  // AllSamples(): ordered by series id (the order of first writes), then time.
  auto all = r->AllSamples(kT0 - 3'600'000, kEnd, 1'000'000);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), log.size());
  std::map<std::string, std::vector<std::pair<TimestampMs, double>>> all_by_labels;
  std::string previous;
  std::set<std::string> finished;
  for (const Sample& s : *all) {
    const std::string labels = s.labels.ToString();
    if (labels != previous) {
      EXPECT_TRUE(finished.insert(labels).second) << "series " << labels << " split in two";
      previous = labels;
    }
    all_by_labels[labels].push_back({s.ts_ms, s.value});
  }
  EXPECT_EQ(all_by_labels, want_by_labels);
  // StreamRecentSeries(): the same, a series at a time, and nothing of a metric not wanted.
  std::map<std::string, std::vector<std::pair<TimestampMs, double>>> series_by_labels;
  ASSERT_TRUE(r->StreamRecentSeries(kT0 - 3'600'000, kEnd,
                                    [](const std::string& name) { return name == "m"; },
                                    [&](const std::string& name, const Labels& labels,
                                        std::span<const std::pair<TimestampMs, double>> points) {
                                      EXPECT_EQ(name, "m");
                                      auto& got = series_by_labels[labels.ToString()];
                                      EXPECT_TRUE(got.empty()) << "series " << labels.ToString()
                                                               << " handed on twice";
                                      got.assign(points.begin(), points.end());
                                    })
                  .ok());
  EXPECT_EQ(series_by_labels, want_by_labels);
  int unwanted_visits = 0;
  ASSERT_TRUE(r->StreamRecentSeries(
                   kT0 - 3'600'000, kEnd, [](const std::string&) { return false; },
                   [&](const std::string&, const Labels&,
                       std::span<const std::pair<TimestampMs, double>>) { ++unwanted_visits; })
                  .ok());
  EXPECT_EQ(unwanted_visits, 0);

  // LatestSample() of each series, and the remote_write backlog from any point.
  for (int i = 0; i < instances; ++i) {
    auto latest = r->LatestSample("m", Instance(i));
    auto it = std::find_if(log.rbegin(), log.rend(), [&](const auto& e) { return e.first.first == i; });
    if (it == log.rend()) {
      EXPECT_FALSE(latest.has_value());
      continue;
    }
    ASSERT_TRUE(latest.has_value()) << i;
    EXPECT_EQ(latest->ts_ms, it->first.second) << i;
    EXPECT_EQ(latest->value, it->second) << i;
  }
  auto cursors = RemoteCursorStore::Open(path);
  ASSERT_TRUE(cursors.ok());
  for (TimestampMs from : {kT0 - 3'600'000, kT0, kT0 + 20'000, kT0 + 45'000}) {
    auto n = (*cursors)->CountSamplesSince(from);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, std::count_if(log.begin(), log.end(),
                                [&](const auto& e) { return e.first.second >= from; }))
        << from;
  }
}

// A minute and a half of writes at 1 s, some late (older than the floor by then), some writing a
// key again (in the head and after it moved), the writer restarted twice: the readers say what
// was written, before and after each compaction.
// `instances` samples a second: 7 go one row a statement; 37 also go Head::kRowsPerInsert rows
// a statement, with a key twice in one batch (the later value stays) and late rows among them.
void ReadersSeeExactlyTheWrites(int instances) {
  ScratchDir dir;
  FakeClock clock;
  auto o = Options(dir, &clock);
  Log log;
  RunLog runs;
  auto writer = testing::StartWriterOrFail(o);
  ASSERT_TRUE(writer);
  for (int second = 0; second < 90; ++second) {
    WriteBatch b;
    const TimestampMs now = clock.NowMs();
    for (int i = 0; i < instances; ++i) {
      if (i == 3 && second % 2 == 1) continue;  // a slower series
      const double v = second * 100 + i;
      b.samples.push_back({"m", Instance(i), now, v});
      log[{i, now}] = v;
      AddRun(b, runs, MakeRun(i, now + i, (second + i) % 6 != 0, 0.001 * (second % 17 + i)));
      if (instances > 20 && i == 20 && second % 3 == 0) {
        // The same key again in this batch, 1-20 rows later.
        b.samples.push_back({"m", Instance(second % 20), now, -v});
        log[{second % 20, now}] = -v;
      }
    }
    if (second % 11 == 10) {
      // Late: 40 s old, below the floor once a compaction has run.
      const TimestampMs late = now - 40'000 + 7;
      b.samples.push_back({"m", Instance(5), late, -1.0 * second});
      log[{5, late}] = -1.0 * second;
      AddRun(b, runs, MakeRun(5, late, second % 2 == 0, 0.5 + second));
    }
    if (second % 7 == 6) {
      // A run of a probe and ms stored already (in the head, and moved): the first stays.
      for (TimestampMs again : {now - 2'000 + 4, now - 50'000 + 4}) {
        if (!runs.contains({4, again})) continue;
        AddRun(b, runs, MakeRun(4, again, false, 99.0));
      }
    }
    if (second % 13 == 12) {
      // A key written again: one still in the head, one moved long ago.
      for (TimestampMs again : {now - 2'000, now - 50'000}) {
        auto it = log.find({2, again});
        if (it == log.end()) continue;
        b.samples.push_back({"m", Instance(2), again, it->second + 0.5});
        it->second += 0.5;
      }
    }
    ASSERT_TRUE(writer->Enqueue(std::move(b)));
    ASSERT_TRUE(writer->Flush().ok());
    if (second == 30 || second == 60) {
      writer.reset();  // a restart: the floor is read back from the file
      writer = testing::StartWriterOrFail(o);
      ASSERT_TRUE(writer);
    }
    if (second % 15 == 14) {
      SCOPED_TRACE("second " + std::to_string(second));
      ExpectReadersAgree(o.path, log, instances, runs);
    }
    clock.Advance(1000);
  }
  writer.reset();
  // Compactions happened: rows moved, the head holds only the last ~15-30 s.
  EXPECT_GT(Scalar(o.path, "SELECT count(*) FROM samples_by_series"), 0);
  EXPECT_GT(Scalar(o.path, "SELECT count(*) FROM samples_head"), 0);
  EXPECT_LT(Scalar(o.path, "SELECT count(*) FROM samples_head"), 31 * instances);
  EXPECT_GT(Scalar(o.path, "SELECT count(*) FROM probe_runs_by_probe"), 0);
  EXPECT_GT(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), 0);
  EXPECT_LT(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), 31 * instances);
  ExpectReadersAgree(o.path, log, instances, runs);
}

TEST(HeadTest, ReadersSeeExactlyTheWritesAcrossCompactionsAndRestarts) {
  ReadersSeeExactlyTheWrites(7);
}

TEST(HeadTest, ReadersSeeExactlyTheWritesOfBatchesOfManySamples) {
  static_assert(37 > 2 * Head::kRowsPerInsert);
  ReadersSeeExactlyTheWrites(37);
}

// The rows move every head_move_interval (the default, and another), not more often: between
// moves the floor stays and the head grows; at each move the floor becomes now - kLagMs and
// exactly the samples and runs below it (by the test's own log) are in the tables by series and
// by probe, the rest in the heads.
TEST(HeadTest, RowsMoveOncePerIntervalAndNotMoreOften) {
  for (int64_t interval : {StorageOptions{}.head_move_interval_ms, int64_t{25'000}}) {
    SCOPED_TRACE("interval " + std::to_string(interval));
    ScratchDir dir;
    FakeClock clock;
    auto o = Options(dir, &clock);
    o.head_move_interval_ms = interval;
    auto w = testing::StartWriterOrFail(o);
    ASSERT_TRUE(w);
    std::vector<TimestampMs> written;  // one sample and one run a second, at these times
    std::set<TimestampMs> floors_seen;
    const int seconds = static_cast<int>(3 * interval / 1000) + 2;
    int moves = 0;
    for (int second = 0; second < seconds; ++second) {
      const TimestampMs now = clock.NowMs();
      WriteBatch b;
      b.samples.push_back({"m", Instance(0), now, 1.0 * second});
      RunLog runs;
      AddRun(b, runs, MakeRun(0, now, true, 0.01));
      written.push_back(now);
      ASSERT_TRUE(w->Enqueue(std::move(b)));
      ASSERT_TRUE(w->Flush().ok());
      const TimestampMs floor = Scalar(o.path, "SELECT floor_ms FROM samples_head_floor");
      const bool move_due = second > 0 && (second * 1000) % interval == 0;
      if (second > 0 && !floors_seen.contains(floor)) {
        EXPECT_TRUE(move_due) << "the floor moved at second " << second;
        EXPECT_EQ(floor, now - Head::kLagMs) << "second " << second;
        ++moves;
      } else if (move_due) {
        ADD_FAILURE() << "no move at second " << second;
      }
      floors_seen.insert(floor);
      const int64_t below = std::count_if(written.begin(), written.end(),
                                          [&](TimestampMs ts) { return ts < floor; });
      const int64_t above = static_cast<int64_t>(written.size()) - below;
      EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM samples_by_series"), below) << second;
      EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM samples_head"), above) << second;
      EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM probe_runs_by_probe"), below) << second;
      EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), above) << second;
      // What the head holds at most: one interval and the lag.
      EXPECT_LE(above, (interval + Head::kLagMs) / 1000 + 1) << second;
      clock.Advance(1000);
    }
    EXPECT_EQ(moves, 3);
  }
}

// A move sorts at most Head::kRowsPerMove rows at once. At 3,000 samples and runs a second and a
// move every 60 s, a move carries 135,000 of each, which SQLite sorted in one buffer before stop
// 66 (up to the connection's cache size: at 1,000 http probes 10 MiB of the daemon's heap at
// once). SQLite's own count of its largest allocation, the sorter's buffer, is the witness; and
// every row arrives, a millisecond holding more than a slice (second 1) among them.
TEST(HeadTest, AMoveSortsABoundedSliceOfRowsAtATime) {
  ScratchDir dir;
  FakeClock clock;
  auto o = Options(dir, &clock);
  o.head_move_interval_ms = 60'000;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  constexpr int kInstances = 3'000;
  constexpr int kCrowd = static_cast<int>(Head::kRowsPerMove) + 100;  // samples at second 1
  double sum = 0;
  int64_t samples = 0, runs = 0, moves = 0;
  sqlite3_int64 largest_in_move = 0;
  for (int second = 0; second < 75; ++second) {
    WriteBatch b;
    const TimestampMs now = clock.NowMs();
    for (int i = 0; i < (second == 1 ? kCrowd : kInstances); ++i) {
      const double v = second * 100'000.0 + i;
      b.samples.push_back({"m", Instance(i), now, v});
      sum += v;
      ++samples;
    }
    for (int i = 0; i < kInstances; ++i, ++runs) b.runs.push_back(MakeRun(i, now, true, 0.001));
    const uint64_t moved_before = w->Stats().head_rows_moved;
    sqlite3_int64 current = 0, largest = 0;
    sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, /*reset=*/1);
    ASSERT_TRUE(w->Enqueue(std::move(b)));
    ASSERT_TRUE(w->Flush().ok());
    sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, 0);
    if (w->Stats().head_rows_moved > moved_before) {
      ++moves;
      largest_in_move = std::max(largest_in_move, largest);
    }
    clock.Advance(1000);
  }
  w.reset();
  EXPECT_EQ(moves, 1);  // at second 60: the rows of seconds 0-44
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM samples_by_series"),
            45 * kInstances + (kCrowd - kInstances));
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM probe_runs_by_probe"), 45 * kInstances);
  EXPECT_LE(largest_in_move, 4 << 20) << "SQLite's largest allocation during a move";
  ExpectSplit(o.path);
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM samples"), samples);
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM probe_runs"), runs);
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT sum(value) FROM samples").getDouble(), sum);
}

// A database written before the head existed: its samples stay where they are, the floor starts
// above the newest one not in the future (a scrape's own timestamp a day ahead, or at the end of
// time, must not switch the head off), and new samples go to the head.
TEST(HeadTest, ADatabaseFromBeforeTheHeadKeepsItsSamples) {
  ScratchDir dir;
  FakeClock clock;
  auto o = Options(dir, &clock);
  {
    auto w = testing::StartWriterOrFail(o);  // creates the schema
  }
  Log log;
  RunLog runs;
  {
    // Back to the schema before the heads: tables `samples` and `probe_runs`, version 10.
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("DROP VIEW samples; DROP TABLE samples_head; DROP TABLE samples_head_floor;"
            "ALTER TABLE samples_by_series RENAME TO samples; DROP VIEW probe_runs; DROP TABLE "
            "probe_runs_head; ALTER TABLE probe_runs_by_probe RENAME TO probe_runs;");
    db.exec("INSERT INTO probes (id, component, probe, role) VALUES (1, 'c', 'p0', 'health'), "
            "(2, 'c', 'p1', 'health')");
    for (int k = 0; k < 20; ++k) {
      const ProbeRun r = MakeRun(k % 2, kT0 - 60'000 + k * 1000, k % 3 != 0, 0.01 * k);
      runs.emplace(std::pair{k % 2, r.ts_ms}, r);
      db.exec("INSERT INTO probe_runs VALUES (" + std::to_string(1 + k % 2) + ", " +
              std::to_string(r.ts_ms) + ", " + std::to_string(r.success ? 1 : 0) + ", " +
              std::to_string(r.duration_seconds) + ", 1500, '" + r.reason + "')");
    }
    // A run stamped a day ahead (a clock set wrong while it ran) must not hold the floor up.
    const ProbeRun ahead = MakeRun(1, kT0 + 86'400'000, true, 0.25);
    runs.emplace(std::pair{1, ahead.ts_ms}, ahead);
    db.exec("INSERT INTO probe_runs VALUES (2, " + std::to_string(ahead.ts_ms) +
            ", 1, 0.25, 1500, '')");
    db.exec("INSERT INTO series (id, name, labels) VALUES (1, 'm', '" +
            Instance(0).ToString() + "'), (2, 'm', '" + Instance(1).ToString() + "')");
    for (int k = 0; k < 20; ++k) {
      db.exec("INSERT INTO samples VALUES (" + std::to_string(1 + k % 2) + ", " +
              std::to_string(kT0 - 60'000 + k * 1000) + ", " + std::to_string(k) + ")");
      log[{k % 2, kT0 - 60'000 + k * 1000}] = k;
    }
    for (TimestampMs future : {kT0 + 86'400'000, std::numeric_limits<int64_t>::max() - 1}) {
      db.exec("INSERT INTO samples VALUES (2, " + std::to_string(future) + ", 7)");
      log[{1, future}] = 7;
    }
    // Version 13's and 14's columns are not there yet either.
    db.exec("ALTER TABLE log_cursors DROP COLUMN birth_ns;"
            "ALTER TABLE alert_history DROP COLUMN component; PRAGMA user_version = 10");
  }
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  EXPECT_EQ(Scalar(o.path, "SELECT floor_ms IS NULL FROM samples_head_floor"), 1);
  WriteBatch b;
  b.samples.push_back({"m", Instance(0), kT0, 100});
  b.samples.push_back({"m", Instance(1), kT0 - 59'000, 101});  // an old key written again
  log[{0, kT0}] = 100;
  log[{1, kT0 - 59'000}] = 101;
  AddRun(b, runs, MakeRun(0, kT0, true, 0.5));
  AddRun(b, runs, MakeRun(1, kT0 - 59'000, false, 7.0));  // stored already: the first stays
  ASSERT_TRUE(w->Enqueue(std::move(b)));
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(w->Stats().head_floor_repairs, 0u);  // set from the data, not repaired
  w.reset();
  // Set from the data at the first commit (just above kT0 - 41 s), then moved to now - 15 s.
  EXPECT_EQ(Scalar(o.path, "SELECT floor_ms FROM samples_head_floor"), kT0 - Head::kLagMs);
  // The new sample and the two from the future; the new run and the one from the future.
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM samples_head"), 3);
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), 2);
  ExpectReadersAgree(o.path, log, 2, runs);
}

// A database of version 11 (samples in two parts, runs in one table) whose floor is set: the
// migration moves the runs at or above the floor to probe_runs_head, the rest stay, and the
// readers say what was written before and after.
TEST(HeadTest, ADatabaseWithTheSamplesHeadOnlyGetsTheRunsHead) {
  ScratchDir dir;
  FakeClock clock;
  auto o = Options(dir, &clock);
  Log log;
  RunLog runs;
  WriteSeconds(o, clock, 40, 2, log, runs);
  ASSERT_GT(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), 0);
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("DROP VIEW probe_runs; INSERT INTO probe_runs_by_probe SELECT probe_id, ts_ms, "
            "success, duration_seconds, valid_for_ms, reason FROM probe_runs_head; DROP TABLE "
            "probe_runs_head; ALTER TABLE probe_runs_by_probe RENAME TO probe_runs; "
            "ALTER TABLE log_cursors DROP COLUMN birth_ns;"
            "ALTER TABLE alert_history DROP COLUMN component; PRAGMA user_version = 11");
  }
  {
    // The migration alone (a reader opening the file writes nothing; the writer migrates).
    auto w = testing::StartWriterOrFail(o);
    ASSERT_TRUE(w);
  }
  EXPECT_EQ(Scalar(o.path, "PRAGMA user_version"), LatestSchemaVersion());
  EXPECT_GT(Scalar(o.path, "SELECT count(*) FROM probe_runs_head"), 0);
  ExpectReadersAgree(o.path, log, 2, runs);
  WriteSeconds(o, clock, 20, 2, log, runs);
  ExpectReadersAgree(o.path, log, 2, runs);
}

// A user's sqlite3 edits of the floor (row deleted, set in the future, set back below rows of
// samples_by_series, two rows, a text) and of the view (dropped): the writer's next start finds
// the floor wrong, sets it again from the data, counts it, and nothing is lost or doubled.
TEST(HeadTest, AFloorEditedByHandIsSetAgainFromTheData) {
  const std::vector<std::string> edits = {
      "DELETE FROM samples_head_floor",
      "UPDATE samples_head_floor SET floor_ms = 9000000000000",
      "UPDATE samples_head_floor SET floor_ms = 0",
      "INSERT INTO samples_head_floor VALUES (5)",
      "UPDATE samples_head_floor SET floor_ms = 'soon'",
      "UPDATE samples_head_floor SET floor_ms = (SELECT max(ts_ms) + 1 FROM samples_head)",
      // The newest run moved by hand into probe_runs_by_probe, above the floor.
      "INSERT INTO probe_runs_by_probe SELECT probe_id, ts_ms, success, duration_seconds, "
      "valid_for_ms, reason FROM probe_runs_head WHERE ts_ms = (SELECT max(ts_ms) FROM "
      "probe_runs_head); DELETE FROM probe_runs_head WHERE ts_ms = (SELECT max(ts_ms) FROM "
      "probe_runs_head)",
  };
  for (const std::string& edit : edits) {
    SCOPED_TRACE(edit);
    ScratchDir dir;
    FakeClock clock;
    auto o = Options(dir, &clock);
    Log log;
    RunLog runs;
    WriteSeconds(o, clock, 40, 3, log, runs);  // rows in both tables
    ASSERT_GT(Scalar(o.path, "SELECT count(*) FROM samples_by_series"), 0);
    ASSERT_GT(Scalar(o.path, "SELECT count(*) FROM samples_head"), 0);
    {
      SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
      db.exec(edit);
      db.exec("DROP VIEW samples; DROP VIEW probe_runs");
    }
    EXPECT_EQ(WriteSeconds(o, clock, 5, 3, log, runs), 1u);
    ExpectReadersAgree(o.path, log, 3, runs);
  }
}

// A view dropped while the writer runs is made again within 15 s (the API read it), also when
// the head moves only every 10 minutes.
TEST(HeadTest, AViewDroppedWhileRunningIsBackWithin15Seconds) {
  ScratchDir dir;
  FakeClock clock;
  auto o = Options(dir, &clock);
  o.head_move_interval_ms = 600'000;
  auto w = testing::StartWriterOrFail(o);
  ASSERT_TRUE(w);
  Log log;
  RunLog runs;
  auto write_second = [&] {
    WriteBatch b;
    b.samples.push_back({"m", Instance(0), clock.NowMs(), 1.0});
    log[{0, clock.NowMs()}] = 1.0;
    AddRun(b, runs, MakeRun(0, clock.NowMs(), true, 0.01));
    ASSERT_TRUE(w->Enqueue(std::move(b)));
    ASSERT_TRUE(w->Flush().ok());
    clock.Advance(1000);
  };
  write_second();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("DROP VIEW samples; DROP VIEW probe_runs");
  }
  write_second();
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"), 0);
  for (int i = 0; i < 15; ++i) write_second();
  EXPECT_EQ(Scalar(o.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"), 2);
  w.reset();
  ExpectReadersAgree(o.path, log, 1, runs);
}

// A table made by hand where a view belongs: the writer refuses to start and says what to do,
// rather than let sqlite3 users read a part of the runs as if it were all (fresh eyes, stop 34).
TEST(HeadTest, ATableInAViewsPlaceStopsTheWriterWithWhatToDo) {
  for (const char* view : {"samples", "probe_runs"}) {
    SCOPED_TRACE(view);
    ScratchDir dir;
    FakeClock clock;
    auto o = Options(dir, &clock);
    {
      auto w = testing::StartWriterOrFail(o);
      ASSERT_TRUE(w);
    }
    {
      SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
      db.exec(std::string("DROP VIEW ") + view + "; CREATE TABLE " + view + " (x INTEGER)");
    }
    auto w = Writer::Start(o);
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.status().message().find(std::string(view) + " is a table, not obsmon's view"),
              std::string::npos)
        << w.status().ToString();
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec(std::string("DROP TABLE ") + view);
    EXPECT_TRUE(testing::StartWriterOrFail(o));
  }
}

}  // namespace
}  // namespace obsmon::storage
