// The HTML report in a real browser (Debian's headless Chromium): it renders without a console
// error or a Content-Security-Policy violation (nothing external, nothing inline that is not
// allowed), hostile text from probes and logs shows up escaped and never executes, it prints to
// a few A4 landscape pages, and a screenshot can be taken (OBSMON_SCREENSHOT_OUT=docs/report-screenshot.png writes the one in
// docs/). Skipped when /usr/bin/chromium is missing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "render/index_page.h"
#include "render/report_format.h"
#include "tests/report/fake_period.h"
#include "tests/support/files.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using fake_period::Count;

constexpr const char* kChromium = "/usr/bin/chromium";



class ReportHtmlChromiumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kChromium)) GTEST_SKIP() << "chromium is not installed";
  }

  // Runs headless Chromium on `html` with `mode` ({"--dump-dom"}, {"--screenshot=..."}, ...) for
  // 120 s at most; returns its exit code (-1: killed at 120 s), its stdout in *out and its log
  // (stderr) in *log.
  int Chromium(const std::string& html, const std::vector<std::string>& mode, std::string* out,
               std::string* log) {
    const auto page = dir_ / "report.html";
    std::ofstream(page, std::ios::binary) << html;
    std::vector<std::string> argv = {kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--no-first-run",
                                     "--hide-scrollbars",
                                     "--enable-logging=stderr",
                                     "--v=0",
                                     "--window-size=" + window_size_,
                                     "--user-data-dir=" + (dir_ / "profile").string()};
    argv.insert(argv.end(), mode.begin(), mode.end());
    argv.push_back("file://" + page.string());
    const auto [code, stdout_text] = ::obsmon::testing::RunCommand(
        argv,
        {.output_path = (dir_ / "out.txt").string(), .stderr_path = (dir_ / "log.txt").string()},
        std::chrono::seconds(120));
    *out = stdout_text;
    *log = ::obsmon::testing::ReadWholeFile((dir_ / "log.txt").string());
    return code;
  }

  std::string window_size_ = "1100,2600";  // width,height in CSS pixels
  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
};

// The harness can see script execution: without the report's policy, an inline script changes
// the title in the dumped DOM. (So the absence of a change below means something.)
TEST_F(ReportHtmlChromiumTest, HarnessDetectsExecutedScript) {
  std::string dom, log;
  ASSERT_EQ(Chromium("<!DOCTYPE html><html><head><title>before</title></head><body>"
                     "<script>document.title='ran';console.error('boom')</script></body></html>",
                     {"--dump-dom"}, &dom, &log),
            0)
      << log;
  EXPECT_NE(dom.find("<title>ran</title>"), std::string::npos) << dom;
  EXPECT_NE(log.find(":CONSOLE"), std::string::npos) << log;  // console output is visible
}

TEST_F(ReportHtmlChromiumTest, RendersWithoutErrorsAndHostileTextStaysText) {
  const Report r = fake_period::FakePeriodReport(60'000, /*hostile=*/true);
  std::string dom, log;
  ASSERT_EQ(Chromium(RenderReportHtml(r), {"--dump-dom"}, &dom, &log), 0) << log;
  // No console message at all: no script error, no CSP violation, nothing blocked.
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  // The hostile scripts did not run (the title is ours) and became no elements.
  EXPECT_NE(dom.find("<title>carbon: observation period #3</title>"), std::string::npos);
  EXPECT_EQ(dom.find("pwned</title>"), std::string::npos);
  EXPECT_EQ(Count(dom, "<script"), 0u);
  EXPECT_EQ(Count(dom, "<img"), 0u);
  // ... but they are there, as text: in the critical line, the first reason, the maintenance
  // reason and the alert summary (the DOM serializer re-escapes < > & in text).
  EXPECT_GE(Count(dom, "&lt;script&gt;document.title='pwned'&lt;/script&gt;"), 4u) << dom;
  // Control characters show as their pictures (ESC -> U+241B, BEL -> U+2407).
  EXPECT_NE(dom.find("\xE2\x90\x9B[31mred\xE2\x90\x87"), std::string::npos);
  // The page rendered its parts: the verdict, three charts, seven day rows.
  EXPECT_NE(dom.find("id=\"verdict\""), std::string::npos);
  EXPECT_EQ(Count(dom, "<svg"), 3u);
  EXPECT_EQ(Count(dom, "<rect class=\"day\""), 7u);
  EXPECT_NE(dom.find("<td>Day 7 (2025-10-20)</td>"), std::string::npos);
}

TEST_F(ReportHtmlChromiumTest, Screenshot) {
  const Report r = fake_period::FakePeriodReport(60'000, /*hostile=*/false);
  const auto png = dir_ / "report.png";
  std::string out, log;
  ASSERT_EQ(Chromium(RenderReportHtml(r), {"--screenshot=" + png.string()}, &out, &log), 0) << log;
  const std::string bytes = ::obsmon::testing::ReadWholeFile((png).string());
  ASSERT_GT(bytes.size(), 20'000u) << log;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  if (const char* dest = std::getenv("OBSMON_SCREENSHOT_OUT")) {
    std::filesystem::copy_file(png, dest, std::filesystem::copy_options::overwrite_existing);
  }
}

// It prints: A4 landscape (from @media print), a handful of pages for a 7-day period.
TEST_F(ReportHtmlChromiumTest, PrintsToAFewPdfPages) {
  const Report r = fake_period::FakePeriodReport(60'000, /*hostile=*/false);
  const auto pdf = dir_ / "report.pdf";
  std::string out, log;
  ASSERT_EQ(Chromium(RenderReportHtml(r),
                     {"--no-pdf-header-footer", "--print-to-pdf=" + pdf.string()}, &out, &log),
            0)
      << log;
  const std::string bytes = ::obsmon::testing::ReadWholeFile((pdf).string());
  ASSERT_EQ(bytes.substr(0, 5), "%PDF-") << log;
  const size_t pages = Count(bytes, "/Type /Page") - Count(bytes, "/Type /Pages");
  EXPECT_GE(pages, 2u);
  EXPECT_LE(pages, 6u);
  // A4 landscape: 297 x 210 mm = 841.92 x 595.28 points (Chromium writes 841.91998 594.95996).
  EXPECT_NE(bytes.find("/MediaBox [0 0 841.9"), std::string::npos);
}

// The overview page (GET /) as a team sees it on day 6 of a 7-day period: carbon in progress
// (the fake period cut at day 6, 14:00), a second component whose period is over, a third with
// no run yet.
IndexPage OverviewPage() {
  using namespace fake_period;  // NOLINT: test vocabulary
  FakePeriod p = MakeFakePeriod(60'000, /*hostile=*/false);
  p.options.period_id = 3;
  const int64_t now = kT0 + 5 * kDay + 14 * kHour;
  IndexPage page;
  page.now_ms = now;
  page.version = "0.1.0";
  IndexComponent carbon;
  carbon.name = "carbon";
  carbon.state = "up";
  carbon.period = IndexPeriod{3, p.from, p.to, "active"};
  carbon.report = ComputeReport(p.runs, "carbon", p.objective, p.from, p.to, now, p.options);
  IndexComponent neo4j;
  neo4j.name = "neo4j";
  neo4j.state = "up";
  neo4j.report = FakePeriodReport(60'000, /*hostile=*/false, "neo4j");
  neo4j.report->period_id = 2;
  IndexComponent web;
  web.name = "web";
  web.state = "unknown";
  page.components = {carbon, neo4j, web};
  return page;
}

TEST_F(ReportHtmlChromiumTest, OverviewRendersWithoutErrors) {
  std::string dom, log;
  ASSERT_EQ(Chromium(RenderIndexPage(OverviewPage()), {"--dump-dom"}, &dom, &log), 0) << log;
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  EXPECT_EQ(Count(dom, "<section class=\"card\""), 3u) << dom;
  EXPECT_NE(dom.find(">Day 6 of 7<"), std::string::npos);
}

// Desktop and phone width (375 px); OBSMON_SCREENSHOT_DIR=docs writes docs/overview-screenshot.png
// and docs/overview-phone-screenshot.png (scripts/screenshots.sh).
TEST_F(ReportHtmlChromiumTest, OverviewScreenshots) {
  for (const auto& [size, name] : {std::pair{"1100,1250", "overview-screenshot.png"},
                                   std::pair{"375,1750", "overview-phone-screenshot.png"}}) {
    window_size_ = size;
    const auto png = dir_ / name;
    std::string out, log;
    ASSERT_EQ(Chromium(RenderIndexPage(OverviewPage()), {"--screenshot=" + png.string()}, &out,
                       &log),
              0)
        << log;
    const std::string bytes = ::obsmon::testing::ReadWholeFile(png.string());
    ASSERT_GT(bytes.size(), 10'000u) << log;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    if (const char* dir = std::getenv("OBSMON_SCREENSHOT_DIR")) {
      std::filesystem::copy_file(png, std::filesystem::path(dir) / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
}

}  // namespace
}  // namespace obsmon
