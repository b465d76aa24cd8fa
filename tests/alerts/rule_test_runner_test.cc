#include "alerts/rule_test_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "alerts/promql_value.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::alerts {
namespace {

std::vector<std::optional<double>> Expand(const std::string& s) {
  auto out = ExpandSeriesValues(s);
  EXPECT_TRUE(out.ok()) << s << ": " << out.status().message();
  return out.ok() ? *out : std::vector<std::optional<double>>{};
}

// The reason a bad `values` string is refused ("" if it is not).
std::string Refusal(const std::string& s) {
  auto out = ExpandSeriesValues(s);
  return out.ok() ? "" : out.status().message();
}

TEST(ExpandSeriesValuesTest, PromtoolNotation) {
  using V = std::vector<std::optional<double>>;
  EXPECT_EQ(Expand("1 2 3"), (V{1, 2, 3}));
  EXPECT_EQ(Expand("0+10x3"), (V{0, 10, 20, 30}));  // n+1 values
  EXPECT_EQ(Expand("5-2x2"), (V{5, 3, 1}));
  EXPECT_EQ(Expand("-1+1x2"), (V{-1, 0, 1}));
  EXPECT_EQ(Expand("7x2"), (V{7, 7, 7}));  // n+1 values
  EXPECT_EQ(Expand("1 _ 2"), (V{1, std::nullopt, 2}));
  EXPECT_EQ(Expand("_x3 4"), (V{std::nullopt, std::nullopt, std::nullopt, 4}));  // n blanks
  EXPECT_EQ(Expand("1e3 2.5"), (V{1000, 2.5}));
  auto s = Expand("1 stale");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(promql::IsStaleNaN(*s[1]));
  auto inf = Expand("Inf -Inf");
  EXPECT_TRUE(std::isinf(*inf[0]) && *inf[0] > 0);
  EXPECT_TRUE(std::isinf(*inf[1]) && *inf[1] < 0);
  // Accumulated like promtool: 0.1 added three times, not 0.1 * 3.
  auto acc = Expand("0+0.1x3");
  EXPECT_EQ(*acc[3], 0.1 + 0.1 + 0.1);
}

TEST(ExpandSeriesValuesTest, RejectsBadTokens) {
  EXPECT_NE(Refusal("1 abc").find("bad value 'abc'"), std::string::npos) << Refusal("1 abc");
  for (const char* bad : {"1+2", "1x", "_y3"}) EXPECT_NE(Refusal(bad), "") << bad;
}

// Issue 13: `1x999999999` allocated 16 GB before anything was checked.
TEST(ExpandSeriesValuesTest, HugeExpansionIsRefusedBeforeAllocating) {
  EXPECT_NE(Refusal("1x999999999").find("more than 1000000 values"), std::string::npos)
      << Refusal("1x999999999");
  // Many tokens, each small, add up too.
  EXPECT_NE(Refusal("_x600000 1+1x600000").find("more than 1000000 values"), std::string::npos)
      << Refusal("_x600000 1+1x600000");
  EXPECT_EQ(Expand("0+1x999999").size(), 1'000'000u);
}

TEST(RunRuleTestsTest, MissingRuleFileFailsWithExitCode1) {
  ::obsmon::testing::ScratchDir scratch;
  const std::filesystem::path dir = scratch.path();
  std::ofstream(dir / "t.yml") << "rule_files: [nope.yml]\ntests: []\n";
  std::ostringstream out;
  EXPECT_EQ(RunRuleTests({(dir / "t.yml").string()}, out), 1);
  EXPECT_NE(out.str().find("FAILED"), std::string::npos);
  EXPECT_NE(out.str().find("nope.yml"), std::string::npos) << out.str();
}

// Fuzz campaign (issue 13): `eval_time: 292y` evaluated the rules at every evaluation_interval up
// to it (9e12 times at 1ms): `obsmon test rules` never ended. The rule evaluations of a file
// (steps times rules, summed over its groups) are bounded and refused before any is made.
TEST(RunRuleTestsTest, EvaluationsBeyondTheLimitAreRefusedNotRun) {
  ::obsmon::testing::ScratchDir scratch;
  const std::filesystem::path dir = scratch.path();
  const auto file = (dir / "t.yml").string();
  std::ofstream(file) << "evaluation_interval: 1ms\ntests:\n"
                         "  - alert_rule_test: [{eval_time: 292y, alertname: A}]\n";
  std::ostringstream out;
  EXPECT_EQ(RunRuleTests({file}, out), 1);
  EXPECT_NE(out.str().find("eval_time 292y at evaluation_interval 1ms: 9208512000001 steps of 1 "
                           "rule(s); a test file may ask for at most 200000 rule evaluations"),
            std::string::npos)
      << out.str();

  // 100,001 steps pass; a second group of as many goes over the file's budget.
  const std::string group = "  - alert_rule_test: [{eval_time: 100000m, alertname: A}]\n";
  std::ofstream(file, std::ios::trunc) << "tests:\n" << group;
  out.str("");
  EXPECT_EQ(RunRuleTests({file}, out), 0) << out.str();
  std::ofstream(file, std::ios::trunc) << "tests:\n" << group << group;
  out.str("");
  EXPECT_EQ(RunRuleTests({file}, out), 1);
  EXPECT_NE(out.str().find("100001 steps of 1 rule(s)"), std::string::npos) << out.str();

  // Each rule counts: the same 100,001 steps with two rules are too many.
  std::ofstream(dir / "r.yml") << "groups:\n  - name: g\n    rules:\n"
                                  "      - {alert: A, expr: up == 0}\n"
                                  "      - {alert: B, expr: up == 1}\n";
  std::ofstream(file, std::ios::trunc) << "rule_files: [r.yml]\ntests:\n" << group;
  out.str("");
  EXPECT_EQ(RunRuleTests({file}, out), 1);
  EXPECT_NE(out.str().find("100001 steps of 2 rule(s)"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace obsmon::alerts
