#include "runtime/scheduler.h"

#include <algorithm>

#include "core/thread_name.h"

namespace obsmon {

namespace {
using std::chrono::milliseconds;

// FNV-1a: stable across runs and platforms, unlike std::hash.
uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

int64_t Scheduler::SpreadOffsetMs(const ProbeKey& key, int64_t interval_ms) {
  if (interval_ms <= 0) return 0;
  return static_cast<int64_t>(Fnv1a(key.component + "\x1f" + key.probe) %
                              static_cast<uint64_t>(interval_ms));
}

Scheduler::Scheduler(const Clock& clock, int workers, RunFn run)
    : clock_(clock), workers_(workers), run_(std::move(run)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::SetProbes(std::vector<ScheduledProbe> probes) {
  MutexLock lock(mu_);
  const SteadyTime now = clock_.SteadyNow();
  std::map<ProbeKey, std::shared_ptr<Entry>> next;
  for (auto& p : probes) {
    auto it = entries_.find(p.spec.key);
    if (it != entries_.end() && it->second->probe.fingerprint == p.fingerprint) {
      next[p.spec.key] = it->second;  // unchanged: keep schedule, state and probe instance
      continue;
    }
    auto entry = std::make_shared<Entry>();
    entry->next_due = now + milliseconds(SpreadOffsetMs(p.spec.key, p.spec.interval_ms));
    if (it != entries_.end()) {
      // Wait for the old instance, directly or through the instance it itself waits for.
      const auto& old = it->second;
      entry->predecessor = old->busy ? old : old->predecessor;
    }
    entry->probe = std::move(p);
    next[entry->probe.spec.key] = std::move(entry);
  }
  entries_ = std::move(next);
  probes_changed_ = true;
  wake_dispatcher_.notify_all();
}

SteadyTime Scheduler::DispatchDue() {
  std::vector<Task> inline_tasks;
  size_t queued = 0;
  SteadyTime next_wake;
  {
    MutexLock lock(mu_);
    const SteadyTime now = clock_.SteadyNow();
    next_wake = now + milliseconds(1000);
    for (auto& [key, entry] : entries_) {
      const auto interval = milliseconds(std::max<int64_t>(entry->probe.spec.interval_ms, 1));
      if (entry->next_due <= now) {
        const SteadyTime due = entry->next_due;
        // Runs missed entirely (the due time after this one has also passed) are skipped.
        const auto behind = (now - due) / interval;
        if (behind > 0) stats_.skipped += static_cast<uint64_t>(behind);
        entry->next_due = due + interval * (behind + 1);
        if (entry->predecessor && !entry->predecessor->busy) entry->predecessor.reset();
        if (entry->busy || entry->predecessor) {
          ++stats_.skipped;
        } else {
          entry->busy = true;
          ++stats_.dispatched;
          Task task{entry, due + interval * behind};
          if (workers_ == 0) {
            inline_tasks.push_back(std::move(task));
          } else {
            queue_.push_back(std::move(task));
            ++queued;
          }
        }
      }
      next_wake = std::min(next_wake, entry->next_due);
    }
    stats_.queue_depth = queue_.size();
  }
  if (workers_ == 0) {
    for (const auto& task : inline_tasks) Execute(task);
  } else {
    // One wake-up per queued run: waking every worker for each run (notify_all) made idle
    // workers spin through futex wake-ups and cost more CPU than the probes themselves.
    for (size_t i = 0; i < queued; ++i) wake_workers_.notify_one();
  }
  return next_wake;
}

void Scheduler::Execute(const Task& task) {
  const SteadyTime start = clock_.SteadyNow();
  const double lag = std::chrono::duration<double>(start - task.due).count();
  // Wall time of the due moment: now minus how late we are.
  const TimestampMs due_wall = clock_.NowMs() - static_cast<int64_t>(lag * 1000);
  {
    MutexLock lock(mu_);
    stats_.last_lag_seconds = lag;
    stats_.lag_seconds_sum += lag;
    ++stats_.lag_count;
    ++stats_.busy_workers;
  }
  run_(task.entry->probe, due_wall);
  MutexLock lock(mu_);
  --stats_.busy_workers;
  task.entry->busy = false;
}

void Scheduler::WorkerLoop() {
  for (;;) {
    Task task;
    {
      MutexLock lock(mu_);
      wake_workers_.wait(lock.native(), [&] {
        mu_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || !queue_.empty();
      });
      if (queue_.empty()) return;  // stopping and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
      stats_.queue_depth = queue_.size();
    }
    Execute(task);
  }
}

void Scheduler::Start() {
  MutexLock lock(mu_);
  if (dispatcher_.joinable()) return;
  stopping_ = false;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] {
    NameThisThread("obsmon-worker");
    WorkerLoop();
  });
  dispatcher_ = std::thread([this] {
    NameThisThread("obsmon-dispatch");
    for (;;) {
      SteadyTime next = DispatchDue();
      MutexLock lock(mu_);
      // The injected clock decides how long to sleep (under a FakeClock, until the test
      // advances it); SetProbes()/Stop() wake us early.
      clock_.WaitUntil(lock.native(), wake_dispatcher_, next, [this] {
        mu_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || probes_changed_;
      });
      if (stopping_) return;
      probes_changed_ = false;
    }
  });
}

void Scheduler::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    // Runs not yet started are dropped: we are shutting down (or being restarted).
    for (auto& task : queue_) task.entry->busy = false;
    queue_.clear();
  }
  wake_dispatcher_.notify_all();
  wake_workers_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

SchedulerStats Scheduler::Stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace obsmon
