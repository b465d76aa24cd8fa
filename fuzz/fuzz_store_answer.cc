// The query API's answer as a Prometheus-compatible store sends it (`obsmon report --source`):
// ParseMatrixAnswer must return a value or a Status, never crash, hang or hold unbounded memory.
// What parses must be a matrix whose every point is finite and within the sample bound.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "source/query_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = obsmon::source::ParseMatrixAnswer(body, 10'000);
  if (!parsed.ok()) return 0;
  size_t points = 0;
  for (const auto& s : parsed->series) {
    for (const auto& [ts, v] : s.points) {
      if (!std::isfinite(v)) std::abort();
      ++points;
    }
  }
  if (points > 10'000) std::abort();
  return 0;
}
