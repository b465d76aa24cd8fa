// Exact latency percentiles by the nearest-rank method: the p-th percentile of n values is the
// value of rank ceil(p/100 x n) (1-based) in ascending order, so it is always a measured value.
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace obsmon {

// Summary of a set of durations, in seconds. All fields but count are meaningless when
// count == 0 (renderers show "n/a", JSON null).
struct LatencySummary {
  uint64_t count = 0;
  double min_seconds = 0;
  double max_seconds = 0;
  double mean_seconds = 0;
  double p50_seconds = 0;
  double p95_seconds = 0;
  double p99_seconds = 0;
};

// 1-based nearest rank of the `permille`-th per-mille percentile among n values (n >= 1):
// ceil(permille x n / 1000), at least 1. Integer arithmetic, so p95 of 20 values is rank 19.
uint64_t NearestRank(uint64_t n, uint32_t permille);

// Summarizes `values`, free of NaN (sorted in place).
LatencySummary SummarizeLatency(std::span<double> values);

// Summarizes the union of `sets`, each ascending and free of NaN, without merging them: the
// percentiles are the nearest-rank values of their concatenation (an exact selection by binary
// search over the doubles' order, O(k log n) per step for k sets). The sets must all be held;
// a report streams its hours instead (report/latency_selection.h, the same figures bit for bit).
// The mean is a compensated sum over count (nearly always the correctly rounded mean, whatever
// the grouping).
LatencySummary SummarizeSortedSets(std::span<const std::span<const double>> sets);

}  // namespace obsmon
