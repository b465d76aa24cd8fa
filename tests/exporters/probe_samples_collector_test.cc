#include "exporters/probe_samples_collector.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

RunOutcome Outcome(const ProbeSpec& spec, std::vector<Sample> samples) {
  RunOutcome o;
  o.spec = &spec;
  o.samples = std::move(samples);
  return o;
}

const prometheus::MetricFamily* Find(const std::vector<prometheus::MetricFamily>& fams,
                                     const std::string& name) {
  for (const auto& f : fams) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(ProbeSamplesCollectorTest, ExportsNewestValueWithTypeFromNameAndSkipsRunnerSeries) {
  ProbeSpec spec;
  spec.key = {"web", "errors"};
  ProbeSamplesCollector c;
  const Labels err{{"component", "web"}, {"severity", "error"}};
  c.OnRun(Outcome(spec, {{"obsmon_log_matches_total", err, 1, 2},
                         {"probe_success", err, 1, 1},
                         {"up", err, 1, 1},
                         {"carbon_emissions_kg", Labels{{"component", "web"}}, 1, 0.5}}));
  c.OnRun(Outcome(spec, {{"obsmon_log_matches_total", err, 2, 5}}));
  const auto fams = c.Collect();
  EXPECT_EQ(Find(fams, "probe_success"), nullptr);
  EXPECT_EQ(Find(fams, "up"), nullptr);
  const auto* matches = Find(fams, "obsmon_log_matches_total");
  ASSERT_NE(matches, nullptr);
  EXPECT_EQ(matches->type, prometheus::MetricType::Counter);
  ASSERT_EQ(matches->metric.size(), 1u);
  EXPECT_EQ(matches->metric[0].counter.value, 5);  // the newest total, not a sum of totals
  const auto* carbon = Find(fams, "carbon_emissions_kg");
  ASSERT_NE(carbon, nullptr);
  EXPECT_EQ(carbon->type, prometheus::MetricType::Gauge);
  EXPECT_EQ(carbon->metric[0].gauge.value, 0.5);
}

TEST(ProbeSamplesCollectorTest, RetainDropsSeriesOfRemovedProbesAndLimitIsCounted) {
  ProbeSpec a, b;
  a.key = {"web", "a"};
  b.key = {"web", "b"};
  ProbeSamplesCollector c(/*max_series=*/2);
  c.OnRun(Outcome(a, {{"x", Labels{{"probe", "a"}}, 1, 1}}));
  c.OnRun(Outcome(b, {{"x", Labels{{"probe", "b"}}, 1, 2}, {"y", Labels{{"probe", "b"}}, 1, 3}}));
  auto fams = c.Collect();
  EXPECT_EQ(Find(fams, "x")->metric.size(), 2u);
  EXPECT_EQ(Find(fams, "y"), nullptr);  // the third series is over the limit
  EXPECT_EQ(Find(fams, "obsmon_exported_series_refused_total")->metric[0].counter.value, 1);
  c.Retain({"web/b"});
  fams = c.Collect();
  ASSERT_EQ(Find(fams, "x")->metric.size(), 1u);
  EXPECT_EQ(Find(fams, "x")->metric[0].gauge.value, 2);
  // Room again after the prune.
  c.OnRun(Outcome(b, {{"y", Labels{{"probe", "b"}}, 2, 4}}));
  EXPECT_EQ(Find(c.Collect(), "y")->metric[0].gauge.value, 4);
}

}  // namespace
}  // namespace obsmon
