// Recurring windows: the spec parser (with hostile inputs) and the expansion into UTC intervals,
// across the DST changes of 2026 in Berlin and New York (expected instants written by hand from
// zdump's transitions).
#include "core/recurrence.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/period_records.h"

namespace obsmon {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

int64_t UtcMs(int64_t y, int mo, int d, int h = 0, int mi = 0) {
  return (detail::DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

TimeZone Zone(const std::string& name) {
  auto z = TimeZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status().message();
  return std::move(z).value();
}

TEST(RecurrenceTest, ParsesAndFormats) {
  auto w = ParseRecurrence("weekly sun 02:00");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->every, Recurrence::Every::kWeek);
  EXPECT_EQ(w->weekday, 0);
  EXPECT_EQ(w->minute_of_day, 120);
  EXPECT_EQ(FormatRecurrence(*w), "weekly sun 02:00");
  EXPECT_EQ(FormatRecurrence(*ParseWeekly("Saturday 9:05")), "weekly sat 09:05");
  EXPECT_EQ(FormatRecurrence(*ParseWeekly("  WED   23:59 ")), "weekly wed 23:59");
  EXPECT_EQ(FormatRecurrence(*ParseDaily("00:00")), "daily 00:00");
  EXPECT_EQ(FormatRecurrence(*ParseRecurrence("daily 23:30")), "daily 23:30");
  EXPECT_EQ(w->IntervalMs(), 7 * kDay);
  EXPECT_EQ(ParseDaily("1:00")->IntervalMs(), kDay);
}

TEST(RecurrenceTest, RefusesWhatIsNotASpec) {
  for (const char* bad :
       {"", "weekly", "weekly sun", "weekly sun 24:00", "weekly sun 02:60", "weekly sun 2",
        "weekly sun 02:0", "weekly sun 002:00", "weekly sunday-ish 02:00", "weekly sun 02:00 x",
        "monthly 1 02:00", "daily", "daily 02:00 03:00", "daily -1:00", "daily 02:00:00",
        "daily :00", "daily 0x:00", "weekly sun\t02:00", "weekly sun 02:00\n"}) {
    EXPECT_FALSE(ParseRecurrence(bad)) << bad;
  }
  EXPECT_FALSE(ParseWeekly("02:00"));
  EXPECT_FALSE(ParseDaily("sun 02:00"));
  EXPECT_FALSE(ParseRecurrence(std::string(65, ' ') + "daily 02:00"));
  // Random bytes: never a crash, and whatever parses formats to something that parses alike.
  std::mt19937 rng(1);
  const std::string alphabet = "weklydaisunmotf 0123456789:\xff\x00WEEKLY";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 24);
    for (int j = 0; j < n; ++j) s += alphabet[rng() % alphabet.size()];
    if (auto r = ParseRecurrence(s)) {
      auto again = ParseRecurrence(FormatRecurrence(*r));
      ASSERT_TRUE(again) << s;
      EXPECT_EQ(FormatRecurrence(*again), FormatRecurrence(*r));
    }
  }
}

TEST(RecurrenceTest, WeeklyInBerlinAcrossBothDstChanges) {
  const TimeZone berlin = Zone("Europe/Berlin");
  const Recurrence sun2 = *ParseWeekly("sun 02:00");
  // March 2026: Sundays 15, 22 (CET, 01:00 UTC), 29 (the gap: 02:00 CET = 01:00 UTC, which
  // is 03:00 CEST), April 5 (CEST, 00:00 UTC).
  auto march = ExpandRecurrence(sun2, berlin, 2 * kHour, 0, kMaintenanceNoEndMs, UtcMs(2026, 3, 14),
                                UtcMs(2026, 4, 6));
  ASSERT_TRUE(march.ok()) << march.status().message();
  ASSERT_EQ(march->size(), 4u);
  EXPECT_EQ((*march)[0].start_ms, UtcMs(2026, 3, 15, 1));
  EXPECT_EQ((*march)[1].start_ms, UtcMs(2026, 3, 22, 1));
  EXPECT_EQ((*march)[2].start_ms, UtcMs(2026, 3, 29, 1));
  EXPECT_EQ((*march)[3].start_ms, UtcMs(2026, 4, 5, 0));
  for (const auto& o : *march) EXPECT_EQ(o.end_ms - o.start_ms, 2 * kHour);  // elapsed time
  // October 2026: Sundays 18 (CEST, 00:00 UTC), 25 (02:00 happens twice: the first, CEST,
  // 00:00 UTC), November 1 (CET, 01:00 UTC).
  auto october = ExpandRecurrence(sun2, berlin, 2 * kHour, 0, kMaintenanceNoEndMs,
                                  UtcMs(2026, 10, 17), UtcMs(2026, 11, 2));
  ASSERT_TRUE(october.ok());
  ASSERT_EQ(october->size(), 3u);
  EXPECT_EQ((*october)[0].start_ms, UtcMs(2026, 10, 18, 0));
  EXPECT_EQ((*october)[1].start_ms, UtcMs(2026, 10, 25, 0));
  EXPECT_EQ((*october)[2].start_ms, UtcMs(2026, 11, 1, 1));
}

TEST(RecurrenceTest, DailyInNewYorkAcrossDstChanges) {
  const TimeZone ny = Zone("America/New_York");
  const Recurrence at0230 = *ParseDaily("02:30");
  auto spring = ExpandRecurrence(at0230, ny, 30 * 60'000, 0, kMaintenanceNoEndMs, UtcMs(2026, 3, 7),
                                 UtcMs(2026, 3, 10));
  ASSERT_TRUE(spring.ok());
  ASSERT_EQ(spring->size(), 3u);
  EXPECT_EQ((*spring)[0].start_ms, UtcMs(2026, 3, 7, 7, 30));  // EST
  EXPECT_EQ((*spring)[1].start_ms, UtcMs(2026, 3, 8, 7, 30));  // 02:30 skipped: read as EST
  EXPECT_EQ((*spring)[2].start_ms, UtcMs(2026, 3, 9, 6, 30));  // EDT
  const Recurrence at0130 = *ParseDaily("01:30");
  auto fall = ExpandRecurrence(at0130, ny, kHour, 0, kMaintenanceNoEndMs, UtcMs(2026, 10, 31),
                               UtcMs(2026, 11, 3));
  ASSERT_TRUE(fall.ok());
  ASSERT_EQ(fall->size(), 3u);
  EXPECT_EQ((*fall)[0].start_ms, UtcMs(2026, 10, 31, 5, 30));  // EDT
  EXPECT_EQ((*fall)[1].start_ms, UtcMs(2026, 11, 1, 5, 30));   // twice: the first, EDT
  EXPECT_EQ((*fall)[2].start_ms, UtcMs(2026, 11, 2, 6, 30));   // EST
}

TEST(RecurrenceTest, BoundsOfTheRuleAndOfTheRange) {
  const TimeZone utc = TimeZone::Utc();
  const Recurrence daily = *ParseDaily("10:00");
  // Only occurrences starting in [rule_from, rule_to); one overlapping `from` is included.
  auto v = ExpandRecurrence(daily, utc, 2 * kHour, UtcMs(2026, 1, 2, 10), UtcMs(2026, 1, 5, 10),
                            UtcMs(2026, 1, 1, 11), UtcMs(2026, 1, 10));
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0].start_ms, UtcMs(2026, 1, 2, 10));
  EXPECT_EQ((*v)[2].start_ms, UtcMs(2026, 1, 4, 10));
  auto overlapping = ExpandRecurrence(daily, utc, 2 * kHour, 0, kMaintenanceNoEndMs,
                                      UtcMs(2026, 1, 1, 11), UtcMs(2026, 1, 1, 11, 30));
  ASSERT_TRUE(overlapping.ok());
  ASSERT_EQ(overlapping->size(), 1u);
  EXPECT_EQ((*overlapping)[0].start_ms, UtcMs(2026, 1, 1, 10));
  auto touching = ExpandRecurrence(daily, utc, 2 * kHour, 0, kMaintenanceNoEndMs,
                                   UtcMs(2026, 1, 1, 12), UtcMs(2026, 1, 1, 13));
  ASSERT_TRUE(touching.ok());
  EXPECT_TRUE(touching->empty());  // [10:00, 12:00) does not overlap [12:00, 13:00)
  // Durations of an interval or more, and expansions beyond the bound, are refused.
  EXPECT_FALSE(ExpandRecurrence(daily, utc, kDay, 0, kMaintenanceNoEndMs, 0, kDay).ok());
  EXPECT_FALSE(ExpandRecurrence(daily, utc, 0, 0, kMaintenanceNoEndMs, 0, kDay).ok());
  EXPECT_FALSE(
      ExpandRecurrence(daily, utc, kHour, 0, kMaintenanceNoEndMs, INT64_MIN, INT64_MAX).ok());
  auto twenty_years = ExpandRecurrence(*ParseWeekly("mon 00:00"), utc, kHour, 0,
                                       kMaintenanceNoEndMs, UtcMs(2026, 1, 1), UtcMs(2046, 1, 1));
  ASSERT_TRUE(twenty_years.ok());
  EXPECT_EQ(twenty_years->size(), 1043u);
}

}  // namespace
}  // namespace obsmon
