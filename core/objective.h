// What a component must show over its observation window: the config declares it per component
// (config/config.h), a period may override it (report/periods.h), the report judges by it.
#pragma once

#include <cstdint>
#include <optional>

namespace obsmon {

// What a component must show over its observation window.
struct Objective {
  double uptime_percent = 99.5;
  int64_t window_ms = 7LL * 86'400'000;
  // Below this share of the window known (up or down), a verdict is INSUFFICIENT DATA.
  double min_coverage_percent = 99.0;
  // Optional latency SLA on successful health probes, p95 in milliseconds.
  std::optional<double> latency_p95_ms;
};

}  // namespace obsmon
