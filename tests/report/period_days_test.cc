// Issue 15, item 2: the days of an observation period. Day N is the N-th 24 h from the period's
// start (a period started at 06:36 has Day 1 .. Day 7, not eight UTC dates), or a time zone's
// calendar days (23 h and 25 h across a DST change), and Day N's comment is exactly what the
// promotion issue wants. Expected boundaries are written out by hand from the zones' published
// rules (EU: last Sunday of October 01:00 UTC; US: second Sunday of March 02:00 local), and the
// expected figures from the scripted runs, never from the code under test.
#include <gtest/gtest.h>

#include "core/time_format.h"
#include "render/report_format.h"
#include "report/period_days.h"
#include "report/report.h"
#include "tests/report/uptime_oracle.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

int64_t At(const char* rfc3339) { return *ParseTimestamp(rfc3339); }

std::optional<TimeZone> Zone(const char* name) {
  auto z = TimeZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status().message();
  return *z;
}

TEST(PeriodDaysTest, DefaultDaysAreWhole24HoursFromAnOddStart) {
  const int64_t from = At("2026-10-14T06:36:00Z");
  const auto days = PeriodDays(from, from + 7 * kDay, std::nullopt);
  ASSERT_EQ(days.size(), 7u);  // not eight UTC dates
  for (size_t i = 0; i < days.size(); ++i) {
    EXPECT_EQ(days[i].number, static_cast<int>(i) + 1);
    EXPECT_EQ(days[i].start_ms, from + static_cast<int64_t>(i) * kDay);
    EXPECT_EQ(days[i].end_ms, from + static_cast<int64_t>(i + 1) * kDay);
  }
  EXPECT_EQ(DayLabel(days[2], std::nullopt), "Day 3 — 2026-10-16 06:36 → 2026-10-17 06:36 UTC");
  EXPECT_EQ(DayDate(days[2].start_ms, std::nullopt), "2026-10-16");
  // A stopped or shorter window clips its last day.
  const auto short_days = PeriodDays(from, from + 2 * kDay + 5 * kHour, std::nullopt);
  ASSERT_EQ(short_days.size(), 3u);
  EXPECT_EQ(short_days[2].end_ms, from + 2 * kDay + 5 * kHour);
  EXPECT_TRUE(PeriodDays(from, from, std::nullopt).empty());
}

TEST(PeriodDaysTest, BerlinCalendarDaysAcrossTheEndOfSummerTime) {
  // CEST (+2) until 2026-10-25 01:00 UTC, CET (+1) after.
  const auto berlin = Zone("Europe/Berlin");
  const int64_t from = At("2026-10-22T06:36:00Z");  // 08:36 local
  const auto days = PeriodDays(from, from + 7 * kDay, berlin);
  const std::vector<std::pair<const char*, const char*>> want = {
      {"2026-10-22T06:36:00Z", "2026-10-22T22:00:00Z"},  // to local midnight
      {"2026-10-22T22:00:00Z", "2026-10-23T22:00:00Z"},
      {"2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z"},
      {"2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"},  // 25 h: the clocks go back
      {"2026-10-25T23:00:00Z", "2026-10-26T23:00:00Z"},
      {"2026-10-26T23:00:00Z", "2026-10-27T23:00:00Z"},
      {"2026-10-27T23:00:00Z", "2026-10-28T23:00:00Z"},
      {"2026-10-28T23:00:00Z", "2026-10-29T06:36:00Z"},  // the rest, to the period's end
  };
  ASSERT_EQ(days.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(days[i].start_ms, At(want[i].first)) << "day " << i + 1;
    EXPECT_EQ(days[i].end_ms, At(want[i].second)) << "day " << i + 1;
  }
  EXPECT_EQ(days[3].end_ms - days[3].start_ms, 25 * kHour);
  EXPECT_EQ(DayLabel(days[0], berlin),
            "Day 1 — 2026-10-22 08:36 → 2026-10-23 00:00 Europe/Berlin");
  EXPECT_EQ(DayLabel(days[3], berlin),
            "Day 4 — 2026-10-25 00:00 → 2026-10-26 00:00 Europe/Berlin");
  EXPECT_EQ(DayLabel(days[7], berlin),
            "Day 8 — 2026-10-29 00:00 → 2026-10-29 07:36 Europe/Berlin");
  EXPECT_EQ(DayDate(days[3].start_ms, berlin), "2026-10-25");  // 22:00 UTC the day before
}

TEST(PeriodDaysTest, NewYorkSpringForwardDayHas23Hours) {
  // EST (-5) until 2026-03-08 07:00 UTC, EDT (-4) after.
  const auto ny = Zone("America/New_York");
  const int64_t from = At("2026-03-06T11:36:00Z");  // 06:36 local
  const auto days = PeriodDays(from, from + 4 * kDay, ny);
  ASSERT_EQ(days.size(), 5u);
  EXPECT_EQ(days[0].end_ms, At("2026-03-07T05:00:00Z"));
  EXPECT_EQ(days[1].end_ms, At("2026-03-08T05:00:00Z"));
  EXPECT_EQ(days[2].end_ms, At("2026-03-09T04:00:00Z"));
  EXPECT_EQ(days[2].end_ms - days[2].start_ms, 23 * kHour);
  EXPECT_EQ(days[3].end_ms, At("2026-03-10T04:00:00Z"));
  EXPECT_EQ(days[4].end_ms, At("2026-03-10T11:36:00Z"));
}

// A 7-day period of "carbon" from 2026-10-14 06:36 UTC: a health probe every minute (20 ms,
// valid 90 s) from a minute before the start; a 30-minute outage on Day 3 (runs 10:36 to 11:05
// fail with "status 503"); an hourly integration check from the start that fails once on Day 5;
// an error line on Days 2 and 3.
struct OddStartPeriod {
  int64_t from = At("2026-10-14T06:36:00Z");
  int64_t to = from + 7 * kDay;
  int64_t outage = from + 2 * kDay + 4 * kHour;  // 2026-10-16 10:36
  int64_t failed_check = from + 4 * kDay + 5 * kHour;
  std::optional<TimeZone> zone;

  std::vector<ProbeRun> Runs() const {
    std::vector<ProbeRun> runs;
    for (int64_t ts = from - kMinute; ts < to; ts += kMinute) {
      const bool down = ts >= outage && ts < outage + 30 * kMinute;
      runs.push_back(MakeRun("health", ts, !down, 90 * kSecond, "status 503", 0.020));
    }
    for (int64_t ts = from; ts < to; ts += kHour) {
      runs.push_back(MakeRun("pytest", ts, ts != failed_check, 90 * kMinute,
                             "exit 1: test_energy failed", 30, ProbeRole::kIntegration));
    }
    return runs;
  }
  Report ReportAt(int64_t now) const {
    ReportOptions o;
    o.time_zone = zone;
    for (int64_t ts : {from + kDay + kHour, outage + kMinute}) {
      LogEvent e;
      e.key = {"carbon", "app-log"};
      e.ts_ms = ts;
      e.severity = "error";
      e.line = "ERROR energy tracker hiccup";
      o.log_events.push_back(e);
    }
    Objective objective;
    objective.uptime_percent = 99.5;
    objective.min_coverage_percent = 99;
    objective.latency_p95_ms = 250;
    return ComputeReport(Runs(), "carbon", objective, from, to, now, o);
  }
};

TEST(PeriodDaysTest, ReportDaysOfAnOddStartPeriod) {
  OddStartPeriod p;
  const Report r = p.ReportAt(p.to + kHour);
  ASSERT_EQ(r.days.size(), 7u);
  EXPECT_EQ(r.period_days.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    const DaySummary& d = r.days[i];
    EXPECT_EQ(d.number, static_cast<int>(i) + 1);
    EXPECT_EQ(d.start_ms, p.from + static_cast<int64_t>(i) * kDay);
    EXPECT_TRUE(d.complete());
    EXPECT_EQ(d.totals.window_ms, kDay);
    EXPECT_EQ(d.totals.down_ms, i == 2 ? 30 * kMinute : 0) << d.label;
    EXPECT_EQ(d.totals.unknown_ms, 0) << d.label;
    EXPECT_EQ(d.incidents, i == 2 ? 1u : 0u);
    EXPECT_EQ(d.checks_passed + d.checks_failed, 24u);  // hourly from the start: 24 a day
    EXPECT_EQ(d.checks_failed, i == 4 ? 1u : 0u);
    EXPECT_EQ(d.errors, (i == 1 || i == 2) ? 1u : 0u);
  }
  // Latency is by whole UTC hours: Day 1 takes the runs from 06:36 (its first hour) to 06:00 the
  // next day, the others from 06:00 to 06:00: 24 x 60 minus Day 1's first 36 minutes, minus the
  // 30 failed runs on Day 3; Day 7 runs to the end at 06:36, so it has 36 minutes more.
  EXPECT_EQ(r.days[0].latency.count, 24u * 60 - 36);
  EXPECT_EQ(r.days[2].latency.count, 24u * 60 - 30);
  EXPECT_EQ(r.days[6].latency.count, 24u * 60 + 36);
}

TEST(PeriodDaysTest, BerlinReportHasEightDaysAndA25HourDay) {
  OddStartPeriod p;
  p.from = At("2026-10-22T06:36:00Z");
  p.to = p.from + 7 * kDay;
  p.outage = p.from + 2 * kDay + 4 * kHour;
  p.failed_check = p.from + 4 * kDay + 5 * kHour;
  p.zone = Zone("Europe/Berlin");
  const Report r = p.ReportAt(p.to);
  EXPECT_EQ(r.time_zone, "Europe/Berlin");
  ASSERT_EQ(r.days.size(), 8u);
  // Hourly checks at :36 from 06:36 UTC: 16 before local midnight, then 24 a day, 25 on the long
  // day, and 7 on the last morning (23:36 to 05:36 UTC).
  const std::vector<uint64_t> checks = {16, 24, 24, 25, 24, 24, 24, 7};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(r.days[i].checks_passed + r.days[i].checks_failed, checks[i]) << r.days[i].label;
    EXPECT_EQ(r.days[i].totals.up_ms + r.days[i].totals.down_ms, r.days[i].totals.window_ms);
  }
  EXPECT_EQ(r.days[3].totals.window_ms, 25 * kHour);
  EXPECT_EQ(r.days[3].date, "2026-10-25");
  // The outage at 2026-10-24 10:36 UTC is on the local Day 3 (2026-10-24).
  EXPECT_EQ(r.days[2].totals.down_ms, 30 * kMinute);
  EXPECT_EQ(r.days[2].incidents, 1u);
  // The failed check at 2026-10-26 11:36 UTC: local Day 5 (2026-10-26).
  EXPECT_EQ(r.days[4].checks_failed, 1u);
}

TEST(PeriodDaysTest, DayThreeCommentIsExactlyWhatTheIssueWants) {
  OddStartPeriod p;
  const Report at_end = p.ReportAt(p.from + 3 * kDay);  // as the digest sees it when Day 3 ends
  ASSERT_EQ(at_end.days.size(), 3u);
  // Uptime over Day 3: 1 - 30 min / 24 h = 97.9166 %. So far: 1 - 30 min / 72 h = 99.3055 %,
  // short of 99.5 % (not yet met); at that rate the 4 days left add 40 min: 70 min down of the
  // 0.5 % x 7 d = 50 min 24 s allowed, so the projection says FAIL.
  const std::string want =
      "### Day 3 (2026-10-16)\n"
      "_Day 3 — 2026-10-16 06:36 → 2026-10-17 06:36 UTC_\n"
      "\n"
      "- Uptime: 97.916 % (down 30m 00s, unknown 0ms)\n"
      "- Incidents: 1\n"
      "  - 2026-10-16 10:36:00 UTC, 30m 00s: health: status 503\n"
      "- Log lines: 0 critical, 1 error\n"
      "- Integration checks: 24 passed, 0 failed\n"
      "- Latency: p50: 20.0 ms, p95: 20.0 ms, p99: 20.0 ms\n"
      "- Status: **at risk**:\n"
      "  - uptime 99.305 % &lt; objective 99.500 %\n"
      "  - at the current burn rate the period ends with 1h 10m down of 50m 24s allowed\n";
  EXPECT_EQ(RenderDayMarkdown(at_end, at_end.days[2]), want);
  EXPECT_EQ(StatusOf(at_end), DayStatus::kAtRisk);
}

TEST(PeriodDaysTest, DayStatusOnTrackThenFailedForGood) {
  OddStartPeriod p;
  const Report day1 = p.ReportAt(p.from + kDay);
  EXPECT_EQ(StatusOf(day1), DayStatus::kOnTrack);
  const std::string comment = RenderDayMarkdown(day1, day1.days[0]);
  EXPECT_NE(comment.find("- Status: **on track**\n"), std::string::npos) << comment;
  EXPECT_NE(comment.find("- Incidents: 0\n"), std::string::npos) << comment;
  // Day 5's failed check cannot be undone: failed from then on, whatever the uptime
  // (at the end of Day 5: 1 - 30 min / 5 d = 99.583 %, met). 5 x 24 checks, one failed.
  const Report day5 = p.ReportAt(p.from + 5 * kDay);
  EXPECT_EQ(StatusOf(day5), DayStatus::kFailed);
  const std::string c5 = RenderDayMarkdown(day5, day5.days[4]);
  EXPECT_NE(c5.find("- Integration checks: 23 passed, 1 failed\n"), std::string::npos) << c5;
  EXPECT_NE(c5.find("- Status: **failed**:\n  - integration checks 119/120 passed\n"),
            std::string::npos)
      << c5;
}

TEST(PeriodDaysTest, EachDayAtItsEndEqualsTheFullReportsRow) {
  OddStartPeriod p;
  const Report full = p.ReportAt(p.to + kDay);
  for (size_t i = 0; i < 7; ++i) {
    const Report at_end = p.ReportAt(full.days[i].planned_end_ms);
    ASSERT_EQ(at_end.days.size(), i + 1);
    const DaySummary& a = at_end.days[i];
    const DaySummary& b = full.days[i];
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.totals.up_ms, b.totals.up_ms) << b.label;
    EXPECT_EQ(a.totals.down_ms, b.totals.down_ms) << b.label;
    EXPECT_EQ(a.totals.unknown_ms, b.totals.unknown_ms) << b.label;
    EXPECT_EQ(a.incidents, b.incidents) << b.label;
    EXPECT_EQ(a.checks_passed, b.checks_passed) << b.label;
    EXPECT_EQ(a.checks_failed, b.checks_failed) << b.label;
    EXPECT_EQ(a.latency.count, b.latency.count) << b.label;
    EXPECT_EQ(a.errors, b.errors) << b.label;
  }
}

}  // namespace
}  // namespace obsmon
