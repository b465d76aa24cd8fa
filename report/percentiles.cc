#include "report/percentiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "report/compensated_sum.h"
#include "report/double_order.h"

namespace obsmon {

uint64_t NearestRank(uint64_t n, uint32_t permille) {
  uint64_t rank = (static_cast<uint64_t>(permille) * n + 999) / 1000;
  return std::clamp<uint64_t>(rank, 1, n);
}

LatencySummary SummarizeLatency(std::span<double> values) {
  // Reports summarize sorted hourly sets; a loose set of values is one sorted set.
  std::sort(values.begin(), values.end());
  const std::span<const double> sorted(values);
  return SummarizeSortedSets(std::span<const std::span<const double>>(&sorted, 1));
}

namespace {

// How many values of all sets are <= v.
uint64_t CountAtMost(std::span<const std::span<const double>> sets, double v) {
  uint64_t n = 0;
  for (const auto& s : sets) n += std::upper_bound(s.begin(), s.end(), v) - s.begin();
  return n;
}

// The rank-th smallest value (1-based) of the union: the least v with CountAtMost(v) >= rank,
// searched over the order keys between the smallest and the largest value. The answer is always
// one of the values, since CountAtMost only changes at values.
double Select(std::span<const std::span<const double>> sets, uint64_t rank, double lo_value,
              double hi_value) {
  uint64_t lo = OrderKey(lo_value), hi = OrderKey(hi_value);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (CountAtMost(sets, FromOrderKey(mid)) >= rank) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return FromOrderKey(lo);
}

}  // namespace

LatencySummary SummarizeSortedSets(std::span<const std::span<const double>> sets) {
  LatencySummary s;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  CompensatedSum sum;
  const std::span<const double>* only = nullptr;
  for (const auto& set : sets) {
    if (set.empty()) continue;
    only = s.count == 0 ? &set : nullptr;
    s.count += set.size();
    lo = std::min(lo, set.front());
    hi = std::max(hi, set.back());
    for (double v : set) sum.Add(v);
  }
  if (s.count == 0) return s;
  s.min_seconds = lo;
  s.max_seconds = hi;
  s.mean_seconds = sum.value() / static_cast<double>(s.count);
  auto at_rank = [&](uint32_t permille) {
    const uint64_t rank = NearestRank(s.count, permille);
    if (only != nullptr) return (*only)[rank - 1];  // one non-empty set: index it
    return Select(sets, rank, lo, hi);
  };
  s.p50_seconds = at_rank(500);
  s.p95_seconds = at_rank(950);
  s.p99_seconds = at_rank(990);
  return s;
}

}  // namespace obsmon
