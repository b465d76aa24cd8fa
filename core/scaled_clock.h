// A clock that runs `speed` times faster than another (the system's, in the daemon), counted from
// the moment it is made. For soak benchmarks only: a daemon started with OBSMON_CLOCK_SPEED=20
// does a day's work (its runs, refreshes, sealed hours, rule cycles, retention) in 72 minutes,
// so that what grows with the work can be watched for a day without waiting one. What the kernel
// times (receive stamps, socket timeouts, the HTTP server's limits) stays real, so latencies and
// timestamps under a sped-up clock are not true figures.
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace obsmon {

// Thread-safe, as its base is.
class ScaledClock final : public Clock {
 public:
  // `base` must outlive this clock; `speed` >= 1.
  ScaledClock(const Clock& base, int64_t speed);

  TimestampMs NowMs() const override;
  SteadyTime SteadyNow() const override;

 protected:
  // One wait on the base clock until the base time at which this clock reaches `deadline`.
  void WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                SteadyTime deadline) const override;

 private:
  // Time passed on this clock since it was made, from time passed on the base clock.
  std::chrono::nanoseconds Scaled(SteadyTime base_now) const;

  const Clock& base_;
  const int64_t speed_;
  const SteadyTime base_start_;
  const TimestampMs wall_start_ms_;
};

}  // namespace obsmon
