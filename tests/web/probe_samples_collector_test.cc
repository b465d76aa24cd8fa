#include "web/probe_samples_collector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

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

// Series on the page, counted from the families themselves (not from the collector's count).
size_t ProbeSeriesOnPage(const std::vector<prometheus::MetricFamily>& fams) {
  size_t n = 0;
  for (const auto& f : fams) {
    if (f.name.rfind("obsmon_exported_series", 0) != 0) n += f.metric.size();
  }
  return n;
}

// The gauge of what this collector holds follows the series it exports.
void ExpectHeldGaugeMatchesPage(const std::vector<prometheus::MetricFamily>& fams) {
  const auto* held = Find(fams, "obsmon_exported_series");
  ASSERT_NE(held, nullptr);
  ASSERT_EQ(held->metric.size(), 1u);
  EXPECT_EQ(held->metric[0].gauge.value, static_cast<double>(ProbeSeriesOnPage(fams)));
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
  ExpectHeldGaugeMatchesPage(fams);  // 2
  c.Retain({"web/b"});
  fams = c.Collect();
  ExpectHeldGaugeMatchesPage(fams);  // 1
  ASSERT_EQ(Find(fams, "x")->metric.size(), 1u);
  EXPECT_EQ(Find(fams, "x")->metric[0].gauge.value, 2);
  // Room again after the prune.
  c.OnRun(Outcome(b, {{"y", Labels{{"probe", "b"}}, 2, 4}}));
  EXPECT_EQ(Find(c.Collect(), "y")->metric[0].gauge.value, 4);
  // A run of the removed probe that was in flight during the reload lands after it: ignored,
  // else its series would stay on /metrics for good (fresh eyes: an exec probe's exit code).
  c.OnRun(Outcome(a, {{"x", Labels{{"probe", "a"}}, 3, 9}}));
  fams = c.Collect();
  ASSERT_EQ(Find(fams, "x")->metric.size(), 1u);
  EXPECT_EQ(Find(fams, "x")->metric[0].gauge.value, 2);
}

// Issue 13, N1: a target that sends new series on every scrape filled this to its limit (and
// then refused every other probe's new series). A scrape's series are those of its newest run.
TEST(ProbeSamplesCollectorTest, AScrapeExportsTheSeriesOfItsNewestRunOnly) {
  ProbeSpec scrape, log;
  scrape.key = {"web", "metrics"};
  scrape.kind = "scrape";
  log.key = {"web", "errors"};
  log.kind = "codecarbon";  // a kind whose series stay between runs
  ProbeSamplesCollector c(/*max_series=*/10);
  for (int run = 0; run < 100; ++run) {
    const std::string id = std::to_string(run);
    c.OnRun(Outcome(scrape, {{"churn", Labels{{"id", id + "a"}}, run, 1.0 * run},
                             {"churn", Labels{{"id", id + "b"}}, run, 2.0 * run},
                             {"stable", Labels{}, run, 3.0 * run}}));
    c.OnRun(Outcome(log, {{"obsmon_log_matches_total", Labels{{"id", id}}, run, 1}}));
  }
  auto fams = c.Collect();
  const auto* churn = Find(fams, "churn");
  ASSERT_NE(churn, nullptr);
  ASSERT_EQ(churn->metric.size(), 2u);
  EXPECT_EQ(churn->metric[0].label[0].value, "99a");
  EXPECT_EQ(churn->metric[1].label[0].value, "99b");
  EXPECT_EQ(Find(fams, "stable")->metric[0].gauge.value, 3.0 * 99);
  // The other probe's counters stay (7 fit beside the scrape's 3); the rest are counted.
  EXPECT_EQ(Find(fams, "obsmon_log_matches_total")->metric.size(), 7u);
  EXPECT_EQ(Find(fams, "obsmon_exported_series_refused_total")->metric[0].counter.value, 93);
  ExpectHeldGaugeMatchesPage(fams);  // 10

  // A failed scrape leaves none of the target's series, as Prometheus marks them all stale.
  c.OnRun(Outcome(scrape, {{"up", Labels{}, 100, 0}}));
  fams = c.Collect();
  EXPECT_EQ(Find(fams, "churn"), nullptr);
  EXPECT_EQ(Find(fams, "stable"), nullptr);
  ExpectHeldGaugeMatchesPage(fams);  // the other probe's 7
}

// A log probe sends every followed file's series each run; a file it forgot (deleted with its
// rotations) is not in the run, and its series leave /metrics with it (fresh eyes, stop 47:
// 35,905 series of deleted files stayed).
TEST(ProbeSamplesCollectorTest, ALogProbesSeriesAreThoseOfItsNewestRun) {
  ProbeSpec log;
  log.key = {"web", "errors"};
  log.kind = "log";
  ProbeSamplesCollector c(/*max_series=*/100);
  c.OnRun(Outcome(log, {{"obsmon_log_matches_total", Labels{{"source", "/a.log"}}, 1, 1},
                        {"obsmon_log_matches_total", Labels{{"source", "/b.log"}}, 1, 2}}));
  EXPECT_EQ(Find(c.Collect(), "obsmon_log_matches_total")->metric.size(), 2u);
  c.OnRun(Outcome(log, {{"obsmon_log_matches_total", Labels{{"source", "/a.log"}}, 2, 3}}));
  auto fams = c.Collect();
  const auto* matches = Find(fams, "obsmon_log_matches_total");
  ASSERT_NE(matches, nullptr);
  ASSERT_EQ(matches->metric.size(), 1u);
  EXPECT_EQ(matches->metric[0].label[0].value, "/a.log");
  EXPECT_EQ(matches->metric[0].counter.value + matches->metric[0].gauge.value, 3);
  ExpectHeldGaugeMatchesPage(fams);  // 1
}

// Fresh eyes (stop 49): once a log probe over 20,000 files had filled the limit, a second log
// probe's obsmon_log_files_followed was refused. One series per log probe goes in past it.
TEST(ProbeSamplesCollectorTest, EachLogProbesFilesFollowedGoesInPastTheLimit) {
  ProbeSpec big, small;
  big.key = {"m", "files"};
  small.key = {"n", "small"};
  big.kind = small.kind = "log";
  ProbeSamplesCollector c(/*max_series=*/3);
  auto run = [&](const ProbeSpec& spec, int files) {
    std::vector<Sample> samples = {{"obsmon_log_files_followed",
                                    Labels{{"component", spec.key.component}}, 1,
                                    static_cast<double>(files)}};
    for (int i = 0; i < files; ++i) {
      samples.push_back({"obsmon_log_lines_read_total",
                         Labels{{"component", spec.key.component},
                                {"source", "/" + std::to_string(i) + ".log"}},
                         1, 1});
    }
    c.OnRun(Outcome(spec, std::move(samples)));
  };
  run(big, 5);
  run(small, 1);
  auto fams = c.Collect();
  const auto* followed = Find(fams, "obsmon_log_files_followed");
  ASSERT_NE(followed, nullptr);
  ASSERT_EQ(followed->metric.size(), 2u) << "each probe's gauge";
  // big: its gauge and two files' series fill the three; the other three and small's file go.
  EXPECT_EQ(Find(fams, "obsmon_log_lines_read_total")->metric.size(), 2u);
  EXPECT_EQ(Find(fams, "obsmon_exported_series_refused_total")->metric[0].counter.value, 4);
  ExpectHeldGaugeMatchesPage(fams);  // 4: one past the limit, the second probe's gauge
}

// The series are kept in hash tables; /metrics still lists a family's series in the order of
// their label text, whatever order the runs brought them in.
TEST(ProbeSamplesCollectorTest, AFamilysSeriesAreListedInTheirLabelsOrder) {
  ProbeSamplesCollector c;
  std::vector<ProbeSpec> specs(50);
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    const int k = (i * 37) % 50;  // not in order
    specs[i].key = {"c", "p" + std::to_string(k)};
    c.OnRun(Outcome(specs[i], {{"probe_http_status_code",
                                Labels{{"instance", "t" + std::to_string(k)}}, 1, 200}}));
    expected.push_back("t" + std::to_string(k));
  }
  std::sort(expected.begin(), expected.end());
  const auto fams = c.Collect();
  const auto* codes = Find(fams, "probe_http_status_code");
  ASSERT_NE(codes, nullptr);
  std::vector<std::string> listed;
  for (const auto& m : codes->metric) {
    ASSERT_EQ(m.label.size(), 1u);
    listed.push_back(m.label[0].value);
  }
  EXPECT_EQ(listed, expected);
}

}  // namespace
}  // namespace obsmon
