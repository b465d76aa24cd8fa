// CompactForOverview (issue 17, item 1): the daemon keeps a component's live report between
// refreshes only as the overview page, the badge and the latency carry-over read it. Truth: the
// page, the status bars and the badge rendered from the whole report, which must come out the
// same from the compacted one, while what it holds stops growing with the incidents.
#include "report/overview_report.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "render/badge_svg.h"
#include "render/index_page.h"
#include "render/status_bar.h"
#include "report/report_memory.h"

namespace obsmon {
namespace {

constexpr TimestampMs kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z
constexpr int64_t kSecond = 1'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;

// Two health probes at 1 s from kT0 until `until`: one run in `every` down, and a 5-second hole every 10
// minutes (unknown time), so the last day's hours hold all three states.
std::vector<ProbeRun> FlappingRuns(TimestampMs until, int every) {
  std::vector<ProbeRun> runs;
  for (int p = 0; p < 2; ++p) {
    for (TimestampMs ts = kT0; ts < until; ts += kSecond) {
      if ((ts - kT0) % 600'000 < 5 * kSecond) continue;
      ProbeRun r;
      r.key = {"checkout", "health-" + std::to_string(p)};
      r.ts_ms = ts;
      r.success = (ts - kT0) / kSecond % every != 3;
      r.duration_seconds = 0.010 + 0.001 * static_cast<double>((ts / kSecond) % 7);
      r.valid_for_ms = 1'500;
      if (!r.success) r.reason = "connection refused by the staging target";
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

// A week's window 44 h 20 min in (the last hour cut mid-way), with a maintenance window across an
// hour boundary of the last day.
Report FlappingReport(int every, const ReportOptions& base = {}) {
  Objective objective;
  objective.uptime_percent = 99.5;
  objective.latency_p95_ms = 50;
  ReportOptions options = base;
  options.max_listed = 0;  // the whole report: every incident listed, which compacting drops
  // Critical and error lines of 64 KiB each (max_line_bytes allows up to 1 MiB).
  for (int i = 0; i < 6; ++i) {
    LogEvent e;
    e.key = {"checkout", "log"};
    e.ts_ms = kT0 + kDay + i * kHour;
    e.file = "/var/log/checkout/app.log";
    e.severity = i % 2 ? "critical" : "error";
    e.line = std::string(65'536, 'x');
    options.log_events.push_back(e);
  }
  options.maintenance.push_back(
      {kT0 + kDay + 17 * kHour + 1'234, kT0 + kDay + 18 * kHour + 777, "database failover drill"});
  const TimestampMs now = kT0 + kDay + 20 * kHour + 20 * 60'000 + 321;
  return ComputeReport(FlappingRuns(now, every), "checkout", objective, kT0, kT0 + 7 * kDay, now,
                       options);
}

std::string Page(const Report& r) {
  IndexPage page;
  page.now_ms = r.now_ms;
  IndexComponent c;
  c.name = r.component;
  c.state = "down";
  c.report = r;
  page.components.push_back(c);
  return RenderIndexPage(page);
}

void ExpectSameCells(const std::vector<StatusCell>& a, const std::vector<StatusCell>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].start_ms, b[i].start_ms) << i;
    EXPECT_EQ(a[i].end_ms, b[i].end_ms) << i;
    EXPECT_EQ(a[i].state, b[i].state) << i;
    EXPECT_EQ(a[i].title, b[i].title) << i;
  }
}

void ExpectOverviewUnchanged(const Report& whole) {
  Report kept = whole;
  CompactForOverview(kept);
  EXPECT_EQ(kept.IncidentCount(), whole.incidents.size());
  EXPECT_TRUE(kept.incidents.empty());
  ExpectSameCells(HourCells(kept), HourCells(whole));
  ExpectSameCells(DayCells(kept), DayCells(whole));
  EXPECT_EQ(Page(kept), Page(whole));
  EXPECT_EQ(RenderBadgeSvg(kept), RenderBadgeSvg(whole));
}

TEST(OverviewReportTest, ThePageTheBarsAndTheBadgeAreThoseOfTheWholeReport) {
  const Report whole = FlappingReport(10);
  // What makes the comparison worth making: thousands of incidents, unknown and excluded time
  // in the last day's hours, and more than one state in most of them.
  ASSERT_GT(whole.incidents.size(), 10'000u);
  ASSERT_GT(whole.gaps.size(), 100u);
  ASSERT_EQ(whole.days.size(), 2u);
  std::set<std::string> states;
  for (const StatusCell& c : HourCells(whole)) states.insert(c.state);
  // (17:00 is up: 1.234 s known before the maintenance window.)
  ASSERT_EQ(states, (std::set<std::string>{"down", "future", "up"}));
  ExpectOverviewUnchanged(whole);
}

TEST(OverviewReportTest, DaysOfATimeZoneStartingOffTheHourKeepTheirHours) {
  auto kolkata = TimeZone::Load("Asia/Kolkata");  // UTC+05:30: each day starts at :30 UTC
  ASSERT_TRUE(kolkata.ok()) << kolkata.status().message();
  ReportOptions options;
  options.time_zone = *kolkata;
  const Report whole = FlappingReport(10, options);
  ASSERT_NE(whole.days.back().start_ms % kHour, 0);
  ExpectOverviewUnchanged(whole);
}

TEST(OverviewReportTest, WhatIsKeptDoesNotGrowWithTheIncidents) {
  Report few = FlappingReport(600);   // an incident every 10 minutes
  Report many = FlappingReport(10);   // one every 10 s: 60 times as many
  ASSERT_GT(many.incidents.size(), 50 * few.incidents.size());
  ASSERT_GT(HeapBytesOf(many), 50 * HeapBytesOf(few) / 10);  // whole, they differ widely
  CompactForOverview(few);
  CompactForOverview(many);
  // At most four spans an hour of the last day, whatever the window held: ~96 spans, the days,
  // the criteria and the latency per hour.
  EXPECT_LT(HeapBytesOf(many), 32 * 1024u) << HeapBytesOf(many);
  EXPECT_LT(HeapBytesOf(many), HeapBytesOf(few) + 2 * 1024u)
      << "few " << HeapBytesOf(few) << " B, many " << HeapBytesOf(many) << " B";
  EXPECT_LE(many.timeline.size(), 4u * 24u);
  // The counts of matched lines stay, the lines go.
  EXPECT_EQ(many.logs.critical, 3u);
  EXPECT_FALSE(many.logs.first_critical || many.logs.last_error);
}

TEST(OverviewReportTest, TheLatencyCarriesOverFromTheKeptReportAsFromTheWholeOne) {
  const Report whole = FlappingReport(10);
  Report kept = whole;
  CompactForOverview(kept);
  // The next refresh, a minute later: the same window moved on, or an observation period's.
  Report later = whole;
  later.now_ms += 60'000;
  later.evaluated_to_ms += 60'000;
  EXPECT_TRUE(LatencyCarriesOver(whole, later));
  EXPECT_EQ(LatencyCarriesOver(kept, later), LatencyCarriesOver(whole, later));
  later.excluded.push_back({kT0 + kHour, kT0 + 2 * kHour});  // a maintenance window added since
  EXPECT_FALSE(LatencyCarriesOver(kept, later));
  EXPECT_FALSE(LatencyCarriesOver(whole, later));
  EXPECT_EQ(kept.latency_hourly.size(), whole.latency_hourly.size());
  EXPECT_EQ(kept.latency.count, whole.latency.count);
}

TEST(OverviewReportTest, CompactingTwiceKeepsTheCount) {
  Report r = FlappingReport(60);
  const size_t incidents = r.incidents.size();
  CompactForOverview(r);
  CompactForOverview(r);
  EXPECT_EQ(r.IncidentCount(), incidents);
}

}  // namespace
}  // namespace obsmon
