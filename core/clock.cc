#include "core/clock.h"

#include <algorithm>

namespace obsmon {

void Clock::SleepUntil(SteadyTime deadline) const {
  std::mutex mutex;
  std::condition_variable cv;  // nobody notifies it: only the deadline ends the sleep
  std::unique_lock<std::mutex> lock(mutex);
  WaitUntil(lock, cv, deadline, [] { return false; });
}

TimestampMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SteadyTime SystemClock::SteadyNow() const { return std::chrono::steady_clock::now(); }

const Clock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

void SystemClock::WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                           SteadyTime deadline) const {
  cv.wait_until(lock, deadline);
}

void FakeClock::Advance(int64_t ms) {
  std::vector<Waiter*> due;
  {
    std::lock_guard<std::mutex> guard(mu_);
    now_ms_ += ms;
    steady_ms_ += ms;
    const SteadyTime now = SteadyNow();
    for (Waiter* w : waiters_) {
      if (!w->woken && w->deadline <= now) {
        w->woken = true;
        w->notifying = true;  // keeps `w` (and its mutex and cv) alive until we are done
        due.push_back(w);
      }
    }
    if (!due.empty()) changed_.notify_all();
  }
  // The waiter checked the time and registered under mu_ while holding its own mutex, which it
  // releases only inside cv.wait: notifying under that mutex cannot fall between the two.
  for (Waiter* w : due) {
    { std::lock_guard<std::mutex> waiter_lock(*w->mutex); }
    w->cv->notify_all();
  }
  if (!due.empty()) {
    std::lock_guard<std::mutex> guard(mu_);
    for (Waiter* w : due) w->notifying = false;
    changed_.notify_all();
  }
}

void FakeClock::WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         SteadyTime deadline) const {
  Waiter self{lock.mutex(), &cv, deadline};
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (SteadyNow() >= deadline) return;
    waiters_.push_back(&self);
    changed_.notify_all();
  }
  cv.wait(lock);  // a notify from the caller's side, from Advance(), or spurious
  // Advance() may be about to lock our mutex to notify us: leave the table without holding it.
  lock.unlock();
  {
    std::unique_lock<std::mutex> guard(mu_);
    changed_.wait(guard, [&] { return !self.notifying; });
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
    changed_.notify_all();
  }
  lock.lock();
}

int FakeClock::Waiters() const {
  std::lock_guard<std::mutex> guard(mu_);
  return static_cast<int>(
      std::count_if(waiters_.begin(), waiters_.end(), [](const Waiter* w) { return !w->woken; }));
}

bool FakeClock::WaitForWaiters(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard(mu_);
  // Real time on purpose: this waits for other threads to reach their wait, not for fake time.
  return changed_.wait_for(guard, timeout, [&] {
    return std::count_if(waiters_.begin(), waiters_.end(),
                         [](const Waiter* w) { return !w->woken; }) >= n;
  });
}

std::optional<SteadyTime> FakeClock::NextDeadline() const {
  std::lock_guard<std::mutex> guard(mu_);
  std::optional<SteadyTime> next;
  for (const Waiter* w : waiters_) {
    if (!w->woken && (!next || w->deadline < *next)) next = w->deadline;
  }
  return next;
}

bool FakeClock::AdvanceToNextDeadline() {
  std::optional<SteadyTime> next = NextDeadline();
  if (!next) return false;
  // Rounded up: the fake clock moves in whole milliseconds, the deadline may not.
  Advance(std::max<int64_t>(
      0, std::chrono::ceil<std::chrono::milliseconds>(*next - SteadyNow()).count()));
  return true;
}

}  // namespace obsmon
