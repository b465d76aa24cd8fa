// The `GET /` page: one row per component with its state, figures and a link to its HTML report;
// names escaped in text and percent-encoded in links; nothing external, no script.
#include "render/index_page.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace obsmon {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z

IndexPage Page() {
  IndexPage page;
  page.version = "0.1.0";
  page.now_ms = kT0 + 2 * kDay + 90'000;
  IndexComponent carbon;
  carbon.name = "carbon";
  carbon.state = "up";
  carbon.uptime_ratio = 0.99949;  // rounded down, never up to 99.950
  carbon.coverage_ratio = 1.0;
  carbon.budget_left_ms = 26 * 60'000 + 6'000;
  carbon.period = IndexPeriod{3, kT0, kT0 + 7 * kDay, "active", "IN PROGRESS"};
  IndexComponent bad;
  bad.name = "neo4j <b>\"x\"</b>&co/1";
  bad.state = "down";
  bad.budget_left_ms = -90'000;
  page.components = {carbon, bad};
  return page;
}

TEST(IndexPageTest, OneRowPerComponentWithItsFigures) {
  const std::string html = RenderIndexPage(Page());
  EXPECT_NE(html.find("<td>carbon</td><td><span class=\"state up\">up</span></td>"
                      "<td class=\"num\">99.949 %</td><td class=\"num\">100.000 %</td>"
                      "<td class=\"num\">99.5 % / 7d</td><td class=\"num\">26m 06s</td>"
                      "<td>#3 active, 2025-10-14 00:00 → 2025-10-21 00:00: <b>IN PROGRESS</b></td>"
                      "<td><a href=\"/api/v1/components/carbon/report?format=html&amp;period=3\">"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<span class=\"neg\">-1m 30s</span>"), std::string::npos) << html;
  EXPECT_NE(html.find("2 components · 2025-10-16 00:01 UTC · obsmon 0.1.0"), std::string::npos);
}

TEST(IndexPageTest, NamesAreEscapedAndLinksEncoded) {
  const std::string html = RenderIndexPage(Page());
  EXPECT_EQ(html.find("<b>\"x\"</b>"), std::string::npos);
  EXPECT_NE(html.find("<td>neo4j &lt;b&gt;&quot;x&quot;&lt;/b&gt;&amp;co/1</td>"),
            std::string::npos);
  EXPECT_EQ(ComponentReportUrl(Page().components[1]),
            "/api/v1/components/neo4j%20%3Cb%3E%22x%22%3C%2Fb%3E%26co%2F1/report?format=html");
  EXPECT_NE(html.find("<span class=\"muted\">none</span>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
}

// Byte for byte (OBSMON_UPDATE_GOLDEN=1 rewrites it): the template must give the page the
// hand-written renderer gave.
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
  page.components[0].name = "<script>'q\"{{name}}{{{state}}}";
  page.components[0].period->verdict = "{{#components}}<b>";
  const std::string html = RenderIndexPage(page);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<title>t&lt;script&gt;{{version}}</title>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>&lt;script&gt;&#39;q&quot;{{name}}{{{state}}}</td>"), std::string::npos);
  EXPECT_NE(html.find(": <b>{{#components}}&lt;b&gt;</b>"), std::string::npos);
}

TEST(IndexPageTest, NoComponents) {
  IndexPage page;
  EXPECT_NE(RenderIndexPage(page).find("No component configured."), std::string::npos);
}

}  // namespace
}  // namespace obsmon
