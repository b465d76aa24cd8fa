// Subexpressions that several rules compute at the same instant, computed once.
//
// Rule files repeat themselves: an SLO's burn-rate alerts each divide the same
// `sum(rate(errors[1h]))` by the same `sum(rate(requests[1h]))` with another threshold, a
// recording rule and the alerts on it share an aggregation, a generated file carries the same
// expression under several names. Prometheus evaluates each occurrence again; obsmon evaluates
// every group of a cycle at one instant on one thread, so it can keep the value of a repeated
// subexpression for that instant and hand out copies.
//
// The value handed out is the value a fresh evaluation would return, as long as nothing the
// subexpression reads changed in between. What can change within a cycle is what the rule
// manager itself writes back (recorded series, ALERTS, ALERTS_FOR_STATE, stale markers): it
// reports each metric name it writes (Written), and every kept value that reads that name, or
// reads through a selector without an exact metric name, is dropped. Samples that probes
// append from other threads meanwhile are the other difference: every repeat of a
// subexpression then sees the same snapshot, where separate evaluations could straddle an
// append (a sample newer than the first evaluation); Prometheus's concurrent groups have the
// same freedom.
//
// Not thread-safe: one evaluation thread (the rule manager holds its lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/promql_ast.h"
#include "alerts/promql_value.h"
#include "core/status.h"

namespace obsmon::alerts::promql {

class SharedSubexpressions {
 public:
  // Values kept at one instant, in samples (series of a matrix count by their points): beyond
  // it a value is computed and not kept, so memory stays bounded whatever the rules return.
  static constexpr size_t kMaxKeptSamples = 1'000'000;

  // Finds the subexpressions of `roots` that occur more than once (by canonical text) and are
  // worth keeping: aggregations, function calls, binary and unary operations. Selectors and
  // literals are not kept: copying their value costs what selecting it again does. The trees
  // must outlive this object (the rule manager owns both).
  explicit SharedSubexpressions(const std::vector<const Expr*>& roots);

  // The value `node` had at ts_ms, if kept; nullptr otherwise (not repeated, not computed yet at
  // this instant, or dropped since).
  const Result<Value>* Find(const Expr& node, int64_t ts_ms);
  // Keeps the value of a repeated `node` at ts_ms (no-op for other nodes or over the bound).
  void Keep(const Expr& node, int64_t ts_ms, const Result<Value>& value);
  // The rule manager wrote series named `metric` (an empty name: unknown, drops everything).
  void Written(const std::string& metric);
  // Drops every kept value: a new cycle starts (probes may have appended since the last one,
  // even at the same instant).
  void Forget();

  size_t repeated() const { return slot_of_.size(); }   // nodes that share a slot
  size_t slots() const { return slots_.size(); }        // distinct repeated subexpressions
  uint64_t hits() const { return hits_; }

 private:
  struct Slot {
    std::vector<std::string> reads;  // exact metric names the subexpression selects
    bool reads_any = false;          // a selector without an exact metric name
    std::optional<Result<Value>> value;
    size_t samples = 0;
  };
  int SlotOf(const Expr& node) const;
  void Drop(Slot& s);
  void StartInstant(int64_t ts_ms);

  std::unordered_map<const Expr*, int> slot_of_;
  std::vector<Slot> slots_;
  std::unordered_map<std::string, std::vector<int>> readers_;  // metric name -> slots
  std::vector<int> any_readers_;
  int64_t ts_ms_ = INT64_MIN;
  size_t kept_samples_ = 0;
  uint64_t hits_ = 0;
};

}  // namespace obsmon::alerts::promql
