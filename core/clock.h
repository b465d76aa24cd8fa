// Time and waiting come in through a Clock so that the scheduler, writer, uptime, log and alert
// tests run seven simulated days in milliseconds and never sleep.
//
// The contract (docs/ARCHITECTURE.md, "Time"):
// - NowMs() is wall time, for what is stored and reported; SteadyNow() is monotonic time, for
//   deadlines, intervals and measured durations.
// - Anything that waits for time to pass waits through the clock: SleepUntil/SleepFor, or, for
//   "work arrived OR time reached", WaitUntil(lock, cv, deadline, ready). A notify on `cv` still
//   wakes such a wait at once; so does the clock reaching `deadline` (for a FakeClock: the
//   Advance() that moves steady time to or past it). Waiting on raw std::chrono time next to an
//   injected clock is what made the scheduler spin under a FakeClock.
// - Only monotonic time can be waited for. Wall time is never waited on (it may jump).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "core/cancellation.h"

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

// Thread-safe: every method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps that are stored and reported. May jump (NTP step).
  virtual TimestampMs NowMs() const = 0;
  // Monotonic time, for deadlines and measured durations. Never jumps.
  virtual SteadyTime SteadyNow() const = 0;

  // Waits on `cv` until `ready()` holds or SteadyNow() reaches `deadline`; returns ready().
  // `lock` holds `cv`'s mutex on entry and on return and is released while blocked, as with
  // std::condition_variable::wait_until: `ready` is called with it held, and whoever makes
  // `ready` true must change its state under that mutex and then notify `cv`.
  template <typename Ready>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 SteadyTime deadline, Ready ready) const {
    while (!ready()) {
      if (SteadyNow() >= deadline) return false;
      WaitOnce(lock, cv, deadline);
    }
    return true;
  }
  template <typename Ready>
  bool WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
               std::chrono::milliseconds timeout, Ready ready) const {
    return WaitUntil(lock, cv, SteadyNow() + timeout, std::move(ready));
  }

  // Blocks the calling thread until SteadyNow() reaches `deadline` (nothing can wake it early).
  void SleepUntil(SteadyTime deadline) const;
  void SleepFor(std::chrono::milliseconds duration) const { SleepUntil(SteadyNow() + duration); }

 protected:
  // One blocking step of WaitUntil: returns (with `lock` held) when `cv` is notified, when the
  // clock has reached `deadline`, or spuriously; WaitUntil re-checks. Called with `lock` held.
  virtual void WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                        SteadyTime deadline) const = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimestampMs NowMs() const override;
  SteadyTime SteadyNow() const override;
  // A process-wide instance; only cmd/obsmon/main and tests should reach for it.
  static const Clock& Instance();

 protected:
  // Plain cv.wait_until on steady_clock: SteadyNow() is steady_clock, so the kernel's timed wait
  // is exactly the clock's deadline and nothing else needs to know about the waiter.
  void WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                SteadyTime deadline) const override;
};

// A clock that moves only when told. Thread-safe: Advance() may be called while other threads
// read the time or wait on it.
//
// A thread waiting on a FakeClock (WaitUntil, SleepUntil) stays blocked, using no CPU, until a
// notify on its condition variable or an Advance() past its deadline; real time plays no part.
// A test that drives a thread waits until it is blocked (WaitForWaiters), then advances.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimestampMs start_ms = 1'760'400'000'000) : now_ms_(start_ms), steady_ms_(0) {}
  TimestampMs NowMs() const override { return now_ms_.load(); }
  SteadyTime SteadyNow() const override {
    return SteadyTime(std::chrono::milliseconds(steady_ms_.load()));
  }
  // Moves both clocks forward by `ms` and wakes every wait whose deadline is now reached. It
  // returns once each of those has been notified (not once its thread has run on). It locks each
  // such waiter's mutex to notify it, so it must not be called with such a mutex held.
  void Advance(int64_t ms);
  // Steps only the wall clock (an NTP step); monotonic time, and so every wait, is unaffected.
  void StepWall(int64_t ms) { now_ms_ += ms; }
  void SetWall(TimestampMs ms) { now_ms_ = ms; }

  // Test helpers. A "waiter" is a thread blocked in a wait on this clock whose deadline has not
  // been reached: one that Advance() has woken no longer counts, even before it runs, so after
  // Advance(), WaitForWaiters(n) returns once n threads have finished their turn and wait again.
  // A waiter woken by its condition variable counts until it has left the wait.
  int Waiters() const;
  // Blocks (real time) until at least `n` threads wait on this clock, or `timeout` passed;
  // returns whether they do. The timeout only keeps a broken test from hanging.
  bool WaitForWaiters(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // The earliest deadline among the waiters, if there are any.
  std::optional<SteadyTime> NextDeadline() const;
  // Advances exactly to NextDeadline() (which wakes that waiter); false when nobody waits.
  bool AdvanceToNextDeadline();

 protected:
  void WaitOnce(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                SteadyTime deadline) const override;

 private:
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* cv;
    SteadyTime deadline;
    bool woken = false;       // Advance() reached its deadline
    bool notifying = false;   // Advance() is notifying it now: it must not leave the table
  };

  std::atomic<TimestampMs> now_ms_;
  std::atomic<int64_t> steady_ms_;  // written under mu_, so a waiter's check and Advance() agree
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // waiters came, were woken or left
  // Each lives on its thread's stack. Guarded by mu_, in prose only: FakeClock is a test double
  // whose Advance() also takes each waiter's own mutex through a pointer, which the analysis
  // cannot name; tests/core/clock_test.cc's concurrent advances check it instead.
  mutable std::vector<Waiter*> waiters_;
};

// A point in monotonic time by which a probe must have returned, or sooner, once `cancellation`
// (when set) is cancelled: the daemon is stopping, and a run in flight is abandoned. Code that
// blocks in poll() until the deadline also polls cancellation->fd() (CancellationFd()), so that
// it wakes then rather than at `at`.
struct Deadline {
  SteadyTime at;
  const Cancellation* cancellation = nullptr;
  bool Cancelled() const { return cancellation != nullptr && cancellation->cancelled(); }
  bool Expired(const Clock& clock) const { return Cancelled() || clock.SteadyNow() >= at; }
  // Remaining time, never negative; 0 once cancelled.
  std::chrono::milliseconds Remaining(const Clock& clock) const {
    if (Cancelled()) return std::chrono::milliseconds(0);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at - clock.SteadyNow());
    return left.count() > 0 ? left : std::chrono::milliseconds(0);
  }
  // The descriptor that becomes readable when the run is cancelled; -1 when it cannot be.
  int CancellationFd() const { return cancellation != nullptr ? cancellation->fd() : -1; }
};

}  // namespace obsmon
