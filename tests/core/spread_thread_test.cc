#include "core/spread_thread.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <thread>

namespace obsmon {
namespace {

cpu_set_t ThisThreadsCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  return set;
}

TEST(SpreadThreadTest, StartsOnAnotherCpuThenMayUseEveryCpuItsCreatorMay) {
  const cpu_set_t creators = ThisThreadsCpus();
  if (CPU_COUNT(&creators) < 2) GTEST_SKIP() << "one CPU allowed: nowhere else to start";
  // Several times: the kernel is free to place an unpinned thread anywhere, and that is what
  // this must not leave to chance.
  for (int i = 0; i < 20; ++i) {
    int started_on = -1;
    cpu_set_t helpers;
    CPU_ZERO(&helpers);
    int avoided = -2;
    {
      // Where it began, from the thread's own first act: its body runs after it widened its
      // set and may have been moved by then (the sanitized suite once saw the body on the
      // avoided CPU, in round 18 of 20).
      SpreadThread helper([&] { helpers = ThisThreadsCpus(); });
      avoided = helper.avoided_cpu();
      helper.Join();
      started_on = helper.started_on_cpu();
    }
    ASSERT_GE(avoided, 0) << "round " << i;
    EXPECT_TRUE(CPU_ISSET(avoided, &creators));
    EXPECT_NE(started_on, avoided) << "round " << i;
    EXPECT_TRUE(CPU_EQUAL(&helpers, &creators)) << "round " << i << ": still pinned";
  }
}

TEST(SpreadThreadTest, OnOneAllowedCpuRunsAsAnyThread) {
  const cpu_set_t all = ThisThreadsCpus();
  int only = -1;
  for (int c = 0; c < CPU_SETSIZE && only < 0; ++c) {
    if (CPU_ISSET(c, &all)) only = c;
  }
  ASSERT_GE(only, 0);
  // On a thread of its own, pinned to one CPU as `taskset -c N` would pin the daemon.
  std::atomic<int> ran{0};
  int avoided = -2;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(only, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    SpreadThread helper([&] { ran = sched_getcpu() == only ? 1 : 2; });
    avoided = helper.avoided_cpu();
  });
  pinned.join();
  EXPECT_EQ(avoided, -1);
  EXPECT_EQ(ran.load(), 1);
}

TEST(SpreadThreadTest, JoinsBeforeTheDestructorReturns) {
  std::atomic<bool> done{false};
  {
    SpreadThread helper([&] {
      std::this_thread::yield();
      done = true;
    });
  }
  EXPECT_TRUE(done.load());
}

}  // namespace
}  // namespace obsmon
