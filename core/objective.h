// What a component must show over its observation window: the config declares it per component
// (config/config.h), a period may override it (report/periods.h), the report judges by it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace obsmon {

// What a component must show over its observation window.
struct Objective {
  double uptime_percent = 99.5;
  int64_t window_ms = 7LL * 86'400'000;
  // Below this share of the window known (up or down), a verdict is INSUFFICIENT DATA.
  double min_coverage_percent = 99.0;
  // Optional latency SLA on successful health probes, p95 in milliseconds.
  std::optional<double> latency_p95_ms;
  // The health probes the latency SLA (and the per-day latency, the hourly chart and the
  // no-degradation check) are about; each must meet the SLA on its own. The config loader sets it:
  // `latency_probes:` when given, else the component's http health probes. Empty: every health
  // probe, pooled (a component without an http health probe, or an objective built in code).
  std::vector<std::string> latency_probes;
};

}  // namespace obsmon
