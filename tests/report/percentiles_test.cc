// Nearest-rank percentiles against a full sort and the textbook definition.
#include "report/percentiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace obsmon {
namespace {

// The textbook nearest rank: the smallest k such that at least p % of the n values are among
// the first k, i.e. k / n >= p / 100 (written with integers: 1000 k >= permille n).
uint64_t TextbookRank(uint64_t n, uint32_t permille) {
  uint64_t k = 1;
  while (1000 * k < static_cast<uint64_t>(permille) * n) ++k;
  return k;
}

TEST(PercentilesTest, NearestRankMatchesTextbookDefinition) {
  for (uint64_t n = 1; n <= 2000; ++n) {
    for (uint32_t p : {1u, 500u, 950u, 990u, 999u, 1000u}) {
      ASSERT_EQ(NearestRank(n, p), TextbookRank(n, p)) << "n=" << n << " p=" << p;
    }
  }
}

TEST(PercentilesTest, OneToTwentyByHand) {
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);
  LatencySummary s = SummarizeLatency(v);
  EXPECT_EQ(s.count, 20u);
  EXPECT_EQ(s.p50_seconds, 10);  // rank ceil(0.5 x 20) = 10
  EXPECT_EQ(s.p95_seconds, 19);  // rank 19
  EXPECT_EQ(s.p99_seconds, 20);  // rank ceil(19.8) = 20
  EXPECT_EQ(s.min_seconds, 1);
  EXPECT_EQ(s.max_seconds, 20);
  EXPECT_DOUBLE_EQ(s.mean_seconds, 10.5);
}

TEST(PercentilesTest, EmptyHasNoValues) {
  std::vector<double> v;
  EXPECT_EQ(SummarizeLatency(v).count, 0u);
}

TEST(PercentilesTest, RandomSetsMatchFullSort) {
  std::mt19937 rng(7);
  for (size_t n : {1u, 2u, 3u, 99u, 100u, 101u, 1000u, 86'400u}) {
    std::vector<double> v(n);
    std::lognormal_distribution<double> dist(-4, 1);
    for (auto& x : v) x = std::round(dist(rng) * 1e4) / 1e4;  // many duplicates
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const double sum = std::accumulate(sorted.begin(), sorted.end(), 0.0);
    LatencySummary s = SummarizeLatency(v);
    SCOPED_TRACE("n=" + std::to_string(n));
    EXPECT_EQ(s.count, n);
    EXPECT_EQ(s.p50_seconds, sorted[TextbookRank(n, 500) - 1]);
    EXPECT_EQ(s.p95_seconds, sorted[TextbookRank(n, 950) - 1]);
    EXPECT_EQ(s.p99_seconds, sorted[TextbookRank(n, 990) - 1]);
    EXPECT_EQ(s.min_seconds, sorted.front());
    EXPECT_EQ(s.max_seconds, sorted.back());
    EXPECT_NEAR(s.mean_seconds, sum / n, 1e-12 * std::max(1.0, sum / n));
  }
}

// The union of sorted sets selects exactly what a sort of their concatenation gives: sets of
// different sizes, empty ones, duplicates across sets, negative values and a single set.
TEST(PercentilesTest, SortedSetsMatchTheirConcatenation) {
  std::mt19937 rng(11);
  std::lognormal_distribution<double> dist(-4, 1);
  for (int round = 0; round < 200; ++round) {
    const size_t k = 1 + rng() % 30;
    std::vector<std::vector<double>> sets(k);
    std::vector<double> all;
    for (auto& set : sets) {
      const size_t n = rng() % 4 == 0 ? 0 : rng() % 500;
      for (size_t i = 0; i < n; ++i) {
        double v = std::round(dist(rng) * 1e3) / 1e3;  // duplicates within and across sets
        if (round % 10 == 0) v -= 0.02;                // some negative values too
        set.push_back(v);
      }
      std::sort(set.begin(), set.end());
      all.insert(all.end(), set.begin(), set.end());
    }
    std::vector<std::span<const double>> views(sets.begin(), sets.end());
    LatencySummary got = SummarizeSortedSets(views);
    std::vector<double> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(got.count, all.size());
    if (all.empty()) continue;
    const size_t n = all.size();
    EXPECT_EQ(got.p50_seconds, sorted[TextbookRank(n, 500) - 1]);
    EXPECT_EQ(got.p95_seconds, sorted[TextbookRank(n, 950) - 1]);
    EXPECT_EQ(got.p99_seconds, sorted[TextbookRank(n, 990) - 1]);
    EXPECT_EQ(got.min_seconds, sorted.front());
    EXPECT_EQ(got.max_seconds, sorted.back());
    const double sum = std::accumulate(sorted.begin(), sorted.end(), 0.0);
    EXPECT_NEAR(got.mean_seconds, sum / n, 1e-12 * std::max(1.0, std::abs(sum / n)));
  }
}

TEST(PercentilesTest, SortedSetsByHand) {
  const std::vector<double> a = {1, 4, 7}, b = {}, c = {2, 3, 5, 6, 8, 9, 10};
  std::vector<std::span<const double>> views = {a, b, c};
  LatencySummary s = SummarizeSortedSets(views);
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.p50_seconds, 5);   // rank 5 of 1..10
  EXPECT_EQ(s.p95_seconds, 10);  // rank ceil(9.5) = 10
  EXPECT_EQ(s.min_seconds, 1);
  EXPECT_EQ(s.max_seconds, 10);
  EXPECT_DOUBLE_EQ(s.mean_seconds, 5.5);
  EXPECT_EQ(SummarizeSortedSets({}).count, 0u);
}

}  // namespace
}  // namespace obsmon
