#include "probes/deadline_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;

// Waits (bounded) for the watchdog thread to act; this waits for a thread, not for time.
bool EventuallyTrue(const std::atomic<int>& value) {
  for (int i = 0; i < 400; ++i) {
    if (value.load() > 0) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return value.load() > 0;
}

TEST(DeadlineWatchdogTest, FiresOnlyOnceFakeClockPassesDeadline) {
  FakeClock clock;
  DeadlineWatchdog dog(clock, milliseconds(1));
  std::atomic<int> calls{0};
  auto watch = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(1000)}, [&] { ++calls; });
  // The watchdog thread gets many chances to run while fake time stands still.
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_FALSE(watch->fired());
  clock.Advance(1000);
  ASSERT_TRUE(EventuallyTrue(calls));
  EXPECT_TRUE(watch->fired());
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(calls.load(), 1);  // once only
}

TEST(DeadlineWatchdogTest, DisarmedWatchNeverFires) {
  FakeClock clock;
  DeadlineWatchdog dog(clock, milliseconds(1));
  std::atomic<int> disarmed_calls{0};
  std::atomic<int> armed_calls{0};
  auto disarmed =
      dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, [&] { ++disarmed_calls; });
  auto armed = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, [&] { ++armed_calls; });
  disarmed.reset();
  clock.Advance(10);
  ASSERT_TRUE(EventuallyTrue(armed_calls));
  EXPECT_EQ(disarmed_calls.load(), 0);
}

TEST(DeadlineWatchdogTest, SharedPerClock) {
  FakeClock a;
  FakeClock b;
  auto a1 = DeadlineWatchdog::ForClock(a);
  auto a2 = DeadlineWatchdog::ForClock(a);
  auto b1 = DeadlineWatchdog::ForClock(b);
  EXPECT_EQ(a1.get(), a2.get());
  EXPECT_NE(a1.get(), b1.get());
}

}  // namespace
}  // namespace obsmon::probes
