#include "alerts/promql_evaluation_memory.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "alerts/promql_parser.h"

namespace obsmon::alerts::promql {
namespace {

ExprPtr CallOf(const std::string& query) {
  ParseError err;
  ExprPtr e = Parse(query, &err);
  EXPECT_NE(e, nullptr) << query << ": " << err.message;
  return e;
}

Labels Series(const std::string& name, const std::string& instance) {
  return Labels{{"__name__", name}, {"instance", instance}, {"job", "a"}};
}

Labels WithoutName(Labels l) {
  l.Remove("__name__");
  return l;
}

// A range function's result labels kept by place are the series' without __name__, whatever
// came and went: checked against the labels made afresh, over random evaluations of shared
// label sets that come, go and change places.
TEST(EvaluationMemoryTest, KeptResultLabelsAreTheSeriesWithoutItsName) {
  ExprPtr call = CallOf("avg_over_time(x[5m])");
  EvaluationMemory memory;
  std::mt19937 rng(59);
  std::vector<Labels> pool;
  for (int i = 0; i < 30; ++i) pool.push_back(Series(i % 2 ? "x" : "y", std::to_string(i)));
  std::vector<size_t> order;
  for (size_t i = 0; i < pool.size(); ++i) order.push_back(i);
  for (int evaluation = 0; evaluation < 200; ++evaluation) {
    if (rng() % 3 == 0) std::swap(order[rng() % order.size()], order[rng() % order.size()]);
    if (rng() % 4 == 0) {
      pool.push_back(Series("x", "new" + std::to_string(evaluation)));
      order[rng() % order.size()] = pool.size() - 1;
    }
    const size_t read = order.size() - rng() % 5;  // some evaluations give fewer results
    KeptNameDrops& kept = memory.NameDropsOf(*call);
    for (size_t place = 0; place < read; ++place) {
      const Labels& series = pool[order[place]];
      EXPECT_EQ(kept.At(place, series), WithoutName(series)) << "evaluation " << evaluation;
    }
    kept.Finish(read);
  }
}

// The label set of a series gone is let go with its place: a new set made where it was freed
// is not taken for it.
TEST(EvaluationMemoryTest, ANewLabelSetWhereAnOldOneWasIsNotTakenForIt) {
  ExprPtr call = CallOf("rate(x[5m])");
  EvaluationMemory memory;
  for (int evaluation = 0; evaluation < 50; ++evaluation) {
    KeptNameDrops& kept = memory.NameDropsOf(*call);
    const std::string instance = std::to_string(evaluation);
    EXPECT_EQ(kept.At(0, Series("x", instance)), WithoutName(Series("x", instance)));
    kept.Finish(1);
  }
}

// Fewer results than before let the other places go: what is kept follows the last evaluation.
TEST(EvaluationMemoryTest, FewerResultsLetTheOtherPlacesGo) {
  ExprPtr call = CallOf("rate(x[5m])");
  EvaluationMemory memory;
  KeptNameDrops& kept = memory.NameDropsOf(*call);
  std::vector<Labels> pool;
  for (int i = 0; i < 100; ++i) pool.push_back(Series("x", std::to_string(i)));
  for (size_t i = 0; i < pool.size(); ++i) kept.At(i, pool[i]);
  kept.Finish(pool.size());
  const size_t hundred = memory.HeapBytes();
  kept.At(0, pool[0]);
  kept.Finish(1);
  EXPECT_LT(memory.HeapBytes(), hundred);
  EXPECT_GT(memory.HeapBytes(), 0u);
}

}  // namespace
}  // namespace obsmon::alerts::promql
