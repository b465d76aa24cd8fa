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

// Prometheus's range (int64 nanoseconds, ~292 years) and no signed overflow on the way: these
// inputs overflowed before (UBSan) or passed `check` and then overflowed in the scheduler.
TEST(DurationTest, OutOfRangeDurationsAreRefused) {
  EXPECT_EQ(ParseDurationMs("292y"), 292LL * 365 * 86'400'000);
  for (const char* bad : {"293y", "292471208y1000w", "9223372036854775807ms",
                          "9223372036854775807s", "9223372036854775808ms", "106751d1d",
                          "292y52w2d"}) {
    EXPECT_FALSE(ParseDurationMs(bad).has_value()) << bad;
  }
  EXPECT_EQ(ParseDurationMs(FormatDurationMs(kMaxDurationMs)), kMaxDurationMs);
}

TEST(DurationTest, FormatHandlesTheExtremes) {
  EXPECT_EQ(FormatDurationMs(INT64_MIN), "-106751991167d7h12m55s808ms");
  EXPECT_EQ(FormatDurationMs(INT64_MAX), "106751991167d7h12m55s807ms");
  EXPECT_EQ(FormatDurationMs(-1500), "-1s500ms");
}

// As Prometheus's model.Duration (promtool's messages): years and weeks only when they divide
// the rest, so a time is told in days otherwise.
TEST(DurationTest, YearsAndWeeksOnlyWhenTheyDivide) {
  EXPECT_EQ(FormatDurationMs(7LL * 86'400'000 + 3'600'000), "7d1h");
  EXPECT_EQ(FormatDurationMs(14LL * 86'400'000 + 120'000), "14d2m");
  EXPECT_EQ(FormatDurationMs(14LL * 86'400'000), "2w");
  EXPECT_EQ(FormatDurationMs(365LL * 86'400'000), "1y");
  EXPECT_EQ(FormatDurationMs(366LL * 86'400'000), "366d");
}

TEST(DurationTest, HumanForm) {
  EXPECT_EQ(HumanDurationMs(340), "340ms");
  EXPECT_EQ(HumanDurationMs(50 * 60'000 + 24'000), "50m 24s");
  EXPECT_EQ(HumanDurationMs(2 * 3'600'000 + 3 * 60'000), "2h 03m");
}

}  // namespace
}  // namespace obsmon
