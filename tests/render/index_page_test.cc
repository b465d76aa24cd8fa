// The `GET /` overview: per component the verdict so far, "Day N of M", criteria met / not yet /
// failed, figures, a day bar and an hour bar, a report link and a badge; names escaped in text
// and percent-encoded in links; nothing external, no script. The figures are checked against
// values computed here by hand from the runs' schedule, not against the report.
#include "render/index_page.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "render/badge_svg.h"
#include "render/status_bar.h"

namespace obsmon {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z
// Day 3 of a 7-day period, 05:30 UTC.
constexpr int64_t kNow = kT0 + 2 * kDay + 5 * kHour + 30 * kMinute;

// One health run a minute from just before the window to now, each valid 90 s; down from 10:00
// to 10:10 on day 1 (the run at 10:10 is up again).
Report CarbonReport() {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0 - kMinute; ts < kNow; ts += kMinute) {
    ProbeRun r;
    r.key = {"carbon", "http"};
    r.role = ProbeRole::kHealth;
    r.ts_ms = ts;
    r.success = !(ts >= kT0 + 10 * kHour && ts < kT0 + 10 * kHour + 10 * kMinute);
    r.reason = r.success ? "" : "status 503";
    r.duration_seconds = 0.002;
    r.valid_for_ms = 90'000;
    runs.push_back(r);
  }
  Objective o;
  o.uptime_percent = 99.5;
  o.window_ms = 7 * kDay;
  return ComputeReport(runs, "carbon", o, kT0, kT0 + 7 * kDay, kNow);
}

IndexPage Page() {
  IndexPage page;
  page.version = "0.1.0";
  page.now_ms = kNow;
  IndexComponent carbon;
  carbon.name = "carbon";
  carbon.state = "up";
  carbon.period = IndexPeriod{3, kT0, kT0 + 7 * kDay, "active"};
  carbon.report = CarbonReport();
  carbon.report->period_id = 3;
  IndexComponent bad;
  bad.name = "neo4j <b>\"x\"</b>&co/1";
  bad.state = "down";
  page.components = {carbon, bad};
  return page;
}

std::string Card(const std::string& html, const std::string& name) {
  const size_t at = html.find("data-component=\"" + name + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
}

TEST(IndexPageTest, VerdictDayFiguresAndCriteriaOfTheLiveReport) {
  const std::string card = Card(RenderIndexPage(Page()), "carbon");
  ASSERT_FALSE(card.empty());
  EXPECT_NE(card.find("data-figure=\"verdict\">IN PROGRESS<"), std::string::npos) << card;
  EXPECT_NE(card.find("data-figure=\"day\">Day 3 of 7<"), std::string::npos);
  // 10 minutes down of 2 d 5 h 30 m known: 1 - 10 / 3210 = 99.6884... %, shown rounded down.
  EXPECT_NE(card.find("data-figure=\"uptime\">99.688 %<"), std::string::npos);
  EXPECT_NE(card.find("data-figure=\"coverage\">100.000 %<"), std::string::npos);
  // 0.5 % of 7 days is 50 m 24 s; 10 m used.
  EXPECT_NE(card.find("data-figure=\"budget\">40m 24s<"), std::string::npos);
  EXPECT_NE(card.find("data-figure=\"incidents\">1<"), std::string::npos);
  EXPECT_NE(card.find("data-figure=\"critical_lines\">0<"), std::string::npos);
  EXPECT_NE(card.find("<li class=\"met\" data-criterion=\"uptime\"><b>✔ met</b> uptime 99.688 %"),
            std::string::npos);
  EXPECT_NE(card.find("href=\"/api/v1/components/carbon/report?format=html&amp;period=3\""),
            std::string::npos);
  EXPECT_NE(card.find("href=\"/api/v1/components/carbon/badge.svg\""), std::string::npos);
}

TEST(IndexPageTest, ACriterionNotYetMetSaysSo) {
  IndexPage page = Page();
  page.components[0].report->criteria[0].state = CriterionState::kNotYet;
  const std::string card = Card(RenderIndexPage(page), "carbon");
  EXPECT_NE(card.find("<li class=\"notyet\" data-criterion=\"uptime\"><b>… not yet</b>"),
            std::string::npos)
      << card;
}

// One cell per day of the 7 (three evaluated, four to come), one per hour of today.
// Without an observation period the card is of the objective window ending now: it says so,
// and neither "Day N" nor "ended" (that window never ends).
TEST(IndexPageTest, AWindowWithoutPeriodIsTheRollingObjectiveWindow) {
  IndexPage page = Page();
  page.components[0].report->period_id.reset();
  page.components[0].period.reset();
  const std::string card = Card(RenderIndexPage(page), "carbon");
  EXPECT_NE(card.find("data-figure=\"day\">last 7 days (no active period)<"),
            std::string::npos)
      << card;
  EXPECT_EQ(card.find("ended"), std::string::npos) << card;
}

// An objective window shorter than a day, or not whole days, is named as configured (fresh eyes:
// "last 1 day" was shown for windows of 1h, 2m and 3m).
TEST(IndexPageTest, AWindowOfHoursIsNamedByItsLength) {
  for (const auto& [window_ms, text] : std::vector<std::pair<int64_t, std::string>>{
           {3'600'000, "last 1h (no active period)"},
           {120'000, "last 2m (no active period)"},
           {36 * 3'600'000LL, "last 1d12h (no active period)"},
           {86'400'000, "last 1 day (no active period)"}}) {
    IndexPage page = Page();
    Report& r = *page.components[0].report;
    r.period_id.reset();
    r.period_days.clear();
    r.from_ms = r.to_ms - window_ms;
    page.components[0].period.reset();
    const std::string card = Card(RenderIndexPage(page), "carbon");
    EXPECT_NE(card.find("data-figure=\"day\">" + text + "<"), std::string::npos)
        << window_ms << "\n" << card;
  }
}

TEST(IndexPageTest, DayAndHourBars) {
  const Report r = CarbonReport();
  const auto days = DayCells(r);
  ASSERT_EQ(days.size(), 7u);
  EXPECT_EQ(days[0].state, "down");
  EXPECT_EQ(days[1].state, "up");
  EXPECT_EQ(days[2].state, "up");
  for (size_t i = 3; i < 7; ++i) EXPECT_EQ(days[i].state, "future");
  EXPECT_NE(days[0].title.find("Day 1 (2025-10-14): uptime 99.305 %, down 10m 00s"),
            std::string::npos)
      << days[0].title;
  const auto hours = HourCells(r);
  ASSERT_EQ(hours.size(), 24u);
  for (size_t h = 0; h < 6; ++h) EXPECT_EQ(hours[h].state, "up") << h;  // 05:00-05:30 too
  for (size_t h = 6; h < 24; ++h) EXPECT_EQ(hours[h].state, "future") << h;
  EXPECT_EQ(hours[5].title.substr(0, 9), "05:00 UTC");
  const std::string html = RenderIndexPage(Page());
  const std::string card = Card(html, "carbon");
  EXPECT_NE(card.find("<i class=\"down\" title=\"Day 1 (2025-10-14): uptime 99.305 %"),
            std::string::npos);
}

TEST(IndexPageTest, StatesOfACell) {
  EXPECT_EQ(CellState(UptimeTotals{3600, 0, 0, 3600, 0}), "unknown");
  EXPECT_EQ(CellState(UptimeTotals{3600, 0, 0, 600, 3000}), "maintenance");
  EXPECT_EQ(CellState(UptimeTotals{3600, 3000, 1, 599, 0}), "down");
  EXPECT_EQ(CellState(UptimeTotals{3600, 3000, 0, 600, 0}), "up");
}

TEST(IndexPageTest, SelfContainedRefreshingAndPhoneSized) {
  const std::string html = RenderIndexPage(Page());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"60\">"), std::string::npos);
  EXPECT_NE(html.find("<meta name=\"viewport\" content=\"width=device-width"), std::string::npos);
  EXPECT_NE(html.find("2 components · 2025-10-16 05:30 UTC · obsmon 0.1.0"), std::string::npos);
}

TEST(IndexPageTest, NamesAreEscapedAndLinksEncoded) {
  const std::string html = RenderIndexPage(Page());
  EXPECT_EQ(html.find("<b>\"x\"</b>"), std::string::npos);
  EXPECT_NE(html.find("<h2>neo4j &lt;b&gt;&quot;x&quot;&lt;/b&gt;&amp;co/1</h2>"),
            std::string::npos);
  EXPECT_EQ(ComponentReportUrl(Page().components[1]),
            "/api/v1/components/neo4j%20%3Cb%3E%22x%22%3C%2Fb%3E%26co%2F1/report?format=html");
  EXPECT_EQ(ComponentBadgeUrl(Page().components[1]),
            "/api/v1/components/neo4j%20%3Cb%3E%22x%22%3C%2Fb%3E%26co%2F1/badge.svg");
  EXPECT_NE(html.find("No run stored yet"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
}

// Byte for byte (OBSMON_UPDATE_GOLDEN=1 rewrites it), for review of the whole page.
TEST(IndexPageTest, Golden) {
  const std::string actual = RenderIndexPage(Page());
  const std::string path = std::string(OBSMON_SOURCE_DIR) + "/tests/render/testdata/index.html";
  if (std::getenv("OBSMON_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << actual;
  std::ifstream in(path);
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(actual, golden.str());
}

TEST(IndexPageTest, TemplateLookingTextIsEscapedNotExpanded) {
  IndexPage page = Page();
  page.title = "t<script>{{version}}";
  page.components[1].name = "<script>'q\"{{name}}{{{state}}}";
  page.components[0].report->criteria[0].detail = "{{#components}}<b>";
  const std::string html = RenderIndexPage(page);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<title>t&lt;script&gt;{{version}}</title>"), std::string::npos) << html;
  EXPECT_NE(html.find("<h2>&lt;script&gt;&#39;q&quot;{{name}}{{{state}}}</h2>"),
            std::string::npos);
  EXPECT_NE(html.find("</b> {{#components}}&lt;b&gt;</li>"), std::string::npos);
}

TEST(IndexPageTest, NoComponents) {
  IndexPage page;
  EXPECT_NE(RenderIndexPage(page).find("No component configured."), std::string::npos);
}

// Well-formed XML (xmllint when installed), the verdict and uptime, escaped text.
TEST(BadgeSvgTest, WellFormedWithVerdictAndEscapedText) {
  const std::string svg = RenderBadgeSvg(CarbonReport());
  EXPECT_NE(svg.find(">carbon</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">IN PROGRESS 99.688 %</text>"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#2e6fd9\""), std::string::npos);
  const std::string hostile = RenderBadgeSvg("a<b>&\"c'", "PASS", "#2e9d57");
  EXPECT_EQ(hostile.find("<b>"), std::string::npos);
  EXPECT_NE(hostile.find("a&lt;b&gt;&amp;&quot;c&#39;"), std::string::npos);
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) GTEST_SKIP() << "no xmllint";
  for (const std::string& s : {svg, hostile}) {
    const std::string path = ::testing::TempDir() + "/badge.svg";
    std::ofstream(path) << s;
    EXPECT_EQ(std::system(("xmllint --noout " + path).c_str()), 0) << s;
  }
}

}  // namespace
}  // namespace obsmon
