#include "web/fair_slots.h"

#include <algorithm>

namespace obsmon {

FairSlots::Outcome FairSlots::Acquire(std::chrono::milliseconds wait,
                                      const std::function<bool()>& gone,
                                      std::chrono::milliseconds check_every) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  MutexLock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  for (;;) {
    if (queue_.front() == ticket && free_ > 0) {
      queue_.pop_front();
      --free_;
      cv_.notify_all();  // the next in line may take another free slot
      return Outcome::kAcquired;
    }
    if (gone) {
      lock.Unlock();  // asking may take a system call; never with the others' lock held
      const bool left = gone();
      lock.Lock();
      if (left) {
        Leave(ticket);
        return Outcome::kGone;
      }
      if (queue_.front() == ticket && free_ > 0) continue;  // a slot came free meanwhile
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      Leave(ticket);
      return Outcome::kTimedOut;
    }
    const auto until = gone ? std::min(deadline, now + check_every) : deadline;
    cv_.wait_until(lock.native(), until);
  }
}

void FairSlots::Leave(uint64_t ticket) {
  queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
  cv_.notify_all();  // whoever is now first may be able to go
}

void FairSlots::Release() {
  MutexLock lock(mu_);
  ++free_;
  cv_.notify_all();
}

size_t FairSlots::waiting() const {
  MutexLock lock(mu_);
  return queue_.size();
}

size_t FairSlots::free() const {
  MutexLock lock(mu_);
  return free_;
}

}  // namespace obsmon
