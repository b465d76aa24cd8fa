// Per-client and total connection counts of the HTTP connection gate.
#include "web/connection_limits.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

using Verdict = ConnectionLimits::Verdict;

TEST(ConnectionLimitsTest, PerClientLimitIsCheckedBeforeTheTotal) {
  ConnectionLimits limits(3, 2);
  EXPECT_EQ(limits.Check("a"), Verdict::kAdmit);
  limits.Add("a");
  limits.Add("a");
  EXPECT_EQ(limits.Check("a"), Verdict::kOverClient);
  EXPECT_EQ(limits.Check("b"), Verdict::kAdmit);
  limits.Add("b");
  EXPECT_EQ(limits.Check("c"), Verdict::kOverTotal);
  EXPECT_EQ(limits.Check("a"), Verdict::kOverClient);
  EXPECT_EQ(limits.open(), 3u);
  EXPECT_EQ(limits.OpenBy("a"), 2u);
}

// The report places take and check at once; a full total is what a client is told first.
TEST(ConnectionLimitsTest, TryAddTakesAPlaceOnlyWhenBothLimitsAllow) {
  ConnectionLimits limits(3, 2);
  EXPECT_EQ(limits.TryAdd("a"), Verdict::kAdmit);
  EXPECT_EQ(limits.TryAdd("a"), Verdict::kAdmit);
  EXPECT_EQ(limits.TryAdd("a"), Verdict::kOverClient);
  EXPECT_EQ(limits.TryAdd("b"), Verdict::kAdmit);
  EXPECT_EQ(limits.TryAdd("a"), Verdict::kOverTotal);  // both reached: the total
  EXPECT_EQ(limits.TryAdd("c"), Verdict::kOverTotal);
  EXPECT_EQ(limits.open(), 3u);
  EXPECT_EQ(limits.OpenBy("a"), 2u);
  limits.Remove("b");
  EXPECT_EQ(limits.TryAdd("c"), Verdict::kAdmit);
}

TEST(ConnectionLimitsTest, RemovingGivesRoomBackAndForgetsIdleClients) {
  ConnectionLimits limits(2, 2);
  limits.Add("a");
  limits.Add("a");
  EXPECT_EQ(limits.Check("b"), Verdict::kOverTotal);
  limits.Remove("a");
  EXPECT_EQ(limits.Check("b"), Verdict::kAdmit);
  EXPECT_EQ(limits.OpenBy("a"), 1u);
  limits.Remove("a");
  EXPECT_EQ(limits.open(), 0u);
  EXPECT_EQ(limits.OpenBy("a"), 0u);
  limits.Remove("never-added");  // no underflow
  EXPECT_EQ(limits.open(), 0u);
  EXPECT_EQ(limits.Check("a"), Verdict::kAdmit);
}

}  // namespace
}  // namespace obsmon
