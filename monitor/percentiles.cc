#include "monitor/percentiles.h"

#include <algorithm>

namespace obsmon {

uint64_t NearestRank(uint64_t n, uint32_t permille) {
  uint64_t rank = (static_cast<uint64_t>(permille) * n + 999) / 1000;
  return std::clamp<uint64_t>(rank, 1, n);
}

LatencySummary SummarizeLatency(std::span<double> values) {
  LatencySummary s;
  s.count = values.size();
  if (values.empty()) return s;
  double lo = values.front(), hi = values.front(), sum = 0;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  s.min_seconds = lo;
  s.max_seconds = hi;
  s.mean_seconds = sum / static_cast<double>(values.size());
  // Lowest rank first: after each nth_element everything behind the selected position is >= it,
  // so the next (higher) rank is selected in that suffix only (about 1.55 n steps in all).
  const size_t i50 = NearestRank(s.count, 500) - 1;
  const size_t i95 = NearestRank(s.count, 950) - 1;
  const size_t i99 = NearestRank(s.count, 990) - 1;
  auto b = values.begin();
  std::nth_element(b, b + i50, values.end());
  if (i95 > i50) std::nth_element(b + i50 + 1, b + i95, values.end());
  if (i99 > i95) std::nth_element(b + i95 + 1, b + i99, values.end());
  s.p50_seconds = values[i50];
  s.p95_seconds = values[i95];
  s.p99_seconds = values[i99];
  return s;
}

}  // namespace obsmon
