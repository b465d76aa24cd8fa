// What the rules' in-memory head keeps (issue 13, N1): the metric names the rules' selectors
// name exactly, or everything once one selector does not.
#include "alerts/selected_metrics.h"

#include <gtest/gtest.h>

#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

std::vector<RuleGroupSpec> Rules(const std::string& exprs_yaml) {
  ConfigErrors errors;
  auto groups = ParseRuleFileText("groups:\n  - name: g\n    rules:\n" + exprs_yaml, "r.yml", &errors);
  EXPECT_TRUE(errors.empty()) << errors.ToString();
  return groups;
}

TEST(SelectedMetricsTest, ExactNamesAreCollectedFromEverySelector) {
  auto names = SelectedMetricNames(Rules(
      "      - record: job:r\n        expr: sum by (job) (rate(http_total[5m]))\n"
      "      - alert: A\n        expr: job:r / on(job) {__name__=\"up\"} > 0 and absent(x)\n"));
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, (std::unordered_set<std::string>{"http_total", "job:r", "up", "x"}));
  EXPECT_EQ(SelectedMetricNames({}), std::unordered_set<std::string>{});
}

TEST(SelectedMetricsTest, ASelectorWithoutAnExactNameSelectsEverything) {
  EXPECT_FALSE(SelectedMetricNames(Rules("      - alert: A\n        expr: '{job=\"x\"} == 0'\n")));
  EXPECT_FALSE(
      SelectedMetricNames(Rules("      - alert: A\n        expr: '{__name__=~\"a|b\"} == 0'\n")));
}

TEST(SelectedMetricsTest, TheHeadKeepsOnlySelectedMetricsFromProbes) {
  SeriesStore store;
  store.SetSelectedNames(std::unordered_set<std::string>{"up"});
  store.Append({{"up", Labels{{"job", "a"}}, 1000, 1}, {"churn", Labels{{"id", "1"}}, 1000, 1}});
  store.AppendLabeled(Labels{{"__name__", "job:r"}}, 1000, 2);  // the rules' own output: kept
  auto st = store.Stats();
  EXPECT_EQ(st.series, 2u);
  EXPECT_EQ(st.unselected, 1u);
  store.SetSelectedNames(std::nullopt);  // every name again
  store.Append({{"churn", Labels{{"id", "1"}}, 2000, 1}});
  EXPECT_EQ(store.Stats().series, 3u);
}

}  // namespace
}  // namespace obsmon::alerts
