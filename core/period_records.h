// Observation periods and maintenance windows as stored: plain records the config declares,
// storage keeps (storage/period_store.h) and the report reads (report/periods.h gives them
// behaviour).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"

namespace obsmon {

// One observation period as stored. Plain data; report/periods.h gives it behaviour.
struct PeriodRecord {
  int64_t id = 0;  // assigned by the store
  std::string component;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;           // planned end (start + days)
  TimestampMs stopped_ms = 0;       // 0 unless stopped early (`obsmon observe stop`)
  double objective_percent = 99.5;  // uptime objective, percent
  double min_coverage_percent = 99.0;
  std::optional<double> latency_p95_ms;  // SLA on p95 of successful health runs, if any
  double degradation_tolerance = 0.25;   // last-day p95 may exceed first-day p95 by this ratio
  std::string source = "cli";            // "cli" | "config"
  TimestampMs created_ms = 0;
  std::string note;
};

// One maintenance window as stored: excluded from uptime, listed in reports.
struct MaintenanceRecord {
  int64_t id = 0;
  std::string component;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  std::string reason;
  std::string source = "cli";  // "cli" | "config"
  TimestampMs created_ms = 0;
};

}  // namespace obsmon
