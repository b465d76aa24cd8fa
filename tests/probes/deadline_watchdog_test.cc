#include "probes/deadline_watchdog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;

// Counts cancel calls; a test waits on it for the watchdog's thread (not for time to pass).
class Calls {
 public:
  std::function<void()> Fn() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

TEST(DeadlineWatchdogTest, FiresOnlyOnceFakeClockPassesDeadline) {
  FakeClock clock;
  DeadlineWatchdog dog(clock);
  Calls calls;
  const Deadline deadline{clock.SteadyNow() + milliseconds(1000)};
  auto watch = dog.Arm(deadline, calls.Fn());
  // The watchdog's thread blocks on the fake clock until that deadline.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(clock.NextDeadline(), deadline.at);
  clock.Advance(999);
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(calls.count(), 0);
  EXPECT_FALSE(watch->fired());
  clock.Advance(1);
  ASSERT_TRUE(calls.WaitFor(1));
  EXPECT_TRUE(watch->fired());
  // Once only: a later watch makes the thread go round again and wait for that one.
  auto later = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(1000)}, [] {});
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(clock.NextDeadline(), clock.SteadyNow() + milliseconds(1000));
  EXPECT_EQ(calls.count(), 1);
}

TEST(DeadlineWatchdogTest, DisarmedWatchNeverFires) {
  FakeClock clock;
  DeadlineWatchdog dog(clock);
  Calls disarmed_calls;
  Calls armed_calls;
  auto disarmed = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, disarmed_calls.Fn());
  auto armed = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, armed_calls.Fn());
  disarmed.reset();
  clock.Advance(10);
  ASSERT_TRUE(armed_calls.WaitFor(1));
  EXPECT_EQ(disarmed_calls.count(), 0);
}

// A watch that ends sooner than the one the thread waits for wakes it for the earlier deadline.
TEST(DeadlineWatchdogTest, AnEarlierDeadlineIsNotMissed) {
  FakeClock clock;
  DeadlineWatchdog dog(clock);
  Calls late_calls;
  Calls early_calls;
  auto late = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(1000)}, late_calls.Fn());
  ASSERT_TRUE(clock.WaitForWaiters(1));
  auto early = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, early_calls.Fn());
  clock.Advance(10);
  ASSERT_TRUE(early_calls.WaitFor(1));
  EXPECT_EQ(late_calls.count(), 0);
}

// No thread before the first watch; with nothing armed the thread waits for an Arm, not on time.
TEST(DeadlineWatchdogTest, IdleWatchdogDoesNotWaitOnTheClock) {
  FakeClock clock;
  DeadlineWatchdog dog(clock);
  EXPECT_EQ(clock.Waiters(), 0);
  Calls calls;
  {
    auto watch = dog.Arm(Deadline{clock.SteadyNow() + milliseconds(10)}, calls.Fn());
    clock.Advance(10);
    ASSERT_TRUE(calls.WaitFor(1));
  }
  EXPECT_FALSE(clock.AdvanceToNextDeadline());
}

}  // namespace
}  // namespace obsmon::probes
