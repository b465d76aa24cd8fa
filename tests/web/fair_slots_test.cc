// FairSlots: slots go to waiters in the order they came; a waiter leaves when its wait is up or
// its client has gone, and its place passes to the next. Threads wait on real condition
// variables; the test moves them on by releasing slots and by `gone`, never by sleeping.
#include "web/fair_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;

bool WaitForWaiting(const FairSlots& slots, size_t n) {
  return testing::WaitUntil([&] { return slots.waiting() == n; }, std::chrono::seconds(10));
}

TEST(FairSlotsTest, WaitersAreServedInTheOrderTheyCame) {
  FairSlots slots(1);
  ASSERT_EQ(slots.Acquire(0ms, nullptr), FairSlots::Outcome::kAcquired);
  std::mutex order_mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.emplace_back([&, i] {
      ASSERT_EQ(slots.Acquire(60s, nullptr), FairSlots::Outcome::kAcquired);
      {
        std::lock_guard<std::mutex> lock(order_mu);
        order.push_back(i);
      }
      slots.Release();
    });
    ASSERT_TRUE(WaitForWaiting(slots, static_cast<size_t>(i) + 1));  // queued before the next
  }
  slots.Release();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(slots.free(), 1u);
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(FairSlotsTest, AWaiterWhoseClientLeftGivesItsPlaceToTheNext) {
  FairSlots slots(1);
  ASSERT_EQ(slots.Acquire(0ms, nullptr), FairSlots::Outcome::kAcquired);
  std::atomic<bool> first_gone{false};
  std::atomic<int> first{-1}, second{-1};
  std::thread a([&] {
    first = static_cast<int>(slots.Acquire(60s, [&] { return first_gone.load(); }, 1ms));
  });
  ASSERT_TRUE(WaitForWaiting(slots, 1));
  std::thread b([&] {
    second = static_cast<int>(slots.Acquire(60s, [] { return false; }, 1ms));
    if (second == static_cast<int>(FairSlots::Outcome::kAcquired)) slots.Release();
  });
  ASSERT_TRUE(WaitForWaiting(slots, 2));
  first_gone = true;
  a.join();
  EXPECT_EQ(first, static_cast<int>(FairSlots::Outcome::kGone));
  EXPECT_EQ(slots.waiting(), 1u);  // the second still waits: the slot is still held
  slots.Release();
  b.join();
  EXPECT_EQ(second, static_cast<int>(FairSlots::Outcome::kAcquired));
  EXPECT_EQ(slots.free(), 1u);
}

TEST(FairSlotsTest, AWaitThatRunsOutLeavesTheQueueAndTheSlotsAsTheyWere) {
  FairSlots slots(2);
  ASSERT_EQ(slots.Acquire(0ms, nullptr), FairSlots::Outcome::kAcquired);
  ASSERT_EQ(slots.Acquire(0ms, nullptr), FairSlots::Outcome::kAcquired);
  EXPECT_EQ(slots.Acquire(0ms, nullptr), FairSlots::Outcome::kTimedOut);
  EXPECT_EQ(slots.Acquire(0ms, [] { return false; }), FairSlots::Outcome::kTimedOut);
  EXPECT_EQ(slots.Acquire(10s, [] { return true; }), FairSlots::Outcome::kGone);
  EXPECT_EQ(slots.waiting(), 0u);
  slots.Release();
  EXPECT_EQ(slots.Acquire(0ms, [] { return true; }), FairSlots::Outcome::kAcquired);  // free first
  slots.Release();
  slots.Release();
  EXPECT_EQ(slots.free(), 2u);
}

}  // namespace
}  // namespace obsmon
