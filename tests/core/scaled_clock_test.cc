// ScaledClock over a FakeClock: its time runs `speed` times the base's, a sleep on it ends at the
// base time its deadline maps to (not a tick earlier), a notify still wakes a wait at once, and
// the far deadlines of notify-only waits do not overflow.
#include "core/scaled_clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace obsmon {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ScaledClockTest, WallAndSteadyTimeRunSpeedTimesTheBase) {
  FakeClock base(1'000'000);
  base.Advance(5);  // the scaled clock counts from its own start, not the base's
  const ScaledClock clock(base, 20);
  const SteadyTime steady_start = clock.SteadyNow();
  EXPECT_EQ(clock.NowMs(), 1'000'005);
  base.Advance(150);
  EXPECT_EQ(clock.NowMs(), 1'000'005 + 3'000);
  EXPECT_EQ(clock.SteadyNow() - steady_start, milliseconds(3'000));
  base.StepWall(-60'000);  // a step of the base's wall clock: the scaled clock runs on its steady
  EXPECT_EQ(clock.NowMs(), 1'000'005 + 3'000);
}

TEST(ScaledClockTest, ASleepEndsAtTheBaseTimeItsDeadlineMapsTo) {
  FakeClock base;
  const ScaledClock clock(base, 3);
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(milliseconds(1'000));  // 333.33... ms of the base: woken at 333.333334
    woke = true;
  });
  ASSERT_TRUE(base.WaitForWaiters(1));
  const SteadyTime start = SteadyTime(nanoseconds(0));
  EXPECT_EQ(base.NextDeadline(), start + nanoseconds(333'333'334));
  base.Advance(333);
  ASSERT_TRUE(base.WaitForWaiters(1));  // 999 ms on the scaled clock: still asleep
  EXPECT_FALSE(woke.load());
  EXPECT_EQ(base.NextDeadline(), start + nanoseconds(333'333'334));
  base.Advance(1);
  sleeper.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(base.Waiters(), 0);
}

TEST(ScaledClockTest, ANotifyWakesAWaitWithNoTimePassing) {
  FakeClock base;
  const ScaledClock clock(base, 50);
  std::mutex mu;
  std::condition_variable cv;
  bool work = false;
  std::atomic<int> got{-1};
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    got = clock.WaitFor(lock, cv, milliseconds(60'000), [&] { return work; }) ? 1 : 0;
  });
  ASSERT_TRUE(base.WaitForWaiters(1));
  EXPECT_EQ(base.NextDeadline(), SteadyTime(milliseconds(1'200)));
  {
    std::lock_guard<std::mutex> lock(mu);
    work = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_EQ(got.load(), 1);
}

TEST(ScaledClockTest, AWaitForeverMapsToAFarBaseDeadlineWithoutOverflow) {
  FakeClock base;  // steady time starts at 0, where (ahead + speed - 1) would overflow
  const ScaledClock clock(base, 7);
  std::mutex mu;
  std::condition_variable cv;
  bool work = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    clock.WaitUntil(lock, cv, SteadyTime::max(), [&] { return work; });
  });
  ASSERT_TRUE(base.WaitForWaiters(1));
  const auto deadline = base.NextDeadline();
  ASSERT_TRUE(deadline.has_value());
  EXPECT_GT(*deadline, SteadyTime(std::chrono::hours(24 * 365 * 10)));  // not wrapped to the past
  {
    std::lock_guard<std::mutex> lock(mu);
    work = true;
  }
  cv.notify_all();
  waiter.join();
}

}  // namespace
}  // namespace obsmon
