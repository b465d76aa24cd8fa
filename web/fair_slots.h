// A few slots for heavy requests (reports), given to waiters in the order they came, which a
// waiter may leave early: when its wait is up, or when its client has gone. A semaphore serves
// waiters in no order (a client that retries could wait behind every later one), and a waiter
// whose client closed the connection would otherwise hold its place, and then a slot, for no one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "core/mutex.h"

namespace obsmon {

class FairSlots {
 public:
  explicit FairSlots(size_t slots) : free_(slots) {}

  enum class Outcome { kAcquired, kTimedOut, kGone };
  // Waits up to `wait` for a slot, first come first served. `gone` (may be empty) is asked when
  // the wait starts and every `check_every` while it lasts; once it says true the waiter leaves.
  Outcome Acquire(std::chrono::milliseconds wait, const std::function<bool()>& gone,
                  std::chrono::milliseconds check_every = std::chrono::milliseconds(100))
      EXCLUDES(mu_);
  void Release() EXCLUDES(mu_);

  size_t waiting() const EXCLUDES(mu_);
  size_t free() const EXCLUDES(mu_);

 private:
  void Leave(uint64_t ticket) REQUIRES(mu_);

  mutable Mutex mu_;
  std::condition_variable cv_;
  size_t free_ GUARDED_BY(mu_);
  uint64_t next_ticket_ GUARDED_BY(mu_) = 0;
  std::deque<uint64_t> queue_ GUARDED_BY(mu_);  // tickets waiting, oldest first
};

}  // namespace obsmon
