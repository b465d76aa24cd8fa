#include "alerts/promql_aggregation.h"
#include "alerts/promql_evaluation_memory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "alerts/promql_parser.h"

namespace obsmon::alerts::promql {
namespace {

// The kAggregate node of `query` (only its op and grouping are read).
ExprPtr AggregateOf(const std::string& query) {
  ParseError err;
  ExprPtr e = Parse(query, &err);
  EXPECT_NE(e, nullptr) << query << ": " << err.message;
  EXPECT_EQ(e->kind, NodeKind::kAggregate) << query;
  return e;
}

Labels Series(const std::string& name, const std::string& job, const std::string& instance) {
  return Labels{{"__name__", name}, {"job", job}, {"instance", instance}};
}

TEST(AggregationGroupsTest, SumByKeepsGroupsInOrderOfFirstAppearance) {
  ExprPtr e = AggregateOf("sum by (job) (x)");
  AggregationGroups groups(*e);
  groups.Add(Series("x", "b", "1"), 1, false);
  groups.Add(Series("x", "a", "1"), 10, false);
  groups.Add(Series("x", "b", "2"), 2, false);
  groups.Add(Series("x", "a", "2"), 20, false);
  groups.Add(Series("x", "b", "3"), 4, false);
  Vector v = groups.Take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].labels, (Labels{{"job", "b"}}));
  EXPECT_EQ(v[0].v, 7);  // 1 + 2 + 4
  EXPECT_EQ(v[1].labels, (Labels{{"job", "a"}}));
  EXPECT_EQ(v[1].v, 30);  // 10 + 20
}

TEST(AggregationGroupsTest, ByNameReadsTheNameAsAbsentOnceDropped) {
  ExprPtr e = AggregateOf("sum by (__name__) (x)");
  // A vector that still has its names: one group per name.
  AggregationGroups named(*e);
  named.Add(Series("x", "a", "1"), 1, false);
  named.Add(Series("y", "a", "1"), 2, false);
  Vector kept = named.Take();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].labels, (Labels{{"__name__", "x"}}));
  EXPECT_EQ(kept[1].labels, (Labels{{"__name__", "y"}}));
  // A range function's result read with the series' labels (name dropped): one group, no labels.
  AggregationGroups dropped(*e);
  dropped.Add(Series("x", "a", "1"), 1, true);
  dropped.Add(Series("x", "a", "2"), 2, true);
  Vector one = dropped.Take();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0].labels.empty());
  EXPECT_EQ(one[0].v, 3);
}

TEST(AggregationGroupsTest, WithoutDropsTheNameAndTheListedLabels) {
  ExprPtr e = AggregateOf("max without (instance) (x)");
  AggregationGroups groups(*e);
  groups.Add(Series("x", "a", "1"), 5, true);
  groups.Add(Series("x", "a", "2"), 9, true);
  groups.Add(Series("x", "b", "1"), 3, false);
  Vector v = groups.Take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].labels, (Labels{{"job", "a"}}));
  EXPECT_EQ(v[0].v, 9);
  EXPECT_EQ(v[1].labels, (Labels{{"job", "b"}}));
  EXPECT_EQ(v[1].v, 3);
}

TEST(AggregationGroupsTest, AvgMinCountOfOneGroup) {
  const double values[] = {2, 4, 6};  // avg 4 (exact in the incremental mean), min 2, count 3
  for (const auto& [query, want] :
       {std::pair<const char*, double>{"avg(x)", 4}, {"min(x)", 2}, {"count(x)", 3}}) {
    ExprPtr e = AggregateOf(query);
    AggregationGroups groups(*e);
    int instance = 0;
    for (double v : values) groups.Add(Series("x", "a", std::to_string(++instance)), v, false);
    Vector out = groups.Take();
    ASSERT_EQ(out.size(), 1u) << query;
    EXPECT_TRUE(out[0].labels.empty()) << query;
    EXPECT_EQ(out[0].v, want) << query;
  }
}

TEST(AggregationGroupsTest, TakeEmptiesTheGroups) {
  ExprPtr e = AggregateOf("sum(x)");
  AggregationGroups groups(*e);
  groups.Add(Series("x", "a", "1"), 1, false);
  EXPECT_EQ(groups.Take().size(), 1u);
  EXPECT_TRUE(groups.Take().empty());
}


// Kept across evaluations (EvaluationMemory), the groups must give what fresh ones give: the
// same groups in the same order, the same values bit for bit, as series come, go, change places
// and new label sets take the places of old ones. The label sets are shared objects, as the
// store's series are, each evaluation a random pick of them in a mostly stable order.
TEST(AggregationGroupsTest, KeptGroupsGiveWhatFreshOnesGiveAsSeriesComeGoAndMove) {
  std::mt19937 rng(59);
  std::vector<Labels> pool;
  auto add_series = [&] {
    const size_t n = pool.size();
    pool.push_back(Series(n % 3 == 0 ? "x" : "y", "j" + std::to_string(rng() % 5),
                          "i" + std::to_string(n)));
  };
  for (int i = 0; i < 40; ++i) add_series();
  const char* queries[] = {"sum by (job) (x)",        "avg without (instance) (x)",
                           "count by (job, instance) (x)", "max by (__name__) (x)",
                           "min(x)",                  "sum by (job, __name__) (x)"};
  EvaluationMemory kept;
  std::vector<ExprPtr> nodes;
  for (const char* q : queries) nodes.push_back(AggregateOf(q));
  std::vector<size_t> order(pool.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int evaluation = 0; evaluation < 300; ++evaluation) {
    // Now and then a series goes, a new one comes, two change places.
    if (rng() % 4 == 0 && order.size() > 1) order.erase(order.begin() + rng() % order.size());
    if (rng() % 4 == 0) {
      add_series();
      order.insert(order.begin() + rng() % (order.size() + 1), pool.size() - 1);
    }
    if (rng() % 5 == 0 && order.size() > 1) std::swap(order[rng() % order.size()], order[0]);
    // Some series are missing from an evaluation (no point in the range), some return.
    std::vector<size_t> read;
    for (size_t i : order) {
      if (rng() % 10 != 0) read.push_back(i);
    }
    for (size_t q = 0; q < nodes.size(); ++q) {
      const bool name_dropped = q % 2 == 1;
      AggregationGroups fresh(*nodes[q]);
      AggregationGroups& groups = kept.GroupsOf(*nodes[q]);
      for (size_t i : read) {
        const double v = static_cast<double>(rng() % 1000) / 7;
        fresh.Add(pool[i], v, name_dropped);
        groups.Add(pool[i], v, name_dropped);
      }
      const Vector want = fresh.Take();
      const Vector got = groups.Take();
      ASSERT_EQ(got.size(), want.size()) << queries[q] << " at evaluation " << evaluation;
      for (size_t k = 0; k < want.size(); ++k) {
        EXPECT_EQ(got[k].labels, want[k].labels) << queries[q] << " at evaluation " << evaluation;
        EXPECT_EQ(std::memcmp(&got[k].v, &want[k].v, sizeof(double)), 0)
            << queries[q] << " at evaluation " << evaluation << ": " << got[k].v << " against "
            << want[k].v;
      }
    }
  }
}

// A place is remembered by the series' shared label set, which the kept groups hold a copy of:
// a new set made where an old one was freed (the same address, other labels) is never taken
// for the old one.
TEST(AggregationGroupsTest, ANewLabelSetWhereAnOldOneWasIsNotTakenForIt) {
  ExprPtr e = AggregateOf("sum by (job) (x)");
  EvaluationMemory kept;
  for (int evaluation = 0; evaluation < 50; ++evaluation) {
    const std::string job = "j" + std::to_string(evaluation);
    AggregationGroups& groups = kept.GroupsOf(*e);
    groups.Add(Series("x", job, "1"), 1, false);  // made and freed in each evaluation
    const Vector out = groups.Take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].labels, (Labels{{"job", job}})) << "evaluation " << evaluation;
  }
}

// Groups no series goes to any more are let go: a `by (instance)` over series whose instance
// changes every evaluation holds the groups of one evaluation or two, not of all of them.
TEST(AggregationGroupsTest, KeptGroupsOfSeriesGoneAreLetGo) {
  ExprPtr e = AggregateOf("sum by (instance) (x)");
  EvaluationMemory kept;
  auto evaluate = [&](int evaluation) {
    AggregationGroups& groups = kept.GroupsOf(*e);
    for (int i = 0; i < 20; ++i) {
      groups.Add(Series("x", "a", std::to_string(evaluation) + "-" + std::to_string(i)), 1, false);
    }
    EXPECT_EQ(groups.Take().size(), 20u);
  };
  evaluate(0);
  evaluate(1);
  const size_t two_evaluations = kept.HeapBytes();
  for (int evaluation = 2; evaluation < 500; ++evaluation) evaluate(evaluation);
  EXPECT_LE(kept.HeapBytes(), 2 * two_evaluations);
}

// An evaluation left unfinished (an error between the samples and the result) leaves nothing
// for the next.
TEST(AggregationGroupsTest, AnUnfinishedEvaluationLeavesNothingForTheNext) {
  ExprPtr e = AggregateOf("sum by (job) (x)");
  EvaluationMemory kept;
  kept.GroupsOf(*e).Add(Series("x", "a", "1"), 100, false);  // never taken
  AggregationGroups& groups = kept.GroupsOf(*e);
  groups.Add(Series("x", "b", "1"), 1, false);
  const Vector out = groups.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels, (Labels{{"job", "b"}}));
  EXPECT_EQ(out[0].v, 1);
}

}  // namespace
}  // namespace obsmon::alerts::promql
