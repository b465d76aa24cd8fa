// The public face of storage/: open a database, write batches from one writer thread, read with
// connections of your own. Everything SQLite stays inside storage/; callers see Status values,
// never SQLiteCpp exceptions. The schema is an interface users query with `sqlite3`
// (docs/storage.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "core/run_span.h"
#include "core/status.h"
#include "core/probe_state_source.h"

namespace obsmon::storage {

struct StorageOptions {
  std::string path = "obsmon.db";
  // Raw probe runs and samples older than this are deleted (in small batches); hourly rollups
  // are kept for rollup_retention_ms.
  int64_t retention_ms = 35LL * 86'400'000;
  int64_t rollup_retention_ms = 400LL * 86'400'000;
  // Group commit: a batch waits at most this long; one with counter increments never waits.
  // (config/config.h says why 1 s.)
  int64_t commit_interval_ms = 1'000;
  // How often the writer moves the heads' rows older than Head::kLagMs into the tables by series
  // and by probe (storage/head.h). Each move changes one leaf page per series and per probe, so
  // a longer interval writes fewer pages (at 1,000 probes 60 s wrote 58-66 % fewer bytes than 15 s,
  // docs/benchmarks.md) and leaves a bigger head for reads of recent data to scan.
  int64_t head_move_interval_ms = 60'000;
  // Batches waiting for the writer, and their rows (runs, samples, log events...); beyond either
  // Enqueue() drops and counts. The rows bound the queue's memory (~100-200 bytes a row).
  size_t queue_capacity = 65'536;
  size_t queue_capacity_rows = 500'000;
  // Wall and steady time for retention cutoffs and its period; tests pass a FakeClock.
  const Clock* clock = &SystemClock::Instance();
  // log_events kept per (component, UTC day); the rest are counted in the counter
  // obsmon_log_events_dropped_total{component="..."} instead of stored.
  int64_t max_log_events_per_day = 1000;
  // Retention runs this often (steady clock) and deletes at most this many rows per statement.
  int64_t retention_interval_ms = 5 * 60'000;
  int64_t retention_batch_rows = 5000;
  // Samples a configured remote_write destination has not acknowledged are kept past
  // retention_ms (table remote_write_cursors), but at most this much longer; 0 = no limit.
  // What is deleted unsent is counted per remote (docs/remote-write.md, "Retention").
  int64_t remote_write_hold_max_ms = 0;
  // One transaction takes at most this many batches / rows (bounds a transaction's duration).
  size_t max_batches_per_commit = 4096;
  size_t max_rows_per_commit = 100'000;
  // After a failed transaction (disk full ...) the writer waits this long before retrying.
  int64_t retry_backoff_ms = 1000;
  // At Stop(), a transaction that fails because another connection holds the write lock (a
  // `sqlite3` shell's open write transaction) is tried again until this long after Stop() was
  // called, then what is queued is given up and counted lost; any other failure (disk full) is
  // given up at once. Under systemd's default stop timeout (90 s). Fresh eyes, issue 17: a
  // SIGTERM during a 10 s write lock lost 64 batches after one attempt.
  int64_t stop_lock_wait_ms = 10'000;
  // Optional cap on the database size (PRAGMA max_page_count); 0 = none. Beyond it writes fail
  // like a full disk (kept and retried).
  uint64_t max_database_bytes = 0;
  // Called when a batch carrying probe state (WriteBatch::has_state, with a state_epoch) was
  // accepted by Enqueue() but will never be written (refused for its data, or dropped while
  // retrying a failing disk): that probe's in-memory cursors and counters are ahead of what is
  // stored, so it must re-read its state (and Fence) before it runs again. The writer has
  // already fenced the lost epoch, so the probe's later batches of that epoch lose their state
  // part too. Called on the writer thread, without locks held; must not call back into Writer.
  std::function<void(const ProbeKey&)> on_state_lost;
  // WAL policy (docs/storage.md "The WAL"). After a checkpoint SQLite truncates the WAL to at
  // most this size (PRAGMA journal_size_limit), and when the writer has been idle for
  // checkpoint_idle_ms (steady clock) with a non-empty WAL it runs wal_checkpoint(TRUNCATE), so
  // a burst does not leave a large WAL behind. A checkpoint that readers block is retried at
  // the next idle period.
  int64_t journal_size_limit_bytes = 64LL << 20;
  int64_t checkpoint_idle_ms = 30'000;
  // PRAGMA wal_autocheckpoint: a commit that leaves the WAL at this many pages or more runs a
  // checkpoint. SQLite's 1,000 checkpointed every 1.5 s at 100 probes at 1 s (each run dirties
  // about seven pages: its run row, five samples, a span); a checkpoint copies each page once
  // however often it was committed, so 10 times the WAL copies far fewer (docs/storage.md,
  // "The WAL"). 10,000 pages are 40 MiB, under journal_size_limit.
  int64_t wal_autocheckpoint_pages = 10'000;
  // How long a statement waits for a lock another connection holds (an open sqlite3 shell, a
  // .backup) before it fails and is retried.
  int64_t busy_timeout_ms = 5000;
  // The cap of the writer's SQLite page cache, in bytes: resident memory. Within it the cache is
  // sized to the work, 7 KiB per series written in the last minute and at least 2 MiB
  // (storage/cache_sizer.h): 100 http probes (500 series) get 3.4 MiB, 1,000 get 35 MiB. Before
  // issue 17 the cache was this cap from the start, and RSS grew with the database until it was
  // full. docs/storage.md, "Memory".
  int64_t cache_bytes = 64LL << 20;
};

struct WriterStats {
  uint64_t queue_depth = 0;         // batches waiting now
  uint64_t queue_rows = 0;          // their rows (runs, samples, events...) now
  uint64_t queue_bytes = 0;         // what they hold on the heap now (estimated from sizes)
  uint64_t committed_batches = 0;   // total
  uint64_t committed_rows = 0;      // runs + samples + events committed, total
  uint64_t dropped_batches = 0;     // refused because the queue was full, total
  uint64_t dropped_samples = 0;     // samples left out of batches kept without them, total
  uint64_t write_errors = 0;        // failed transactions, total (the batches are retried)
  double last_commit_seconds = 0;   // duration of the last transaction
  double commit_seconds_sum = 0;    // sum of all transaction durations
  uint64_t commits = 0;             // number of transactions
  std::string last_error;           // empty when the last transaction succeeded
  uint64_t rejected_batches = 0;    // batches whose data SQLite refused (not retried), total
  uint64_t lost_batches = 0;        // accepted batches dropped while failing to write, total
  uint64_t dropped_log_events = 0;  // log events over the per-day cap (counted, not stored)
  // Rows deleted by retention, total.
  uint64_t retention_deleted_rows = 0;
  // Late runs (older than their probe's last stored run) refused because retention had deleted
  // raw runs needed to place them in probe_spans exactly; also counted in the persisted counter
  // obsmon_storage_dropped_late_runs_total{component="..."} (docs/storage.md).
  uint64_t dropped_late_runs = 0;
  // Batches whose state part (log lines, cursors, counters) was dropped because their probe had
  // re-read its state since (a reload rebuilt it, or an earlier batch of it was lost): their
  // lines are counted by the newer instance instead. Their runs and samples were written.
  uint64_t superseded_batches = 0;
  // The WAL file's size now, and the idle TRUNCATE checkpoints run / blocked by readers.
  uint64_t wal_bytes = 0;
  uint64_t checkpoints = 0;
  uint64_t checkpoints_busy = 0;
  // Samples and runs moved out of samples_head and probe_runs_head (storage/head.h), every 15 s.
  uint64_t head_rows_moved = 0;
  // Times the stored floor of the head was wrong (a user's edit) and was set again from the data.
  uint64_t head_floor_repairs = 0;
  // Memory the writer connection's page cache holds now (SQLITE_DBSTATUS_CACHE_USED), read on the
  // writer thread after each transaction; at most about StorageOptions::cache_bytes.
  uint64_t cache_bytes = 0;
  // Series whose ids the writer keeps in memory now (at most 50,000, about 400 bytes each;
  // started over when full), read after each transaction like cache_bytes.
  uint64_t series_id_cache_entries = 0;
  // Memory SQLite holds now in this process, every connection together (sqlite3_memory_used():
  // page caches, prepared statements, schemas; a report's read connection while it runs).
  uint64_t sqlite_memory_bytes = 0;
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
  [[nodiscard]] virtual bool Enqueue(WriteBatch batch) = 0;
  // As Enqueue(), but `batch` is moved from only when it is queued: a refused batch stays with
  // the caller, which may send its probe state (log lines, cursors, counters) with the probe's
  // next batch (runtime/storage_sink.h), so that no line is lost and none read twice. A refusal
  // does not fence the probe's epoch: the refused batch is the newest of its key, and its state
  // is the caller's to keep or drop. The default copies (for fakes of Writer).
  [[nodiscard]] virtual bool EnqueueOrKeep(WriteBatch& batch) { return Enqueue(batch); }
  // Blocks until everything enqueued before the call is committed: Ok. Returns the error
  // instead while the writer is failing (its last transaction failed: disk full ...; the batches
  // stay queued and are retried), when a batch was lost or refused meanwhile, or when stopped.
  virtual Status Flush() = 0;
  // Drains the queue, commits and stops the thread. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
  virtual WriterStats Stats() const = 0;
  // Runs retention once now (also run by the writer thread every few minutes).
  virtual Status RunRetention() = 0;
  // Tells the writer that `key`'s probe is about to re-read its state from storage at `epoch`:
  // returns once every batch of `key` with an older state_epoch is either committed or will
  // have its state part dropped, so that what the probe reads next is exactly what will count.
  // Runs on the writer thread (between transactions). Writers without a queue (test fakes)
  // have nothing to fence.
  virtual Status Fence(const ProbeKey& key, uint64_t epoch) { return Status::Ok(); }
  // Runs wal_checkpoint(TRUNCATE) now (also run when idle; see StorageOptions).
  virtual Status Checkpoint() { return Status::Ok(); }
  // The earliest sample time of the batches accepted and not committed yet (queued, in the
  // transaction being written, or waiting for a retry); TimestampMs max when there are none. A
  // reader that asks first and then reads the samples stamped before it reads every one of them
  // that will be stored, however long a commit is held up (a `sqlite3` write lock, a full disk):
  // remote_write's senders read no further (docs/remote-write.md, "The settle delay"). Batches
  // enqueued after the question are the caller's to bound (a run is enqueued when it ends).
  // (Not pure so that fakes of Writer need not implement it: theirs commit at once.)
  virtual TimestampMs UncommittedSamplesFrom() const {
    return std::numeric_limits<TimestampMs>::max();
  }
  // Changes the database size cap (0 = none) at run time; see StorageOptions.
  // (Not pure so that fakes of Writer need not implement it.)
  virtual Status SetMaxDatabaseBytes(uint64_t bytes) {
    return Status::Unavailable("SetMaxDatabaseBytes is not supported by this writer");
  }
};

// One probe's hour in `rollup_hourly` (kept for rollup_retention_ms, longer than raw runs).
struct HourlyRollup {
  ProbeKey key;
  ProbeRole role = ProbeRole::kHealth;  // the probe's latest configured role
  TimestampMs hour_ms = 0;              // start of the UTC hour
  int64_t runs = 0;
  int64_t up = 0;
  int64_t down = 0;
  double duration_sum = 0;  // seconds, all runs
  double duration_min = 0;
  double duration_max = 0;
  double up_duration_sum = 0;  // seconds, successful runs
  // Successful runs' durations in LatencyHistogram::Encode() form (storage/latency_histogram.h).
  std::string latency_hist;
};

// Successful runs' durations of one probe in one UTC hour (see Reader::SuccessDurations).
struct HourDurations {
  ProbeKey key;
  ProbeRole role = ProbeRole::kHealth;  // the probe's latest configured role
  TimestampMs hour_ms = 0;              // start of the UTC hour
  std::vector<double> seconds;          // ascending
};

// Half-open [first, second) spans of wall time, sorted and disjoint (maintenance windows).
using Exclusions = std::span<const std::pair<TimestampMs, TimestampMs>>;

// What reads SuccessDurations' groups one at a time, in one or more passes over the same groups
// (Reader::StreamSuccessDurations): an exact percentile selection that holds only a bounded part
// of the values (report/latency_selection.h) reads them again to keep what it needs.
class HourDurationsPasses {
 public:
  virtual ~HourDurationsPasses() = default;
  // One group. `group` is the reader's, valid only during the call; it must not call the reader.
  virtual void Visit(const HourDurations& group) = 0;
  // Called after the last group of each pass: true to be given every group again, in the same
  // order and from the same snapshot of the database.
  virtual bool AnotherPass() = 0;
};

// [from_ms, to_ms) cut into consecutive chunks of chunk_ms from from_ms, the last cut at to_ms
// (chunk_ms <= 0: one chunk); always at least one, [from_ms, from_ms) when the window is empty
// (its spans before still say which probes take part). For Reader::StreamRunSpans.
inline std::vector<std::pair<TimestampMs, TimestampMs>> SpanChunks(TimestampMs from_ms,
                                                                    TimestampMs to_ms,
                                                                    int64_t chunk_ms) {
  std::vector<std::pair<TimestampMs, TimestampMs>> chunks;
  TimestampMs c0 = from_ms;
  do {
    const TimestampMs c1 = chunk_ms <= 0 || to_ms - c0 <= chunk_ms ? to_ms : c0 + chunk_ms;
    chunks.emplace_back(c0, std::max(c0, c1));
    c0 = c1;
  } while (c0 < to_ms);
  return chunks;
}

// What a read connection may hold while it is open. The default suits a report read once (the
// CLI, the API): the file mapped, 16 MiB of pages. The mapped pages a report touches count in
// the process's RSS while the connection is open: the daemon's refresh of every component's
// window, every 15 s, showed as 360 MB of RSS at 1,000 probes (a 256 MiB map of a 200 MB
// database) where the rest was 110 MB. kLiveRead is what the daemon's refresh uses: no map, a
// small cache, pages copied through read() from the kernel's page cache instead.
struct ReadMemory {
  int64_t mmap_bytes = 256LL << 20;  // PRAGMA mmap_size; 0: no map
  int64_t cache_bytes = 16LL << 20;  // PRAGMA cache_size (at least 64 KiB)
};
inline constexpr ReadMemory kLiveRead{0, 2LL << 20};

// A read connection. Not thread-safe: one Reader per thread. Safe to use while a Writer (in this
// or another process) writes: WAL readers see the last committed state.
class Reader : public ProbeStateSource {
 public:
  static Result<std::unique_ptr<Reader>> Open(const std::string& path,
                                              const ReadMemory& memory = {});
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
  // The same samples handed to `visit` one at a time, in the same order, without holding them
  // all (a week of a log probe's counters every refresh: 100,000s of samples). `labels` stays
  // valid until the next series begins. This default reads them all with Samples.
  using SampleVisitor = std::function<void(const Labels& labels, TimestampMs ts_ms, double value)>;
  virtual Status StreamSamples(const std::string& name, const Labels& match, TimestampMs from_ms,
                               TimestampMs to_ms, const SampleVisitor& visit) {
    auto all = Samples(name, match, from_ms, to_ms);
    if (!all.ok()) return all.status();
    for (const Sample& s : *all) visit(s.labels, s.ts_ms, s.value);
    return Status::Ok();
  }
  // Every sample with from_ms <= ts_ms < to_ms of the series whose metric `wanted` accepts,
  // handed to `visit` one series at a time (its points in time order; valid during the call),
  // so that what is held is one series, however many there are: what the alert rules'
  // in-memory series are refilled from at start (only the metrics the rules can select; the
  // whole hour of every metric, read into memory first, took a restarted daemon to 700 MB:
  // fresh eyes, stop 66). (Not pure so that fakes of Reader need not implement it.)
  using SeriesPointsVisitor =
      std::function<void(const std::string& name, const Labels& labels,
                         std::span<const std::pair<TimestampMs, double>> points)>;
  virtual Status StreamRecentSeries(TimestampMs from_ms, TimestampMs to_ms,
                                    const std::function<bool(const std::string&)>& wanted,
                                    const SeriesPointsVisitor& visit) {
    return Status::Unavailable("StreamRecentSeries is not supported by this reader");
  }
  // Every sample of every series with from_ms <= ts_ms < to_ms, ordered by series then time;
  // fails when there are more than `limit` (a caller that must hold them all says how many it
  // can): remote_write's window. (Not pure so that fakes of Reader need not implement it.)
  virtual Result<std::vector<Sample>> AllSamples(TimestampMs from_ms, TimestampMs to_ms,
                                                 size_t limit) {
    return Status::Unavailable("AllSamples is not supported by this reader");
  }
  // Components that have any stored probe run.
  virtual Result<std::vector<std::string>> Components() = 0;
  // The newest run of every probe (for the current state after a restart).
  virtual Result<std::vector<ProbeRun>> LatestRuns() = 0;
  // All persisted counters.
  virtual Result<std::vector<CounterValue>> AllCounters() = 0;
  // Hourly rollups of every probe of `component` with from_ms <= hour_ms < to_ms, ordered by
  // probe then hour. (Not pure so that fakes of Reader need not implement it.)
  virtual Result<std::vector<HourlyRollup>> Rollups(const std::string& component,
                                                    TimestampMs from_ms, TimestampMs to_ms) {
    return Status::Unavailable("Rollups is not supported by this reader");
  }
  // The state spans (core/run_span.h) of every probe of `component`: those with
  // from_ms <= start_ms < to_ms, plus for each probe its last span starting before from_ms (its
  // coverage may reach into the window). Ordered by probe then start. Equal to
  // CompressRuns(every stored run of the component) restricted the same way, whatever order the
  // runs were written in. Spans are kept as long as hourly rollups (and never shorter than raw
  // runs), and a span deleted by retention is simply absent. A late run whose span lost raw runs
  // to retention cannot be placed exactly: the writer refuses it (WriterStats::dropped_late_runs),
  // so "stored" holds. See docs/storage.md, probe_spans.
  virtual Result<std::vector<RunSpan>> RunSpans(const std::string& component, TimestampMs from_ms,
                                                TimestampMs to_ms) {
    return Status::Unavailable("RunSpans is not supported by this reader");
  }
  // RunSpans of [from_ms, to_ms) chunk by chunk (SpanChunks), in one read transaction where the
  // reader has them: `visit` gets each chunk's RunSpans(c0, c1) (it may take them) and the
  // chunk, so that a report of a flapping component's week holds a few hours of its spans at a
  // time, not the week's. Stops at the first status visit returns that is not OK.
  using SpanChunkVisitor =
      std::function<Status(std::vector<RunSpan>& spans, TimestampMs c0, TimestampMs c1)>;
  virtual Status StreamRunSpans(const std::string& component, TimestampMs from_ms,
                                TimestampMs to_ms, int64_t chunk_ms,
                                const SpanChunkVisitor& visit) {
    for (const auto& [c0, c1] : SpanChunks(from_ms, to_ms, chunk_ms)) {
      auto spans = RunSpans(component, c0, c1);
      if (!spans.ok()) return spans.status();
      if (Status s = visit(*spans, c0, c1); !s.ok()) return s;
    }
    return Status::Ok();
  }
  // Runs of the probes of `component` whose (latest configured) role is `role`, with
  // from_ms <= ts_ms < to_ms (nothing before the window), ordered by probe then time.
  virtual Result<std::vector<ProbeRun>> RunsOfRole(const std::string& component, ProbeRole role,
                                                   TimestampMs from_ms, TimestampMs to_ms) {
    return Status::Unavailable("RunsOfRole is not supported by this reader");
  }
  // Durations of the successful runs of the probes of `component` with role `role`, started in
  // [from_ms, to_ms) and outside `excluded`, grouped by probe and UTC hour (groups without a
  // run are left out), ordered by probe then hour, each group ascending. Whole hours are read
  // from the sealed per-hour rows (a few rows a day instead of one per run); partial hours,
  // hours cut by an exclusion and hours not sealed yet from the runs themselves: the result
  // is the same either way.
  virtual Result<std::vector<HourDurations>> SuccessDurations(const std::string& component,
                                                              ProbeRole role, TimestampMs from_ms,
                                                              TimestampMs to_ms,
                                                              Exclusions excluded) {
    return Status::Unavailable("SuccessDurations is not supported by this reader");
  }
  // The groups SuccessDurations returns, handed to `passes` one at a time, as many passes as it
  // asks for, all from one snapshot. The SQLite reader holds one group (an hour of one probe) at
  // a time, however long the window; this default reads them all once and replays them.
  virtual Status StreamSuccessDurations(const std::string& component, ProbeRole role,
                                        TimestampMs from_ms, TimestampMs to_ms,
                                        Exclusions excluded, HourDurationsPasses& passes) {
    auto groups = SuccessDurations(component, role, from_ms, to_ms, excluded);
    if (!groups.ok()) return groups.status();
    do {
      for (const HourDurations& g : *groups) passes.Visit(g);
    } while (passes.AnotherPass());
    return Status::Ok();
  }
  // The persisted counter named `name` with exactly `labels`, or NotFound.
  virtual Result<double> CounterTotal(const std::string& name, const Labels& labels) {
    return Status::Unavailable("CounterTotal is not supported by this reader");
  }

  // ProbeStateSource. These cannot return a Status: when a read fails they return an empty list
  // and remember the failure in state_error(). The caller must check state_error() after a
  // probe's Restore() and not run the probe on a failed restore (it would count lines twice).
  std::vector<LogCursor> LogCursors(const ProbeKey& key) override = 0;
  std::vector<CounterValue> Counters(const ProbeKey& key) override = 0;
  std::optional<Sample> LatestSample(const std::string& name, const Labels& match) override {
    return std::nullopt;
  }
  // The first failure of LogCursors()/Counters() since the last call (which clears it).
  virtual Status TakeStateError() { return Status::Ok(); }
};

}  // namespace obsmon::storage
