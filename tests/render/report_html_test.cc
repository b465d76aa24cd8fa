// RenderReportHtml without a browser: self-contained (no script, no external reference), every
// outside text escaped, the charts drawn from the report's figures. The browser test is
// tests/integration/report_html_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "render/report_format.h"
#include "tests/report/fake_period.h"

namespace obsmon {
namespace {

using namespace obsmon::fake_period;  // NOLINT: test vocabulary


TEST(ReportHtmlTest, EscapeHtmlEscapesMarkupQuotesAndControlCharacters) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("a\x1b[31mb\x07\n\x7f"), "a&#x241B;[31mb&#x2407;&#x240A;&#x2421;");
  EXPECT_EQ(EscapeHtml("plain é"), "plain é");
}

TEST(ReportHtmlTest, HostileTextNeverAppearsRaw) {
  const Report r = FakePeriodReport(60'000, /*hostile=*/true, "carbon<script>x</script>");
  const std::string html = RenderReportHtml(r);
  // The only markup-looking "<script" would be the hostile one: it must be escaped everywhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("onerror=\""), std::string::npos);
  EXPECT_EQ(html.find('\x1b'), std::string::npos);
  EXPECT_EQ(html.find('\x07'), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
            std::string::npos);
  EXPECT_NE(html.find("<title>carbon&lt;script&gt;x&lt;/script&gt;: observation period #3</title>"),
            std::string::npos);
  // In the critical line, the incident reason, the maintenance reason and the alert summary.
  EXPECT_GE(Count(html, "&lt;img src=x onerror=&quot;document.title=&#39;img&#39;&quot;&gt;"), 4u);
}

// The page is a mustache template: text that looks like a tag or a template ({{...}}) in a
// component name or a probe's reason is data, escaped and never expanded.
TEST(ReportHtmlTest, TemplateLookingTextIsEscapedNotExpanded) {
  Report r = FakePeriodReport(60'000, false, "c<script>'q\"{{title}}{{{verdict}}}");
  ASSERT_FALSE(r.incidents.empty());
  r.incidents[0].first_reason = "<script>x</script> \"dq\" 'sq' {{#criteria}}{{/criteria}}";
  const std::string html = RenderReportHtml(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<title>c&lt;script&gt;&#39;q&quot;{{title}}{{{verdict}}}: observation "
                      "period #3</title>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("&lt;script&gt;x&lt;/script&gt; &quot;dq&quot; &#39;sq&#39; "
                      "{{#criteria}}{{/criteria}}"),
            std::string::npos);
}

TEST(ReportHtmlTest, SelfContainedWithAPolicyThatForbidsScripts) {
  const std::string html = RenderReportHtml(FakePeriodReport());
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src=\""), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
}

// Issue 15: in the first hour of a period the latency chart has one point per series, which a
// polyline does not draw; each gets a marker at that point.
TEST(ReportHtmlTest, LatencyChartOfOneHourHasMarkers) {
  FakePeriod p = MakeFakePeriod();
  const int64_t now = p.from + 40 * kMinute;
  const Report r = ComputeReport(p.runs, "carbon", p.objective, p.from, p.to, now, p.options);
  ASSERT_EQ(r.latency_hourly.size(), 1u);
  const std::string html = RenderReportHtml(r);
  for (const char* series : {"p50", "p95", "p99"}) {
    EXPECT_EQ(Count(html, std::string("<circle class=\"") + series + "\""), 1u) << series;
  }
  // Two hours: lines, no markers.
  const Report two = ComputeReport(p.runs, "carbon", p.objective, p.from, p.to, now + kHour,
                                   p.options);
  EXPECT_EQ(Count(RenderReportHtml(two), "<circle"), 0u);
}

// A criterion not met yet in a running window says "not yet", not "not met".
TEST(ReportHtmlTest, CriteriaSayMetNotYetOrFailed) {
  FakePeriod p = MakeFakePeriod();
  // Day 3, 14:20: the 18-minute outage is 13 minutes old: 13 of about 3740 known minutes down,
  // uptime 99.65 % so far, below an objective of 99.7 % whose week's budget (0.3 % of 7 days
  // less 1 h of maintenance, 30 min) is not spent: not yet met.
  p.objective.uptime_percent = 99.7;
  const int64_t now = p.from + 2 * kDay + 14 * kHour + 20 * kMinute;
  Report r = ComputeReport(p.runs, "carbon", p.objective, p.from, p.to, now, p.options);
  ASSERT_EQ(r.criteria[0].name, "uptime");
  ASSERT_EQ(r.criteria[0].state, CriterionState::kNotYet) << r.criteria[0].detail;
  std::string html = RenderReportHtml(r);
  EXPECT_NE(html.find("<td class=\"notyet\">… not yet</td>"), std::string::npos) << html;
  EXPECT_EQ(html.find("not met"), std::string::npos);
  r.criteria[0].state = CriterionState::kFailed;
  html = RenderReportHtml(r);
  EXPECT_NE(html.find("<td class=\"unmet\">✘ failed</td>"), std::string::npos);
}

TEST(ReportHtmlTest, ChartsFollowTheFigures) {
  const Report r = FakePeriodReport();
  const std::string html = RenderReportHtml(r);
  EXPECT_EQ(Count(html, "<svg"), 3u);
  // One rect per timeline span in the strip, one bar per day, one triangle per incident.
  EXPECT_EQ(Count(html, "<rect class=\"down\""), 2u);      // the two outages
  EXPECT_EQ(Count(html, "<rect class=\"unknown\""), 1u);   // the gap
  EXPECT_EQ(Count(html, "<rect class=\"excluded\""), 1u);  // the maintenance
  EXPECT_EQ(Count(html, "<rect class=\"day\""), 7u);
  EXPECT_EQ(Count(html, "<g class=\"incident\">"), r.incidents.size());
  EXPECT_EQ(r.incidents.size(), 2u);
  // Latency: three polylines of one point per hour with successful runs: 168 hours less the
  // maintenance hour (runs in it do not count).
  EXPECT_EQ(r.latency_hourly.size(), 167u);
  EXPECT_EQ(Count(html, "<polyline"), 3u);
  // The verdict and the day rows.
  EXPECT_NE(
      html.find(std::string("class=\"verdict ") + (r.verdict == Verdict::kPass ? "pass" : "fail")),
      std::string::npos);
  EXPECT_NE(html.find("<td>Day 7 (2025-10-20)</td>"), std::string::npos);
}

// A window with more state spans than the strip has pixels is drawn a pixel of time at a time
// (a week flapping every 30 s was 40,000 rects, 9 MB of the page): at most one rect a pixel, and
// every down span of the timeline falls in a down column; a window without down time has none.
TEST(ReportHtmlTest, AStripOfMoreSpansThanPixelsHasAColumnAPixel) {
  std::vector<ProbeRun> runs;
  const TimestampMs t0 = 1'760'400'000'000;
  for (TimestampMs t = t0; t < t0 + 86'400'000; t += 10'000) {
    ProbeRun run;
    run.key = {"carbon", "http"};
    run.ts_ms = t;
    run.success = (t / 10'000) % 13 != 0;  // down one run in 13
    run.valid_for_ms = 15'000;
    runs.push_back(run);
  }
  const Report r =
      ComputeReport(runs, "carbon", Objective{}, t0, t0 + 86'400'000, t0 + 86'400'000);
  ASSERT_GT(r.timeline.size(), 1'000u);
  const std::string html = RenderReportHtml(r);
  const std::string strip = html.substr(0, html.find("</svg>"));
  const std::regex rect(R"re(<rect class="(up|down|unknown|excluded)" x="([0-9.]+)" y="28" )re"
                        R"re(width="([0-9.]+)")re");
  struct Column {
    std::string state;
    double x0, x1;
  };
  std::vector<Column> columns;
  for (auto it = std::sregex_iterator(strip.begin(), strip.end(), rect);
       it != std::sregex_iterator(); ++it) {
    const double x0 = std::stod((*it)[2]);
    columns.push_back({(*it)[1], x0, x0 + std::stod((*it)[3])});
  }
  ASSERT_GE(columns.size(), 900u);
  EXPECT_LE(columns.size(), 960u);
  size_t down_spans = 0;
  for (const StateSpan& s : r.timeline) {
    if (s.state != HealthState::kDown) continue;
    ++down_spans;
    const TimestampMs middle = (s.start_ms + s.end_ms) / 2;
    const double x = 20 + 960.0 * static_cast<double>(middle - t0) / 86'400'000;
    const auto at = std::find_if(columns.begin(), columns.end(),
                                 [&](const Column& c) { return c.x0 <= x && x < c.x1; });
    ASSERT_NE(at, columns.end()) << x;
    EXPECT_EQ(at->state, "down") << x;
  }
  EXPECT_GT(down_spans, 500u);

  // No down time, but as many spans: the runs that were down say nothing (unknown) instead.
  for (ProbeRun& run : runs) {
    if (!run.success) run.valid_for_ms = 0;
    run.success = true;
  }
  const Report up =
      ComputeReport(runs, "carbon", Objective{}, t0, t0 + 86'400'000, t0 + 86'400'000);
  ASSERT_GT(up.timeline.size(), 1'000u);
  const std::string up_html = RenderReportHtml(up);
  EXPECT_EQ(Count(up_html, "<rect class=\"down\""), 0u);
  EXPECT_GE(Count(up_html, "<rect class=\"up\""), 900u);
}

}  // namespace
}  // namespace obsmon
