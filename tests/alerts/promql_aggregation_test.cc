#include "alerts/promql_aggregation.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace obsmon::alerts::promql
