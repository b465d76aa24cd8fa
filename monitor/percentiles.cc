#include "monitor/percentiles.h"

#include <algorithm>
#include <numeric>

namespace obsmon {

uint64_t NearestRank(uint64_t n, uint32_t permille) {
  uint64_t rank = (static_cast<uint64_t>(permille) * n + 999) / 1000;
  return std::clamp<uint64_t>(rank, 1, n);
}

LatencySummary SummarizeLatency(std::vector<double>& values) {
  LatencySummary s;
  s.count = values.size();
  if (values.empty()) return s;
  const auto [min_it, max_it] = std::minmax_element(values.begin(), values.end());
  s.min_seconds = *min_it;
  s.max_seconds = *max_it;
  s.mean_seconds = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  // Highest rank first: each nth_element leaves the lower ranks in front of it, so the next
  // selection only needs that prefix.
  const size_t i99 = NearestRank(s.count, 990) - 1;
  const size_t i95 = NearestRank(s.count, 950) - 1;
  const size_t i50 = NearestRank(s.count, 500) - 1;
  std::nth_element(values.begin(), values.begin() + i99, values.end());
  s.p99_seconds = values[i99];
  std::nth_element(values.begin(), values.begin() + i95, values.begin() + i99 + 1);
  s.p95_seconds = values[i95];
  std::nth_element(values.begin(), values.begin() + i50, values.begin() + i95 + 1);
  s.p50_seconds = values[i50];
  return s;
}

}  // namespace obsmon
