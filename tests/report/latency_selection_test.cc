// LatencySelection (report/latency_selection.h) against a plain sort of the same values: random
// sets with ties, equal values across sets, one value, all values equal, negative and zero
// values, overlapping subsets; the values it holds at once stay within its budget however many
// are streamed; and passes that disagree are an error, not a crash.
#include "report/latency_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "report/percentiles.h"

namespace obsmon {
namespace {

// One set of the stream and the subsets it belongs to.
struct Set {
  std::vector<double> values;  // ascending
  std::vector<uint32_t> subsets;
};

// Streams `sets` through a selection in as many passes as it asks for.
LatencySelection Select(const std::vector<Set>& sets) {
  LatencySelection sel;
  do {
    for (const Set& s : sets) sel.Add(s.values, s.subsets);
  } while (sel.EndPass());
  EXPECT_TRUE(sel.status().ok()) << sel.status().ToString();
  return sel;
}

// The plain answer: every value of the subset sorted, nearest ranks indexed; the mean is
// SummarizeSortedSets' over the same sets in the same order (bit for bit).
void ExpectPlainSummary(const std::vector<Set>& sets, uint32_t id, const LatencySummary& got) {
  std::vector<double> all;
  std::vector<std::span<const double>> views;
  for (const Set& s : sets) {
    if (std::find(s.subsets.begin(), s.subsets.end(), id) == s.subsets.end()) continue;
    all.insert(all.end(), s.values.begin(), s.values.end());
    views.emplace_back(s.values);
  }
  std::sort(all.begin(), all.end());
  SCOPED_TRACE("subset " + std::to_string(id));
  ASSERT_EQ(got.count, all.size());
  if (all.empty()) return;
  EXPECT_EQ(got.min_seconds, all.front());
  EXPECT_EQ(got.max_seconds, all.back());
  EXPECT_EQ(got.p50_seconds, all[NearestRank(all.size(), 500) - 1]);
  EXPECT_EQ(got.p95_seconds, all[NearestRank(all.size(), 950) - 1]);
  EXPECT_EQ(got.p99_seconds, all[NearestRank(all.size(), 990) - 1]);
  EXPECT_EQ(got.mean_seconds, SummarizeSortedSets(views).mean_seconds);
}

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(LatencySelectionTest, RandomSetsWithTiesMatchPlainSort) {
  for (uint32_t seed : {1u, 2u, 3u, 42u, 20251014u}) {
    std::mt19937 rng(seed);
    std::lognormal_distribution<double> latency(-4, 1);
    std::uniform_int_distribution<size_t> size(0, 400);
    const uint32_t subsets = 6;
    std::vector<Set> sets(60);
    for (Set& s : sets) {
      s.values.resize(size(rng));
      // Rounded to 0.1 ms: many ties, within a set and across sets.
      for (double& v : s.values) v = std::round(latency(rng) * 1e4) / 1e4;
      s.values = Sorted(std::move(s.values));
      for (uint32_t id = 0; id < subsets; ++id) {
        if (id == 0 || rng() % 3 == 0) s.subsets.push_back(id);
      }
    }
    SCOPED_TRACE("seed " + std::to_string(seed));
    LatencySelection sel = Select(sets);
    for (uint32_t id = 0; id < subsets; ++id) ExpectPlainSummary(sets, id, sel.Summary(id));
  }
}

TEST(LatencySelectionTest, OneValue) {
  const std::vector<Set> sets = {{{0.0123}, {0}}};
  LatencySelection sel = Select(sets);
  ExpectPlainSummary(sets, 0, sel.Summary(0));
  EXPECT_EQ(sel.Summary(0).p99_seconds, 0.0123);
}

TEST(LatencySelectionTest, SubsetWithoutValuesHasCountZero) {
  const std::vector<Set> sets = {{{0.5, 0.7}, {2}}, {{}, {0}}};
  LatencySelection sel = Select(sets);
  EXPECT_EQ(sel.Summary(0).count, 0u);
  EXPECT_EQ(sel.Summary(1).count, 0u);
  EXPECT_EQ(sel.Summary(7).count, 0u);
  ExpectPlainSummary(sets, 2, sel.Summary(2));
}

TEST(LatencySelectionTest, NegativeAndZeroValuesMatchPlainSort) {
  const std::vector<Set> sets = {{Sorted({-2.5, -0.0, 0.0, 1e-300, 3.0, -1e-5}), {0, 1}},
                                 {Sorted({0.0, 0.0, -7.0, 1e300, 2.0}), {0}}};
  LatencySelection sel = Select(sets);
  ExpectPlainSummary(sets, 0, sel.Summary(0));
  ExpectPlainSummary(sets, 1, sel.Summary(1));
}

// More equal values than the budget: the bucket is narrowed to all 64 bits, which is the value.
TEST(LatencySelectionTest, AllEqualBeyondTheBudget) {
  std::vector<Set> sets(200, Set{std::vector<double>(5000, 0.042), {0}});
  sets.push_back({Sorted({0.001, 9.0}), {0}});
  LatencySelection sel = Select(sets);
  ExpectPlainSummary(sets, 0, sel.Summary(0));
  EXPECT_LE(sel.max_held_values(), LatencySelection::kMaxHeldValues);
  EXPECT_LE(sel.passes(), 8u);
}

// A week of 1-second durations (604,800) in hourly sets, pooled and per day and per hour, as a
// report streams them; again with values crowded in one narrow range (the pooled ranks' first
// buckets larger than the budget). The values held at once stay within the budget.
TEST(LatencySelectionTest, AWeekOfSecondsHoldsABoundedNumber) {
  for (bool crowded : {false, true}) {
    std::mt19937_64 rng(crowded ? 7 : 8);
    std::vector<Set> sets(168);
    size_t total = 0;
    for (size_t h = 0; h < sets.size(); ++h) {
      sets[h].values.resize(3600);
      for (double& v : sets[h].values) {
        const double u = static_cast<double>(rng() % 1'000'000) / 1e6;
        v = crowded ? 0.25 + u * 1e-3 : 0.005 + u * 0.02 * (1 + static_cast<double>(h % 24));
      }
      sets[h].values = Sorted(std::move(sets[h].values));
      sets[h].subsets = {0, static_cast<uint32_t>(1 + h / 24), static_cast<uint32_t>(8 + h)};
      total += sets[h].values.size();
    }
    SCOPED_TRACE(crowded ? "crowded" : "spread");
    LatencySelection sel = Select(sets);
    for (uint32_t id = 0; id < 8 + 168; id += (id < 8 ? 1 : 17)) {
      ExpectPlainSummary(sets, id, sel.Summary(id));
    }
    EXPECT_EQ(total, 604'800u);
    EXPECT_LE(sel.max_held_values(), LatencySelection::kMaxHeldValues);
    EXPECT_GT(sel.max_held_values(), 0u);  // the last step kept values and selected among them
    // Counted, then kept and selected; crowded, the pool's buckets are narrowed first.
    EXPECT_GE(sel.passes(), crowded ? 3u : 2u);
    EXPECT_LE(sel.passes(), 8u);
  }
}

TEST(LatencySelectionTest, PassesThatDisagreeAreAnError) {
  std::vector<Set> sets(3, Set{Sorted({0.1, 0.2, 0.3, 0.4}), {0}});
  LatencySelection sel;
  for (const Set& s : sets) sel.Add(s.values, s.subsets);
  ASSERT_TRUE(sel.EndPass());
  sel.Add(sets[0].values, sets[0].subsets);  // a set went missing
  EXPECT_FALSE(sel.EndPass());
  EXPECT_FALSE(sel.status().ok());
  EXPECT_NE(sel.status().ToString().find("changed between passes"), std::string::npos);

  LatencySelection other;
  for (const Set& s : sets) other.Add(s.values, s.subsets);
  ASSERT_TRUE(other.EndPass());
  const std::vector<uint32_t> unseen = {5};  // a subset the first pass did not see
  for (const Set& s : sets) other.Add(s.values, unseen);
  EXPECT_FALSE(other.EndPass());
  EXPECT_FALSE(other.status().ok());
}

}  // namespace
}  // namespace obsmon
