// Parser of obsmon's PromQL subset. Anything outside the subset is refused with a message that
// names the construct ("function 'histogram_quantile' is not supported by obsmon"), never parsed
// into something that would evaluate differently from Prometheus. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "alerts/promql_ast.h"

namespace obsmon::alerts::promql {

struct ParseError {
  size_t pos = 0;  // byte offset into the expression where the problem is
  std::string message;
};

// Bounds that keep hostile expressions cheap: every recursive walk of a tree (evaluation,
// printing, the retention check) is at most kMaxExprHeight deep, a tree has at most
// kMaxExprOperands leaves, and offsets and ranges are at most kMaxRangeMs (so that
// `time - offset - range` can never overflow).
inline constexpr uint32_t kMaxExprHeight = 1000;
inline constexpr size_t kMaxExprOperands = 10'000;
inline constexpr int64_t kMaxRangeMs = 10LL * 365 * 86'400'000;  // 10y

// Parses and type-checks `text`. On failure returns nullptr and fills `error`.
ExprPtr Parse(std::string_view text, ParseError* error);

// True when `name` is a valid Prometheus metric name / label name.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// Parses a series description as written in promtool test files: `metric{a="b"}` (the metric
// name may be absent when __name__ is given). Returns false with `error` set on bad syntax.
bool ParseSeriesDescription(std::string_view text, std::string* name,
                            std::vector<std::pair<std::string, std::string>>* labels,
                            ParseError* error);

}  // namespace obsmon::alerts::promql
