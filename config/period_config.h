// Observation periods and maintenance windows declared in the config, next to a component.
// Parsing only (no storage): part of the config library so that the config loader can call it;
// runtime/period_declarations.h stores the declarations (ApplyDeclarations). Not thread-safe (config loading).
#pragma once

#include <string>
#include <vector>

#include "core/config_node.h"
#include "config/config.h"
#include "core/period_records.h"

namespace obsmon {

// Periods and maintenance windows declared in a component's config:
//
//   observation:                # a mapping, or a list of them
//     start: 2025-10-14T00:00:00Z
//     days: 7                   # default 7
//     objective: 99.5           # default: the component's objective
//     min_coverage: 99          # default: the component's
//     latency_p95: 250ms        # default: the component's SLA, if any
//     degradation_tolerance: 0.25
//     timezone: Europe/Berlin   # days are this zone's calendar days; default 24 h from start
//   maintenance:
//     - {from: 2025-10-16T02:00:00Z, to: 2025-10-16T03:00:00Z, reason: "DB upgrade"}
//     - {weekly: "sun 02:00", duration: 2h, timezone: Europe/Berlin, reason: "backups"}
//       # recurring (or daily: "02:00"); optional from / until bound when occurrences start
//
// A window (each occurrence of a recurring one) may be no longer than the component's declared
// observation period, else kMaxMaintenanceWithoutPeriodMs (31 days); an error names the key.
struct PeriodDeclarations {
  std::vector<PeriodRecord> periods;
  std::vector<MaintenanceRecord> maintenance;
};
// Reads the `observation` and `maintenance` keys of a component mapping (marking them used, so
// CheckUnknownKeys accepts them); errors go to the node's ConfigErrors with their positions.
PeriodDeclarations ParsePeriodDeclarations(ConfigNode& component, const std::string& name,
                                           const Objective& objective);

}  // namespace obsmon
