// Time comes in through a Clock so that the scheduler, uptime, log and alert tests run seven
// simulated days in milliseconds and never sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace obsmon {

// Wall-clock milliseconds since the Unix epoch (UTC). Every stored timestamp uses this unit.
using TimestampMs = int64_t;
using SteadyTime = std::chrono::steady_clock::time_point;

// The start of the `unit_ms`-long period holding `ts` (UTC hours for 3'600'000, UTC days for
// 86'400'000): floor division, also right for timestamps before 1970.
constexpr TimestampMs FloorMs(TimestampMs ts, int64_t unit_ms) {
  TimestampMs q = ts / unit_ms;
  if (ts % unit_ms < 0) --q;
  return q * unit_ms;
}

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps that are stored and reported. May jump (NTP step).
  virtual TimestampMs NowMs() const = 0;
  // Monotonic time, for deadlines and measured durations. Never jumps.
  virtual SteadyTime SteadyNow() const = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimestampMs NowMs() const override;
  SteadyTime SteadyNow() const override;
  // A process-wide instance; only cmd/obsmon/main and tests should reach for it.
  static const Clock& Instance();
};

// A clock that moves only when told. Thread-safe: Advance() may be called while other threads read.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimestampMs start_ms = 1'760'400'000'000) : now_ms_(start_ms), steady_ms_(0) {}
  TimestampMs NowMs() const override { return now_ms_.load(); }
  SteadyTime SteadyNow() const override {
    return SteadyTime(std::chrono::milliseconds(steady_ms_.load()));
  }
  // Moves both clocks forward by `ms`.
  void Advance(int64_t ms) {
    now_ms_ += ms;
    steady_ms_ += ms;
  }
  // Steps only the wall clock (an NTP step); monotonic time is unaffected.
  void StepWall(int64_t ms) { now_ms_ += ms; }
  void SetWall(TimestampMs ms) { now_ms_ = ms; }

 private:
  std::atomic<TimestampMs> now_ms_;
  std::atomic<int64_t> steady_ms_;
};

// A point in monotonic time by which a probe must have returned.
struct Deadline {
  SteadyTime at;
  bool Expired(const Clock& clock) const { return clock.SteadyNow() >= at; }
  // Remaining time, never negative.
  std::chrono::milliseconds Remaining(const Clock& clock) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at - clock.SteadyNow());
    return left.count() > 0 ? left : std::chrono::milliseconds(0);
  }
};

}  // namespace obsmon
