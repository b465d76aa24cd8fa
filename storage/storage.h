// The public face of storage/: open a database, write batches from one writer thread, read with
// connections of your own. Everything SQLite stays inside storage/; callers see Status values,
// never SQLiteCpp exceptions. The schema is an interface users query with `sqlite3`
// (docs/storage.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "core/status.h"
#include "probes/probe.h"

namespace obsmon::storage {

struct StorageOptions {
  std::string path = "obsmon.db";
  // Raw probe runs and samples older than this are deleted (in small batches); hourly rollups
  // are kept for rollup_retention_ms.
  int64_t retention_ms = 35LL * 86'400'000;
  int64_t rollup_retention_ms = 400LL * 86'400'000;
  // Group commit: the writer commits what it has at least this often (bounds crash loss).
  int64_t commit_interval_ms = 200;
  // Batches waiting for the writer; beyond it Enqueue() drops and counts.
  size_t queue_capacity = 65'536;
  const Clock* clock = &SystemClock::Instance();
};

struct WriterStats {
  uint64_t queue_depth = 0;          // batches waiting now
  uint64_t committed_batches = 0;    // total
  uint64_t committed_rows = 0;       // runs + samples + events committed, total
  uint64_t dropped_batches = 0;      // refused because the queue was full, total
  uint64_t write_errors = 0;         // failed transactions, total (the batches are retried)
  double last_commit_seconds = 0;    // duration of the last transaction
  double commit_seconds_sum = 0;     // sum of all transaction durations
  uint64_t commits = 0;              // number of transactions
  std::string last_error;            // empty when the last transaction succeeded
};

// Owns the single writing connection and its thread. Thread-safe.
class Writer {
 public:
  // Opens (creating and migrating as needed) the database at options.path and starts the writer
  // thread. Fails with a clear Status if the file is not a database, is locked, or is from a
  // newer obsmon.
  static Result<std::unique_ptr<Writer>> Start(const StorageOptions& options);
  virtual ~Writer() = default;

  // Queues one batch, committed atomically (all of it or none). Never blocks; returns false and
  // counts a drop when the queue is full.
  virtual bool Enqueue(WriteBatch batch) = 0;
  // Blocks until everything enqueued before the call is committed (or failed).
  virtual Status Flush() = 0;
  // Drains the queue, commits and stops the thread. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
  virtual WriterStats Stats() const = 0;
  // Runs retention once now (also run by the writer thread every few minutes).
  virtual Status RunRetention() = 0;
};

// A read connection. Not thread-safe: one Reader per thread. Safe to use while a Writer (in this
// or another process) writes: WAL readers see the last committed state.
class Reader : public ProbeStateSource {
 public:
  static Result<std::unique_ptr<Reader>> Open(const std::string& path);
  virtual ~Reader() = default;

  // Runs of every probe of `component` with from_ms <= ts_ms < to_ms, ordered by probe then
  // time, plus for each probe the last run before from_ms (its coverage may reach into the
  // window).
  virtual Result<std::vector<ProbeRun>> ProbeRuns(const std::string& component, TimestampMs from_ms,
                                                  TimestampMs to_ms) = 0;
  // Matched log lines of `component` in [from_ms, to_ms), oldest first, at most `limit`.
  virtual Result<std::vector<LogEvent>> LogEvents(const std::string& component,
                                                  TimestampMs from_ms, TimestampMs to_ms,
                                                  size_t limit) = 0;
  // Samples of series named `name` whose labels include every pair of `match`, in
  // [from_ms, to_ms), ordered by series then time.
  virtual Result<std::vector<Sample>> Samples(const std::string& name, const Labels& match,
                                              TimestampMs from_ms, TimestampMs to_ms) = 0;
  // Components that have any stored probe run.
  virtual Result<std::vector<std::string>> Components() = 0;
  // The newest run of every probe (for the current state after a restart).
  virtual Result<std::vector<ProbeRun>> LatestRuns() = 0;
  // All persisted counters.
  virtual Result<std::vector<CounterValue>> AllCounters() = 0;

  // ProbeStateSource
  std::vector<LogCursor> LogCursors(const ProbeKey& key) override = 0;
  std::vector<CounterValue> Counters(const ProbeKey& key) override = 0;
};

}  // namespace obsmon::storage
