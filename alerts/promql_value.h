// Values that PromQL expressions evaluate to, and the read interface the engine queries.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "alerts/promql_ast.h"
#include "core/labels.h"

namespace obsmon::alerts::promql {

// Prometheus's staleness marker: a NaN with this exact bit pattern ends a series (see
// https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness).
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

struct Point {
  int64_t t = 0;  // ms since epoch
  double v = 0;
};

// One element of an instant vector. `labels` includes __name__ while the metric name is kept.
struct VSample {
  Labels labels;
  double v = 0;
};
using Vector = std::vector<VSample>;

struct Series {
  Labels labels;
  std::vector<Point> points;  // oldest first
};
using Matrix = std::vector<Series>;

struct Value {
  ValueType type = ValueType::kNone;
  double scalar = 0;
  std::string str;
  Vector vector;
  Matrix matrix;
};

// What the engine reads. Implementations must be safe to call from the evaluating thread while
// others append (SeriesStore is).
class Querier {
 public:
  virtual ~Querier() = default;
  // Appends to `out` every series whose labels satisfy all `matchers` (an absent label reads as
  // ""), with its points in [mint_ms, maxt_ms] (both inclusive, Prometheus 2.x semantics),
  // stale markers included. Series come ordered by labels. Series without points in the range
  // may be left out.
  virtual void Select(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                      Matrix* out) const = 0;
  // Calls `fn` for every matching series with its points in [mint_ms, maxt_ms] but stale
  // markers (what a range function reads), without copying them where it can; a series with
  // none left is not passed. The span is valid only during the call. `fn` must not call back
  // into the querier.
  using SeriesFn = std::function<void(const Labels&, const Point* begin, const Point* end)>;
  virtual void ForEachSeries(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                             const SeriesFn& fn) const {
    Matrix m;
    Select(matchers, mint_ms, maxt_ms, &m);
    for (auto& s : m) {
      std::erase_if(s.points, [](const Point& p) { return IsStaleNaN(p.v); });
      if (!s.points.empty()) fn(s.labels, s.points.data(), s.points.data() + s.points.size());
    }
  }
  // Calls `fn` for every matching series with its newest point in [mint_ms, maxt_ms] (a stale
  // marker included), without copying: what an instant selector reads. Same contract as
  // ForEachSeries otherwise.
  using LatestFn = std::function<void(const Labels&, const Point&)>;
  virtual void ForEachLatest(const std::vector<Matcher>& matchers, int64_t mint_ms,
                             int64_t maxt_ms, const LatestFn& fn) const {
    Matrix m;
    Select(matchers, mint_ms, maxt_ms, &m);
    for (const auto& s : m) {
      if (!s.points.empty()) fn(s.labels, s.points.back());
    }
  }
};

}  // namespace obsmon::alerts::promql
