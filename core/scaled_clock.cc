#include "core/scaled_clock.h"

#include <algorithm>
#include <utility>

namespace obsmon {

ScaledClock::ScaledClock(const Clock& base, int64_t speed)
    : base_(base),
      speed_(std::max<int64_t>(speed, 1)),
      base_start_(base.SteadyNow()),
      wall_start_ms_(base.NowMs()) {}

std::chrono::nanoseconds ScaledClock::Scaled(SteadyTime base_now) const {
  return (base_now - base_start_) * speed_;
}

TimestampMs ScaledClock::NowMs() const {
  return wall_start_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(Scaled(base_.SteadyNow())).count();
}

// Starts where the base clock started, so that a deadline converts back by one division.
SteadyTime ScaledClock::SteadyNow() const { return base_start_ + Scaled(base_.SteadyNow()); }

void ScaledClock::WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                           SteadyTime deadline) const {
  const std::chrono::nanoseconds ahead = deadline - base_start_;
  // Rounded up: woken at the base time this clock reaches the deadline, never one tick before
  // it (WaitUntil would wait again for that tick, and again, in a spin).
  // (Quotient and remainder, not (ahead + speed - 1) / speed, which overflows for the far
  // deadlines of waits that only a notify ends.)
  std::chrono::nanoseconds base_ahead(0);
  if (ahead.count() > 0) {
    base_ahead = std::chrono::nanoseconds(ahead.count() / speed_ + (ahead.count() % speed_ != 0));
  }
  const SteadyTime base_deadline = base_start_ + base_ahead;
  bool waited = false;  // exactly one blocking step of the base clock's own wait
  base_.WaitUntil(lock, cv, base_deadline, [&waited] { return std::exchange(waited, true); });
}

}  // namespace obsmon
