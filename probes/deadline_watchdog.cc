#include "probes/deadline_watchdog.h"

#include <algorithm>
#include <vector>

#include "core/thread_name.h"

namespace obsmon::probes {

namespace {
// How often a watched call that may be cancelled (its Deadline has a Cancellation: the daemon's
// probe runs) is looked at while it runs: a cancellation cannot wake this thread itself, and a
// call must not outlive a SIGTERM by its whole timeout. Only while such a call is watched.
constexpr std::chrono::milliseconds kCancelCheck{200};
}  // namespace

DeadlineWatchdog::DeadlineWatchdog(const Clock& clock) : clock_(clock) {}

DeadlineWatchdog::~DeadlineWatchdog() {
  std::thread thread;
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

DeadlineWatchdog::Watch::~Watch() { owner_->Disarm(id_); }

bool DeadlineWatchdog::Watch::fired() const { return owner_->Fired(id_); }

std::unique_ptr<DeadlineWatchdog::Watch> DeadlineWatchdog::Arm(const Deadline& deadline,
                                                               std::function<void()> cancel) {
  uint64_t id;
  bool wake = false;
  {
    MutexLock lock(mutex_);
    id = next_id_++;
    // Only a thread asleep with nothing armed, or waiting for a later deadline, needs waking.
    // Probes share a timeout, so a busy daemon's new deadlines come after the one waited for
    // and cost no wake-up (waking on every Arm cost a context switch per probe run).
    if (thread_.joinable() &&
        (!waiting_until_ || deadline.at < *waiting_until_ || deadline.Cancelled())) {
      rearmed_ = true;
      wake = true;
    }
    entries_.emplace(id, Entry{deadline, std::move(cancel)});
    if (!thread_.joinable()) thread_ = std::thread([this] {
        NameThisThread("obsmon-watchdog");
        Loop();
      });
  }
  if (wake) wake_.notify_all();
  return std::make_unique<Watch>(this, id);
}

void DeadlineWatchdog::Disarm(uint64_t id) {
  // Waiting out a cancel in progress is what guarantees it is not running once Disarm returns.
  MutexLock lock(mutex_);
  cancel_done_.wait(lock.native(), [&] {
    mutex_.AssertHeld();  // the predicate runs with the lock held
    return firing_id_ != id;
  });
  entries_.erase(id);
}

bool DeadlineWatchdog::Fired(uint64_t id) const {
  MutexLock lock(mutex_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.fired;
}

void DeadlineWatchdog::Loop() {
  MutexLock lock(mutex_);
  while (!stopping_) {
    std::vector<uint64_t> expired;
    for (auto& [id, entry] : entries_) {
      if (!entry.fired && entry.deadline.Expired(clock_)) expired.push_back(id);
    }
    for (uint64_t id : expired) {
      auto it = entries_.find(id);
      if (it == entries_.end()) continue;
      it->second.fired = true;
      std::function<void()> cancel = it->second.cancel;
      // Called without the lock: a cancel may block (httplib's stop() waits for a connect in
      // progress), and other probes must still be able to Arm and Disarm meanwhile.
      firing_id_ = id;
      lock.unlock();
      cancel();
      lock.lock();
      firing_id_ = 0;
      cancel_done_.notify_all();
    }
    waiting_until_.reset();
    bool cancellable = false;
    for (const auto& [id, entry] : entries_) {
      if (entry.fired) continue;
      cancellable = cancellable || entry.deadline.cancellation != nullptr;
      if (!waiting_until_ || entry.deadline.at < *waiting_until_) {
        waiting_until_ = entry.deadline.at;
      }
    }
    if (cancellable) waiting_until_ = std::min(*waiting_until_, clock_.SteadyNow() + kCancelCheck);
    rearmed_ = false;
    // A Disarm does not wake us: the thread may wake once for a deadline nobody watches any
    // more, finds nothing due and waits again.
    if (waiting_until_) {
      clock_.WaitUntil(lock.native(), wake_, *waiting_until_, [this] {
        mutex_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || rearmed_;
      });
    } else {
      wake_.wait(lock.native(), [this] {
        mutex_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || rearmed_;
      });
    }
  }
}

}  // namespace obsmon::probes
