// The JSON of /api/v1/periods and /api/v1/maintenance (docs/operations.md, "Managing periods and
// maintenance over HTTP"): request bodies read into the actions' arguments (strictly: an unknown
// field, a wrong type or a missing required field is refused, naming the field), and records
// written out and read back (the CLI reads what the daemon answers and prints it as it prints
// its own results).
#pragma once

#include <nlohmann/json.hpp>

#include "cmd/obsmon/period_actions.h"
#include "core/period_records.h"
#include "core/status.h"

namespace obsmon {

// Fields: component (required), days, objective, min_coverage, degradation_tolerance (numbers),
// latency_p95, start, note (strings).
Result<ObserveStartArgs> StartArgsFromJson(const nlohmann::json& body);
// Field: component (required).
Result<std::string> StopComponentFromJson(const nlohmann::json& body);
// Fields (strings): component and reason (required), from, to, weekly, daily, duration, timezone,
// until.
Result<MaintenanceAddArgs> AddArgsFromJson(const nlohmann::json& body);
// Fields (strings, each optional): from, to, until, weekly, daily, duration, timezone, reason.
Result<MaintenanceEditArgs> EditArgsFromJson(int64_t id, const nlohmann::json& body);

// The arguments as a request body (what the CLI sends): the inverse of the readers above.
nlohmann::json StartArgsToJson(const ObserveStartArgs& args);
nlohmann::json AddArgsToJson(const MaintenanceAddArgs& args);
nlohmann::json EditArgsToJson(const MaintenanceEditArgs& args);

// Records: times both as RFC 3339 (for people) and as Unix milliseconds (exact, for programs).
nlohmann::json PeriodToJson(const PeriodRecord& period, TimestampMs now_ms);
nlohmann::json WindowToJson(const MaintenanceRecord& window);
Result<PeriodRecord> PeriodFromJson(const nlohmann::json& json);
Result<MaintenanceRecord> WindowFromJson(const nlohmann::json& json);

}  // namespace obsmon
