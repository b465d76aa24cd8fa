#include "probes/deadline_watchdog.h"

#include <vector>

#include "core/thread_name.h"

namespace obsmon::probes {

DeadlineWatchdog::DeadlineWatchdog(const Clock& clock, std::chrono::milliseconds period)
    : clock_(clock), period_(period) {}

DeadlineWatchdog::~DeadlineWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DeadlineWatchdog::Watch::~Watch() { owner_->Disarm(id_); }

bool DeadlineWatchdog::Watch::fired() const { return owner_->Fired(id_); }

std::unique_ptr<DeadlineWatchdog::Watch> DeadlineWatchdog::Arm(const Deadline& deadline,
                                                               std::function<void()> cancel) {
  uint64_t id;
  bool was_idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    // Only a thread asleep on an empty table needs waking: otherwise it checks every period
    // anyway. (Waking it on every Arm cost a context switch per probe run.)
    was_idle = idle_;
    entries_.emplace(id, Entry{deadline, std::move(cancel)});
    if (!thread_.joinable()) thread_ = std::thread([this] {
        NameThisThread("obsmon-watchdog");
        Loop();
      });
  }
  if (was_idle) wake_.notify_all();
  return std::make_unique<Watch>(this, id);
}

void DeadlineWatchdog::Disarm(uint64_t id) {
  // Waiting out a cancel in progress is what guarantees it is not running once Disarm returns.
  std::unique_lock<std::mutex> lock(mutex_);
  cancel_done_.wait(lock, [&] { return firing_id_ != id; });
  entries_.erase(id);
}

bool DeadlineWatchdog::Fired(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.fired;
}

void DeadlineWatchdog::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  int empty_rounds = 0;
  while (!stopping_) {
    // Keep ticking through short quiet spells (a busy daemon's table empties between runs many
    // times a second); sleep until woken only after a whole quiet second.
    empty_rounds = entries_.empty() ? empty_rounds + 1 : 0;
    if (empty_rounds > kQuietRoundsBeforeSleep) {
      idle_ = true;
      wake_.wait(lock, [this] { return stopping_ || !entries_.empty(); });
      idle_ = false;
      empty_rounds = 0;
      continue;
    }
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
    wake_.wait_for(lock, period_, [this] { return stopping_; });
  }
}

std::shared_ptr<DeadlineWatchdog> DeadlineWatchdog::ForClock(const Clock& clock) {
  static std::mutex mutex;
  static std::map<const Clock*, std::weak_ptr<DeadlineWatchdog>> by_clock;  // guarded by mutex
  std::lock_guard<std::mutex> lock(mutex);
  std::weak_ptr<DeadlineWatchdog>& slot = by_clock[&clock];
  std::shared_ptr<DeadlineWatchdog> dog = slot.lock();
  if (!dog) {
    dog = std::make_shared<DeadlineWatchdog>(clock);
    slot = dog;
  }
  return dog;
}

}  // namespace obsmon::probes
