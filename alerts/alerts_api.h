// JSON for GET /api/v1/alerts, in Prometheus's shape, so existing tools can read it:
//   {"status":"success","data":{"alerts":[{"labels":{...},"annotations":{...},
//     "state":"firing","activeAt":"2026-10-14T00:02:00.000Z","value":"0"}]}}
// and for the report's alert history. An alert whose notifications are held back (maintenance)
// also has "suppressed":true and "suppressedBy":["maintenance #3 of carbon: DB upgrade"]. The lead's HTTP server serves the strings as is.
#pragma once

#include <string>
#include <vector>

#include "alerts/alert.h"

namespace obsmon::alerts {

// `alerts` as returned by RuleManager::ActiveAlerts().
std::string ActiveAlertsJson(const std::vector<Alert>& alerts);

// {"events":[{"ts":"...","event":"firing","rule":"...","labels":{...},"activeAt":"...",
//   "firedAt":"...","value":"..."}]}
std::string AlertHistoryJson(const std::vector<AlertHistoryEvent>& events);

}  // namespace obsmon::alerts
