// remote/log_limiter: the first occurrence goes through, then one per period with what was held
// back; held-back occurrences are never lost (TakeHeldBack).
#include "remote/log_limiter.h"

#include <gtest/gtest.h>

namespace obsmon::remote {
namespace {

using std::chrono::seconds;

TEST(LogLimiterTest, FirstThenOncePerPeriodWithTheCountHeldBack) {
  LogLimiter limiter(seconds(60));
  const SteadyTime t0{};
  EXPECT_FALSE(limiter.started());
  auto first = limiter.Admit(t0, 10);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->occurrences, 0u);
  EXPECT_TRUE(limiter.started());
  for (int i = 1; i < 60; ++i) EXPECT_FALSE(limiter.Admit(t0 + seconds(i), 2).has_value()) << i;
  auto next = limiter.Admit(t0 + seconds(60), 5);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->occurrences, 59u);
  EXPECT_EQ(next->amount, 118u);
  // The period counts from the last line let through, not from the first.
  EXPECT_FALSE(limiter.Admit(t0 + seconds(119), 3).has_value());
  EXPECT_FALSE(limiter.Admit(t0 + seconds(119), 4).has_value());
  auto held = limiter.TakeHeldBack();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->occurrences, 2u);
  EXPECT_EQ(held->amount, 7u);
  EXPECT_FALSE(limiter.TakeHeldBack().has_value());  // told once
  auto after = limiter.Admit(t0 + seconds(120), 1);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->occurrences, 0u);  // what was taken is not told again
}

}  // namespace
}  // namespace obsmon::remote
