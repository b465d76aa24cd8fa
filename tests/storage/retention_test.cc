// storage/retention directly: which rows a pass deletes (by each table's own cutoff, exact at the
// boundary), that no DELETE exceeds the batch size, and that a reader stepping along the pass
// never sees a sealed hour whose raw runs are partly gone. The expectations are counted from the
// rows this test inserted, not from what Retention reports.
#include "storage/retention.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "storage/database.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::storage {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kBase = 1'760'400'000'000 - 1'760'400'000'000 % kHour;  // an hour start

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenForWrite(dir_.File("obsmon.db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  int64_t Count(const std::string& sql) {
    SQLite::Statement q(*db_, sql);
    q.executeStep();
    return q.getColumn(0).getInt64();
  }

  void Exec(const std::string& sql) { db_->exec(sql); }

  // Probe `id` with one run every 10 minutes for `hours` hours from kBase, each hour sealed
  // (run_durations_hourly) and rolled up, one span per hour, one sample per run, one log event
  // per run.
  void InsertProbe(int64_t id, int hours) {
    Exec("INSERT INTO probes (id, component, probe, role) VALUES (" + std::to_string(id) +
         ", 'c" + std::to_string(id) + "', 'p', 'health')");
    Exec("INSERT INTO series (id, name, labels) VALUES (" + std::to_string(id) +
         ", 'probe_success', 'probe=\"" + std::to_string(id) + "\"')");
    for (int h = 0; h < hours; ++h) {
      const int64_t hour = kBase + h * kHour;
      for (int r = 0; r < 6; ++r) {
        const int64_t ts = hour + r * 600'000;
        SQLite::Statement run(*db_, "INSERT INTO probe_runs_by_probe VALUES (?, ?, 1, 0.01, 900000, '')");
        run.bind(1, id);
        run.bind(2, ts);
        run.exec();
        SQLite::Statement s(*db_, "INSERT INTO samples_by_series VALUES (?, ?, 1)");
        s.bind(1, id);
        s.bind(2, ts);
        s.exec();
        SQLite::Statement e(*db_,
                            "INSERT INTO log_events (component, probe, ts_ms, file, severity, "
                            "line) VALUES (?, 'p', ?, 'f', 'ERROR', 'x')");
        e.bind(1, "c" + std::to_string(id));
        e.bind(2, ts);
        e.exec();
      }
      SQLite::Statement sealed(*db_, "INSERT INTO run_durations_hourly VALUES (?, ?, 6, x'00')");
      sealed.bind(1, id);
      sealed.bind(2, hour);
      sealed.exec();
      SQLite::Statement rollup(
          *db_, "INSERT INTO rollup_hourly VALUES (?, ?, 6, 6, 0, 0.06, 0.01, 0.01, 0.06, '')");
      rollup.bind(1, id);
      rollup.bind(2, hour);
      rollup.exec();
      SQLite::Statement span(*db_, "INSERT INTO probe_spans VALUES (?, ?, ?, ?, 1, 6, '')");
      span.bind(1, id);
      span.bind(2, hour);
      span.bind(3, hour + 50 * 60'000);
      span.bind(4, hour + 50 * 60'000 + 900'000);
      span.exec();
    }
  }

  // Runs the whole pass; returns the largest number of rows one Step deleted.
  int64_t RunPass(Retention& retention, TimestampMs raw_cutoff, TimestampMs rollup_cutoff) {
    retention.Begin(raw_cutoff, rollup_cutoff);
    int64_t largest = 0;
    while (retention.active()) largest = std::max(largest, retention.Step());
    return largest;
  }

  testing::ScratchDir dir_;
  std::unique_ptr<SQLite::Database> db_;
};

TEST_F(RetentionTest, DeletesRowsOlderThanEachCutoffAndKeepsTheBoundary) {
  InsertProbe(1, 10);
  InsertProbe(2, 10);
  // Raw cutoff exactly at the start of hour 4 (a run starts there: it must stay); rollups keep
  // from hour 2.
  const TimestampMs raw_cutoff = kBase + 4 * kHour;
  const TimestampMs rollup_cutoff = kBase + 2 * kHour;
  Retention retention(*db_, /*batch_rows=*/4);
  const int64_t largest = RunPass(retention, raw_cutoff, rollup_cutoff);

  // Per probe: 6 runs/samples/events per hour, hours 0..3 go for raw data, 0..1 for rollups.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM probe_runs"), 2 * 6 * 6);
  EXPECT_EQ(Count("SELECT MIN(ts_ms) FROM probe_runs"), raw_cutoff);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples"), 2 * 6 * 6);
  EXPECT_EQ(Count("SELECT MIN(ts_ms) FROM samples"), raw_cutoff);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_events"), 2 * 6 * 6);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM run_durations_hourly"), 2 * 6);
  EXPECT_EQ(Count("SELECT MIN(hour_ms) FROM run_durations_hourly"), raw_cutoff);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rollup_hourly"), 2 * 8);
  EXPECT_EQ(Count("SELECT MIN(hour_ms) FROM rollup_hourly"), rollup_cutoff);
  // Spans go by their last run, against the earlier of the two cutoffs: hours 0 and 1 end
  // before rollup_cutoff.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM probe_spans"), 2 * 8);
  // Rows deleted: runs, samples, events (4 h x 6 x 2 each), sealed (4 x 2), rollups and spans
  // (2 x 2 each).
  EXPECT_EQ(retention.deleted_in_pass(), 3 * 48 + 8 + 4 + 4);
  EXPECT_LE(largest, 4) << "one DELETE removed more than batch_rows rows";
  EXPECT_GT(largest, 0);
}

TEST_F(RetentionTest, ASecondPassFindsNothingAndNewRowsAreUntouched) {
  InsertProbe(1, 3);
  Retention retention(*db_, 100);
  RunPass(retention, kBase + kHour, kBase);
  const int64_t runs = Count("SELECT COUNT(*) FROM probe_runs");
  EXPECT_EQ(runs, 2 * 6);
  RunPass(retention, kBase + kHour, kBase);
  EXPECT_EQ(retention.deleted_in_pass(), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM probe_runs"), runs);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM rollup_hourly"), 3);
}

TEST_F(RetentionTest, NoSealedHourIsVisibleWithPartOfItsRawRunsGone) {
  InsertProbe(1, 6);
  InsertProbe(2, 6);
  Retention retention(*db_, /*batch_rows=*/2);
  retention.Begin(kBase + 5 * kHour, kBase + 5 * kHour);
  int steps = 0;
  while (retention.active()) {
    retention.Step();
    ++steps;
    // A sealed hour whose raw runs are not all 6 would make a reader mix sealed and raw data.
    EXPECT_EQ(Count("SELECT COUNT(*) FROM run_durations_hourly d WHERE (SELECT COUNT(*) FROM "
                    "probe_runs r WHERE r.probe_id = d.probe_id AND r.ts_ms >= d.hour_ms AND "
                    "r.ts_ms < d.hour_ms + 3600000) NOT IN (6)"),
              0)
        << "after step " << steps;
  }
  EXPECT_GT(steps, 10);  // batch_rows 2 makes the pass take many small steps
  EXPECT_EQ(Count("SELECT COUNT(*) FROM probe_runs"), 2 * 6);
}

// A series row goes once nothing of it is left: no sample in either part and no stored counter
// (a log file retired from a glob leaves five; fresh eyes, stop 47: they were never deleted).
// Counted from what this test inserted.
TEST_F(RetentionTest, ASeriesGoesWithItsLastSampleUnlessACounterOrTheHeadHoldsIt) {
  auto series = [&](int64_t id) {
    Exec("INSERT INTO series (id, name, labels) VALUES (" + std::to_string(id) + ", 'm', 'i=\"" +
         std::to_string(id) + "\"')");
  };
  auto sample = [&](const char* table, int64_t id, int64_t ts) {
    SQLite::Statement s(*db_, std::string("INSERT INTO ") + table +
                                  " (series_id, ts_ms, value) VALUES (?, ?, 1)");
    s.bind(1, id);
    s.bind(2, ts);
    s.exec();
  };
  const TimestampMs cutoff = kBase + kHour;
  // 1..5: only old samples, gone with them; 6: never had one; 7: old samples and a stored
  // counter; 8: an old sample and a head row; 9: old and recent samples.
  for (int64_t id = 1; id <= 9; ++id) series(id);
  for (int64_t id : {1, 2, 3, 4, 5, 7, 8, 9}) sample("samples_by_series", id, kBase);
  sample("samples_by_series", 9, cutoff);
  Exec("INSERT INTO counters (series_id, value) VALUES (7, 3)");
  sample("samples_head", 8, cutoff + 1);
  Retention retention(*db_, /*batch_rows=*/2);  // the six go in three full steps and one empty
  retention.Begin(cutoff, cutoff);
  int series_steps = 0;
  while (retention.active()) {
    retention.Step();
    if (retention.series_deleted()) ++series_steps;
  }
  EXPECT_EQ(series_steps, 3);
  SQLite::Statement left(*db_,
                         "SELECT group_concat(id, ',') FROM (SELECT id FROM series ORDER BY id)");
  ASSERT_TRUE(left.executeStep());
  EXPECT_EQ(left.getColumn(0).getString(), "7,8,9");
  EXPECT_EQ(retention.deleted_in_pass(), 8 + 6);  // the old samples, then the series
  // Nothing left to delete: a second pass deletes no series.
  retention.Begin(cutoff, cutoff);
  while (retention.active()) {
    retention.Step();
    EXPECT_FALSE(retention.series_deleted());
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM series"), 3);
}

// A statement looks at one window of series ids: orphans far apart in a large id space are all
// found, in several steps, and a series with a sample between them stays.
TEST_F(RetentionTest, SeriesFarApartInTheIdSpaceAreLookedAtWindowByWindow) {
  for (int64_t id : {1, 60'000, 120'001}) {
    Exec("INSERT INTO series (id, name, labels) VALUES (" + std::to_string(id) + ", 'm', 'i=\"" +
         std::to_string(id) + "\"')");
  }
  Exec("INSERT INTO samples_by_series (series_id, ts_ms, value) VALUES (60000, " +
       std::to_string(kBase + kHour) + ", 1)");
  Retention retention(*db_, /*batch_rows=*/100);
  retention.Begin(kBase, kBase);
  int steps = 0;
  while (retention.active()) {
    retention.Step();
    ++steps;
  }
  EXPECT_GE(steps, 3) << "three windows of 50,000 ids";
  SQLite::Statement left(*db_, "SELECT group_concat(id, ',') FROM series");
  ASSERT_TRUE(left.executeStep());
  EXPECT_EQ(left.getColumn(0).getString(), "60000");
}

TEST_F(RetentionTest, AbortEndsThePassAndTheNextStartsOver) {
  InsertProbe(1, 4);
  Retention retention(*db_, 1);
  retention.Begin(kBase + 2 * kHour, kBase + 2 * kHour);
  ASSERT_TRUE(retention.active());
  EXPECT_EQ(retention.Step(), 1);
  retention.Abort();
  EXPECT_FALSE(retention.active());
  EXPECT_EQ(retention.Step(), 0);
  RunPass(retention, kBase + 2 * kHour, kBase + 2 * kHour);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM probe_runs"), 2 * 6);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples"), 2 * 6);
}

}  // namespace
}  // namespace obsmon::storage
