#include "alerts/rule_file.h"

#include <gtest/gtest.h>

#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"
#include "tests/support/promtool.h"

namespace obsmon::alerts {
namespace {

std::string TestData(const std::string& name) { return ::obsmon::testing::TestDataPath("alerts", name); }

std::vector<ConfigError> Errors(const std::string& text) {
  ConfigErrors errors;
  ParseRuleFileText(text, "rules.yml", &errors);
  return errors.errors();
}

TEST(RuleFileTest, LoadsTheSeedRules) {
  ConfigErrors errors;
  auto groups = LoadRuleFiles({TestData("seed_rules.yml")}, &errors);
  ASSERT_TRUE(groups.ok()) << errors.ToString();
  ASSERT_EQ(groups->size(), 1u);
  const RuleGroupSpec& g = (*groups)[0];
  EXPECT_EQ(g.name, "carbon");
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[1].name, "CarbonComponentDown");
  EXPECT_EQ(g.rules[1].expr_text, "up{job=\"tta-staging-carbon\"} == 0");
  EXPECT_EQ(g.rules[1].for_ms, 120'000);
  EXPECT_EQ(g.rules[0].for_ms, 300'000);
  ASSERT_EQ(g.rules[1].labels.size(), 2u);
  EXPECT_EQ(g.rules[1].annotations[0].name, "summary");
}

TEST(RuleFileTest, GlobsExpand) {
  ConfigErrors errors;
  auto groups = LoadRuleFiles({TestData("s*_rules.yml")}, &errors);
  ASSERT_TRUE(groups.ok()) << errors.ToString();
  EXPECT_EQ(groups->size(), 2u);  // seed_rules.yml and state_rules.yml
  auto none = LoadRuleFiles({TestData("nomatch-*.yml")}, &errors);
  EXPECT_TRUE(none.ok());
  auto missing = LoadRuleFiles({TestData("missing.yml")}, &errors);
  EXPECT_FALSE(missing.ok());
}

TEST(RuleFileTest, UnsupportedFunctionIsRefusedAtItsPosition) {
  ConfigErrors errors;
  auto groups = LoadRuleFiles({TestData("invalid-unsupported-function.yml")}, &errors);
  ASSERT_FALSE(groups.ok());
  ASSERT_EQ(errors.errors().size(), 1u);
  const ConfigError& e = errors.errors()[0];
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.column, 15);  // the 'h' of histogram_quantile
  EXPECT_NE(e.message.find("function 'histogram_quantile' is not supported by obsmon"),
            std::string::npos)
      << e.message;
}

TEST(RuleFileTest, UnknownKeyIsRefusedByName) {
  ConfigErrors errors;
  ASSERT_FALSE(LoadRuleFiles({TestData("invalid-unknown-key.yml")}, &errors).ok());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].line, 7);
  EXPECT_NE(errors.errors()[0].message.find("severity"), std::string::npos) << errors.ToString();
}

TEST(RuleFileTest, YamlSyntaxErrorHasPosition) {
  ConfigErrors errors;
  ASSERT_FALSE(LoadRuleFiles({TestData("invalid-yaml.yml")}, &errors).ok());
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_GT(errors.errors()[0].line, 0);
  EXPECT_NE(errors.errors()[0].ToString().find("invalid-yaml.yml:"), std::string::npos);
}

TEST(RuleFileTest, PromqlErrorPositionsInQuotedAndBlockScalars) {
  // Quoted: the column counts the quote. `==` twice: error at the second, offset 6.
  auto q = Errors("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: \"up == == 0\"\n");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].line, 5);
  EXPECT_EQ(q[0].column, 11 + 1 + 6);
  // Block scalar: the second line of the expression, at its indentation.
  auto b = Errors(
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: |\n      sum(x)\n        + nope(y)\n");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].line, 7);
  EXPECT_EQ(b[0].column, 11);
  EXPECT_NE(b[0].message.find("unknown function with name 'nope'"), std::string::npos);
}

TEST(RuleFileTest, RuleShapeErrors) {
  auto both = Errors("groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: x\n");
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].message, "only one of 'record' and 'alert' must be set");
  auto noexpr = Errors("groups:\n- name: g\n  rules:\n  - alert: A\n");
  ASSERT_EQ(noexpr.size(), 1u);
  EXPECT_EQ(noexpr[0].message, "field 'expr' must be set in rule");
  auto rec =
      Errors("groups:\n- name: g\n  rules:\n  - record: 'bad name'\n    expr: x\n    for: 1m\n");
  ASSERT_EQ(rec.size(), 2u);
  auto dup = Errors("groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n");
  ASSERT_EQ(dup.size(), 1u);
  EXPECT_EQ(dup[0].line, 4);
  auto tmpl = Errors(
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    annotations:\n      a: '{{ "
      "range $x }}'\n");
  ASSERT_EQ(tmpl.size(), 1u);
  EXPECT_NE(tmpl[0].message.find("not supported by obsmon"), std::string::npos) << tmpl[0].message;
  auto matrix = Errors("groups:\n- name: g\n  rules:\n  - record: r\n    expr: x[5m]\n");
  ASSERT_EQ(matrix.size(), 1u);
  EXPECT_NE(matrix[0].message.find("instant vector or scalar"), std::string::npos);
  auto bad_for =
      Errors("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    for: 5 minutes\n");
  ASSERT_EQ(bad_for.size(), 1u);
  EXPECT_EQ(bad_for[0].line, 6);
  EXPECT_TRUE(Errors("").empty());  // an empty file has no groups
}

}  // namespace
// Issue 13, fresh eyes F3: 200,000 rules in an 8 MB file took 1.5 GB of RSS and 13 s to load.
// A file may hold 10,000 rules; the 10,001st is refused at its position, and parsing stops.
TEST(RuleFileTest, MoreThanTenThousandRulesInAFileAreRefusedAtTheFirstOneTooMany) {
  std::string text = "groups:\n  - name: g\n    rules:\n";
  for (int i = 0; i < 10'001; ++i) text += "      - record: r" + std::to_string(i) + "\n        expr: up\n";
  ConfigErrors errors;
  auto groups = ParseRuleFileText(text, "many.yml", &errors);
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].ToString(),
            "many.yml:" + std::to_string(4 + 2 * 10'000) +
                ":9: more than 10000 rules in one file; obsmon evaluates at most that many per file");
  text.resize(text.rfind("      - record"));
  ConfigErrors ok;
  groups = ParseRuleFileText(text, "many.yml", &ok);
  EXPECT_TRUE(ok.empty()) << ok.ToString();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].rules.size(), 10'000u);
}

// Fresh eyes, issue 13, second pass: 30 files of 10,000 rules each were 300,000 rules (720 MB,
// 70 s before the daemon listened). The bound holds over every file: the file that passes it is
// named, and loading stops there.
TEST(RuleFileTest, MoreThanTenThousandRulesOverAllFilesAreRefused) {
  testing::ScratchDir dir;
  std::string text = "groups:\n  - name: g\n    rules:\n";
  for (int i = 0; i < 6'000; ++i) text += "      - record: r" + std::to_string(i) + "\n        expr: up\n";
  for (const char* name : {"a.yml", "b.yml", "c.yml"}) testing::WriteWholeFile(dir.File(name), text);
  ConfigErrors errors;
  auto loaded = LoadRuleFiles({dir.File("*.yml")}, &errors);
  EXPECT_FALSE(loaded.ok());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].ToString(),
            dir.File("b.yml") +
                ": rule_files hold 12000 rules with this file; obsmon evaluates at most 10000 in all");
}

}  // namespace obsmon::alerts
