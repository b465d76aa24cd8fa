// What the rules' expressions keep from one evaluation to the next, so that a cycle does not
// work out again what follows from a series' labels alone.
//
// A rule reads the same series in the same order every cycle. Two things its evaluation made
// per series, and that depend on the series' labels only, are kept by the series' place in the
// node's results and checked by its shared label set (held, so that its address is never
// reused by another set): the group an aggregation puts the series in (AggregationGroups), and
// the labels a range function's result has, the series' without __name__ (a copy of its pairs
// each cycle: 700 instructions a result, a twelfth of a rule cycle on 300 `avg_over_time(...)
// < 1` alerts, stop 59). A series at a new place, or a new series, is worked out afresh.
//
// The rule manager owns one with the rules' trees, which must outlive it. Not thread-safe: one
// evaluation thread (the rule manager holds its lock).
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "alerts/promql_aggregation.h"
#include "alerts/promql_ast.h"
#include "core/labels.h"

namespace obsmon::alerts::promql {

// The labels of one range function call's results, by place.
class KeptNameDrops {
 public:
  // `series` without __name__, the result at `place` of this evaluation.
  Labels At(size_t place, const Labels& series);
  // This evaluation gave `places` results: the places past them are let go.
  void Finish(size_t places);
  size_t HeapBytes() const;

 private:
  struct Kept {
    Labels series;
    Labels dropped;
  };
  std::vector<Kept> kept_;
};

class EvaluationMemory {
 public:
  // The groups of `aggregate`, ready for an evaluation (nothing added yet).
  AggregationGroups& GroupsOf(const Expr& aggregate);
  // The result labels of the range function `call`.
  KeptNameDrops& NameDropsOf(const Expr& call);
  // What all of it holds on the heap, roughly (the series' own label sets not counted: the
  // store's).
  size_t HeapBytes() const;

 private:
  std::unordered_map<const Expr*, std::unique_ptr<AggregationGroups>> groups_;
  std::unordered_map<const Expr*, KeptNameDrops> name_drops_;
};

}  // namespace obsmon::alerts::promql
