// The SQLite Writer: one thread owns the connection; producers only touch the bounded queue.
//
// Group commit: the thread takes everything queued (up to max_batches_per_commit /
// max_rows_per_commit) into ONE transaction and commits as soon as it is idle, so batches arriving
// during a commit share the next one. With synchronous=NORMAL in WAL mode a commit does not fsync;
// a process crash loses only what was not yet committed.
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
// their runs and samples but lose their state part: every log line counts exactly once.
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
#include <map>
#include <mutex>
#include <thread>

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

class SqliteWriter final : public Writer {
 public:
  SqliteWriter(const StorageOptions& options, std::unique_ptr<LockFile> lock,
               std::unique_ptr<SQLite::Database> db, DatabaseFiles files)
      : options_(options),
        lock_(std::move(lock)),
        db_(std::move(db)),
        files_(files),
        applier_(*db_, options.max_log_events_per_day, options.clock, options.retention_ms),
        retention_(*db_, options.retention_batch_rows) {
    next_retention_ =
        options_.clock->SteadyNow() + std::chrono::milliseconds(options_.retention_interval_ms);
    last_activity_ = options_.clock->SteadyNow();
    // After each checkpoint SQLite truncates the WAL to this size (throws before the thread
    // exists: Start() reports it).
    db_->execAndGet(fmt::format("PRAGMA journal_size_limit = {}", options_.journal_size_limit_bytes));
    thread_ = std::thread([this] {
      NameThisThread("obsmon-writer");
      Loop();
    });
  }

  ~SqliteWriter() override { Stop(); }

  bool Enqueue(WriteBatch batch) override {
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
    if (stopping_ || queue_.size() >= options_.queue_capacity || rows_full) {
      ++stats_.dropped_batches;
      // The caller learns it from the return value (and re-reads the probe's state, fencing a
      // newer epoch); fencing this one already keeps its queued predecessors from counting
      // lines the re-read will count again.
      FenceLost(batch);
      return false;
    }
    queued_rows_ += rows;
    queue_.push_back({++last_seq_, std::move(batch), options_.clock->SteadyNow()});
    // Group commit: the writer sleeps until the oldest queued batch is commit_interval_ms old, so
    // it only needs waking when the queue was empty (to start that timer) or has grown large.
    if (queue_.size() == 1 || queue_.size() >= kEagerCommitBatches) work_cv_.notify_one();
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
      stopping_ = true;
      work_cv_.notify_all();
    }
    std::call_once(join_once_, [this] {
      if (thread_.joinable()) thread_.join();
    });
  }

  WriterStats Stats() const override {
    WriterStats s;
    {
      MutexLock lock(mu_);
      s = stats_;
      s.queue_depth = queue_.size();
    }
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
    const uint64_t ticket = ++retention_requested_;
    work_cv_.notify_one();
    done_cv_.wait(lock.native(), [&] {
      mu_.AssertHeld();  // the predicate runs with the lock held
      return retention_completed_ >= ticket || thread_done_;
    });
    if (retention_completed_ < ticket) return Status::Unavailable("storage writer stopped");
    return retention_status_;
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
  };
  // Beyond this many queued batches the writer commits without waiting for the interval.
  static constexpr size_t kEagerCommitBatches = 512;
  // A settings change run on the writer thread (which owns the connection).
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

  void Loop() {
    MutexLock lock(mu_);
    bool backing_off = false;
    const Clock& clock = *options_.clock;
    SteadyTime backoff_until = clock.SteadyNow();
    while (true) {
      DeliverLostState(lock);
      // Control tasks first (they are quick).
      while (!tasks_.empty()) {
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        Status result = task.fn();
        lock.lock();
        if (task.settings_change) {
          backing_off = false;  // settings changed (e.g. a larger size cap): retry at once
          failed_seq_ = 0;      // and the failure may be over: Flush waits for the retry
        }
        *task.result = std::move(result);  // published under mu_, after the state above
        done_cv_.notify_all();
      }
      if (backing_off && clock.SteadyNow() >= backoff_until) backing_off = false;
      const bool retention_wanted = retention_requested_ > retention_started_ ||
                                    options_.clock->SteadyNow() >= next_retention_;
      const bool can_write = !queue_.empty() && (!backing_off || stopping_);
      if (can_write && !stopping_ && flush_target_ <= resolved_seq_ &&
          queue_.size() < kEagerCommitBatches && !retention_wanted && tasks_.empty()) {
        // Group commit: wait (at most commit_interval_ms after the oldest batch arrived) so one
        // transaction carries many runs; a process crash loses at most that interval.
        const auto due = queue_.front().enqueued + std::chrono::milliseconds(options_.commit_interval_ms);
        if (clock.SteadyNow() < due) {
          // Ends early for what the condition above lets commit at once.
          clock.WaitUntil(lock.native(), work_cv_, due, [&] {
            mu_.AssertHeld();  // the predicate runs with the lock held
            return stopping_ || flush_target_ > resolved_seq_ ||
                   queue_.size() >= kEagerCommitBatches ||
                   retention_requested_ > retention_started_ || !tasks_.empty();
          });
          continue;
        }
      }
      if (!can_write && !retention_wanted && !retention_.active() && tasks_.empty()) {
        if (stopping_ && (queue_.empty() || give_up_)) break;
        if (!stopping_ && queue_.empty() && CheckpointDue()) {
          lock.unlock();
          // Best effort while idle: a busy checkpoint is counted and retried at the next idle
          // period; an I/O error comes back on the next commit, which reports it.
          (void)CheckpointNow();
          lock.lock();
          continue;
        }
        // Wakes for new work, or after a while (on the injected clock) to look at the backoff,
        // the retention period and the idle checkpoint again.
        auto wait = std::chrono::milliseconds(backing_off ? 50 : 1000);
        clock.WaitFor(lock.native(), work_cv_, wait, [&] {
          mu_.AssertHeld();  // the predicate runs with the lock held
          return stopping_ || !tasks_.empty() || !lost_state_.empty() ||
                 retention_requested_ > retention_started_ || (!queue_.empty() && !backing_off);
        });
        continue;
      }
      if (can_write) {
        std::vector<Queued> work;
        size_t rows = 0;
        while (
            !queue_.empty() && work.size() < options_.max_batches_per_commit &&
            (work.empty() || rows + RowsOf(queue_.front().batch) <= options_.max_rows_per_commit)) {
          rows += RowsOf(queue_.front().batch);
          queued_rows_ -= RowsOf(queue_.front().batch);
          work.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        lock.unlock();
        bool transient_failure = WriteGroup(&work);
        lock.lock();
        DeliverLostState(lock);  // before Flush() returns: its caller may look at the probe
        if (transient_failure) {
          if (stopping_) {
            // Stopping and still failing: give up rather than hang shutdown; count the loss.
            stats_.lost_batches += work.size() + queue_.size();
            last_loss_reason_ = "gave up at shutdown: " + last_status_.message();
            resolved_seq_ = last_seq_;
            queue_.clear();
            queued_rows_ = 0;
            give_up_ = true;
          } else {
            // Keep them for a retry, in order, ahead of anything newer.
            failed_seq_ = std::max(failed_seq_, work.back().seq);
            for (auto it = work.rbegin(); it != work.rend(); ++it) {
              queued_rows_ += RowsOf(it->batch);
              queue_.push_front(std::move(*it));
            }
            while (queue_.size() > options_.queue_capacity) {
              resolved_seq_ = std::max(resolved_seq_, queue_.front().seq);
              FenceLost(queue_.front().batch);
              queued_rows_ -= RowsOf(queue_.front().batch);
              queue_.pop_front();
              ++stats_.lost_batches;
              last_loss_reason_ = "queue full while retrying: " + last_status_.message();
            }
            backing_off = true;
            backoff_until =
                clock.SteadyNow() + std::chrono::milliseconds(options_.retry_backoff_ms);
          }
        }
        done_cv_.notify_all();
      }
      // Retention: one small statement per turn, so queued writes interleave.
      if (retention_requested_ > retention_started_ ||
          (!retention_.active() && options_.clock->SteadyNow() >= next_retention_)) {
        retention_started_ = retention_requested_;
        next_retention_ =
            options_.clock->SteadyNow() + std::chrono::milliseconds(options_.retention_interval_ms);
        const TimestampMs now = options_.clock->NowMs();
        lock.unlock();
        Status s = BeginRetention(now);
        lock.lock();
        retention_status_ = s;
        if (!s.ok() || !retention_.active()) {
          retention_completed_ = retention_started_;
          done_cv_.notify_all();
        }
      }
      if (retention_.active() && stopping_) {
        // Shutdown must be quick: the next start's pass finishes the work.
        retention_.Abort();
        retention_status_ = Status::Unavailable("retention interrupted by shutdown");
        retention_completed_ = retention_started_;
        done_cv_.notify_all();
      }
      if (retention_.active()) {
        lock.unlock();
        Status s = RetentionStep();
        lock.lock();
        if (!s.ok()) retention_status_ = s;
        if (!retention_.active()) {
          retention_completed_ = retention_started_;
          done_cv_.notify_all();
        }
      }
      if (stopping_ && queue_.empty() && !retention_.active() && tasks_.empty()) break;
    }
    thread_done_ = true;
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

  Status RetentionStep() {
    try {
      int64_t n = retention_.Step();
      MutexLock lock(mu_);
      stats_.retention_deleted_rows += static_cast<uint64_t>(n);
      if (!retention_.active()) applier_.ForgetCaches();  // per-day event counts may be stale
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
  bool WriteGroup(std::vector<Queued>* work) {
    // Nothing goes into a database file that is no longer the one at our path: the batches wait
    // (bounded by the queue) for the file to come back, and health says why.
    if (Status same = CheckFiles(); !same.ok()) {
      RecordError(same);
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
  // Called with `lock` (on mu_) held; returns with it held, released in between. The analysis
  // cannot follow a lock passed by reference, so the release goes through native(): nothing
  // guarded is touched while it is released.
  void DeliverLostState(MutexLock& lock) REQUIRES(mu_) {
    if (lost_state_.empty()) return;
    std::vector<ProbeKey> keys;
    keys.swap(lost_state_);
    lock.native().unlock();
    for (const auto& key : keys) options_.on_state_lost(key);
    lock.native().lock();
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
  void StripSupersededState(WriteBatch* b) {
    if (b->state_epoch == 0 || !b->has_state()) return;
    MutexLock lock(mu_);
    auto it = fences_.find(b->state_key);
    if (it == fences_.end() || b->state_epoch >= it->second) return;
    b->log_events.clear();
    b->log_cursors.clear();
    b->counters.clear();
    ++stats_.superseded_batches;
  }

  bool CheckpointDue() const REQUIRES(mu_) {
    return options_.checkpoint_idle_ms > 0 && wal_dirty_ &&
           options_.clock->SteadyNow() - last_activity_ >=
               std::chrono::milliseconds(options_.checkpoint_idle_ms);
  }

  // wal_checkpoint(TRUNCATE): copies the WAL into the database and truncates it to zero bytes.
  // Readers that still use WAL frames block it; it then waits at most a moment (not the busy
  // timeout, which would stall writes) and is retried at the next idle period.
  Status CheckpointNow() {
    sqlite3* handle = db_->getHandle();
    sqlite3_busy_timeout(handle, 100);
    int log_frames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                       &checkpointed);
    sqlite3_busy_timeout(handle, static_cast<int>(options_.busy_timeout_ms));
    MutexLock lock(mu_);
    last_activity_ = options_.clock->SteadyNow();
    if (rc == SQLITE_OK) {
      ++stats_.checkpoints;
      wal_dirty_ = false;
      return Status::Ok();
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      ++stats_.checkpoints_busy;
      return Status::Unavailable("WAL checkpoint blocked by readers; retried when idle");
    }
    return Status::IoError(fmt::format("WAL checkpoint of {}: {}", options_.path,
                                       sqlite3_errstr(rc)));
  }

  void RecordCommit(size_t batches, const ApplyResult& r, double secs, uint64_t seq) {
    MutexLock lock(mu_);
    last_activity_ = options_.clock->SteadyNow();
    wal_dirty_ = true;
    stats_.committed_batches += batches;
    stats_.committed_rows += r.rows;
    stats_.dropped_log_events += r.dropped_events;
    stats_.dropped_late_runs += r.dropped_runs;
    stats_.last_commit_seconds = secs;
    stats_.commit_seconds_sum += secs;
    ++stats_.commits;
    stats_.last_error.clear();
    resolved_seq_ = std::max(resolved_seq_, seq);
    if (resolved_seq_ >= failed_seq_) failed_seq_ = 0;  // the failure is over
  }

  void RecordError(const Status& s) {
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
  size_t queued_rows_ GUARDED_BY(mu_) = 0;  // RowsOf every batch in queue_
  std::deque<Task> tasks_ GUARDED_BY(mu_);
  uint64_t last_seq_ GUARDED_BY(mu_) = 0;  // seq of the newest accepted batch
  uint64_t resolved_seq_ GUARDED_BY(mu_) = 0;  // every batch up to here is committed or counted lost
  uint64_t flush_target_ GUARDED_BY(mu_) = 0;  // a Flush() waits for this seq: commit without delay
  // Newest batch of the last failed (retried) transaction; 0 when not failing.
  uint64_t failed_seq_ GUARDED_BY(mu_) = 0;
  Status last_status_ GUARDED_BY(mu_);  // the last failure
  std::string last_loss_reason_ GUARDED_BY(mu_);  // why the last lost or refused batch was not written
  uint64_t retention_requested_ GUARDED_BY(mu_) = 0;
  uint64_t retention_started_ GUARDED_BY(mu_) = 0;
  uint64_t retention_completed_ GUARDED_BY(mu_) = 0;
  Status retention_status_ GUARDED_BY(mu_);
  SteadyTime next_retention_;
  WriterStats stats_ GUARDED_BY(mu_);
  // Per probe, the oldest state epoch whose state still counts (see FenceLost, Fence).
  std::map<ProbeKey, uint64_t> fences_ GUARDED_BY(mu_);
  std::vector<ProbeKey> lost_state_ GUARDED_BY(mu_);  // to tell on_state_lost
  SteadyTime last_activity_ GUARDED_BY(mu_);  // last commit or checkpoint
  bool wal_dirty_ GUARDED_BY(mu_) = true;  // committed since the last checkpoint
  bool stopping_ GUARDED_BY(mu_) = false;
  bool give_up_ GUARDED_BY(mu_) = false;
  bool thread_done_ GUARDED_BY(mu_) = false;

  std::once_flag join_once_;
  std::thread thread_;  // last: started after every member above exists
};

}  // namespace

Result<std::unique_ptr<Writer>> Writer::Start(const StorageOptions& options) {
  if (Status s = CheckDatabaseFile(options.path); !s.ok()) return s;  // before opening it
  auto lock = LockFile::Acquire(options.path);
  if (!lock.ok()) return lock.status();
  auto db = OpenForWrite(options.path, static_cast<int>(options.busy_timeout_ms));
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
