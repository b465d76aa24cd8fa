// The renderers: golden text / markdown / JSON for a small scripted report (figures checked by
// hand below), the formatting helpers, and hostile probe text.
#include "render/report_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/report/fake_period.h"
#include "tests/report/uptime_oracle.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

// OBSMON_UPDATE_GOLDEN=1 rewrites the golden files from the current output (then review the diff).
std::string ReadGolden(const std::string& name, const std::string& actual) {
  const std::string path =
      std::string(OBSMON_SOURCE_DIR) + "/tests/render/testdata/report/" + name;
  if (std::getenv("OBSMON_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << actual;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* const kHostileLine =
    "CRITICAL <script>alert('x')</script> | `rm -rf` \"q\" \x1b[31mred\x07 &amp;";

// Two days of a 10-minute http health probe (valid 15 min) with one failed run at 10:00 on day 1,
// an integration check every 6 h failing once with hostile text, and one hour of maintenance.
Report GoldenReport() {
  std::vector<ProbeRun> runs;
  int i = 0;
  for (int64_t ts = kT0 - 10 * kMinute; ts < kT0 + 2 * kDay; ts += 10 * kMinute, ++i) {
    bool fail = ts == kT0 + 10 * kHour;
    runs.push_back(MakeRun("http", ts, !fail, 15 * kMinute, "status 503", 0.020 + 0.001 * (i % 7)));
  }
  for (int64_t ts = kT0; ts < kT0 + 2 * kDay; ts += 6 * kHour) {
    bool fail = ts == kT0 + kDay + 12 * kHour;
    runs.push_back(MakeRun("pytest", ts, !fail, 9 * kHour, "exit 1: test_energy | <b>failed</b>\n",
                           42, ProbeRole::kIntegration));
  }
  ReportOptions opt;
  opt.maintenance = {{kT0 + kDay + 2 * kHour, kT0 + kDay + 3 * kHour, "db | <upgrade> `v2`"}};
  LogEvent crit;
  crit.key = {"carbon", "app-log"};
  crit.ts_ms = kT0 + 5 * kHour;
  crit.file = "/var/log/carbon.log";
  crit.severity = "critical";
  crit.line = kHostileLine;
  LogEvent err = crit;
  err.ts_ms = kT0 + kDay + kHour;
  err.severity = "error";
  err.line = "ERROR retrying \"upload\" | 3/5";
  LogEvent info = crit;  // neither critical nor error: not counted
  info.severity = "warning";
  opt.log_events = {err, crit, info};
  opt.alerts = {{kT0 + 10 * kHour + kMinute, kT0 + 10 * kHour + 11 * kMinute, "ProbeDown",
                 "{alertname=\"ProbeDown\",component=\"carbon\"}", "carbon is <down>"},
                // Fired in the maintenance window, resolved after it.
                {kT0 + kDay + 2 * kHour + 50 * kMinute, kT0 + kDay + 3 * kHour + 5 * kMinute,
                 "DbSlow", "{alertname=\"DbSlow\",component=\"carbon\"}", ""}};
  opt.alerts_not_listed = 3;  // as if max_listed had kept these two of five
  return ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + 2 * kDay, kT0 + 2 * kDay, opt);
}

TEST(ReportFormatTest, GoldenFiguresByHand) {
  // The figures the golden files show, worked out independently of the code.
  nlohmann::json j = nlohmann::json::parse(RenderReportJson(GoldenReport()));
  // Down: the 10:00 failure stands until the 10:10 run. Excluded 1 h. Up: the rest.
  EXPECT_EQ(j["uptime"]["down_ms"], 10 * kMinute);
  EXPECT_EQ(j["uptime"]["excluded_ms"], kHour);
  EXPECT_EQ(j["uptime"]["up_ms"], 2 * kDay - kHour - 10 * kMinute);
  EXPECT_DOUBLE_EQ(j["uptime"]["uptime_ratio"].get<double>(), 2810.0 / 2820.0);
  // Budget: 0.5 % of 47 h = 14.1 min.
  EXPECT_EQ(j["error_budget"]["allowed_ms"], 846'000);
  EXPECT_EQ(j["error_budget"]["left_ms"], 846'000 - 600'000);
  // Latency: 288 runs in the window - 1 failed - 6 in the maintenance hour; durations 20..26 ms.
  EXPECT_EQ(j["latency"]["count"], 281);
  EXPECT_DOUBLE_EQ(j["latency"]["min_seconds"].get<double>(), 0.020);
  EXPECT_DOUBLE_EQ(j["latency"]["max_seconds"].get<double>(), 0.026);
  {
    // The mean: the durations of the counted runs summed in long double, once, in run order.
    long double sum = 0;
    int n = 0, i = 0;
    for (int64_t ts = kT0 - 10 * kMinute; ts < kT0 + 2 * kDay; ts += 10 * kMinute, ++i) {
      const bool maintenance = ts >= kT0 + kDay + 2 * kHour && ts < kT0 + kDay + 3 * kHour;
      if (ts < kT0 || ts == kT0 + 10 * kHour || maintenance) continue;
      sum += 0.020 + 0.001 * (i % 7);
      ++n;
    }
    ASSERT_EQ(n, 281);
    EXPECT_DOUBLE_EQ(j["latency"]["mean_seconds"].get<double>(), static_cast<double>(sum / n));
  }
  EXPECT_EQ(j["checks"][0]["runs"], 8);
  EXPECT_EQ(j["checks"][0]["failed"], 1);
  EXPECT_EQ(j["verdict"]["status"], "FAIL");
  EXPECT_EQ(j["days"].size(), 2u);
  EXPECT_EQ(j["days"][1]["checks_failed"], 1);
  EXPECT_EQ(j["days"][1]["latency"]["count"], 144 - 6);
  // One critical (day 1) and one error (day 2); the warning is not counted.
  EXPECT_EQ(j["log_lines"]["critical"], 1);
  EXPECT_EQ(j["log_lines"]["error"], 1);
  EXPECT_EQ(j["log_lines"]["first_critical"]["line"], kHostileLine);  // JSON keeps it verbatim
  EXPECT_EQ(j["days"][0]["log_lines"]["critical"], 1);
  EXPECT_EQ(j["days"][1]["log_lines"]["error"], 1);
  ASSERT_EQ(j["alerts_fired"].size(), 2u);
  EXPECT_EQ(j["alerts_fired_not_listed"], 3);
  EXPECT_TRUE(j["alerts_fired"][0]["in_maintenance"].is_null());
  EXPECT_EQ(j["alerts_fired"][1]["in_maintenance"]["reason"], "db | <upgrade> `v2`");
  EXPECT_EQ(j["alerts_fired"][1]["in_maintenance"]["start_ms"], kT0 + kDay + 2 * kHour);
  EXPECT_EQ(j["maintenance"][0]["reason"], "db | <upgrade> `v2`");
  EXPECT_EQ(j["maintenance"][0]["duration_ms"], kHour);
  // Day 2's p95 equals day 1's: no degradation.
  EXPECT_EQ(j["verdict"]["criteria"][3]["name"], "no_degradation");
  EXPECT_EQ(j["verdict"]["criteria"][3]["value"], 0.0);
  EXPECT_EQ(j["verdict"]["reasons"].size(), 2u);  // critical lines and integration checks
}

TEST(ReportFormatTest, HostileLogLineIsEscapedInMarkdownAndText) {
  const std::string md = RenderReportMarkdown(GoldenReport());
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_NE(md.find("&lt;script&gt;alert('x')&lt;/script&gt; \\| \\`rm -rf\\`"), std::string::npos)
      << md;
  EXPECT_EQ(md.find('\x1b'), std::string::npos);
  EXPECT_EQ(md.find('\x07'), std::string::npos);
  const std::string text = RenderReportText(GoldenReport());
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("first critical 2025-10-14 05:00:00 [app-log] CRITICAL <script>"),
            std::string::npos)
      << text;
}

// Issue 13: a log line with NUL bytes is shown escaped (\x00), never cut or blanked.
TEST(ReportFormatTest, NulBytesInALogLineAreShownEscaped) {
  Report r = GoldenReport();
  r.logs.first_critical->line = std::string("CRITICAL nul\0\0 in line", 23);
  const std::string text = RenderReportText(r);
  EXPECT_NE(text.find("CRITICAL nul\\x00\\x00 in line"), std::string::npos) << text;
  const std::string md = RenderReportMarkdown(r);
  EXPECT_NE(md.find("CRITICAL nul\\\\x00\\\\x00 in line"), std::string::npos) << md;
  EXPECT_EQ(md.find('\0'), std::string::npos);
  auto j = nlohmann::json::parse(RenderReportJson(r));
  EXPECT_EQ(j["log_lines"]["first_critical"]["line"].get<std::string>(), r.logs.first_critical->line);
}

TEST(ReportFormatTest, MarkdownGolden) {
  const std::string actual = RenderReportMarkdown(GoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden.md", actual));
}

TEST(ReportFormatTest, JsonGolden) {
  const std::string actual = RenderReportJson(GoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden.json", actual));
}

TEST(ReportFormatTest, TextGolden) {
  const std::string actual = RenderReportText(GoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden.txt", actual));
}

// Day 2 of 3 of the same http probe (no checks, no log lines): IN PROGRESS with a projection.
Report InProgressGoldenReport() {
  std::vector<ProbeRun> runs;
  int i = 0;
  for (int64_t ts = kT0 - 10 * kMinute; ts < kT0 + 2 * kDay; ts += 10 * kMinute, ++i) {
    bool fail = ts == kT0 + 10 * kHour;
    runs.push_back(MakeRun("http", ts, !fail, 15 * kMinute, "status 503", 0.020 + 0.001 * (i % 7)));
  }
  ReportOptions opt;
  opt.maintenance = {{kT0 + kDay + 2 * kHour, kT0 + kDay + 3 * kHour, "db upgrade"}};
  opt.period_id = 7;
  return ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + 3 * kDay, kT0 + 2 * kDay, opt);
}

TEST(ReportFormatTest, InProgressFiguresByHand) {
  const Report r = InProgressGoldenReport();
  ASSERT_EQ(r.verdict, Verdict::kInProgress);
  // 10 min down of 47 h known; one more day at that share: 600,000 x 1440 / 2820 ms more.
  ASSERT_TRUE(r.projection.has_value());
  EXPECT_EQ(r.projection->remaining_ms, kDay);
  EXPECT_EQ(r.projection->projected_down_ms, 600'000 + std::llround(600'000.0 * 1440 / 2820));
  // Allowed: 0.5 % of (3 d - 1 h) = 1,278,000 ms.
  EXPECT_EQ(r.budget.allowed_ms, 1'278'000);
  EXPECT_EQ(r.projection->projected_verdict, Verdict::kPass);
}

TEST(ReportFormatTest, InProgressMarkdownGolden) {
  const std::string actual = RenderReportMarkdown(InProgressGoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden_in_progress.md", actual));
}

TEST(ReportFormatTest, InProgressJsonGolden) {
  const std::string actual = RenderReportJson(InProgressGoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden_in_progress.json", actual));
}

// The HTML pages are checked byte for byte too: the templates (render/templates/) must give the
// page the hand-written renderer gave. The fake period has hostile text in a reason, a log line,
// the maintenance reason and the component name.
TEST(ReportFormatTest, HtmlGolden) {
  const std::string actual = RenderReportHtml(GoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden.html", actual));
}

TEST(ReportFormatTest, InProgressHtmlGolden) {
  const std::string actual = RenderReportHtml(InProgressGoldenReport());
  EXPECT_EQ(actual, ReadGolden("golden_in_progress.html", actual));
}

TEST(ReportFormatTest, HostileFakePeriodHtmlGolden) {
  const std::string actual = RenderReportHtml(
      fake_period::FakePeriodReport(60'000, /*hostile=*/true, "carbon<script>x</script>"));
  EXPECT_EQ(actual, ReadGolden("golden_fake_period_hostile.html", actual));
}

// A day of 30 one-second blips then a 2-minute outage (fresh eyes: Day 1's comment listed the
// first ten blips and left the outage out), with the report listing 20 incidents of the 31
// (ReportOptions::max_listed): the day shows its ten longest, the outage among them, and counts
// the rest; the gaps' list says how many it leaves out.
TEST(ReportFormatTest, ADayListsItsLongestIncidentsAndCountsTheRest) {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0 - kMinute; ts < kT0 + kDay; ts += kSecond) {
    const int64_t at = ts - kT0;
    const bool blip = at >= 0 && at < 60 * kSecond && at % (2 * kSecond) == 0;
    const bool outage = at >= 10 * kHour && at < 10 * kHour + 2 * kMinute;
    const bool silent = (at >= 12 * kHour && at < 12 * kHour + 5 * kSecond) ||
                        (at >= 13 * kHour && at < 13 * kHour + 9 * kSecond);
    if (silent) continue;
    runs.push_back(MakeRun("http", ts, !(blip || outage), 1500));
  }
  ReportOptions opt;
  opt.max_listed = 20;
  opt.max_log_events = 0;
  const Report r = ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + kDay, kT0 + kDay, opt);
  ASSERT_EQ(r.IncidentCount(), 31u);
  ASSERT_EQ(r.incidents.size(), 20u);
  ASSERT_EQ(r.days.size(), 1u);
  ASSERT_EQ(r.days[0].incidents, 31u);
  const std::string day = RenderDayMarkdown(r, r.days[0]);
  EXPECT_NE(day.find("10:00:00 UTC, 2m 00s"), std::string::npos) << day;
  EXPECT_NE(day.find("… and 21 more, none longer"), std::string::npos) << day;
  // Two gaps, one listed: the list says the other is left out.
  ReportOptions one = opt;
  one.max_listed = 1;
  const Report g = ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + kDay, kT0 + kDay, one);
  ASSERT_EQ(g.GapCount(), 2u);
  const std::string markdown = RenderReportMarkdown(g);
  EXPECT_NE(markdown.find("### Monitoring gaps (2,"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("- … and 1 shorter"), std::string::npos) << markdown;
  EXPECT_NE(RenderReportHtml(g).find("… and 1 shorter"), std::string::npos);
}

TEST(ReportFormatTest, NoDataIsNullInJsonAndNaInText) {
  Report r = ComputeReport({}, "carbon", Objective{}, kT0, kT0 + kDay, kT0 + kDay);
  nlohmann::json j = nlohmann::json::parse(RenderReportJson(r));
  EXPECT_TRUE(j["uptime"]["uptime_ratio"].is_null());
  EXPECT_EQ(j["uptime"]["coverage_ratio"], 0.0);
  EXPECT_TRUE(j["latency"]["p50_seconds"].is_null());
  EXPECT_EQ(j["verdict"]["status"], "INSUFFICIENT DATA");
  std::string text = RenderReportText(r);
  EXPECT_NE(text.find("Uptime        n/a"), std::string::npos) << text;
  EXPECT_NE(text.find("Verdict       INSUFFICIENT DATA"), std::string::npos) << text;
}

TEST(ReportFormatTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(kT0), "2025-10-14T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1'709'210'096'789), "2024-02-29T12:34:56.789Z");  // `date -u -d`
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(-2'203'891'200'000), "1900-03-01T00:00:00.000Z");
  EXPECT_EQ(FormatUtcDate(kT0 + kDay - 1), "2025-10-14");
  EXPECT_EQ(FormatUtcSeconds(kT0 + 10 * kHour + 5 * kMinute + 999), "2025-10-14 10:05:00");
}

TEST(ReportFormatTest, PercentRoundsDownButKeepsExactThresholds) {
  EXPECT_EQ(FormatPercent(0.995), "99.500 %");
  EXPECT_EQ(FormatPercent(601'776'000.0 / 604'800'000.0), "99.500 %");
  EXPECT_EQ(FormatPercent(0.9949999), "99.499 %");
  EXPECT_EQ(FormatPercent(1.0), "100.000 %");
  EXPECT_EQ(FormatPercent(0.0), "0.000 %");
  EXPECT_EQ(FormatPercent(std::nullopt), "n/a");
}

TEST(ReportFormatTest, HostileTextIsEscaped) {
  EXPECT_EQ(EscapeMarkdown("a|b <script>alert(\"x\")</script> `rm` *_[l](u)\n\x1b[31mred\r\n"),
            "a\\|b &lt;script&gt;alert(\"x\")&lt;/script&gt; \\`rm\\` \\*\\_\\[l\\](u)  \\[31mred");
  EXPECT_EQ(OneLine("line1\nline2\x1b[2J\t\r\n"), "line1 line2 [2J");
}

TEST(ReportFormatTest, InvalidUtf8InAReasonDoesNotThrow) {
  std::vector<ProbeRun> runs = {
      MakeRun("http", kT0, false, kHour, std::string("bad \xff\xfe byte"))};
  Report r = ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + kHour, kT0 + kHour);
  std::string json;
  ASSERT_NO_THROW(json = RenderReportJson(r));
  nlohmann::json j = nlohmann::json::parse(json);
  EXPECT_EQ(j["incidents"][0]["first_reason"], "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
  EXPECT_NE(RenderReportMarkdown(r).find("| http | http: bad"), std::string::npos);
}

// RenderReportJson writes incidents and gaps an element at a time instead of holding them in one
// document (a flapping week's took 170 MB): the text is still exactly what the document's
// dump(2) prints, for many, one and no elements, and invalid UTF-8 inside them.
TEST(ReportFormatTest, JsonWrittenAnElementAtATimeIsTheDocumentsDump) {
  std::vector<ProbeRun> runs;
  for (int64_t t = kT0; t < kT0 + kHour; t += 10'000) {
    if (t % 600'000 < 30'000) continue;  // a gap every 10 minutes
    const bool up = (t / 10'000) % 7 != 3;
    runs.push_back(MakeRun("http", t, up, 15'000, up ? "" : std::string("bad \xff byte")));
  }
  const Report many = ComputeReport(runs, "carbon", Objective{}, kT0, kT0 + kHour, kT0 + kHour);
  ASSERT_GT(many.incidents.size(), 30u);
  ASSERT_GT(many.gaps.size(), 3u);
  const Report one = ComputeReport(std::vector<ProbeRun>{MakeRun("http", kT0, false, 60'000, "x")},
                                   "carbon", Objective{}, kT0, kT0 + kHour, kT0 + kHour);
  ASSERT_EQ(one.incidents.size(), 1u);
  const Report none = ComputeReport(std::vector<ProbeRun>{MakeRun("http", kT0, true, kHour, "")},
                                    "carbon", Objective{}, kT0, kT0 + kHour, kT0 + kHour);
  ASSERT_TRUE(none.incidents.empty() && none.gaps.empty());
  for (const Report* r : {&many, &one, &none}) {
    const std::string text = RenderReportJson(*r);
    const auto document = nlohmann::ordered_json::parse(text);
    EXPECT_EQ(text, document.dump(2) + "\n");
    EXPECT_EQ(document["incidents"].size(), r->incidents.size());
    EXPECT_EQ(document["monitoring_gaps"].size(), r->gaps.size());
  }
}

}  // namespace
}  // namespace obsmon
