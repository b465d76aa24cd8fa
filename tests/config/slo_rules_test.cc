// SLO burn-rate rules: the burn factors (worked out here from Sloth's budget shares), the real
// /usr/bin/promtool accepting the generated file (`check rules`) and its unit test
// (testdata/slo/slo_rules_test.yml: the alerts fire and stop when expected), and obsmon's own
// rule test runner passing the same unit test (the rules are evaluated like any rule).
#include "config/slo_rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alerts/rule_file.h"
#include "alerts/rule_test_runner.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

// Runs a shell command; returns its exit status and fills its output (stdout + stderr).
class SloRulesFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    // The unit test's rules: carbon only (its input also has a down neo4j series, which must
    // not page carbon).
    std::ofstream(dir_ / "slo_rules.yml") << RenderSloRules({{"carbon", "carbon", 99.5, 7 * kDay}});
    std::ofstream(dir_ / "two.yml") << RenderSloRules(
        {{"carbon", "carbon", 99.5, 7 * kDay}, {"neo4j \"graph\"", "neo4j", 99.9, 30 * kDay}});
    std::filesystem::copy_file(
        std::string(OBSMON_SOURCE_DIR) + "/tests/config/testdata/slo/slo_rules_test.yml",
        dir_ / "slo_rules_test.yml");
  }
  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
};

TEST(SloRulesTest, SevenDayFactorsAreSlothsScaledBudgetShares) {
  auto w = BurnRateWindows(7 * kDay);
  ASSERT_EQ(w.size(), 4u);
  // share x 168 h / long window (h): 0.08 x 168 / 1, 0.125 x 168 / 6, 0.2 x 168 / 24, 0.42 x 168 /
  // 72
  EXPECT_DOUBLE_EQ(w[0].factor, 13.44);
  EXPECT_DOUBLE_EQ(w[1].factor, 3.5);
  EXPECT_DOUBLE_EQ(w[2].factor, 1.4);
  EXPECT_DOUBLE_EQ(w[3].factor, 0.98);
  EXPECT_EQ(w[0].long_ms, kHour);
  EXPECT_EQ(w[0].short_ms, kHour / 12);
  EXPECT_EQ(w[1].short_ms, kHour / 2);
  EXPECT_EQ(w[2].long_ms, kDay);
  EXPECT_EQ(w[3].short_ms, 6 * kHour);
  EXPECT_EQ(w[0].severity, "page");
  EXPECT_EQ(w[1].severity, "page");
  EXPECT_EQ(w[2].severity, "ticket");
  EXPECT_EQ(w[3].severity, "ticket");
}

TEST(SloRulesTest, ThirtyDayFactorsAreTheSreWorkbooks) {
  auto w = BurnRateWindows(30 * kDay);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_DOUBLE_EQ(w[0].factor, 14.4);
  EXPECT_DOUBLE_EQ(w[1].factor, 6);
  EXPECT_DOUBLE_EQ(w[2].factor, 3);
  EXPECT_DOUBLE_EQ(w[3].factor, 1);
}

TEST(SloRulesTest, WindowsLongerThanThePeriodAreLeftOut) {
  auto w = BurnRateWindows(2 * kDay);
  ASSERT_EQ(w.size(), 3u);  // no 3d window
  EXPECT_DOUBLE_EQ(w[0].factor, 0.08 * 48);
}

TEST(SloRulesTest, RulesUseTheComponentsUpSeriesAndEscapeNames) {
  const std::string yaml = RenderSloRules({{"neo4j \"graph\"", "neo4j", 99.9, 30 * kDay}});
  EXPECT_NE(yaml.find("min by (job) (up{job=\"neo4j\"})"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("obsmon:slo_errors:ratio_rate30d"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("(14.4 * 0.001)"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("component: \"neo4j \\\"graph\\\"\""), std::string::npos) << yaml;
}

TEST_F(SloRulesFiles, PromtoolCheckRulesAcceptsThem) {
  const auto [rc, out] = ::obsmon::testing::RunCommand(
      {"/usr/bin/promtool", "check", "rules", (dir_ / "two.yml").string()},
      (dir_ / "promtool.out").string());
  EXPECT_EQ(rc, 0) << out;
  // Two groups: 11 recording rules + 2 alerts for 7d (ranges 5m 30m 1h 2h 6h 1d 3d 7d), and the
  // same for 30d (ranges ... 3d 30d).
  EXPECT_NE(out.find("SUCCESS: 26 rules found"), std::string::npos) << out;
}

TEST_F(SloRulesFiles, PromtoolUnitTestSeesTheBurnRateAlertsFireAndStop) {
  // promtool reads the test's rule_files relative to the test file's folder.
  const auto [rc, out] = ::obsmon::testing::RunCommand(
      {"/usr/bin/promtool", "test", "rules", (dir_ / "slo_rules_test.yml").string()},
      (dir_ / "promtool.out").string());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

TEST(SloRulesTest, ObsmonLoadsTheRulesFromTheConfigsObjectives) {
  ComponentConfig carbon;
  carbon.name = "carbon";
  carbon.labels = Labels{{"job", "tta-staging-carbon"}};
  carbon.objective.uptime_percent = 99.5;
  ComponentConfig neo;
  neo.name = "neo4j";
  neo.labels = Labels{{"job", "neo4j"}};
  neo.objective.uptime_percent = 99.9;
  neo.objective.window_ms = 30 * kDay;
  const auto specs = SloSpecsOf({carbon, neo});
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].job, "tta-staging-carbon");
  ConfigErrors errors;
  auto groups = alerts::ParseRuleFileText(RenderSloRules(specs), "slo.yml", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "obsmon-slo-carbon");
  EXPECT_EQ(groups[0].rules.size(), 13u);  // 11 recordings + page + ticket
  EXPECT_EQ(groups[0].rules.back().name, "ObsmonSLOBurnRateTicket");
  EXPECT_NE(groups[0].rules[0].expr_text.find("up{job=\"tta-staging-carbon\"}"), std::string::npos);
}

TEST_F(SloRulesFiles, ObsmonsRuleEngineAgreesWithPromtool) {
  std::ostringstream out;
  const int rc = alerts::RunRuleTests({(dir_ / "slo_rules_test.yml").string()}, out);
  EXPECT_EQ(rc, 0) << out.str();
}

}  // namespace
}  // namespace obsmon
