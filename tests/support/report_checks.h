// Test support: the objective most report tests use and a look-up in a report's verdict reasons.
// Header-only; link obsmon::report.
#pragma once

#include <optional>
#include <string>

#include "report/report.h"

namespace obsmon::testing {

// The guide's objective: 99.5 % over 7 days, 99 % coverage, and an optional p95 SLA.
inline Objective SevenDays(std::optional<double> latency_p95_ms = std::nullopt) {
  Objective o;
  o.uptime_percent = 99.5;
  o.window_ms = 7LL * 86'400'000;
  o.min_coverage_percent = 99.0;
  o.latency_p95_ms = latency_p95_ms;
  return o;
}

// True when one of the verdict's reasons contains `text`.
inline bool HasReason(const Report& r, const std::string& text) {
  for (const auto& reason : r.verdict_reasons) {
    if (reason.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace obsmon::testing
