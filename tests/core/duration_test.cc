#include "core/duration.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(DurationTest, ParsesPrometheusDurations) {
  EXPECT_EQ(ParseDurationMs("500ms"), 500);
  EXPECT_EQ(ParseDurationMs("15s"), 15'000);
  EXPECT_EQ(ParseDurationMs("2m"), 120'000);
  EXPECT_EQ(ParseDurationMs("1h30m"), 5'400'000);
  EXPECT_EQ(ParseDurationMs("7d"), 604'800'000);
  EXPECT_EQ(ParseDurationMs("1w"), 604'800'000);
  EXPECT_EQ(ParseDurationMs("1m30s500ms"), 90'500);
  EXPECT_EQ(ParseDurationMs("0"), 0);
}

TEST(DurationTest, RefusesMalformedDurations) {
  for (const char* bad : {"", "5", "1.5h", "-1s", "s", "1x", "30s1m", "1m1m", "1 m", "ms"}) {
    EXPECT_FALSE(ParseDurationMs(bad).has_value()) << bad;
  }
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t ms : {0LL, 1LL, 999LL, 1000LL, 90'500LL, 5'400'000LL, 604'800'000LL}) {
    EXPECT_EQ(ParseDurationMs(FormatDurationMs(ms)), ms) << FormatDurationMs(ms);
  }
  EXPECT_EQ(FormatDurationMs(90'000), "1m30s");
}

TEST(DurationTest, HumanForm) {
  EXPECT_EQ(HumanDurationMs(340), "340ms");
  EXPECT_EQ(HumanDurationMs(50 * 60'000 + 24'000), "50m 24s");
  EXPECT_EQ(HumanDurationMs(2 * 3'600'000 + 3 * 60'000), "2h 03m");
}

}  // namespace
}  // namespace obsmon
