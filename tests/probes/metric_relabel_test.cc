// probes/metric_relabel: Prometheus's metric_relabel_configs semantics (model/relabel/relabel.go
// in prometheus/prometheus): regexes anchored at both ends, source labels joined by the
// separator (a missing label is ""), replace skipped when the regex does not match or the target
// is not a valid label name, an empty replacement result deleting the target, and Go's
// Regexp.Expand rules for $1 / ${1} / $name. labelmap and hashmod are not supported: the config
// refuses them.
#include "probes/metric_relabel.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace obsmon::probes {
namespace {

std::unique_ptr<Rule> Compile(RuleSpec spec) {
  auto rule = Rule::Compile(spec);
  EXPECT_TRUE(rule.ok()) << rule.status().message();
  return rule.ok() ? *std::move(rule) : nullptr;
}

RuleSpec Spec(Action action, std::vector<std::string> sources, std::string regex) {
  RuleSpec s;
  s.action = action;
  s.source_labels = std::move(sources);
  s.regex = std::move(regex);
  return s;
}

const Labels kSample{{"__name__", "http_requests_total"}, {"code", "500"}, {"method", "GET"}};

TEST(MetricRelabelTest, KeepKeepsOnlyWhatTheAnchoredRegexMatches) {
  auto rule = Compile(Spec(Action::kKeep, {"code"}, "5.."));
  Labels l = kSample;
  EXPECT_TRUE(rule->Apply(&l));
  EXPECT_EQ(l, kSample);  // keep changes nothing
  // Anchored: "5" alone does not match "500" (Prometheus wraps as ^(?:5)$).
  auto partial = Compile(Spec(Action::kKeep, {"code"}, "5"));
  Labels m = kSample;
  EXPECT_FALSE(partial->Apply(&m));
  auto suffix = Compile(Spec(Action::kKeep, {"code"}, "00"));
  Labels n = kSample;
  EXPECT_FALSE(suffix->Apply(&n));
}

TEST(MetricRelabelTest, DropDropsWhatMatchesAndKeepsTheRest) {
  auto rule = Compile(Spec(Action::kDrop, {"__name__"}, "http_.*"));
  Labels l = kSample;
  EXPECT_FALSE(rule->Apply(&l));
  Labels other{{"__name__", "go_goroutines"}};
  EXPECT_TRUE(rule->Apply(&other));
  // Alternation is anchored as a whole: ^(?:a|b)$, not ^a|b$.
  auto alt = Compile(Spec(Action::kDrop, {"__name__"}, "go|http"));
  Labels third{{"__name__", "xhttp"}};
  EXPECT_TRUE(alt->Apply(&third));
}

TEST(MetricRelabelTest, SourceLabelsAreJoinedBySeparatorAndMissingOnesAreEmpty) {
  auto rule = Compile(Spec(Action::kKeep, {"method", "code"}, "GET;500"));
  Labels l = kSample;
  EXPECT_TRUE(rule->Apply(&l));
  RuleSpec custom = Spec(Action::kKeep, {"method", "code"}, "GET-500");
  custom.separator = "-";
  Labels m = kSample;
  EXPECT_TRUE(Compile(custom)->Apply(&m));
  // A missing label contributes "": "GET;" matches "GET;".
  auto missing = Compile(Spec(Action::kKeep, {"method", "nope"}, "GET;"));
  Labels n = kSample;
  EXPECT_TRUE(missing->Apply(&n));
}

TEST(MetricRelabelTest, ReplaceWithDefaultsCopiesTheJoinedValue) {
  RuleSpec s;  // defaults: regex (.*), replacement $1, separator ;
  s.source_labels = {"method", "code"};
  s.target_label = "route";
  EXPECT_EQ(s.regex, "(.*)");
  EXPECT_EQ(s.replacement, "$1");
  EXPECT_EQ(s.separator, ";");
  Labels l = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&l));
  EXPECT_EQ(l.Get("route"), "GET;500");
}

TEST(MetricRelabelTest, ReplaceExpandsGroupsAsGoDoes) {
  RuleSpec s = Spec(Action::kReplace, {"code"}, "(?P<class>\\d)(\\d+)");
  s.target_label = "class";
  s.replacement = "${class}xx-$2-$$";
  Labels l = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&l));
  EXPECT_EQ(l.Get("class"), "5xx-00-$");
  // "$1x" names a group "1x", which does not exist: it expands to "" (use ${1}x).
  s.replacement = "$2x";
  Labels m = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&m));
  EXPECT_FALSE(m.Has("class"));  // empty result deletes the target
  s.replacement = "${2}x";
  Labels n = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&n));
  EXPECT_EQ(n.Get("class"), "00x");
}

TEST(MetricRelabelTest, ReplaceDoesNothingWhenTheRegexDoesNotMatch) {
  RuleSpec s = Spec(Action::kReplace, {"code"}, "4(.*)");
  s.target_label = "code";
  s.replacement = "client";
  Labels l = kSample;
  EXPECT_TRUE(s.regex.size() > 0 && Compile(s)->Apply(&l));
  EXPECT_EQ(l, kSample);
}

TEST(MetricRelabelTest, ReplaceWithAnEmptyResultDeletesTheTarget) {
  RuleSpec s = Spec(Action::kReplace, {"nope"}, "(.*)");
  s.target_label = "method";
  Labels l = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&l));
  EXPECT_FALSE(l.Has("method"));
  EXPECT_EQ(l.Get("code"), "500");
}

TEST(MetricRelabelTest, ReplaceToAnInvalidLabelNameIsSkipped) {
  RuleSpec s = Spec(Action::kReplace, {"code"}, "(.*)");
  s.target_label = "${1}_code";  // "500_code" starts with a digit
  s.replacement = "x";
  Labels l = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&l));
  EXPECT_EQ(l, kSample);
  s.target_label = "status_$1";  // a target built from a group
  Labels m = kSample;
  EXPECT_TRUE(Compile(s)->Apply(&m));
  EXPECT_EQ(m.Get("status_500"), "x");
}

TEST(MetricRelabelTest, LabelDropAndLabelKeepMatchLabelNamesAnchored) {
  RuleSpec drop = Spec(Action::kLabelDrop, {}, "meth.*");
  Labels l = kSample;
  EXPECT_TRUE(Compile(drop)->Apply(&l));
  EXPECT_EQ(l, (Labels{{"__name__", "http_requests_total"}, {"code", "500"}}));
  RuleSpec anchored = Spec(Action::kLabelDrop, {}, "od");  // not a substring match
  Labels m = kSample;
  EXPECT_TRUE(Compile(anchored)->Apply(&m));
  EXPECT_EQ(m, kSample);
  RuleSpec keep = Spec(Action::kLabelKeep, {}, "__name__|code");
  Labels n = kSample;
  EXPECT_TRUE(Compile(keep)->Apply(&n));
  EXPECT_EQ(n, (Labels{{"__name__", "http_requests_total"}, {"code", "500"}}));
}

// Losing the name is not a drop: the scrape probe fails the scrape then, as Prometheus does
// (ScrapeProbeTest.ARuleThatDropsTheNameFailsTheScrape).
TEST(MetricRelabelTest, RulesApplyInOrderAndLosingTheNameKeepsTheSampleNameless) {
  RelabelRules rules;
  RuleSpec copy = Spec(Action::kReplace, {"code"}, "(\\d)\\d\\d");
  copy.target_label = "class";
  copy.replacement = "${1}xx";
  rules.Add(Compile(copy));
  rules.Add(Compile(Spec(Action::kKeep, {"class"}, "5xx")));  // sees the label added before
  Labels l = kSample;
  EXPECT_TRUE(rules.Apply(&l));
  EXPECT_EQ(l.Get("class"), "5xx");

  RelabelRules nameless;
  nameless.Add(Compile(Spec(Action::kLabelKeep, {}, "code")));
  Labels m = kSample;
  EXPECT_TRUE(nameless.Apply(&m));
  EXPECT_EQ(m, (Labels{{"code", "500"}}));
}

TEST(MetricRelabelTest, CompileRefusesBadRegexAndReplaceWithoutTarget) {
  auto bad_regex = Rule::Compile(Spec(Action::kKeep, {"a"}, "(unclosed"));
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_TRUE(bad_regex.status().IsInvalidArgument());
  EXPECT_NE(bad_regex.status().message().find("bad regex"), std::string::npos);
  auto no_target = Rule::Compile(Spec(Action::kReplace, {"a"}, "(.*)"));
  ASSERT_FALSE(no_target.ok());
  EXPECT_NE(no_target.status().message().find("target_label"), std::string::npos);
}

// Prometheus's relabel.Config.Validate refuses, for replace, a target_label that is not a label
// name (without '$') or not made of name characters and group references (with '$'); obsmon
// accepted them and skipped the rule at every sample.
TEST(MetricRelabelTest, CompileRefusesATargetLabelThatIsNotALabelName) {
  for (const char* bad : {"1abc", "status-code", "a.b", "${1}-x", "$", "é"}) {
    RuleSpec s = Spec(Action::kReplace, {"code"}, "(.*)");
    s.target_label = bad;
    auto rule = Rule::Compile(s);
    ASSERT_FALSE(rule.ok()) << bad;
    EXPECT_NE(rule.status().message().find(std::string("'") + bad +
                                           "' is not a valid target_label"),
              std::string::npos)
        << rule.status().message();
  }
  for (const char* good : {"status", "_x1", "__name__", "${1}_code", "status_$1", "$name"}) {
    RuleSpec s = Spec(Action::kReplace, {"code"}, "(?P<name>.*)");
    s.target_label = good;
    EXPECT_TRUE(Rule::Compile(s).ok()) << good;
  }
}

std::optional<RelabelRules> FromYaml(const std::string& yaml, ConfigErrors* errors) {
  ConfigNode root(YAML::Load(yaml), "test.yml", errors);
  return RelabelRules::FromConfig(root, "metric_relabel");
}

TEST(MetricRelabelTest, FromConfigReadsEveryFieldAndRefusesUnsupportedActions) {
  ConfigErrors errors;
  auto rules = FromYaml(R"yaml(
metric_relabel:
  - source_labels: [method, code]
    separator: "/"
    regex: "GET/(.*)"
    target_label: status
    replacement: "s$1"
  - action: labeldrop
    regex: method
)yaml", &errors);
  ASSERT_TRUE(rules.has_value());
  Labels l = kSample;
  EXPECT_TRUE(rules->Apply(&l));
  EXPECT_EQ(l, (Labels{{"__name__", "http_requests_total"}, {"code", "500"}, {"status", "s500"}}));

  for (const char* action : {"labelmap", "hashmod"}) {
    ConfigErrors more;
    EXPECT_FALSE(FromYaml(std::string("metric_relabel:\n  - action: ") + action +
                              "\n    regex: x\n",
                          &more)
                     .has_value())
        << action;
  }
}

TEST(MetricRelabelTest, FromConfigNamesThePlaceOfAnInvalidTargetLabel) {
  ConfigErrors errors;
  auto rules = FromYaml(R"yaml(
metric_relabel:
  - source_labels: [code]
    target_label: status-code
  - action: drop
    regex: x
)yaml", &errors);
  EXPECT_FALSE(rules.has_value());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_NE(errors.ToString().find(
                "test.yml:4:19: 'status-code' is not a valid target_label for action replace"),
            std::string::npos)
      << errors.ToString();
}

// As Prometheus 2.42 refuses them (relabel.Config's YAML types and Validate), at the key.
TEST(MetricRelabelTest, FromConfigRefusesBadSourceLabelsAndLabelDropWithOtherFields) {
  ConfigErrors errors;
  auto rules = FromYaml(R"yaml(
metric_relabel:
  - source_labels: [a-b, job]
    action: keep
    regex: x
  - action: labeldrop
    regex: tmp_.*
    source_labels: [job]
  - action: labelkeep
    regex: keep_.*
    replacement: y
)yaml", &errors);
  EXPECT_FALSE(rules.has_value());
  const std::string all = errors.ToString();
  for (const std::string& want : {
           std::string("test.yml:3:20: source label 'a-b' is not a label name"),
           std::string("test.yml:8:20: labeldrop takes only regex, not source_labels"),
           std::string("test.yml:11:18: labelkeep takes only regex, not replacement"),
       }) {
    EXPECT_NE(all.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << all;
  }
}

}  // namespace
}  // namespace obsmon::probes
