#include "core/time_format.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace obsmon {
namespace {

// 2025-10-14T00:00:00Z, computed independently: 20375 days after the epoch.
constexpr TimestampMs kOct14 = 20375LL * 86'400'000;

TEST(TimeFormatTest, FormatsRfc3339Utc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(kOct14), "2025-10-14T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(kOct14 + 12 * 3'600'000 + 250), "2025-10-14T12:00:00.250Z");
}

TEST(TimeFormatTest, ParsesWhatPrometheusAccepts) {
  EXPECT_EQ(ParseTimestamp("2025-10-14T00:00:00Z"), kOct14);
  EXPECT_EQ(ParseTimestamp("2025-10-14"), kOct14);
  EXPECT_EQ(ParseTimestamp("2025-10-14T02:00:00+02:00"), kOct14);
  EXPECT_EQ(ParseTimestamp("2025-10-13T22:30:00-01:30"), kOct14);
  EXPECT_EQ(ParseTimestamp("2025-10-14T00:00:00.5Z"), kOct14 + 500);
  EXPECT_EQ(ParseTimestamp("1760400000"), 1'760'400'000'000);
  EXPECT_EQ(ParseTimestamp("1760400000.25"), 1'760'400'000'250);
}

// Instants RFC 3339 cannot write in UTC are refused, not printed back as "10000-01-01T..." or
// "-001-12-31T..." (which nothing reads back; fresh eyes, stop 67).
TEST(TimeFormatTest, RefusesInstantsOutsideYearsZeroToNineThousandNineHundredNinetyNine) {
  EXPECT_EQ(ParseTimestamp("0000-01-01T00:00:00Z"), kEarliestRfc3339Ms);
  EXPECT_EQ(ParseTimestamp("9999-12-31T23:59:59.999Z"), kLatestRfc3339Ms);
  EXPECT_EQ(ParseTimestamp("9999-12-31T23:59:59.999+00:00"), kLatestRfc3339Ms);
  EXPECT_EQ(FormatRfc3339(kEarliestRfc3339Ms), "0000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(kLatestRfc3339Ms), "9999-12-31T23:59:59.999Z");
  for (const char* out : {"0000-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00",
                          "9999-12-31T23:59:60Z", "0000-01-01T00:30:00+00:31"}) {
    EXPECT_FALSE(ParseTimestamp(out).has_value()) << out;
  }
}

TEST(TimeFormatTest, RefusesGarbage) {
  for (const char* bad : {"", "yesterday", "2025-13-01", "2025-10-14T25:00:00Z", "2025-10-14T",
                          "2025-10-14T00:00:00", "-5", "1e400", "2025-10-14T00:00:00Zjunk"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

// Days a month has not are refused (Go's time.Parse, which Prometheus uses, refuses them too),
// not carried into the next month: 2026-02-30 is no 2026-03-02.
TEST(TimeFormatTest, RefusesDaysTheMonthHasNot) {
  for (const char* bad : {"2026-02-29", "2026-02-30T00:00:00Z", "2026-04-31", "2100-02-29",
                          "2026-06-31T12:00:00+02:00", "2026-01-00"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
  // Leap days that exist: 2024 and 2000 (divisible by 400); 2024-02-29 is 19782 days after 1970.
  EXPECT_EQ(ParseTimestamp("2024-02-29"), 19782LL * 86'400'000);
  EXPECT_TRUE(ParseTimestamp("2000-02-29T00:00:00Z").has_value());
  EXPECT_EQ(ParseTimestamp("2026-01-31"), ParseTimestamp("2026-02-01").value() - 86'400'000);
}

TEST(TimeFormatTest, FloorMsIsFloorDivisionAlsoBefore1970) {
  constexpr int64_t kHour = 3'600'000;
  EXPECT_EQ(FloorMs(1'760'400'000'000 + 59 * 60'000, kHour), 1'760'400'000'000);
  EXPECT_EQ(FloorMs(7 * kHour, kHour), 7 * kHour);
  EXPECT_EQ(FloorMs(0, kHour), 0);
  EXPECT_EQ(FloorMs(-1, kHour), -kHour);
  EXPECT_EQ(FloorMs(-kHour, kHour), -kHour);
  EXPECT_EQ(FloorMs(-kHour - 1, 86'400'000), -86'400'000);
}

}  // namespace
}  // namespace obsmon
