// TimeZone against known transitions (zdump of Debian 12's tzdata), against glibc's localtime_r
// as an independent oracle over decades (single-threaded test: setting TZ is fine here, not in
// obsmon), and against hostile TZif bytes and zone names.
#include "core/time_zone.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <random>
#include <string>

#include "core/bounded_read.h"

namespace obsmon {
namespace {

using detail::DaysFromCivil;

int64_t Utc(int64_t y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}
// Local wall-clock time as seconds since 1970-01-01T00:00 local.
int64_t Local(int64_t y, int mo, int d, int h = 0, int mi = 0) { return Utc(y, mo, d, h, mi); }

TimeZone Zone(const std::string& name) {
  auto z = TimeZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status().message();
  return std::move(z).value();
}

TEST(TimeZoneTest, DaysFromCivil) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(Utc(2025, 10, 14) * 1000, 1'760'400'000'000);
}

TEST(TimeZoneTest, BerlinTransitionsOf2026) {
  const TimeZone z = Zone("Europe/Berlin");
  // Spring forward: 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST).
  EXPECT_EQ(z.OffsetAt(Utc(2026, 3, 29, 0, 59, 59)), 3600);
  EXPECT_EQ(z.OffsetAt(Utc(2026, 3, 29, 1)), 7200);
  // Fall back: 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET).
  EXPECT_EQ(z.OffsetAt(Utc(2026, 10, 25, 0, 59, 59)), 7200);
  EXPECT_EQ(z.OffsetAt(Utc(2026, 10, 25, 1)), 3600);
  // Ordinary local times either side.
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 28, 2)), Utc(2026, 3, 28, 1));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 30, 2)), Utc(2026, 3, 30, 0));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 29, 1, 59)), Utc(2026, 3, 29, 0, 59));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 29, 3)), Utc(2026, 3, 29, 1));
}

TEST(TimeZoneTest, SkippedLocalTimeUsesTheOffsetBeforeTheGap) {
  const TimeZone z = Zone("Europe/Berlin");
  // 02:00 and 02:30 do not exist on 2026-03-29: read as CET (RFC 5545), i.e. 03:00 / 03:30 CEST.
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 29, 2)), Utc(2026, 3, 29, 1));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 3, 29, 2, 30)), Utc(2026, 3, 29, 1, 30));
  const TimeZone ny = Zone("America/New_York");
  // 2026-03-08 02:30 does not exist in New York: read as EST = 07:30 UTC (03:30 EDT).
  EXPECT_EQ(ny.LocalToUtc(Local(2026, 3, 8, 2, 30)), Utc(2026, 3, 8, 7, 30));
}

TEST(TimeZoneTest, AmbiguousLocalTimeIsTheFirstOccurrence) {
  const TimeZone z = Zone("Europe/Berlin");
  // 02:30 happens twice on 2026-10-25: first in CEST (00:30 UTC), then in CET (01:30 UTC).
  EXPECT_EQ(z.LocalToUtc(Local(2026, 10, 25, 2, 30)), Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 10, 25, 2)), Utc(2026, 10, 25, 0));
  EXPECT_EQ(z.LocalToUtc(Local(2026, 10, 25, 3)), Utc(2026, 10, 25, 2));
  const TimeZone ny = Zone("America/New_York");
  // 2026-11-01 01:30 happens in EDT (05:30 UTC) and in EST (06:30 UTC).
  EXPECT_EQ(ny.LocalToUtc(Local(2026, 11, 1, 1, 30)), Utc(2026, 11, 1, 5, 30));
  EXPECT_EQ(ny.OffsetAt(Utc(2026, 11, 1, 5, 59, 59)), -4 * 3600);
  EXPECT_EQ(ny.OffsetAt(Utc(2026, 11, 1, 6)), -5 * 3600);
}

TEST(TimeZoneTest, AfterTheLastTransitionTheFooterRuleDecides) {
  // Debian's files list transitions up to 2037; 2040 comes from the footer's POSIX rule.
  const TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin.OffsetAt(Utc(2040, 3, 25, 0, 59, 59)), 3600);
  EXPECT_EQ(berlin.OffsetAt(Utc(2040, 3, 25, 1)), 7200);
  EXPECT_EQ(berlin.OffsetAt(Utc(2040, 10, 28, 0, 59, 59)), 7200);
  EXPECT_EQ(berlin.OffsetAt(Utc(2040, 10, 28, 1)), 3600);
  // Southern hemisphere: DST across the new year.
  const TimeZone sydney = Zone("Australia/Sydney");
  EXPECT_EQ(sydney.OffsetAt(Utc(2040, 1, 1)), 11 * 3600);
  EXPECT_EQ(sydney.OffsetAt(Utc(2040, 3, 31, 15, 59, 59)), 11 * 3600);
  EXPECT_EQ(sydney.OffsetAt(Utc(2040, 3, 31, 16)), 10 * 3600);
  EXPECT_EQ(sydney.OffsetAt(Utc(2040, 10, 6, 15, 59, 59)), 10 * 3600);
  EXPECT_EQ(sydney.OffsetAt(Utc(2040, 10, 6, 16)), 11 * 3600);
  const TimeZone ny = Zone("America/New_York");
  EXPECT_EQ(ny.LocalToUtc(Local(2040, 3, 11, 2, 30)), Utc(2040, 3, 11, 7, 30));  // gap
  EXPECT_EQ(ny.LocalToUtc(Local(2040, 11, 4, 1, 30)), Utc(2040, 11, 4, 5, 30));  // twice
}

// glibc's view of the same zone (the test is single-threaded).
int32_t GlibcOffset(const std::string& zone, int64_t t) {
  setenv("TZ", (":" + zone).c_str(), 1);
  tzset();
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return static_cast<int32_t>(tm.tm_gmtoff);
}

TEST(TimeZoneTest, AgreesWithGlibcOverDecades) {
  for (const std::string name :
       {"Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
        "America/Sao_Paulo", "Pacific/Chatham", "Europe/London", "Africa/Casablanca"}) {
    const TimeZone z = Zone(name);
    int mismatches = 0;
    // Every 3 hours from 1990 to 2060, plus random instants up to 2100.
    for (int64_t t = Utc(1990, 1, 1); t < Utc(2060, 1, 1) && mismatches < 5; t += 3 * 3600 + 17) {
      if (z.OffsetAt(t) != GlibcOffset(name, t)) {
        ++mismatches;
        ADD_FAILURE() << name << " at " << t << ": " << z.OffsetAt(t) << " vs glibc "
                      << GlibcOffset(name, t);
      }
    }
    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000 && mismatches < 5; ++i) {
      const int64_t t = static_cast<int64_t>(rng() % static_cast<uint64_t>(Utc(2100, 1, 1)));
      if (z.OffsetAt(t) != GlibcOffset(name, t)) {
        ++mismatches;
        ADD_FAILURE() << name << " at " << t;
      }
      // A local time that exists once maps back to itself.
      const int64_t local = t + z.OffsetAt(t);
      const int64_t back = z.LocalToUtc(local);
      EXPECT_EQ(back + z.OffsetAt(back), local) << name << " local " << local;
    }
  }
  unsetenv("TZ");
  tzset();
}

TEST(TimeZoneTest, UtcAndFixedZones) {
  const TimeZone utc = Zone("UTC");
  EXPECT_EQ(utc.OffsetAt(Utc(2026, 6, 1)), 0);
  EXPECT_EQ(utc.LocalToUtc(Local(2026, 6, 1, 2)), Utc(2026, 6, 1, 2));
  const TimeZone plus2 = Zone("Etc/GMT-2");  // POSIX sign: GMT-2 is UTC+2
  EXPECT_EQ(plus2.OffsetAt(Utc(2026, 6, 1)), 7200);
  EXPECT_EQ(plus2.LocalToUtc(Local(2026, 6, 1, 2)), Utc(2026, 6, 1, 0));
}

TEST(TimeZoneTest, BadNamesAreRefusedBeforeAnyRead) {
  for (const char* name :
       {"", "/etc/passwd", "../../etc/passwd", "Europe/../../etc/shadow", "Europe/.hidden",
        "Europe//Berlin", "Europe/Berlin/", "Euro pe", "Europe/Berlin\n", "zone.tab"}) {
    auto z = TimeZone::Load(name);
    ASSERT_FALSE(z.ok()) << name;
    EXPECT_TRUE(z.status().IsInvalidArgument()) << name << ": " << z.status().message();
  }
  auto missing = TimeZone::Load("Europe/Berln");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_NE(missing.status().message().find("unknown time zone 'Europe/Berln'"), std::string::npos);
  auto dir = TimeZone::Load("Europe");  // a directory
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(dir.status().IsInvalidArgument());
}

TEST(TimeZoneTest, HostileTzifBytesAreRefusedNeverReadOutOfBounds) {
  auto real = ReadRegularFile("/usr/share/zoneinfo/Europe/Berlin", TimeZone::kMaxFileBytes);
  ASSERT_TRUE(real.ok());
  const std::string good = *real;
  ASSERT_TRUE(TimeZone::Parse(good, "x").ok());
  // Every truncation, and every single-byte corruption of the headers and a sample of the rest,
  // either parses or is refused; under ASan any read out of bounds fails the test.
  for (size_t n = 0; n < good.size(); ++n) {
    auto z = TimeZone::Parse(std::string_view(good).substr(0, n), "x");
    if (z.ok()) (void)z->OffsetAt(Utc(2030, 1, 1));
  }
  std::mt19937 rng(7);
  for (size_t i = 0; i < good.size(); i += (i < 120 ? 1 : 7)) {
    for (unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(v);
      auto z = TimeZone::Parse(bad, "x");
      if (z.ok()) {
        (void)z->OffsetAt(static_cast<int64_t>(rng()) - (1LL << 31));
        (void)z->LocalToUtc(Utc(2050, 6, 1));
      }
    }
  }
  // Counts that claim gigabytes.
  std::string huge = good;
  huge[32] = huge[33] = huge[34] = huge[35] = '\xff';
  EXPECT_FALSE(TimeZone::Parse(huge, "x").ok());
  EXPECT_FALSE(TimeZone::Parse("TZif", "x").ok());
  EXPECT_FALSE(TimeZone::Parse(std::string(44, '\0'), "x").ok());
}

TEST(TimeZoneTest, PosixRules) {
  using detail::ParsePosixTz;
  auto berlin = ParsePosixTz("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(berlin);
  EXPECT_EQ(berlin->std_offset_s, 3600);
  EXPECT_EQ(berlin->dst_offset_s, 7200);
  EXPECT_EQ(berlin->dst_end.time_s, 3 * 3600);
  auto plus = ParsePosixTz("<+0330>-3:30");
  ASSERT_TRUE(plus);
  EXPECT_EQ(plus->std_offset_s, 3 * 3600 + 1800);
  EXPECT_FALSE(plus->has_dst);
  ASSERT_TRUE(ParsePosixTz("EST5EDT,M3.2.0,M11.1.0"));
  ASSERT_TRUE(ParsePosixTz("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1"));  // America/Nuuk
  ASSERT_TRUE(ParsePosixTz("XXX3EDT4,0/0,J365/25"));              // permanent DST style
  for (const char* bad :
       {"", "C", "CET", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365", "CET-1CEST,366,1", "CET-25", "<+03",
        "CET-1CEST,M3.5.0,M10.5.0/168", "CET-1CEST,M3.5.0,M10.5.0 trailing", "<>1", "CET-1:60"}) {
    EXPECT_FALSE(ParsePosixTz(bad)) << bad;
  }
}

}  // namespace
}  // namespace obsmon
