// Private to storage/: deletes old rows in small statements (at most `batch_rows` rows each, each
// its own transaction) so the writer thread can interleave queued writes and never blocks long.
// Used only by the writer thread; not thread-safe.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"

namespace obsmon::storage {

class Retention {
 public:
  // remote_write_hold_max_ms: how far past raw_cutoff samples are kept for a remote_write
  // destination that has not acknowledged them; 0 = as far as needed.
  Retention(SQLite::Database& db, int64_t batch_rows, int64_t remote_write_hold_max_ms = 0);

  // Plans a pass: raw rows (samples, probe_runs, log_events) with ts_ms < raw_cutoff_ms and
  // sealed durations (run_durations_hourly) with hour_ms < raw_cutoff_ms; rollups with
  // hour_ms < rollup_cutoff_ms and probe spans with last_run_ms < min(raw_cutoff_ms,
  // rollup_cutoff_ms) (spans outlive the raw runs they summarize). Sealed rows go before the raw
  // runs of their hour, so a reader never sees a sealed hour whose raw runs are partly gone.
  // Samples are kept from the smallest cursor of the configured remote_write destinations on
  // (table remote_write_cursors), at most remote_write_hold_max_ms before raw_cutoff_ms; what
  // goes unsent is added to each remote's dropped_retention and its cursor moved past it.
  // Last, `series` rows left with no sample and no stored counter (a log file retired, a scrape's
  // series gone, once retention took their samples) are deleted: the writer must then drop its
  // cached series ids (series_deleted()), or it would write samples under a deleted id.
  // Replaces any pass in progress. Throws SQLite::Exception (the caller, storage's writer, turns
  // it into a Status).
  void Begin(TimestampMs raw_cutoff_ms, TimestampMs rollup_cutoff_ms);
  bool active() const { return next_ < tasks_.size(); }
  // Ends the pass in progress (after an error, or at shutdown); the next pass starts over.
  void Abort() {
    tasks_.clear();
    next_ = 0;
  }
  // Runs one DELETE of at most batch_rows rows; returns rows deleted. Throws SQLite::Exception.
  int64_t Step();
  int64_t deleted_in_pass() const { return deleted_; }
  // Whether the last Step() deleted `series` rows.
  bool series_deleted() const { return series_deleted_; }

 private:
  enum class Kind {
    kSamples,
    kHead,
    kSealed,
    kRuns,
    kRunsHead,
    kRollups,
    kSpans,
    kEvents,
    kSeries
  };
  struct Task {
    Kind kind;
    int64_t id = 0;         // series or probe id
    std::string component;  // for log events
  };

  // The samples cutoff, after the remote_write hold; counts and moves lagging cursors.
  TimestampMs HoldForRemotes(TimestampMs raw_cutoff_ms);

  SQLite::Database& db_;
  const int64_t batch_rows_;
  const int64_t hold_max_ms_;
  TimestampMs samples_cutoff_ = 0;
  TimestampMs raw_cutoff_ = 0;
  TimestampMs rollup_cutoff_ = 0;
  TimestampMs span_cutoff_ = 0;
  std::vector<Task> tasks_;
  size_t next_ = 0;
  int64_t deleted_ = 0;
  bool series_deleted_ = false;
  // The series ids one statement looks at (Step()), and the largest id when the pass began
  // (series made later have samples: nothing to delete).
  static constexpr int64_t kSeriesWindowIds = 50'000;
  int64_t series_max_id_ = 0;
};

}  // namespace obsmon::storage
