// Exact nearest-rank latency summaries (report/percentiles.h) of many overlapping subsets of a
// stream of value sets, without holding the stream: the caller hands the same sets, in the same
// order, once per pass, and the selection keeps only counts and the few values near each wanted
// rank. This is how a report summarizes a week of 1-second runs of 1,000 probes (600 million
// durations) a sealed hour of one probe at a time (docs/report.md, "How the report reads").
//
// How. Pass 1 streams count, min, max and the compensated sum (the mean), and counts the values
// of each subset per log-spaced bucket: the top 16 bits of the double's order key (sign,
// exponent, 4 mantissa bits; 16 buckets per power of two). For each wanted rank (p50, p95, p99)
// the bucket holding it and the rank inside the bucket follow. Each later pass narrows every
// unresolved rank: it either keeps the values of the rank's bucket (when they fit in the
// budget, kMaxHeldValues over all ranks) and selects exactly (nth_element), or counts the
// bucket's values by their next 8 bits (256 counters) to find a narrower bucket. A bucket
// narrowed to all 64 bits is one value. So at most 8 passes, usually 2 or 3; the values held at
// once never exceed kMaxHeldValues, whatever the stream's length.
//
// Not thread-safe (one selection per report being built).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <vector>

#include "core/status.h"
#include "report/compensated_sum.h"
#include "report/percentiles.h"

namespace obsmon {

class LatencySelection {
 public:
  // The most values kept at once for exact selection, over every subset and rank (4 MiB).
  static constexpr size_t kMaxHeldValues = size_t{1} << 19;

  // Adds one set, ascending and free of NaN, to each subset of `subsets` (distinct ids; the
  // number of subsets is the largest id + 1, set by the first pass). Within a subset the mean
  // adds the values in the order they are given, so it equals SummarizeSortedSets' over the same
  // sets in the same order, bit for bit.
  void Add(std::span<const double> ascending, std::span<const uint32_t> subsets);
  // Ends a pass: true when another pass over the same sets in the same order is needed. False
  // once every summary is known, or when a pass did not see what the one before it did (the
  // sets changed between passes; status() says so).
  bool EndPass();

  // Not ok when the passes disagreed (the summaries are then meaningless).
  const Status& status() const { return status_; }
  // The summary of subset `id` (count 0 when nothing was added to it). After the last pass.
  LatencySummary Summary(uint32_t id) const;

  // For tests and docs: the passes made so far, and the most values kept at once.
  size_t passes() const { return passes_; }
  size_t max_held_values() const { return max_held_; }

 private:
  static constexpr uint32_t kPermilles[3] = {500, 950, 990};

  struct Subset {
    uint64_t count = 0;
    uint64_t seen = 0;  // in the current pass, after the first: must end equal to count
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    CompensatedSum sum;
    std::map<uint32_t, uint64_t> top_buckets;  // pass 1 only: top 16 key bits -> values
  };
  enum class Step { kHistogram, kCollect, kDone };
  // One wanted rank of one subset, narrowed to the values whose key starts with `prefix`.
  struct Target {
    uint64_t rank = 0;       // 1-based, among the values with the prefix
    uint64_t in_prefix = 0;  // values with the prefix
    uint64_t prefix = 0;     // the top `bits` bits of the key
    int bits = 0;
    Step step = Step::kDone;
    std::vector<uint64_t> counts;  // kHistogram: 256 counters, by the next 8 key bits
    std::vector<double> held;      // kCollect: the values with the prefix
    double value = 0;              // kDone
  };

  void AddFirstPass(std::span<const double> ascending, std::span<const uint32_t> subsets);
  void AddToTarget(std::span<const double> ascending, Target& t);
  void StartTargets();
  bool Narrow(Target& t);
  bool PlanNextPass();
  bool Fail(const char* what);

  std::vector<Subset> subsets_;
  std::vector<Target> targets_;  // subset i's ranks at 3i, 3i + 1, 3i + 2; from the end of pass 1
  std::vector<std::pair<uint32_t, uint64_t>> runs_;  // scratch: a set's (top bucket, count) runs
  size_t passes_ = 0;  // completed
  size_t held_ = 0, max_held_ = 0;
  Status status_ = Status::Ok();
};

}  // namespace obsmon
