// Where the writer puts a sample or a probe run, and when the head's older rows move to the
// tables keyed by series and by probe.
//
// samples_by_series is keyed (series_id, ts_ms) and probe_runs_by_probe (probe_id, ts_ms): a
// series' or a probe's rows are together, which is what reports and range queries read, but a
// commit of N runs then changes one leaf page per series and per probe it writes, and SQLite
// writes every changed page to the WAL (at 1,000 http probes ~5,000 sample pages and ~270 run
// pages a commit). samples_head and probe_runs_head are keyed (ts_ms, ...): a commit appends to
// their last pages. Every `move_every_ms` (StorageOptions::head_move_interval_ms, 60 s by
// default) the rows older than kLagMs move to the other tables, sorted by the destination's key,
// each series' and probe's leaf changed once a commit for all the rows it gained (docs/storage.md,
// "The head: samples and runs in time order"). The sort is made kRowsPerMove rows at a time:
// SQLite's sorter holds what it sorts in memory up to the connection's cache size, and a minute
// of 1,000 http probes sorted at once was the daemon's largest transient (10 MiB of heap).
//
// One floor (samples_head_floor) splits both pairs: below it the tables by series and by probe,
// at or above it the heads. A row that arrives older than the floor (a scrape's own timestamp,
// a run that took longer than kLagMs) goes to the table by series or probe directly, so a key is
// never in both tables: INSERT OR REPLACE still replaces a sample, and ON CONFLICT DO NOTHING
// still keeps a probe's first run of a millisecond. The floor is read once and checked against
// the data; a floor that is missing, not an integer, in the future or not between the tables (a
// user's sqlite3 edit) is set again from the data, and the rows moved to where it says.
// Writer thread only; every call but the constructor inside its transaction.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"

namespace obsmon::storage {

class Head {
 public:
  static constexpr int64_t kLagMs = 15'000;

  // Recreates the views `samples` and `probe_runs` if a user dropped them (and again every
  // kLagMs while the writer commits); throws SQLite::Exception if a table stands where one of
  // them belongs. `move_every_ms` (> 0): how often CompactIfDue moves rows.
  Head(SQLite::Database& db, const Clock* clock, int64_t move_every_ms);

  struct SampleRow {
    int64_t series_id = 0;
    TimestampMs ts_ms = 0;
    std::optional<double> value;  // nullopt: NaN
  };
  // INSERT OR REPLACE of each sample into the table its time belongs to, in order (a later row
  // of the same series and time replaces an earlier one). Up to kRowsPerInsert rows go in one
  // statement: a statement's own work (reset, binding, VDBE start and halt) was a third of a
  // sample's cost (docs/benchmarks.md, "Label sets shared by their copies, samples 16 to a
  // statement, ...").
  void InsertSamples(std::span<const SampleRow> rows);
  static constexpr size_t kRowsPerInsert = 16;

  struct Run {
    int64_t probe_id = 0;
    TimestampMs ts_ms = 0;
    bool success = false;
    double duration_seconds = 0;
    int64_t valid_for_ms = 0;
    const std::string* reason = nullptr;  // not copied; outlives the call
  };
  // Stores the run unless its probe has one at that millisecond already (the first one stays).
  // Returns whether it was stored.
  bool InsertRun(const Run& run);

  // Moves the heads' rows older than now - kLagMs when move_every_ms has passed since the last
  // move (or none was made yet). Returns the rows moved (samples and runs).
  int64_t CompactIfDue();
  // The most rows one sorted INSERT of a move carries: the head's rows go in time slices of at
  // most this many (more only where one millisecond alone holds more). ~40 bytes each in
  // SQLite's sorter, so about 2 MiB of heap at most, in the transaction's one buffer.
  static constexpr int64_t kRowsPerMove = 32'768;

  // Times the stored floor was found wrong and set again from the data (not counting the first
  // setting after the migration).
  int64_t floor_repairs() const { return floor_repairs_; }

  // The transaction failed: the floor it may have moved or set is undone, so read it again (a
  // repair undone with it is made, and counted, again).
  void Forget();
  // Resets every statement (after a failure, see BatchApplier::Apply).
  void ResetStatements();

 private:
  void EnsureViews();
  TimestampMs Floor();
  // The stored floor when it is valid for the data; otherwise nullopt.
  std::optional<TimestampMs> StoredFloor(bool* unset);
  // Sets the floor just above the newest sample or run not in the future, and moves the rows of
  // each table that are on the wrong side of it.
  TimestampMs SetFloorFromData();
  // Moves the heads' rows below `cut` to the tables by series and by probe, a slice of at most
  // kRowsPerMove rows (SliceEnd) per sorted INSERT; returns them.
  int64_t MoveBelow(TimestampMs cut);
  // The end of the slice that starts at `from`: the time of the kRowsPerMove-th row at or after
  // it (before `cut`), so that [from, end) holds at most kRowsPerMove rows; `cut` when fewer are
  // left, from + 1 when that millisecond alone holds more.
  TimestampMs SliceEnd(SQLite::Statement& nth_time, TimestampMs from, TimestampMs cut);

  // One table's rows, kRowsPerInsert at a time through `many`, the rest through `one`.
  void InsertInto(SQLite::Statement& one, SQLite::Statement& many,
                  std::span<const SampleRow> rows);

  SQLite::Database& db_;
  const Clock* clock_;
  const std::chrono::milliseconds move_every_;
  SQLite::Statement insert_head_, insert_by_series_, insert_head_many_, insert_by_series_many_,
      insert_run_head_, insert_run_by_probe_, move_samples_, delete_moved_samples_, move_runs_,
      delete_moved_runs_, nth_sample_time_, nth_run_time_, set_floor_;
  std::optional<TimestampMs> floor_;
  std::optional<SteadyTime> next_compaction_;
  // Views dropped by hand are made again at most kLagMs after, whatever the move interval (a
  // 10-minute interval left reports failing for 10 minutes: fresh eyes, stop 37).
  std::optional<SteadyTime> next_view_check_;
  int64_t floor_repairs_ = 0;
  // InsertSamples' rows when some are below the floor, for each table (reused).
  std::vector<SampleRow> above_floor_, below_floor_;
};

}  // namespace obsmon::storage
