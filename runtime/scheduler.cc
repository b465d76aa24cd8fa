#include "runtime/scheduler.h"

#include <algorithm>
#include <utility>

#include "core/thread_name.h"
#include "runtime/due_walk.h"

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

SteadyTime Scheduler::PlaceInInterval(SteadyTime from, SteadyTime anchor, const ProbeKey& key,
                                      int64_t interval_ms) {
  const int64_t interval = std::max<int64_t>(interval_ms, 1);
  const int64_t since = std::chrono::duration_cast<milliseconds>(from - anchor).count();
  const int64_t wait = ((SpreadOffsetMs(key, interval) - since) % interval + interval) % interval;
  return from + milliseconds(wait);
}

Scheduler::Scheduler(const Clock& clock, int workers, RunFn run)
    : Scheduler(clock, workers, std::move(run), Batching()) {}

Scheduler::Scheduler(const Clock& clock, int workers, RunFn run, Batching batching)
    : clock_(clock), workers_(workers), run_(std::move(run)), batching_(std::move(batching)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::SetProbes(std::vector<ScheduledProbe> probes) {
  MutexLock lock(mu_);
  const SteadyTime now = clock_.SteadyNow();
  if (!anchor_) anchor_ = now;  // the first probes' first runs come at their offset from now
  std::map<ProbeKey, std::shared_ptr<Entry>> next;
  for (auto& p : probes) {
    auto it = entries_.find(p.spec.key);
    if (it != entries_.end() && it->second->probe.fingerprint == p.fingerprint) {
      next[p.spec.key] = it->second;  // unchanged: keep schedule, state and probe instance
      continue;
    }
    auto entry = std::make_shared<Entry>();
    SteadyTime from = now;
    if (it != entries_.end()) {
      // Wait for the old instance, directly or through the instance it itself waits for.
      const auto& old = it->second;
      entry->predecessor = old->busy ? old : old->predecessor;
      // After the old instance's last due time: a batch may have taken it early, and the new
      // instance ran it again (fresh eyes, stop 70: 1.5 runs an interval under fast reloads).
      const auto old_interval = milliseconds(std::max<int64_t>(old->probe.spec.interval_ms, 1));
      from = std::max(now, old->next_due - old_interval + milliseconds(1));
      // A run of the old instance waiting for a busy instance is this one's now.
      if (old->waiting_due) entry->waiting_due = std::exchange(old->waiting_due, {});
    }
    entry->next_due = PlaceInInterval(from, *anchor_, p.spec.key, p.spec.interval_ms);
    entry->startable = p.probe != nullptr && p.probe->Startable();
    entry->probe = std::move(p);
    next[entry->probe.spec.key] = std::move(entry);
  }
  // Every claim is void (an earlier run may have appeared, a claimed probe may be gone): the
  // workers look again.
  for (Entry* claimed : claimed_) claimed->claimant = -1;
  claimed_.clear();
  for (const auto& [key, entry] : entries_) entry->current = false;
  entries_ = std::move(next);
  for (const auto& [key, entry] : entries_) entry->current = true;
  by_due_.clear();
  unstartable_due_.clear();
  for (const auto& [key, entry] : entries_) {
    by_due_.emplace(entry->next_due, entry);
    if (!entry->startable) unstartable_due_.insert(entry->next_due);
  }
  probes_changed_ = true;
  wake_dispatcher_.notify_all();
  WakeAllWorkers();
}

void Scheduler::WakeAllWorkers() {
  for (auto& cv : worker_wake_) cv->notify_all();
  wake_idle_.notify_all();
  timekeeper_recheck_ = true;
  wake_timekeeper_.notify_all();
}

std::optional<Scheduler::Task> Scheduler::TakeDue(DueIndex::iterator at, SteadyTime now) {
  // Refiled in its own node, not freed and allocated again at every run.
  auto node = by_due_.extract(at);
  std::shared_ptr<Entry> entry = node.mapped();
  const auto interval = milliseconds(std::max<int64_t>(entry->probe.spec.interval_ms, 1));
  const SteadyTime due = entry->next_due;
  // Runs missed entirely (the due time after this one has also passed) are skipped. A run
  // taken early (a batch's) is not behind.
  const auto behind = now > due ? (now - due) / interval : 0;
  if (behind > 0) stats_.skipped += static_cast<uint64_t>(behind);
  entry->next_due = due + interval * (behind + 1);
  node.key() = entry->next_due;
  by_due_.insert(std::move(node));
  if (!entry->startable) {
    if (auto filed = unstartable_due_.find(due); filed != unstartable_due_.end()) {
      unstartable_due_.erase(filed);
    }
    unstartable_due_.insert(entry->next_due);
  }
  if (entry->predecessor && !entry->predecessor->busy) entry->predecessor.reset();
  if ((entry->busy || entry->predecessor) && workers_ > 0) {
    // The previous run (or the replaced instance's) is still on: this one starts as soon as it
    // ends, as Prometheus's scrape loop does, and is skipped if it has not ended by the next
    // due time (RunEnded). A run with
    // a timeout equal to its interval that times out ends a moment after its next due time, and
    // every other run was skipped: a silent target's down time stored as unknown in part.
    if (entry->waiting_due) ++stats_.skipped;  // one waiting already: the later one waits
    entry->waiting_due = due + interval * behind;
    return std::nullopt;
  }
  if (entry->busy || entry->predecessor) {
    ++stats_.skipped;
    return std::nullopt;
  }
  entry->busy = true;
  ++stats_.dispatched;
  return Task{std::move(entry), due + interval * behind};
}

SteadyTime Scheduler::DispatchDue() {
  std::vector<Task> inline_tasks;
  size_t queued = 0;
  SteadyTime next_wake;
  {
    MutexLock lock(mu_);
    const SteadyTime now = clock_.SteadyNow();
    next_wake = now + milliseconds(1000);
    while (!by_due_.empty() && by_due_.begin()->first <= now) {
      std::optional<Task> task = TakeDue(by_due_.begin(), now);
      if (!task) continue;
      if (workers_ == 0) {
        inline_tasks.push_back(std::move(*task));
      } else {
        queue_.push_back(std::move(*task));
        ++queued;
      }
    }
    if (!by_due_.empty()) next_wake = std::min(next_wake, by_due_.begin()->first);
  }
  if (workers_ == 0) {
    for (const auto& task : inline_tasks) Execute(task);
  } else {
    // Only tests dispatch while workers run (the workers keep the time themselves), so the
    // cost of waking every worker does not matter here.
    if (queued > 0) {
      MutexLock lock(mu_);
      WakeAllWorkers();
    }
  }
  return next_wake;
}

void Scheduler::Execute(const Task& task) {
  const SteadyTime start = clock_.SteadyNow();
  // A batch's run may start early: not late, so no lag.
  const double lag = std::max(0.0, std::chrono::duration<double>(start - task.due).count());
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
  RunEnded(task.entry);
}

void Scheduler::RunEnded(const std::shared_ptr<Entry>& entry) {
  entry->busy = false;
  if (entry->current) {  // no instance waits for this one: only itself could have
    StartWaiting(entry);
    return;
  }
  const auto current = entries_.find(entry->probe.spec.key);
  if (current != entries_.end() && current->second != entry &&
      current->second->predecessor == entry) {
    // The instance a reload put in this one's place waited for it: its run due meanwhile
    // starts now (it was skipped: one run lost per reload during a run as long as its
    // interval; fresh eyes, stop 70).
    current->second->predecessor.reset();
    entry->waiting_due.reset();
    StartWaiting(current->second);
    return;
  }
  if (current == entries_.end() || current->second != entry) {  // gone
    entry->waiting_due.reset();
    return;
  }
  StartWaiting(entry);
}

void Scheduler::StartWaiting(const std::shared_ptr<Entry>& entry) {
  if (!entry->waiting_due || entry->busy) return;
  const SteadyTime due = *entry->waiting_due;
  entry->waiting_due.reset();
  if (stopping_) return;
  const auto interval = milliseconds(std::max<int64_t>(entry->probe.spec.interval_ms, 1));
  if (clock_.SteadyNow() >= due + interval) {  // the next run is due: it runs instead
    ++stats_.skipped;
    return;
  }
  entry->busy = true;
  ++stats_.dispatched;
  queue_.push_back(Task{entry, due});
  WakeAllWorkers();  // rare: only after a run that outlasted its interval
}

void Scheduler::GatherBatch(std::vector<Task>& batch) {
  const SteadyTime now = clock_.SteadyNow();
  const SteadyTime limit = now + batching_.window;
  for (auto it = by_due_.begin();
       it != by_due_.end() && it->first <= limit && batch.size() < batching_.max_runs;) {
    const Entry& e = *it->second;
    // Early by at most half its interval, so that a short interval keeps its spacing.
    const bool near = it->first <= now ||
                      (it->first - now) * 2 <= milliseconds(e.probe.spec.interval_ms);
    const bool can_start = e.startable && near && !e.busy && e.claimant < 0 &&
                           (!e.predecessor || !e.predecessor->busy);
    auto next = std::next(it);  // TakeDue files the entry again later; `next` stays valid
    if (can_start) {
      if (std::optional<Task> task = TakeDue(it, now)) batch.push_back(std::move(*task));
    }
    it = next;
  }
}

void Scheduler::ExecuteBatch(std::vector<Task>& batch) {
  const SteadyTime start = clock_.SteadyNow();
  const TimestampMs now_wall = clock_.NowMs();
  std::vector<BatchItem> items;
  items.reserve(batch.size());
  {
    MutexLock lock(mu_);
    for (const Task& task : batch) {
      const auto late = std::chrono::duration_cast<milliseconds>(start - task.due);
      const double lag = std::max(0.0, std::chrono::duration<double>(start - task.due).count());
      stats_.last_lag_seconds = lag;
      stats_.lag_seconds_sum += lag;
      ++stats_.lag_count;
      items.push_back({&task.entry->probe, now_wall - late.count()});
    }
    ++stats_.busy_workers;
  }
  std::vector<bool> ended(batch.size(), false);
  const std::function<void(size_t)> finished = [&](size_t i) {
    MutexLock lock(mu_);
    if (i >= batch.size() || ended[i]) return;
    ended[i] = true;
    RunEnded(batch[i].entry);
  };
  batching_.run(items, finished);
  MutexLock lock(mu_);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!ended[i]) RunEnded(batch[i].entry);
  }
  --stats_.busy_workers;
}

Scheduler::DueIndex::iterator Scheduler::FirstUnclaimed() {
  // Claims are taken earliest first: at most one per worker, and the runs their batch windows
  // cover, come before the first unclaimed.
  const bool batching = batching_.window.count() > 0 && static_cast<bool>(batching_.run);
  return FirstUncovered(by_due_, batching, batching_.window, claimed_, unstartable_due_);
}

void Scheduler::Claim(Entry& entry, int worker) {
  entry.claimant = worker;
  claimed_.push_back(&entry);
}

void Scheduler::DropClaim(Entry& entry) {
  entry.claimant = -1;
  std::erase(claimed_, &entry);
}

void Scheduler::Unclaim(Entry& entry) {
  if (entry.claimant < 0) return;
  worker_wake_[static_cast<size_t>(entry.claimant)]->notify_all();
  DropClaim(entry);
}

bool Scheduler::FiledBefore(const Entry& entry, DueIndex::iterator place) {
  if (place == by_due_.end() || entry.next_due < place->first) return true;
  if (entry.next_due > place->first) return false;
  for (auto it = by_due_.lower_bound(place->first); it != place; ++it) {
    if (it->second.get() == &entry) return true;
  }
  return false;
}

void Scheduler::KeepTime() {
  const auto first = FirstUnclaimed();
  if (first == by_due_.end()) return;  // every due time is claimed (or in a claim's batch)
  if (idle_unclaimed_workers_ > 0) {
    wake_idle_.notify_one();
    return;
  }
  // The claims are few (one per idle worker): looked at directly, not by walking the runs.
  Entry* later = nullptr;  // the earliest claim filed after `first`
  for (Entry* claimed : claimed_) {
    if (FiledBefore(*claimed, first)) continue;
    if (!later || claimed->next_due < later->next_due ||
        (claimed->next_due == later->next_due && FiledBefore(*claimed, FindFiled(*later)))) {
      later = claimed;
    }
  }
  // None: the idle workers wait for the earliest runs. Else that one looks again.
  if (later) Unclaim(*later);
}

Scheduler::DueIndex::iterator Scheduler::FindFiled(const Entry& entry) {
  auto [it, last] = by_due_.equal_range(entry.next_due);
  while (it != last && it->second.get() != &entry) ++it;
  return it;
}

std::optional<Scheduler::Task> Scheduler::WaitForClaim(int worker, std::shared_ptr<Entry> claim,
                                                       MutexLock& lock) {
  const SteadyTime due = claim->next_due;
  Claim(*claim, worker);
  // Woken early when there is other work (a task queued by DispatchDue), when the claim is
  // voided (the probes changed, or an earlier run needs this worker), or when stopping.
  const auto moot = [&] {
    mu_.AssertHeld();  // the predicate runs with the lock held
    return stopping_ || !queue_.empty() || claim->claimant != worker;
  };
  auto& wake = *worker_wake_[static_cast<size_t>(worker)];
  const bool moot_before_due = clock_.WaitUntil(lock.native(), wake, due, moot);
  if (claim->claimant == worker) DropClaim(*claim);
  if (moot_before_due) return std::nullopt;
  // Still claimed by this worker at its due time, so still filed under `due`.
  auto [first, last] = by_due_.equal_range(due);
  for (auto it = first; it != last; ++it) {
    if (it->second == claim) return TakeDue(it, clock_.SteadyNow());
  }
  return std::nullopt;
}

void Scheduler::WorkerLoop(int worker) {
  MutexLock lock(mu_);
  for (;;) {
    std::optional<Task> task;
    if (!queue_.empty()) {
      task = std::move(queue_.front());
      queue_.pop_front();
    } else if (stopping_) {
      return;
    } else if (auto next = FirstUnclaimed(); next != by_due_.end()) {
      task = WaitForClaim(worker, next->second, lock);
    } else {
      ++idle_unclaimed_workers_;
      wake_idle_.wait(lock.native(), [&] {
        mu_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || !queue_.empty() || FirstUnclaimed() != by_due_.end();
      });
      --idle_unclaimed_workers_;
    }
    if (!task) continue;
    // The last idle thread: from now on the timekeeper watches for runs left waiting.
    if (++busy_threads_ >= alive_workers_) wake_timekeeper_.notify_all();
    std::vector<Task> batch;
    if (batching_.window.count() > 0 && batching_.run && task->entry->startable) {
      batch.reserve(batching_.max_runs);  // grown one run at a time, it was 2 % of a worker
      batch.push_back(std::move(*task));
      GatherBatch(batch);
      if (batch.size() == 1) {
        task = std::move(batch.front());
        batch.clear();
      }
    }
    KeepTime();  // time is kept while this run or batch lasts
    lock.unlock();
    if (batch.empty()) {
      Execute(*task);
    } else {
      ExecuteBatch(batch);
    }
    lock.lock();
    const bool all_were_busy = busy_threads_-- >= alive_workers_;
    // A thread beyond `workers` ends when no run waits and no thread was started for
    // kExtraWorkerLinger: a load that comes and goes (a slow command, workers: 1) keeps its
    // threads rather than starting and ending one every few runs (fresh eyes: ~10 a second).
    const SteadyTime now = clock_.SteadyNow();
    const bool ends = alive_workers_ > workers_ &&
                      now - last_worker_started_ >= kExtraWorkerLinger && !EarliestWaiting(now);
    if (ends) {
      --alive_workers_;
      ended_workers_.push_back(worker);
    }
    // Only when it changes what the timekeeper waits for: a notify it would sleep through
    // again costs a wake-up, more than a run's own work on this project's virtual machine.
    if (all_were_busy || (ends && busy_threads_ >= alive_workers_)) {
      wake_timekeeper_.notify_all();
    }
    if (ends) return;
  }
}

std::optional<SteadyTime> Scheduler::EarliestWaiting(SteadyTime now) const {
  std::optional<SteadyTime> earliest;
  for (const Task& task : queue_) {
    if (!earliest || task.due < *earliest) earliest = task.due;
  }
  for (const auto& [at, entry] : by_due_) {
    if (at > now || (earliest && at >= *earliest)) break;
    if (!entry->busy) {
      earliest = at;
      break;
    }
  }
  return earliest;
}

void Scheduler::StartWorker() {
  size_t slot;
  if (!ended_workers_.empty()) {
    slot = static_cast<size_t>(ended_workers_.back());
    ended_workers_.pop_back();
    // It gave up the lock on its way out and needs it no more: this waits for no one.
    if (threads_[slot].joinable()) threads_[slot].join();
  } else {
    slot = threads_.size();
    threads_.emplace_back();
    // Kept across Stop() and Start(): there may be one already.
    if (worker_wake_.size() <= slot) {
      worker_wake_.push_back(std::make_unique<std::condition_variable>());
    }
  }
  ++alive_workers_;
  ++stats_.extra_workers_started;
  last_worker_started_ = clock_.SteadyNow();
  const int worker = static_cast<int>(slot);
  threads_[slot] = std::thread([this, worker] {
    NameThisThread("obsmon-worker");
    WorkerLoop(worker);
  });
}

void Scheduler::TimekeeperLoop() {
  MutexLock lock(mu_);
  const auto look_again = [&] {
    mu_.AssertHeld();  // the predicates run with the lock held
    return stopping_ || timekeeper_recheck_ || busy_threads_ < alive_workers_;
  };
  while (!stopping_) {
    timekeeper_recheck_ = false;
    if (busy_threads_ < alive_workers_) {  // an idle worker keeps the time
      wake_timekeeper_.wait(lock.native(), [&] {
        mu_.AssertHeld();
        return stopping_ || busy_threads_ >= alive_workers_;
      });
      continue;
    }
    const SteadyTime now = clock_.SteadyNow();
    // A run left waiting kLateAfter starts on a thread of its own (a busy probe's due run waits
    // for that probe's run instead: RunEnded). Else look again when the earliest waiting run
    // will be that late, or the next one due, every kPollWhileBusy at most (a batch's runs end
    // one by one while its worker stays busy, and each may then be due).
    SteadyTime wake = now + kPollWhileBusy;
    if (const auto waiting = EarliestWaiting(now)) {
      if (now >= *waiting + kLateAfter && alive_workers_ < workers_ + kMaxExtraWorkers) {
        StartWorker();
        continue;
      }
      if (now < *waiting + kLateAfter) wake = std::min(wake, *waiting + kLateAfter);
    } else if (const auto next = by_due_.upper_bound(now); next != by_due_.end()) {
      wake = std::min(wake, next->first + kLateAfter);
    }
    clock_.WaitUntil(lock.native(), wake_timekeeper_, wake, look_again);
  }
}

void Scheduler::Start() {
  MutexLock lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  while (worker_wake_.size() < static_cast<size_t>(workers_)) {
    worker_wake_.push_back(std::make_unique<std::condition_variable>());
  }
  ended_workers_.clear();
  alive_workers_ = workers_;
  busy_threads_ = 0;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this, i] {
    NameThisThread("obsmon-worker");
    WorkerLoop(i);
  });
  if (workers_ > 0) {  // the workers keep the time themselves, the timekeeper when all are busy
    timekeeper_ = std::thread([this] {
      NameThisThread("obsmon-timekeep");
      TimekeeperLoop();
    });
    return;
  }
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
    for (auto& [key, entry] : entries_) entry->waiting_due.reset();
    WakeAllWorkers();
  }
  wake_dispatcher_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  if (timekeeper_.joinable()) timekeeper_.join();  // before threads_, which it may grow
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  MutexLock lock(mu_);
  alive_workers_ = 0;
  busy_threads_ = 0;
  started_ = false;
}

SchedulerStats Scheduler::Stats() const {
  MutexLock lock(mu_);
  SchedulerStats stats = stats_;
  stats.worker_threads = static_cast<uint64_t>(alive_workers_);
  // Runs due and not started: queued ones, and due ones no worker has taken yet (all busy).
  stats.queue_depth = queue_.size();
  const SteadyTime now = clock_.SteadyNow();
  for (auto it = by_due_.begin(); it != by_due_.end() && it->first <= now; ++it) {
    if (!it->second->busy) ++stats.queue_depth;
  }
  return stats;
}

}  // namespace obsmon
