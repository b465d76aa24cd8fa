// Clock's waits: a FakeClock wakes a waiting thread when Advance() reaches its deadline, a notify
// still wakes it early, and a test can tell when a thread is blocked (WaitForWaiters) instead of
// sleeping. SystemClock's waits are plain timed waits.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace obsmon {
namespace {

using std::chrono::milliseconds;

TEST(FakeClockTest, SleepEndsWhenAdvancePassesTheDeadline) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(milliseconds(1'000));
    woke = true;
  });
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(clock.NextDeadline(), SteadyTime(milliseconds(1'000)));
  clock.Advance(999);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // not reached: still blocked
  EXPECT_FALSE(woke.load());
  clock.Advance(1);
  sleeper.join();  // returns only because Advance woke it
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.Waiters(), 0);
}

TEST(FakeClockTest, WaitUntilEndsOnNotifyOrOnTime) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool work = false;
  int results = 0;   // GUARDED_BY(mu)
  bool last = false; // GUARDED_BY(mu)
  std::thread waiter([&] {
    for (int i = 0; i < 2; ++i) {
      std::unique_lock<std::mutex> lock(mu);
      bool got = clock.WaitFor(lock, cv, milliseconds(500), [&] { return work; });
      work = false;
      last = got;
      ++results;
      cv.notify_all();
    }
  });
  // First: work arrives before the deadline; the notify wakes the waiter with no time passing.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  {
    std::lock_guard<std::mutex> lock(mu);
    work = true;
  }
  cv.notify_all();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return results == 1; }));
    EXPECT_TRUE(last);
  }
  // Second: nothing arrives; Advance() to the deadline ends the wait with false.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_TRUE(clock.AdvanceToNextDeadline());
  waiter.join();
  EXPECT_EQ(results, 2);
  EXPECT_FALSE(last);
  EXPECT_FALSE(clock.AdvanceToNextDeadline());  // nobody waits now
}

TEST(FakeClockTest, AWaitWhoseDeadlineHasPassedDoesNotBlock) {
  FakeClock clock;
  clock.Advance(10);
  clock.SleepUntil(SteadyTime(milliseconds(5)));
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_FALSE(clock.WaitUntil(lock, cv, clock.SteadyNow(), [] { return false; }));
  EXPECT_TRUE(clock.WaitUntil(lock, cv, clock.SteadyNow() + milliseconds(5), [] { return true; }));
}

// A wall-clock step (NTP) moves no deadline: waits are on monotonic time only.
TEST(FakeClockTest, StepWallWakesNobody) {
  FakeClock clock;
  std::thread sleeper([&] { clock.SleepFor(milliseconds(100)); });
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.StepWall(3'600'000);
  EXPECT_EQ(clock.Waiters(), 1);
  clock.Advance(100);
  sleeper.join();
}

// Many threads, each advancing and waiting: no wake-up is lost between a waiter's time check and
// its block (Advance notifies under the waiter's own mutex).
TEST(FakeClockTest, NoLostWakeUpsUnderConcurrentAdvances) {
  FakeClock clock;
  constexpr int kSleepers = 4;
  constexpr int kRounds = 200;
  std::atomic<bool> done{false};
  std::vector<std::thread> sleepers;
  for (int t = 0; t < kSleepers; ++t) {
    sleepers.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) clock.SleepFor(milliseconds(1 + i % 3));
    });
  }
  std::thread advancer([&] {
    while (!done.load()) {
      clock.Advance(1);
      std::this_thread::yield();
    }
  });
  for (auto& t : sleepers) t.join();  // hangs if a wake-up were lost
  done = true;
  advancer.join();
}

TEST(SystemClockTest, WaitUntilTimesOutOnRealTimeAndWakesOnNotify) {
  const Clock& clock = SystemClock::Instance();
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  const SteadyTime start = clock.SteadyNow();
  EXPECT_FALSE(clock.WaitFor(lock, cv, milliseconds(20), [] { return false; }));
  EXPECT_GE(clock.SteadyNow() - start, milliseconds(20));
  bool ready = false;
  std::thread notifier([&] {
    std::lock_guard<std::mutex> l(mu);
    ready = true;
    cv.notify_all();
  });
  EXPECT_TRUE(clock.WaitFor(lock, cv, std::chrono::seconds(30), [&] { return ready; }));
  lock.unlock();
  notifier.join();
}

}  // namespace
}  // namespace obsmon
