// The project's rule test files (tests/alerts/testdata/*_test.yml) must pass under BOTH the real
// `promtool test rules` (the oracle for Prometheus semantics) and obsmon's RunRuleTests.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "alerts/rule_test_runner.h"
#include "tests/support/promtool.h"

namespace obsmon::alerts {
namespace {

using ::obsmon::testing::kPromtool;

std::string TestData(const std::string& name) { return ::obsmon::testing::TestDataPath("alerts", name); }

// Runs promtool on `file`; returns its exit code and output.
int RunPromtool(const std::string& file, std::string* output) {
  auto run = ::obsmon::testing::RunPromtoolTestRules({file});
  *output += run.output;
  return run.exit_code;
}

// Runs the test file under obsmon, which must fail with `expected` in its output, then under
// promtool when it is installed: the same exit code and the same text, byte for byte.
void ExpectFailsAsInPromtool(const std::string& file, const std::string& expected) {
  std::ostringstream ours;
  EXPECT_EQ(RunRuleTests({file}, ours), 1) << file;
  EXPECT_NE(ours.str().find(expected), std::string::npos) << ours.str();
  if (::access(kPromtool, X_OK) != 0) return;
  std::string pout;
  EXPECT_EQ(RunPromtool(file, &pout), 1) << pout;
  EXPECT_EQ(ours.str(), pout);
}

class RuleFileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RuleFileTest, PassesUnderPromtool) {
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  std::string out;
  EXPECT_EQ(RunPromtool(TestData(GetParam()), &out), 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

TEST_P(RuleFileTest, PassesUnderObsmon) {
  std::ostringstream out;
  EXPECT_EQ(RunRuleTests({TestData(GetParam())}, out), 0) << out.str();
  EXPECT_NE(out.str().find("SUCCESS"), std::string::npos) << out.str();
}

INSTANTIATE_TEST_SUITE_P(TestData, RuleFileTest,
                         ::testing::Values("seed_rules_test.yml", "promql_test.yml",
                                           "operators_test.yml", "state_test.yml",
                                           "semantics_test.yml", "template_edges_test.yml",
                                           "absent_labels_test.yml", "zero_interval_test.yml"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(0, n.find('.'));
                           return n;
                         });

TEST(RuleFileTest, WrongExpectationsFailUnderBoth) {
  const std::string file = TestData("expected_failure_test.yml");
  std::ostringstream out;
  EXPECT_EQ(RunRuleTests({file}, out), 1);
  EXPECT_NE(out.str().find("FAILED"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("alertname: CarbonComponentDown"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("expr: \"up\""), std::string::npos) << out.str();
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  std::string pout;
  EXPECT_EQ(RunPromtool(file, &pout), 1) << pout;
  // Issue 14, item 7: the same text, byte for byte (values as Go's %E, expressions as %q, alert
  // lists indented as promtool does), so scripts that read promtool's output read obsmon's.
  std::ostringstream ours;
  RunRuleTests({file}, ours);
  EXPECT_EQ(ours.str(), pout);
}

// Found by the alert differential test (issue 14): promtool names the test group in failed alert
// tests only, prints a rule evaluation error's time as a Go time.Duration ("2m0s"), and a
// many-to-many error's series as Go's labels.String(), the one found last first.
TEST(RuleFileTest, NamedGroupAndEvaluationErrorFailAsInPromtool) {
  const std::string file = TestData("named_failure_test.yml");
  std::ostringstream ours;
  EXPECT_EQ(RunRuleTests({file}, ours), 1);
  EXPECT_NE(ours.str().find("    rule: Both, time: 2m0s, err: vector contains metrics with the "
                            "same labelset after applying alert labels"),
            std::string::npos)
      << ours.str();
  EXPECT_EQ(ours.str().find("    name: named group,\n    expr:"), std::string::npos) << ours.str();
  EXPECT_NE(ours.str().find("match group {} on the right hand-side of the operation: "
                            "[{__name__=\"r\", k=\"b\"}, {__name__=\"r\", k=\"a\"}]"),
            std::string::npos)
      << ours.str();
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  std::string pout;
  EXPECT_EQ(RunPromtool(file, &pout), 1) << pout;
  EXPECT_EQ(ours.str(), pout);
}

// Found by the alert differential test (issue 14): a rule whose evaluation fails writes nothing,
// not even stale markers, so the series it wrote before stay visible to the rules after it.
TEST(RuleFileTest, FailedRuleKeepsItsSeriesAsInPromtool) {
  ExpectFailsAsInPromtool(TestData("failed_rule_test.yml"), "    rule: Reader, time: 2m0s, err: ");
}

// Fresh eyes, stop 57: two rules recording one series, or a rule recording its input's own
// name, wrote over each other (the later sample replaced the earlier at the same time, and
// `record: m` over `m * 10` compounded 3, 30, 300). promtool refuses the second sample, keeps
// the first and reports the rule, at the first evaluation (inputs load step by step, before
// the rules run at each).
TEST(RuleFileTest, DuplicateRuleOutputFailsAsInPromtool) {
  for (const char* name : {"duplicate_output_test.yml", "duplicate_input_test.yml"}) {
    ExpectFailsAsInPromtool(TestData(name), ", time: 0s, err: duplicate sample for timestamp");
  }
}

// Fresh eyes, stop 57: label values in a failing test's `got:` are printed as Go's
// strconv.Quote prints them (\t, \x00, \xff, \u0085, \a escaped; é kept), not raw.
TEST(RuleFileTest, LabelValuesArePrintedAsPromtoolQuotesThem) {
  ExpectFailsAsInPromtool(TestData("quoted_labels_test.yml"),
                          R"(v="byte\xffhere"} 3E+00, {__name__="m", v="c1\u0085here"})");
}

// Issue 14, item 7: what promtool loads and what it refuses. Samples after the evaluation
// loop's last step are never loaded (same text), and a quoted expected value is refused.
TEST(RuleFileTest, LateSamplesDuplicateSeriesAndQuotedValuesFailUnderBoth) {
  const std::string late = TestData("late_samples_test.yml");
  const std::string quoted = TestData("quoted_value_test.yml");
  std::ostringstream late_out, quoted_out;
  EXPECT_EQ(RunRuleTests({late}, late_out), 1) << late_out.str();
  EXPECT_NE(late_out.str().find("got: {__name__=\"a\"} 7E+00"), std::string::npos)
      << late_out.str();
  EXPECT_EQ(RunRuleTests({quoted}, quoted_out), 1) << quoted_out.str();
  EXPECT_NE(quoted_out.str().find("quoted_value_test.yml:15:20: cannot unmarshal !!str `2.0` "
                                  "into float64"),
            std::string::npos)
      << quoted_out.str();
  const std::string duplicate = TestData("duplicate_series_test.yml");
  std::ostringstream duplicate_out;
  EXPECT_EQ(RunRuleTests({duplicate}, duplicate_out), 1) << duplicate_out.str();
  EXPECT_NE(duplicate_out.str().find("got: {__name__=\"k\", a=\"1\"} 7E+00"), std::string::npos)
      << duplicate_out.str();
  EXPECT_EQ(duplicate_out.str().find("time: 0s"), std::string::npos) << duplicate_out.str();
  if (::access(kPromtool, X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  std::string pout;
  EXPECT_EQ(RunPromtool(duplicate, &pout), 1) << pout;
  EXPECT_EQ(duplicate_out.str(), pout);
  pout.clear();
  EXPECT_EQ(RunPromtool(late, &pout), 1) << pout;
  EXPECT_EQ(late_out.str(), pout);
  EXPECT_EQ(RunPromtool(quoted, &pout), 1) << pout;
}

}  // namespace
}  // namespace obsmon::alerts
