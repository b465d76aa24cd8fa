// Where the writer puts a sample, and when the head's older rows move to samples_by_series.
//
// samples_by_series is keyed (series_id, ts_ms): a series' rows are together, which is what
// reports and range queries read, but a commit of N runs then changes one leaf page per series
// it writes, and SQLite writes every changed page to the WAL (at 1,000 http probes ~5,000 pages
// a second). samples_head is keyed (ts_ms, series_id): a commit appends to its last pages. Every
// kCompactEvery the rows older than kLagMs move to samples_by_series in one sorted INSERT, each
// series' leaf changed once for all the rows it gained (docs/storage.md, "samples_by_series and
// samples_head").
//
// The floor (samples_head_floor) splits the two: below it samples_by_series, at or above it
// samples_head. A sample that arrives older than the floor (a scrape's own timestamp, a run that
// took longer than kLagMs) goes to samples_by_series directly, so a key is never in both tables
// and INSERT OR REPLACE still replaces. The floor is read once and checked against the data; a
// floor that is missing, not an integer, in the future or not between the two tables (a user's
// sqlite3 edit) is set again from the data, and the rows moved to where it says.
// Writer thread only; every call but the constructor inside its transaction.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/clock.h"

namespace obsmon::storage {

class SampleHead {
 public:
  static constexpr auto kCompactEvery = std::chrono::seconds(15);
  static constexpr int64_t kLagMs = 15'000;

  // Recreates the view `samples` if a user dropped it.
  SampleHead(SQLite::Database& db, const Clock* clock);

  // INSERT OR REPLACE of one sample into the table its time belongs to. value nullopt: NaN.
  void Insert(int64_t series_id, TimestampMs ts_ms, std::optional<double> value);

  // Moves the head's rows older than now - kLagMs when kCompactEvery has passed since the last
  // move (or none was made yet). Returns the rows moved.
  int64_t CompactIfDue();

  // Times the stored floor was found wrong and set again from the data (not counting the first
  // setting after the migration).
  int64_t floor_repairs() const { return floor_repairs_; }

  // The transaction failed: the floor it may have moved or set is undone, so read it again (a
  // repair undone with it is made, and counted, again).
  void Forget();
  // Resets every statement (after a failure, see BatchApplier::Apply).
  void ResetStatements();

 private:
  TimestampMs Floor();
  // The stored floor when it is valid for the data; otherwise nullopt.
  std::optional<TimestampMs> StoredFloor(bool* unset);
  // Sets the floor just above the newest sample not in the future, and moves the rows of each
  // table that are on the wrong side of it.
  TimestampMs SetFloorFromData();

  SQLite::Database& db_;
  const Clock* clock_;
  SQLite::Statement insert_head_, insert_by_series_, move_, delete_moved_, set_floor_;
  std::optional<TimestampMs> floor_;
  std::optional<SteadyTime> next_compaction_;
  int64_t floor_repairs_ = 0;
};

}  // namespace obsmon::storage
