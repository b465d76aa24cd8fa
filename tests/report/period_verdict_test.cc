// Whole 7-day observation periods, scripted with a fake timeline (no clock, no sleep): outages,
// maintenance, monitor gaps, critical lines, failed integration checks, slow days. Each verdict
// (PASS, FAIL for every criterion, IN PROGRESS with its projection, INSUFFICIENT DATA) and the
// figures behind it are compared with expectations computed here, by hand formulas and by the
// naive per-second oracle of uptime_oracle.h, never by the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "report/report.h"
#include "render/report_format.h"
#include "tests/report/fake_period.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/report_checks.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary
using obsmon::fake_period::CarbonLogLine;
using obsmon::testing::HasReason;
using obsmon::testing::SevenDays;
using Spans = std::vector<std::pair<int64_t, int64_t>>;

const int64_t kFrom = kT0;
const int64_t kTo = kT0 + 7 * kDay;

bool In(int64_t ts, const Spans& spans) {
  for (const auto& [s, e] : spans) {
    if (s <= ts && ts < e) return true;
  }
  return false;
}

// One 7-day period of a component: a health probe every minute (valid 90 s) from one minute
// before the start, an hourly integration check, latency 20 ms x `slow` factor on chosen days.
struct Scenario {
  Spans down;           // health runs starting in these spans fail
  Spans gaps;           // no health run starts in these spans (obsmon was not looking)
  Spans maintenance;    // excluded
  Spans failed_checks;  // integration runs starting here fail
  double last_day_latency_factor = 1.0;  // day 7's latencies are multiplied by this
  int64_t until = kTo;  // runs exist until here (the "now" of an in-progress period)

  std::vector<ProbeRun> Runs() const {
    std::vector<ProbeRun> runs;
    int i = 0;
    for (int64_t ts = kFrom - kMinute; ts < until; ts += kMinute, ++i) {
      if (In(ts, gaps)) continue;
      double seconds = 0.015 + 0.001 * (i % 10);  // 15..24 ms, every 10 minutes
      if (ts >= kFrom + 6 * kDay) seconds *= last_day_latency_factor;
      runs.push_back(MakeRun("health", ts, !In(ts, down), 90 * kSecond, "status 503", seconds));
    }
    for (int64_t ts = kFrom; ts < until; ts += kHour) {
      runs.push_back(MakeRun("pytest", ts, !In(ts, failed_checks), 90 * kMinute,
                             "exit 1: test_energy failed", 30, ProbeRole::kIntegration));
    }
    std::stable_sort(runs.begin(), runs.end(), [](const ProbeRun& a, const ProbeRun& b) {
      return a.key.probe < b.key.probe;
    });
    return runs;
  }

  ReportOptions Options() const {
    ReportOptions o;
    for (const auto& [s, e] : maintenance) o.maintenance.push_back({s, e, "planned upgrade"});
    return o;
  }
};


const Criterion* Find(const Report& r, const std::string& name) {
  for (const auto& c : r.criteria) {
    if (c.name == name) return &c;
  }
  return nullptr;
}


std::string Reasons(const Report& r) {
  std::string s;
  for (const auto& reason : r.verdict_reasons) s += reason + "\n";
  return s;
}


TEST(PeriodVerdictTest, PassWithOutageMaintenanceAndErrorsButNoCriticals) {
  Scenario s;
  s.down = {{kFrom + 2 * kDay + 10 * kHour, kFrom + 2 * kDay + 10 * kHour + 20 * kMinute}};
  // Maintenance on day 4 hides an outage inside it.
  s.maintenance = {{kFrom + 3 * kDay + 2 * kHour, kFrom + 3 * kDay + 4 * kHour}};
  s.down.push_back({kFrom + 3 * kDay + 2 * kHour + 30 * kMinute, kFrom + 3 * kDay + 3 * kHour});
  ReportOptions opt = s.Options();
  opt.log_events = {CarbonLogLine(kFrom + kDay + 5 * kHour, "error", "ERROR upload retried"),
                    CarbonLogLine(kFrom + 4 * kDay, "error", "ERROR upload retried again")};
  const auto runs = s.Runs();
  Report r = ComputeReport(runs, "carbon", SevenDays(250), kFrom, kTo, kTo, opt);

  ASSERT_EQ(r.verdict, Verdict::kPass) << Reasons(r);
  // By hand: 20 minutes down (the failed run at 10:19 stands until the 10:20 run); 2 h excluded.
  EXPECT_EQ(r.totals.down_ms, 20 * kMinute);
  EXPECT_EQ(r.totals.excluded_ms, 2 * kHour);
  EXPECT_EQ(r.totals.unknown_ms, 0);
  EXPECT_EQ(r.totals.up_ms, 7 * kDay - 2 * kHour - 20 * kMinute);
  // The oracle agrees, second by second.
  const Oracle o = Walk(runs, kFrom, kTo, kTo, s.maintenance, kSecond);
  EXPECT_EQ(r.totals.up_ms, o.up);
  EXPECT_EQ(r.totals.down_ms, o.down);
  // Budget: 0.5 % of (7 d - 2 h) = 2,988,000 ms (49m 48s).
  EXPECT_EQ(r.budget.allowed_ms, 2'988'000);
  EXPECT_EQ(r.budget.left_ms, 2'988'000 - 1'200'000);
  EXPECT_DOUBLE_EQ(*Find(r, "uptime")->value, 1.0 - static_cast<double>(20 * kMinute) /
                                                        static_cast<double>(7 * kDay - 2 * kHour));
  EXPECT_TRUE(Find(r, "critical_lines")->met);
  EXPECT_EQ(r.logs.error, 2u);
  EXPECT_EQ(r.days[1].errors, 1u);
  EXPECT_EQ(r.days[4].errors, 1u);
  EXPECT_EQ(r.logs.first_error->line, "ERROR upload retried");
  EXPECT_EQ(r.logs.last_error->line, "ERROR upload retried again");
  ASSERT_EQ(r.maintenance.size(), 1u);
  EXPECT_EQ(r.maintenance[0].reason, "planned upgrade");
  EXPECT_EQ(r.checks[0].runs, 7u * 24 - 2);  // two hourly checks fall in the maintenance
  EXPECT_EQ(r.checks[0].failed, 0u);
  EXPECT_TRUE(r.gaps.empty());
  EXPECT_FALSE(r.projection.has_value());
  // Latency p95 of 15..24 ms is 24 ms on every day: no degradation, within the 250 ms SLA.
  EXPECT_DOUBLE_EQ(*Find(r, "no_degradation")->value, 0.0);
  EXPECT_DOUBLE_EQ(*Find(r, "latency_p95")->value, 0.024);
  ASSERT_EQ(r.days.size(), 7u);
  const std::string md = RenderReportMarkdown(r);
  for (int d = 1; d <= 7; ++d) {
    EXPECT_NE(md.find("### Day " + std::to_string(d) + " (2025-10-"), std::string::npos) << d;
  }
  EXPECT_NE(md.find("### Final Assessment (2025-10-21)\n✅ **PASS**"), std::string::npos) << md;
}

TEST(PeriodVerdictTest, FailOnUptimeNamesTheFigure) {
  Scenario s;
  s.down = {{kFrom + kDay, kFrom + kDay + 51 * kMinute}};  // 51 min > 50.4 min allowed
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.budget.allowed_ms, 3'024'000);  // 50m 24s
  EXPECT_EQ(r.budget.used_ms, 51 * kMinute);
  // 1 - 51/10080 = 99.49404 % -> printed rounded down.
  EXPECT_TRUE(HasReason(r, "uptime 99.494 % < objective 99.500 %")) << Reasons(r);
  EXPECT_EQ(r.verdict_reasons.size(), 1u) << Reasons(r);
}

TEST(PeriodVerdictTest, FailOnOneCriticalLineShowsFirstAndLast) {
  Scenario s;
  ReportOptions opt = s.Options();
  opt.log_events = {CarbonLogLine(kFrom + 5 * kDay + 3 * kHour, "critical", "CRITICAL db <lost>"),
                    CarbonLogLine(kFrom + 2 * kDay, "critical", "CRITICAL disk full"),
                    CarbonLogLine(kTo + kHour, "critical", "after the period: not counted")};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, opt);
  ASSERT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.logs.critical, 2u);
  EXPECT_TRUE(HasReason(r, "2 critical log lines")) << Reasons(r);
  EXPECT_EQ(r.logs.first_critical->line, "CRITICAL disk full");
  EXPECT_EQ(r.logs.last_critical->line, "CRITICAL db <lost>");
  EXPECT_EQ(r.days[2].criticals, 1u);
  EXPECT_EQ(r.days[5].criticals, 1u);
  EXPECT_FALSE(Find(r, "critical_lines")->met);
  EXPECT_TRUE(Find(r, "uptime")->met);
}

TEST(PeriodVerdictTest, FailOnOneFailedIntegrationCheck) {
  Scenario s;
  s.failed_checks = {{kFrom + 6 * kDay + 5 * kHour, kFrom + 6 * kDay + 5 * kHour + 1}};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "integration checks 167/168 passed")) << Reasons(r);
  EXPECT_EQ(r.checks[0].first_failure_ms, kFrom + 6 * kDay + 5 * kHour);
  EXPECT_EQ(r.days[6].checks_failed, 1u);
}

TEST(PeriodVerdictTest, FailOnLatencySla) {
  Scenario s;
  // p95 of 15..24 ms is 24 ms; an SLA of 20 ms fails.
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(20), kFrom, kTo, kTo, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "latency p95 24.0 ms (all health probes, pooled) > SLA 20.0 ms")) << Reasons(r);
}

TEST(PeriodVerdictTest, FailOnDegradationOfTheLastDay) {
  Scenario s;
  s.last_day_latency_factor = 1.5;  // day 7: p95 24 ms -> 36 ms, +50 % > +25 %
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kFail) << Reasons(r);
  const Criterion* deg = Find(r, "no_degradation");
  ASSERT_NE(deg, nullptr);
  EXPECT_NEAR(*deg->value, 0.5, 1e-9);
  EXPECT_TRUE(HasReason(r, "latency p95 36.0 ms on 2025-10-20 vs 24.0 ms on 2025-10-14 (+50.0 %"))
      << Reasons(r);
  // A tolerance of 60 % accepts it.
  ReportOptions lenient = s.Options();
  lenient.degradation_tolerance = 0.6;
  EXPECT_EQ(ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, lenient).verdict,
            Verdict::kPass);
}

TEST(PeriodVerdictTest, InsufficientDataWhenObsmonWasNotLookingAndGapsAreListed) {
  Scenario s;
  // No run from 12:00 to 13:50 on day 5: the 11:59 run stands until 12:00:30; unknown until the
  // 13:50 run. 1h 49m 30s unknown = 1.087 % of the week > 1 %.
  s.gaps = {{kFrom + 4 * kDay + 12 * kHour, kFrom + 4 * kDay + 13 * kHour + 50 * kMinute}};
  const auto runs = s.Runs();
  Report r = ComputeReport(runs, "carbon", SevenDays(), kFrom, kTo, kTo, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kInsufficientData) << Reasons(r);
  const int64_t gap_start = kFrom + 4 * kDay + 11 * kHour + 59 * kMinute + 90 * kSecond;
  const int64_t gap_end = kFrom + 4 * kDay + 13 * kHour + 50 * kMinute;
  ASSERT_EQ(r.gaps.size(), 1u);
  EXPECT_EQ(r.gaps[0].start_ms, gap_start);
  EXPECT_EQ(r.gaps[0].end_ms, gap_end);
  EXPECT_EQ(r.totals.unknown_ms, gap_end - gap_start);
  EXPECT_EQ(Walk(runs, kFrom, kTo, kTo, {}, kSecond).unknown, gap_end - gap_start);
  EXPECT_TRUE(HasReason(r, "coverage 98.913 % < 99.000 %")) << Reasons(r);
}

TEST(PeriodVerdictTest, InProgressProjectsAPassAtTheCurrentBurnRate) {
  Scenario s;
  const int64_t now = kFrom + 3 * kDay + 12 * kHour;  // half way
  s.until = now;
  s.down = {{kFrom + kDay, kFrom + kDay + 10 * kMinute}};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, now, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kInProgress) << Reasons(r);
  ASSERT_TRUE(r.projection.has_value());
  // 10 min down in 3.5 days known: the same share over the other 3.5 days doubles it.
  EXPECT_EQ(r.projection->remaining_ms, 3 * kDay + 12 * kHour);
  EXPECT_EQ(r.projection->projected_down_ms, 20 * kMinute);
  EXPECT_EQ(r.projection->projected_verdict, Verdict::kPass);
  // burn rate = (10 / 5040) / 0.005 = 0.3968...
  EXPECT_NEAR(*r.projection->burn_rate, (10.0 / 5040.0) / 0.005, 1e-12);
  EXPECT_FALSE(r.projection->budget_exhausted_at_ms.has_value());
  EXPECT_EQ(r.budget.left_ms, 3'024'000 - 600'000);
  EXPECT_TRUE(HasReason(r, "error budget left 40m 24s")) << Reasons(r);
  EXPECT_TRUE(HasReason(r, "projected PASS")) << Reasons(r);
  EXPECT_EQ(r.days.size(), 4u);
}

TEST(PeriodVerdictTest, InProgressProjectsAFailAndWhenTheBudgetRunsOut) {
  Scenario s;
  const int64_t now = kFrom + 2 * kDay;
  s.until = now;
  s.down = {{kFrom + 12 * kHour, kFrom + 12 * kHour + 30 * kMinute}};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, now, s.Options());
  ASSERT_EQ(r.verdict, Verdict::kInProgress) << Reasons(r);
  // f = 30 min / 2880 min; remaining 5 d -> 75 min more: 105 min > 50.4 min.
  EXPECT_EQ(r.projection->projected_down_ms, 105 * kMinute);
  EXPECT_EQ(r.projection->projected_verdict, Verdict::kFail);
  // Left 20m 24s = 1,224,000 ms at f = 1/96 of time: exhausted 117,504,000 ms after now.
  ASSERT_TRUE(r.projection->budget_exhausted_at_ms.has_value());
  EXPECT_EQ(*r.projection->budget_exhausted_at_ms, now + 1'224'000LL * 96);
  EXPECT_TRUE(HasReason(r, "projected FAIL; budget exhausted at 2025-10-17 08:38:24 UTC"))
      << Reasons(r);
  EXPECT_NEAR(*r.projection->projected_uptime, 1.0 - 105.0 / 10080.0, 1e-12);
}

TEST(PeriodVerdictTest, InProgressFailsAtOnceOnACriticalLine) {
  Scenario s;
  const int64_t now = kFrom + kDay;
  s.until = now;
  ReportOptions opt = s.Options();
  opt.log_events = {CarbonLogLine(kFrom + 3 * kHour, "fatal", "FATAL out of memory")};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, now, opt);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "1 critical log line")) << Reasons(r);
}

// A running window: a criterion below its threshold is "not yet" while the rest of the window
// can still bring it up, "failed" once it cannot (budget spent, a critical line, a failed check).
TEST(PeriodVerdictTest, CriterionStatesWhileRunningAndWhenFinished) {
  Scenario s;
  const int64_t now = kFrom + kDay;
  s.until = now;
  s.down = {{kFrom + 2 * kHour, kFrom + 2 * kHour + 10 * kMinute}};  // 10 min of 1440: < 99.5 %
  Report running = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, now, s.Options());
  ASSERT_EQ(running.verdict, Verdict::kInProgress) << Reasons(running);
  EXPECT_EQ(Find(running, "uptime")->state, CriterionState::kNotYet);  // 10 min < 50.4 allowed
  EXPECT_EQ(Find(running, "integration_checks")->state, CriterionState::kMet);
  EXPECT_EQ(Find(running, "critical_lines")->state, CriterionState::kMet);

  s.down = {{kFrom + 2 * kHour, kFrom + 3 * kHour}};  // 60 min > 50.4 min allowed: spent
  s.failed_checks = {{kFrom + 5 * kHour, kFrom + 5 * kHour + 1}};
  Report spent = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, now, s.Options());
  EXPECT_EQ(Find(spent, "uptime")->state, CriterionState::kFailed);
  EXPECT_EQ(Find(spent, "integration_checks")->state, CriterionState::kFailed);

  Scenario whole;
  whole.down = {{kFrom + 2 * kHour, kFrom + 2 * kHour + 10 * kMinute}};
  Report done = ComputeReport(whole.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, whole.Options());
  EXPECT_EQ(Find(done, "uptime")->state, CriterionState::kMet);  // 10 of 10080 min
  for (const auto& c : done.criteria) EXPECT_NE(c.state, CriterionState::kNotYet) << c.name;
  EXPECT_STREQ(CriterionStateName(CriterionState::kNotYet), "not yet");
}

TEST(PeriodVerdictTest, AlertsFiredInTheWindowOnly) {
  Scenario s;
  ReportOptions opt = s.Options();
  opt.alerts = {{kFrom + 3 * kDay, kFrom + 3 * kDay + 5 * kMinute, "ProbeDown", "{}", "down"},
                {kFrom - kHour, std::nullopt, "Before", "{}", ""},
                {kFrom + kDay, std::nullopt, "StillFiring", "{}", ""}};
  Report r = ComputeReport(s.Runs(), "carbon", SevenDays(), kFrom, kTo, kTo, opt);
  ASSERT_EQ(r.alerts.size(), 2u);
  EXPECT_EQ(r.alerts[0].rule, "StillFiring");
  EXPECT_EQ(r.alerts[1].rule, "ProbeDown");
}

}  // namespace
}  // namespace obsmon
