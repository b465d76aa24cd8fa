// Evaluates a parsed PromQL expression at one instant, with the semantics of the Prometheus
// release that `promtool` on this system has (2.42): instant selectors look back 5m (both ends
// inclusive), range selectors are closed [t-range, t], rate/increase/delta extrapolate as
// Prometheus's extrapolatedRate, stale markers end a series. Stateless and thread-safe.
#pragma once

#include <cstdint>

#include "alerts/promql_ast.h"
#include "alerts/promql_shared_subexpressions.h"
#include "alerts/promql_value.h"
#include "core/status.h"

namespace obsmon::alerts::promql {

class EvaluationMemory;

struct EvalOptions {
  int64_t lookback_ms = 5 * 60'000;
  // Where repeated subexpressions keep their value for one instant (the rule manager's); none:
  // every node is evaluated.
  SharedSubexpressions* shared = nullptr;
  // What the rules' expressions keep from one evaluation to the next (the rule manager's;
  // alerts/promql_evaluation_memory.h); none: each evaluation starts afresh.
  EvaluationMemory* memory = nullptr;
};

// Evaluates `expr` at `ts_ms`. Runtime errors (many-to-many matching, duplicate label sets)
// are InvalidArgument statuses with Prometheus's wording.
Result<Value> Evaluate(const Expr& expr, int64_t ts_ms, const Querier& querier,
                       const EvalOptions& options = {});

// Whether two samples of `v` have the same labels.
bool HasDuplicateLabelsets(const Vector& v);

// The largest range + offset + lookback that `expr` reads back from ts (to size the store).
int64_t MaxLookbehindMs(const Expr& expr, const EvalOptions& options = {});

}  // namespace obsmon::alerts::promql
