// Series to runs: which label names the probe, validity from the config or the samples' median
// spacing, one run per (probe, time), durations paired by time.
#include "source/store_runs.h"

#include <gtest/gtest.h>

#include <cmath>

namespace obsmon::source {
namespace {

StoreSeries Series(Labels labels, std::vector<std::pair<TimestampMs, double>> points) {
  return StoreSeries{std::move(labels), std::move(points)};
}

TEST(StoreRunsTest, IntervalIsInferredFromTheMedianSpacingUnlessConfigured) {
  // 20 s spacing with one 10-minute gap (obsmon down) and one late run: the median is 20 s.
  std::vector<std::pair<TimestampMs, double>> points;
  for (TimestampMs t = 0; t < 400'000; t += 20'000) points.push_back({t, 1});
  points.push_back({1'000'000, 1});
  points.push_back({1'020'000, 0});
  SeriesMapping m;
  m.component = "c";
  MappingNotes notes;
  auto runs = RunsFromSeries({Series({{"probe", "p"}}, points)}, {}, m, &notes);
  ASSERT_EQ(runs.size(), points.size());
  EXPECT_EQ(runs[0].valid_for_ms, 30'000);
  EXPECT_EQ(notes.inferred_interval_ms.at("p"), 20'000);
  EXPECT_EQ(notes.runs_without_duration, points.size());
  EXPECT_TRUE(std::isnan(runs[0].duration_seconds));
  EXPECT_FALSE(runs.back().success);
  EXPECT_EQ(runs.back().reason, kStoreFailureReason);

  m.known["p"] = {ProbeRole::kIntegration, 60'000};
  m.tolerance = 2.0;
  auto configured = RunsFromSeries({Series({{"probe", "p"}}, points)}, {}, m, nullptr);
  EXPECT_EQ(configured[0].valid_for_ms, 120'000);
  EXPECT_EQ(configured[0].role, ProbeRole::kIntegration);
}

TEST(StoreRunsTest, OneRunPerProbeAndTimeAcrossSeriesAndSeriesWithoutTheLabelAreCounted) {
  SeriesMapping m;
  m.component = "c";
  m.probe_label = "instance";
  MappingNotes notes;
  // Two series of one probe (a relabelled job), overlapping at t=20 s: the first kept.
  auto runs = RunsFromSeries(
      {Series({{"instance", "a"}, {"job", "x"}}, {{0, 1}, {20'000, 1}}),
       Series({{"instance", "a"}, {"job", "y"}}, {{20'000, 0}, {40'000, 1}}),
       Series({{"job", "z"}}, {{0, 1}})},
      {Series({{"instance", "a"}}, {{0, 0.5}, {40'000, 0.25}})}, m, &notes);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[1].ts_ms, 20'000);
  EXPECT_TRUE(runs[1].success);
  EXPECT_EQ(notes.duplicate_samples, 1u);
  EXPECT_EQ(notes.series_without_probe_label, 1u);
  EXPECT_EQ(runs[0].duration_seconds, 0.5);
  EXPECT_TRUE(std::isnan(runs[1].duration_seconds));
  EXPECT_EQ(runs[2].duration_seconds, 0.25);
  EXPECT_EQ(runs[0].key, (ProbeKey{"c", "a"}));
}

TEST(StoreRunsTest, NotesSayWhatWasInferredOrLeftOut) {
  MappingNotes n;
  EXPECT_TRUE(DescribeNotes(n, "probe").empty());
  n.inferred_interval_ms["https://a"] = 30'000;
  n.runs_without_duration = 2;
  n.series_without_probe_label = 1;
  const auto notes = DescribeNotes(n, "instance");
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_NE(notes[0].find("'https://a': interval 30s inferred"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("without the label 'instance'"), std::string::npos) << notes[1];
  EXPECT_NE(notes[2].find("2 runs without a probe_duration_seconds"), std::string::npos);
}

TEST(StoreRunsTest, AProbeWithOneSampleGetsTheDefaultInterval) {
  SeriesMapping m;
  m.component = "c";
  m.default_interval_ms = 10'000;
  auto runs = RunsFromSeries({Series({{"probe", "p"}}, {{5, 1}})}, {}, m, nullptr);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].valid_for_ms, 15'000);
}

}  // namespace
}  // namespace obsmon::source
