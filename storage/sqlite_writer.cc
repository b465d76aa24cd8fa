// The SQLite Writer: one thread owns the connection; producers only touch the bounded queue.
//
// Group commit: the thread holds the oldest queued batch up to commit_interval_ms, then takes
// everything queued (up to max_batches_per_commit / max_rows_per_commit) into ONE transaction, so
// the runs of many probes share it. A batch with counter increments (a log probe run that read
// lines, a codecarbon run that read rows, a process restart), a Flush(), or a long queue ends
// the wait at once: what is queued then is committed now, still in one transaction per commit.
// With synchronous=NORMAL in WAL mode a commit does not fsync; a process crash loses only what
// was not yet committed.
//
// Failures: a transient error (disk full, I/O, busy) rolls back and puts the batches back at the
// head of the queue to be retried after retry_backoff_ms; if the queue then exceeds its capacity
// the oldest batches are dropped and counted in lost_batches. An error caused by the data itself
// is isolated by retrying the group one batch per transaction; the refused batch is counted in
// rejected_batches. Every failed transaction counts in write_errors with last_error.
//
// Probe state: a batch carrying a probe's state (log lines, cursors, counters) that is lost after
// Enqueue() accepted it fences that probe's epoch and tells the daemon (on_state_lost), which
// re-reads the probe's state before its next run (Fence). Batches of an older epoch then keep
// their runs and samples but lose their state part: every log line counts exactly once. A batch
// refused at Enqueue (queue full) is not fenced: it stays the caller's (EnqueueOrKeep).
//
// The database file: the writer checks before each transaction that its path still names the
// file it opened (a deleted or replaced database is a failure, not writes into an unlinked
// inode), and checkpoints the WAL with TRUNCATE when idle.
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/heap_size.h"
#include "core/mutex.h"
#include "core/thread_name.h"
#include "storage/batch_applier.h"
#include "storage/database.h"
#include "storage/lock_file.h"
#include "storage/retention.h"
#include "storage/storage.h"

namespace obsmon::storage {

namespace {

// SQLite names the WAL and shm after the database's real path (symlinks resolved); the database
// itself is checked under the configured name (a symlink pointed elsewhere is a replacement).
std::string WalPathBase(const std::string& path, bool wal_or_shm) {
  if (!wal_or_shm) return path;
  std::error_code ec;
  auto real = std::filesystem::canonical(path, ec);
  return ec ? path : real.string();
}

size_t RowsOf(const WriteBatch& b) {
  return b.runs.size() + b.samples.size() + b.log_events.size() + b.log_cursors.size() +
         b.counters.size();
}

// What a queued batch holds on the heap, for /metrics (obsmon_storage_queue_bytes): its
// vectors and the strings too long to live inside their object, as malloc allocates them.
// Label sets are shared with the probe that made them (copy on write) and not counted.
size_t BytesOf(const WriteBatch& b) {
  size_t n = VectorHeapBytes(b.runs) + VectorHeapBytes(b.samples) +
             VectorHeapBytes(b.log_events) + VectorHeapBytes(b.log_cursors) +
             VectorHeapBytes(b.counters);
  n += StringHeapBytes(b.state_key.component) + StringHeapBytes(b.state_key.probe);
  for (const ProbeRun& r : b.runs) {
    n += StringHeapBytes(r.key.component) + StringHeapBytes(r.key.probe) +
         StringHeapBytes(r.reason);
  }
  for (const Sample& x : b.samples) n += StringHeapBytes(x.name);
  for (const LogEvent& e : b.log_events) {
    n += StringHeapBytes(e.file) + StringHeapBytes(e.severity) + StringHeapBytes(e.line);
  }
  for (const LogCursor& c : b.log_cursors) {
    n += StringHeapBytes(c.path) + StringHeapBytes(c.fingerprint);
  }
  for (const CounterDelta& c : b.counters) n += StringHeapBytes(c.name);
  return n;
}

// Releases `mu` for its scope and takes it back at the end: the writer thread does its slow work
// (SQLite, the daemon's callbacks) without the lock, so that producers never wait for the disk.
// Unlike releasing through MutexLock::native(), the analysis sees it, and flags a guarded field
// touched in the scope. The MutexLock that holds `mu` is unaware of the gap and must not be used
// (for a wait) within it.
class SCOPED_CAPABILITY MutexUnlock {
 public:
  explicit MutexUnlock(Mutex& mu) RELEASE(mu) : mu_(mu) { mu_.Unlock(); }
  // RELEASE() ends the scope (it is the analysis's word for a scoped object's destructor); clang
  // 14 reads ACQUIRE() there as a second acquisition.
  ~MutexUnlock() RELEASE() { mu_.Lock(); }
  MutexUnlock(const MutexUnlock&) = delete;
  MutexUnlock& operator=(const MutexUnlock&) = delete;

 private:
  Mutex& mu_;
};

class SqliteWriter final : public Writer {
 public:
  SqliteWriter(const StorageOptions& options, std::unique_ptr<LockFile> lock,
               std::unique_ptr<SQLite::Database> db, DatabaseFiles files)
      : options_(options),
        lock_(std::move(lock)),
        db_(std::move(db)),
        files_(files),
        applier_(*db_, options.max_log_events_per_day, options.clock, options.retention_ms,
                 options.cache_bytes, options.head_move_interval_ms),
        retention_(*db_, options.retention_batch_rows, options.remote_write_hold_max_ms) {
    retention_requests_.next_periodic =
        options_.clock->SteadyNow() + std::chrono::milliseconds(options_.retention_interval_ms);
    wal_.last_activity = options_.clock->SteadyNow();
    // After each checkpoint SQLite truncates the WAL to this size (throws before the thread
    // exists: Start() reports it).
    db_->execAndGet(fmt::format("PRAGMA journal_size_limit = {}", options_.journal_size_limit_bytes));
    db_->execAndGet(
        fmt::format("PRAGMA wal_autocheckpoint = {}", options_.wal_autocheckpoint_pages));
    thread_ = std::thread([this] {
      NameThisThread("obsmon-writer");
      Loop();
    });
  }

  ~SqliteWriter() override { Stop(); }

  bool Enqueue(WriteBatch batch) override { return EnqueueOrKeep(batch); }

  bool EnqueueOrKeep(WriteBatch& batch) override {
    MutexLock lock(mu_);
    size_t rows = RowsOf(batch);
    // Bounded by batches and by rows: a scrape of 49k series a second outran the writer and
    // the queue grew by gigabytes before reaching 65,536 batches (fresh eyes, issue 13, F2).
    bool rows_full = !queue_.empty() && queued_rows_ + rows > options_.queue_capacity_rows;
    // When rows are what is short, a batch gives up its samples before its runs: the runs are
    // the uptime evidence, the samples a target's metrics. Two scrapes of 49k series a second
    // lost a quarter of their runs here (fresh eyes, issue 13, second pass F2).
    if (rows_full && !batch.samples.empty() && rows > batch.samples.size() &&
        queued_rows_ + rows - batch.samples.size() <= options_.queue_capacity_rows) {
      stats_.dropped_samples += batch.samples.size();
      rows -= batch.samples.size();
      batch.samples.clear();
      batch.samples.shrink_to_fit();
      rows_full = false;
    }
    // The batches of a transaction under way count too: were it to fail and go back to the
    // queue's head, the queue would hold more than its capacity and lose its oldest batches,
    // which are accepted state (a fence and a re-read from the stored cursor: the lines of a
    // log rotated meanwhile were lost: fresh eyes). Refusing here keeps the state with
    // the caller instead (EnqueueOrKeep).
    if (stopping_ || queue_.size() + writing_batches_ >= options_.queue_capacity || rows_full) {
      ++stats_.dropped_batches;
      // Not fenced: the caller keeps the refused batch (EnqueueOrKeep), and its queued
      // predecessors of the same probe are older, so they commit their state as they are.
      return false;
    }
    queued_rows_ += rows;
    const size_t bytes = BytesOf(batch);
    queued_bytes_ += bytes;
    // Counter increments are what a user waits to see (a log probe's matched lines: the group
    // delay alone took as long as grep's whole scan of a warm 839 MB file, docs/benchmarks.md
    // "Log scanning"), and they come from few, slow runs; the frequent small runs (http, tcp)
    // have none and keep sharing transactions. A log run that read nothing has none either.
    const bool commit_now = !batch.counters.empty();
    const TimestampMs first_sample = FirstSampleOf(batch);
    queue_.push_back(
        {++last_seq_, std::move(batch), options_.clock->SteadyNow(), first_sample, bytes});
    if (commit_now) commit_now_seq_ = last_seq_;  // everything up to it: commit without the wait
    // Group commit: the writer sleeps until the oldest queued batch is commit_interval_ms old, so
    // it only needs waking when the queue was empty (to start that timer), has grown large, or a
    // batch must not wait.
    if (queue_.size() == 1 || queue_.size() >= kEagerCommitBatches || commit_now) {
      work_cv_.notify_one();
    }
    return true;
  }

  Status Flush() override {
    MutexLock lock(mu_);
    const uint64_t target = last_seq_;
    const uint64_t lost_before = stats_.lost_batches + stats_.rejected_batches;
    flush_target_ = std::max(flush_target_, target);  // commit now, without the group delay
    work_cv_.notify_one();
    // While the writer is failing (its last attempt failed, and neither a commit nor a settings
    // change happened since) Flush returns that error at once: batches commit in order, so ours
    // cannot commit before the failing ones. They all stay queued and are retried.
    auto failed_for_us = [&] {
      mu_.AssertHeld();  // called with the lock held, here and in the predicate below
      return failed_seq_ != 0;
    };
    done_cv_.wait(lock.native(), [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return resolved_seq_ >= target || failed_for_us() || thread_done_;
    });
    if (resolved_seq_ < target) {
      return failed_for_us() ? last_status_
                             : Status::Unavailable("storage writer stopped before flushing");
    }
    if (stats_.lost_batches + stats_.rejected_batches != lost_before) {
      return Status::IoError(
          fmt::format("some batches could not be written: {}", last_loss_reason_));
    }
    return Status::Ok();
  }

  void Stop() override {
    {
      MutexLock lock(mu_);
      if (!stopping_) {
        stop_deadline_ =
            options_.clock->SteadyNow() + std::chrono::milliseconds(options_.stop_lock_wait_ms);
      }
      stopping_ = true;
      work_cv_.notify_all();
    }
    std::call_once(join_once_, [this] {
      if (thread_.joinable()) thread_.join();
    });
  }

  TimestampMs UncommittedSamplesFrom() const override {
    MutexLock lock(mu_);
    TimestampMs first = writing_first_sample_;
    for (const Queued& q : queue_) first = std::min(first, q.first_sample);
    return first;
  }

  WriterStats Stats() const override {
    WriterStats s;
    {
      MutexLock lock(mu_);
      s = stats_;
      s.queue_depth = queue_.size();
      s.queue_rows = queued_rows_;
      // The queue's own nodes: a deque block of Queued entries each.
      s.queue_bytes = queued_bytes_ + queue_.size() * sizeof(Queued);
    }
    s.sqlite_memory_bytes =
        static_cast<uint64_t>(std::max<sqlite3_int64>(sqlite3_memory_used(), 0));
    struct stat st;  // stat() only: never open a descriptor of the database's files
    s.wal_bytes = ::stat((WalPathBase(options_.path, true) + "-wal").c_str(), &st) == 0
                      ? static_cast<uint64_t>(st.st_size)
                      : 0;
    return s;
  }

  Status Fence(const ProbeKey& key, uint64_t epoch) override {
    // On the writer thread, so that no transaction holding an older batch of `key` is half
    // done: after this returns, older batches are committed or will be stripped.
    return RunOnWriterThread(
        [this, key, epoch]() -> Status {
          MutexLock lock(mu_);
          uint64_t& fence = fences_[key];
          fence = std::max(fence, epoch);
          return Status::Ok();
        },
        /*settings_change=*/false);
  }

  Status Checkpoint() override {
    return RunOnWriterThread([this] { return CheckpointNow(); }, /*settings_change=*/false);
  }

  Status RunRetention() override {
    MutexLock lock(mu_);
    if (thread_done_ || stopping_) return Status::Unavailable("storage writer is stopped");
    const uint64_t ticket = retention_requests_.Take();
    work_cv_.notify_one();
    done_cv_.wait(lock.native(), [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return retention_requests_.Answered(ticket) || thread_done_;
    });
    if (!retention_requests_.Answered(ticket)) return Status::Unavailable("storage writer stopped");
    return retention_requests_.status;
  }

  Status SetMaxDatabaseBytes(uint64_t bytes) override {
    return RunOnWriterThread([this, bytes]() -> Status { return ApplyMaxBytes(bytes); },
                             /*settings_change=*/true);
  }

  // Called once by Start(), before the thread exists, with the options' cap.
  Status ApplyMaxBytes(uint64_t bytes) {
    try {
      int64_t page_size = db_->execAndGet("PRAGMA page_size").getInt64();
      // max_page_count cannot go below the current size; 0 restores SQLite's default cap.
      int64_t pages =
          bytes == 0 ? 4294967294LL : std::max<int64_t>(1, static_cast<int64_t>(bytes) / page_size);
      db_->execAndGet(fmt::format("PRAGMA max_page_count = {}", pages));
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "setting the database size cap");
    }
  }

 private:
  struct Queued {
    uint64_t seq;
    WriteBatch batch;
    // On the injected clock, as every wait of the writer: under a FakeClock a batch waits for
    // Flush(), Stop() or the test advancing time past the group-commit interval.
    SteadyTime enqueued;
    TimestampMs first_sample;  // FirstSampleOf(batch), for UncommittedSamplesFrom()
    size_t bytes = 0;          // BytesOf(batch) as enqueued
  };
  static bool IsLockError(int sqlite_code) {
    return (sqlite_code & 0xff) == SQLITE_BUSY || (sqlite_code & 0xff) == SQLITE_LOCKED;
  }
  static TimestampMs FirstSampleOf(const WriteBatch& batch) {
    TimestampMs first = std::numeric_limits<TimestampMs>::max();
    for (const Sample& s : batch.samples) first = std::min(first, s.ts_ms);
    return first;
  }
  // Beyond this many queued batches the writer commits without waiting for the interval.
  static constexpr size_t kEagerCommitBatches = 512;
  // RunRetention() takes a ticket and waits until a pass started after it has ended. A pass
  // also starts every retention_interval_ms on its own.
  struct RetentionRequests {
    uint64_t requested = 0;  // the newest ticket taken
    uint64_t started = 0;    // the newest ticket the running (or last) pass answers
    uint64_t completed = 0;  // every ticket up to this one has its answer
    Status status;           // the answer: how the last pass went
    SteadyTime next_periodic;

    uint64_t Take() { return ++requested; }
    // A caller waits for a pass that has not started yet.
    bool Waiting() const { return requested > started; }
    bool PeriodicDue(SteadyTime now) const { return now >= next_periodic; }
    void Start(SteadyTime next) {
      started = requested;
      next_periodic = next;
    }
    void Complete() { completed = started; }
    bool Answered(uint64_t ticket) const { return completed >= ticket; }
  };
  // After a transient failure, writing pauses for a while. Shutdown does not wait for the pause
  // (it tries once more, then gives up), nor does a settings change (which may have ended the
  // failure).
  class Backoff {
   public:
    void Start(SteadyTime until) { until_ = until; }
    void End() { until_.reset(); }
    void EndIfOver(SteadyTime now) {
      if (until_ && now >= *until_) until_.reset();
    }
    bool active() const { return until_.has_value(); }

   private:
    std::optional<SteadyTime> until_;
  };
  // When the WAL is worth a checkpoint: it holds commits and has been left alone for a while.
  struct WalActivity {
    SteadyTime last_activity;  // the last commit or checkpoint (tried)
    // Committed since the last checkpoint; true at start, for a WAL left by the last run.
    bool dirty = true;

    void Committed(SteadyTime now) {
      last_activity = now;
      dirty = true;
    }
    void Checkpointed(SteadyTime now, bool done) {
      last_activity = now;
      if (done) dirty = false;
    }
    // `idle` 0 turns idle checkpoints off.
    bool CheckpointDue(SteadyTime now, std::chrono::milliseconds idle) const {
      return idle.count() > 0 && dirty && now - last_activity >= idle;
    }
  };
  // A control task (Fence, Checkpoint, a settings change) run on the writer thread, which owns
  // the connection.
  struct Task {
    std::function<Status()> fn;
    std::shared_ptr<std::optional<Status>> result;  // set under mu_ when done
    // A settings change (a larger size cap ...) may end a failure: retry at once after it.
    bool settings_change = false;
  };

  Status RunOnWriterThread(std::function<Status()> fn, bool settings_change) {
    MutexLock lock(mu_);
    if (thread_done_ || stopping_) return Status::Unavailable("storage writer is stopped");
    auto done = std::make_shared<std::optional<Status>>();
    tasks_.push_back({std::move(fn), done, settings_change});
    work_cv_.notify_one();
    done_cv_.wait(lock.native(), [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return done->has_value() || thread_done_;
    });
    if (!done->has_value()) return Status::Unavailable("storage writer stopped");
    return **done;
  }

  // The writer thread. Each turn runs the control tasks, then waits (for the group-commit
  // interval, or for work) or writes one group of batches and takes one step of retention, so
  // that neither a long retention pass nor a stream of batches starves the other.
  void Loop() {
    MutexLock lock(mu_);
    const Clock& clock = *options_.clock;
    while (true) {
      DeliverLostState();
      RunTasks();
      backoff_.EndIfOver(clock.SteadyNow());
      const bool may_write = !queue_.empty() && (!backoff_.active() || stopping_);
      const bool retention_due =
          retention_requests_.Waiting() || retention_requests_.PeriodicDue(clock.SteadyNow());
      if (may_write && !retention_due && WaitedForGroupCommit(lock)) continue;
      if (!may_write && !retention_due && !retention_.active() && tasks_.empty()) {
        // When stopping, may_write ignores the backoff: nothing writable means an empty queue.
        if (Drained()) break;
        IdleTurn(lock);
        continue;
      }
      if (may_write) WriteQueuedBatches();
      RetentionTurn();
      if (Drained()) break;
    }
    thread_done_ = true;
    done_cv_.notify_all();
  }

  // Stop() was called and nothing is left: every accepted batch is written or counted lost, no
  // retention pass runs and no caller waits for a task.
  bool Drained() const REQUIRES(mu_) {
    return stopping_ && queue_.empty() && !retention_.active() && tasks_.empty();
  }

  // Control tasks go first: they are quick, and their callers wait.
  void RunTasks() REQUIRES(mu_) {
    while (!tasks_.empty()) {
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      Status result;
      {
        MutexUnlock unlocked(mu_);
        result = task.fn();
      }
      if (task.settings_change) {
        backoff_.End();   // settings changed (e.g. a larger size cap): retry at once
        failed_seq_ = 0;  // and the failure may be over: Flush waits for the retry
      }
      *task.result = std::move(result);  // published under mu_, after the state above
      done_cv_.notify_all();
    }
  }

  // What must not wait for the group-commit interval: it ends the wait at once.
  bool Urgent() const REQUIRES(mu_) {
    return stopping_ || flush_target_ > resolved_seq_ || commit_now_seq_ > resolved_seq_ ||
           queue_.size() >= kEagerCommitBatches || retention_requests_.Waiting() ||
           !tasks_.empty();
  }

  // Group commit: the oldest batch waits up to commit_interval_ms so that one transaction carries
  // many runs (a process crash loses at most that interval). Returns whether it waited, in which
  // case the turn starts over; false when the queue should be written now.
  bool WaitedForGroupCommit(MutexLock& lock) REQUIRES(mu_) {
    if (Urgent()) return false;
    const Clock& clock = *options_.clock;
    const SteadyTime due =
        queue_.front().enqueued + std::chrono::milliseconds(options_.commit_interval_ms);
    if (clock.SteadyNow() >= due) return false;
    clock.WaitUntil(lock.native(), work_cv_, due, [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return Urgent();
    });
    return true;
  }

  // Nothing to write, no retention to run: checkpoint the WAL if it has been idle long enough,
  // else sleep until there is work.
  void IdleTurn(MutexLock& lock) REQUIRES(mu_) {
    const Clock& clock = *options_.clock;
    const auto checkpoint_idle = std::chrono::milliseconds(options_.checkpoint_idle_ms);
    if (queue_.empty() && wal_.CheckpointDue(clock.SteadyNow(), checkpoint_idle)) {
      MutexUnlock unlocked(mu_);
      // Best effort while idle: a busy checkpoint is counted and retried at the next idle
      // period; an I/O error comes back on the next commit, which reports it.
      (void)CheckpointNow();
      return;
    }
    // Also wakes after a while (on the injected clock) to look at the backoff, the retention
    // period and the idle checkpoint again.
    const auto wait = std::chrono::milliseconds(backoff_.active() ? 50 : 1000);
    clock.WaitFor(lock.native(), work_cv_, wait, [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return stopping_ || !tasks_.empty() || !lost_state_.empty() ||
             retention_requests_.Waiting() || (!queue_.empty() && !backoff_.active());
    });
  }

  // Writes the oldest queued batches in one transaction. Flush callers are woken whatever
  // happened: their batches may be written, lost, or failing.
  void WriteQueuedBatches() REQUIRES(mu_) {
    std::vector<Queued> work = TakeCommitGroup();
    writing_batches_ = work.size();
    // Out of the queue and not committed yet: still uncommitted for UncommittedSamplesFrom().
    writing_first_sample_ = std::numeric_limits<TimestampMs>::max();
    for (const Queued& q : work) {
      writing_first_sample_ = std::min(writing_first_sample_, q.first_sample);
    }
    bool transient_failure;
    {
      MutexUnlock unlocked(mu_);
      transient_failure = WriteGroup(&work);
    }
    // Committed, lost, or back in the queue for a retry (which counts it there).
    writing_first_sample_ = std::numeric_limits<TimestampMs>::max();
    writing_batches_ = 0;
    DeliverLostState();  // before Flush() returns: its caller may look at the probe
    if (transient_failure && stopping_ &&
        !(last_failure_locked_ && options_.clock->SteadyNow() < stop_deadline_)) {
      GiveUpAtShutdown(work.size());
    } else if (transient_failure) {
      RequeueForRetry(std::move(work));
    }
    done_cv_.notify_all();
  }

  // The oldest queued batches, as many as one commit takes; at least one, so that a batch larger
  // than max_rows_per_commit still goes (alone).
  std::vector<Queued> TakeCommitGroup() REQUIRES(mu_) {
    std::vector<Queued> work;
    size_t rows = 0;
    while (!queue_.empty() && work.size() < options_.max_batches_per_commit &&
           (work.empty() || rows + RowsOf(queue_.front().batch) <= options_.max_rows_per_commit)) {
      const size_t batch_rows = RowsOf(queue_.front().batch);
      rows += batch_rows;
      queued_rows_ -= batch_rows;
      queued_bytes_ -= queue_.front().bytes;
      work.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return work;
  }

  // Stopping and still failing: give up rather than hang shutdown, and count the loss.
  void GiveUpAtShutdown(size_t unwritten) REQUIRES(mu_) {
    stats_.lost_batches += unwritten + queue_.size();
    last_loss_reason_ = "gave up at shutdown: " + last_status_.message();
    resolved_seq_ = last_seq_;
    queue_.clear();
    queued_rows_ = 0;
    queued_bytes_ = 0;
  }

  // Puts a failed group back for a retry after retry_backoff_ms, in order, ahead of anything
  // newer; if the queue then exceeds its capacity the oldest batches are lost.
  void RequeueForRetry(std::vector<Queued> work) REQUIRES(mu_) {
    failed_seq_ = std::max(failed_seq_, work.back().seq);
    for (auto it = work.rbegin(); it != work.rend(); ++it) {
      queued_rows_ += RowsOf(it->batch);
      queued_bytes_ += it->bytes;
      queue_.push_front(std::move(*it));
    }
    while (queue_.size() > options_.queue_capacity) {
      resolved_seq_ = std::max(resolved_seq_, queue_.front().seq);
      FenceLost(queue_.front().batch);
      queued_rows_ -= RowsOf(queue_.front().batch);
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
      ++stats_.lost_batches;
      last_loss_reason_ = "queue full while retrying: " + last_status_.message();
    }
    backoff_.Start(options_.clock->SteadyNow() +
                   std::chrono::milliseconds(options_.retry_backoff_ms));
  }

  // Retention: one small statement per turn, so queued writes interleave.
  void RetentionTurn() REQUIRES(mu_) {
    if (retention_requests_.Waiting() ||
        (!retention_.active() && retention_requests_.PeriodicDue(options_.clock->SteadyNow()))) {
      StartRetentionPass();
    }
    if (retention_.active() && stopping_) {
      // Shutdown must be quick: the next start's pass finishes the work.
      retention_.Abort();
      retention_requests_.status = Status::Unavailable("retention interrupted by shutdown");
      EndRetentionPass();
    }
    if (retention_.active()) {
      Status s;
      {
        MutexUnlock unlocked(mu_);
        s = RetentionStep();
      }
      if (!s.ok()) retention_requests_.status = s;
      if (!retention_.active()) EndRetentionPass();
    }
  }

  // Plans a pass, which answers every RunRetention() waiting now; the periodic one is due again
  // retention_interval_ms from now.
  void StartRetentionPass() REQUIRES(mu_) {
    const Clock& clock = *options_.clock;
    retention_requests_.Start(clock.SteadyNow() +
                              std::chrono::milliseconds(options_.retention_interval_ms));
    const TimestampMs now = clock.NowMs();
    Status s;
    {
      MutexUnlock unlocked(mu_);
      s = BeginRetention(now);
    }
    retention_requests_.status = s;
    if (!s.ok() || !retention_.active()) EndRetentionPass();
  }

  void EndRetentionPass() REQUIRES(mu_) {
    retention_requests_.Complete();
    done_cv_.notify_all();
  }

  Status BeginRetention(TimestampMs now) {
    try {
      retention_.Begin(now - options_.retention_ms, now - options_.rollup_retention_ms);
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "planning retention");
    }
  }

  Status RetentionStep() EXCLUDES(mu_) {
    try {
      int64_t n = retention_.Step();
      MutexLock lock(mu_);
      stats_.retention_deleted_rows += static_cast<uint64_t>(n);
      // Per-day event counts may be stale at the end of a pass; a cached id of a deleted series
      // would name no row at once.
      if (!retention_.active() || retention_.series_deleted()) applier_.ForgetCaches();
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      // Skip the rest of this pass; the next pass starts over.
      retention_.Abort();
      return StatusFromException(e, "retention");
    }
  }

  // Writes `work` (called without mu_). Returns true when it failed transiently: `work` then holds
  // exactly the batches still to write, to be kept; false when everything was resolved (written,
  // or refused as bad data).
  bool WriteGroup(std::vector<Queued>* work) EXCLUDES(mu_) {
    // Nothing goes into a database file that is no longer the one at our path: the batches wait
    // (bounded by the queue) for the file to come back, and health says why.
    if (Status same = CheckFiles(); !same.ok()) {
      RecordError(same);
      last_failure_locked_ = false;
      return true;
    }
    for (Queued& q : *work) StripSupersededState(&q.batch);
    std::vector<const WriteBatch*> ptrs;
    ptrs.reserve(work->size());
    for (const auto& q : *work) ptrs.push_back(&q.batch);
    const Clock& clock = *options_.clock;
    const SteadyTime t0 = clock.SteadyNow();
    ApplyResult r = applier_.Apply(ptrs);
    double secs = std::chrono::duration<double>(clock.SteadyNow() - t0).count();
    if (r.status.ok()) {
      RecordCommit(work->size(), r, secs, work->back().seq);
      return false;
    }
    RecordError(r.status);
    last_failure_locked_ = IsLockError(r.sqlite_code);
    if (IsTransientError(r.sqlite_code)) return true;
    // The data of some batch is refused: write them one by one to find and drop it.
    for (size_t i = 0; i < work->size(); ++i) {
      Queued& q = (*work)[i];
      StripSupersededState(&q.batch);  // a batch refused just before may have fenced this one
      const SteadyTime t1 = clock.SteadyNow();
      ApplyResult one = applier_.Apply({&q.batch});
      double s1 = std::chrono::duration<double>(clock.SteadyNow() - t1).count();
      if (one.status.ok()) {
        RecordCommit(1, one, s1, q.seq);
        continue;
      }
      RecordError(one.status);
      last_failure_locked_ = IsLockError(one.sqlite_code);
      if (IsTransientError(one.sqlite_code)) {
        // Keep only the batches not yet resolved: the written ones must not be written twice.
        work->erase(work->begin(), work->begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
      MutexLock lock(mu_);
      ++stats_.rejected_batches;
      FenceLost(q.batch);
      last_loss_reason_ = one.status.message();
      resolved_seq_ = std::max(resolved_seq_, q.seq);
    }
    return false;
  }

  // The database file, its WAL and its shared-memory index must still be the files this
  // connection opened. A deleted or replaced database: batches wait until it is back. A deleted
  // or replaced -wal or -shm is worse: our commits would go into a file no other process sees
  // (lost at a crash), and a new connection would build a second WAL index for the same
  // database. So the frames committed so far are checkpointed into the database file once, at
  // once (our descriptors still reach them), and writing stops until obsmon is restarted.
  Status CheckFiles() {
    if (Status s = CheckSameFile(options_.path, files_.db); !s.ok()) return s;
    for (auto [suffix, id] : {std::pair{"-wal", &files_.wal}, {"-shm", &files_.shm}}) {
      Status s = CheckSameFile(WalPathBase(options_.path, true) + suffix, *id);
      if (s.ok()) continue;
      std::string salvage;
      if (!wal_salvaged_) {
        wal_salvaged_ = true;
        sqlite3* handle = db_->getHandle();
        int rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                           nullptr);
        salvage = rc == SQLITE_OK ? "; the runs committed so far were checkpointed into the database"
                                  : std::string("; checkpointing them failed: ") + sqlite3_errstr(rc);
      }
      return Status::IoError(fmt::format(
          "{}{}; obsmon stops writing (one database must not have two WAL indexes): restart "
          "obsmon, which writes again after a new WAL",
          s.message(), salvage));
    }
    return Status::Ok();
  }

  // The daemon learns of lost probe state outside our lock (it may take its own locks).
  void DeliverLostState() REQUIRES(mu_) {
    if (lost_state_.empty()) return;
    std::vector<ProbeKey> keys;
    keys.swap(lost_state_);
    MutexUnlock unlocked(mu_);
    for (const auto& key : keys) options_.on_state_lost(key);
  }

  // A batch with probe state will never be written: its probe must not count on it. Batches of
  // the same epoch still queued lose their state part (their cursors are past the lost lines),
  // and the daemon is told to re-read the probe's state.
  void FenceLost(const WriteBatch& batch) REQUIRES(mu_) {
    if (batch.state_epoch == 0 || !batch.has_state()) return;
    uint64_t& fence = fences_[batch.state_key];
    fence = std::max(fence, batch.state_epoch + 1);
    if (options_.on_state_lost) lost_state_.push_back(batch.state_key);
  }

  // Drops the state part of a batch whose probe has re-read its state since it was made.
  void StripSupersededState(WriteBatch* b) EXCLUDES(mu_) {
    if (b->state_epoch == 0 || !b->has_state()) return;
    MutexLock lock(mu_);
    auto it = fences_.find(b->state_key);
    if (it == fences_.end() || b->state_epoch >= it->second) return;
    b->log_events.clear();
    b->log_cursors.clear();
    b->counters.clear();
    ++stats_.superseded_batches;
  }

  // wal_checkpoint(TRUNCATE): copies the WAL into the database and truncates it to zero bytes.
  // Readers that still use WAL frames block it; it then waits at most a moment (not the busy
  // timeout, which would stall writes) and is retried at the next idle period.
  Status CheckpointNow() EXCLUDES(mu_) {
    sqlite3* handle = db_->getHandle();
    sqlite3_busy_timeout(handle, 100);
    int log_frames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                       &checkpointed);
    sqlite3_busy_timeout(handle, static_cast<int>(options_.busy_timeout_ms));
    MutexLock lock(mu_);
    wal_.Checkpointed(options_.clock->SteadyNow(), rc == SQLITE_OK);
    if (rc == SQLITE_OK) {
      ++stats_.checkpoints;
      return Status::Ok();
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      ++stats_.checkpoints_busy;
      return Status::Unavailable("WAL checkpoint blocked by readers; retried when idle");
    }
    return Status::IoError(fmt::format("WAL checkpoint of {}: {}", options_.path,
                                       sqlite3_errstr(rc)));
  }

  void RecordCommit(size_t batches, const ApplyResult& r, double secs, uint64_t seq) EXCLUDES(mu_) {
    // Here, on the writer thread: the connection is opened without SQLite's mutex, so no other
    // thread may ask it anything.
    int cache_used = 0, unused_high = 0;
    sqlite3_db_status(db_->getHandle(), SQLITE_DBSTATUS_CACHE_USED, &cache_used, &unused_high, 0);
    MutexLock lock(mu_);
    stats_.cache_bytes = static_cast<uint64_t>(std::max(cache_used, 0));
    stats_.series_id_cache_entries = applier_.cached_series_ids();
    stats_.head_floor_repairs = static_cast<uint64_t>(applier_.head_floor_repairs());
    wal_.Committed(options_.clock->SteadyNow());
    stats_.committed_batches += batches;
    stats_.committed_rows += r.rows;
    stats_.dropped_log_events += r.dropped_events;
    stats_.dropped_late_runs += r.dropped_runs;
    stats_.head_rows_moved += static_cast<uint64_t>(r.head_rows_moved);
    stats_.last_commit_seconds = secs;
    stats_.commit_seconds_sum += secs;
    ++stats_.commits;
    stats_.last_error.clear();
    resolved_seq_ = std::max(resolved_seq_, seq);
    if (resolved_seq_ >= failed_seq_) failed_seq_ = 0;  // the failure is over
  }

  void RecordError(const Status& s) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++stats_.write_errors;
    ++stats_.commits;
    stats_.last_error = s.message();
    last_status_ = s;
  }

  const StorageOptions options_;
  std::unique_ptr<LockFile> lock_;
  std::unique_ptr<SQLite::Database> db_;  // used only by the writer thread (and before it starts)
  const DatabaseFiles files_;             // the database, WAL and shm files opened
  bool wal_salvaged_ = false;             // writer thread only: see CheckFiles()
  BatchApplier applier_;                  // writer thread only
  Retention retention_;                   // writer thread only

  mutable Mutex mu_;
  std::condition_variable work_cv_;  // wakes the writer thread
  std::condition_variable done_cv_;  // wakes Flush / RunRetention / task callers
  std::deque<Queued> queue_ GUARDED_BY(mu_);
  SteadyTime stop_deadline_ GUARDED_BY(mu_);  // Stop() + stop_lock_wait_ms
  // Whether WriteGroup's last failure was another connection's lock (SQLITE_BUSY or _LOCKED),
  // which Stop() waits out (stop_lock_wait_ms). Writer thread only.
  bool last_failure_locked_ = false;
  // The earliest sample of the group WriteQueuedBatches is writing (max: none).
  TimestampMs writing_first_sample_ GUARDED_BY(mu_) = std::numeric_limits<TimestampMs>::max();
  size_t queued_rows_ GUARDED_BY(mu_) = 0;  // RowsOf every batch in queue_
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;  // their Queued::bytes
  std::deque<Task> tasks_ GUARDED_BY(mu_);
  uint64_t last_seq_ GUARDED_BY(mu_) = 0;  // seq of the newest accepted batch
  uint64_t resolved_seq_ GUARDED_BY(mu_) = 0;  // every batch up to here is committed or counted lost
  uint64_t flush_target_ GUARDED_BY(mu_) = 0;  // a Flush() waits for this seq: commit without delay
  uint64_t commit_now_seq_ GUARDED_BY(mu_) = 0;  // the newest batch with counters: the same
  // Newest batch of the last failed (retried) transaction; 0 when not failing.
  uint64_t failed_seq_ GUARDED_BY(mu_) = 0;
  Status last_status_ GUARDED_BY(mu_);  // the last failure
  std::string last_loss_reason_ GUARDED_BY(mu_);  // why the last lost or refused batch was not written
  RetentionRequests retention_requests_ GUARDED_BY(mu_);
  Backoff backoff_ GUARDED_BY(mu_);
  WriterStats stats_ GUARDED_BY(mu_);
  // Per probe, the oldest state epoch whose state still counts (see FenceLost, Fence).
  std::map<ProbeKey, uint64_t> fences_ GUARDED_BY(mu_);
  std::vector<ProbeKey> lost_state_ GUARDED_BY(mu_);  // to tell on_state_lost
  size_t writing_batches_ GUARDED_BY(mu_) = 0;        // taken by the transaction under way
  WalActivity wal_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool thread_done_ GUARDED_BY(mu_) = false;

  std::once_flag join_once_;
  std::thread thread_;  // last: started after every member above exists
};

}  // namespace

Result<std::unique_ptr<Writer>> Writer::Start(const StorageOptions& options) {
  if (Status s = CheckDatabaseFile(options.path); !s.ok()) return s;  // before opening it
  auto lock = LockFile::Acquire(options.path);
  if (!lock.ok()) return lock.status();
  auto db = OpenForWrite(options.path, static_cast<int>(options.busy_timeout_ms),
                         options.cache_bytes);
  if (!db.ok()) return db.status();
  DatabaseFiles files;
  for (auto [suffix, id] : {std::pair{"", &files.db}, {"-wal", &files.wal}, {"-shm", &files.shm}}) {
    auto found = IdentifyFile(WalPathBase(options.path, *suffix != '\0') + suffix);
    if (!found.ok()) return found.status();
    *id = *found;
  }
  std::unique_ptr<SqliteWriter> writer;
  try {
    writer = std::make_unique<SqliteWriter>(options, std::move(lock).value(),
                                            std::move(db).value(), files);
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "preparing the writer's statements on " + options.path);
  }
  if (options.max_database_bytes != 0) {
    if (Status s = writer->SetMaxDatabaseBytes(options.max_database_bytes); !s.ok()) return s;
  }
  return std::unique_ptr<Writer>(std::move(writer));
}

}  // namespace obsmon::storage
