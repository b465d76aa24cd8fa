// Alerts as the rule manager keeps them and as they are persisted: plain records and the
// persistence interface, in core/ so that storage implements AlertStateStore without depending
// on alerts/ (alerts/alert.h has what only alerts/ uses: what is sent and to whom).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/labels.h"
#include "core/status.h"

namespace obsmon {

enum class AlertState { kInactive, kPending, kFiring };
const char* AlertStateName(AlertState s);  // "inactive", "pending", "firing"

// One alert instance of an alerting rule (one label set). Times are ms since the epoch; 0 = unset.
struct Alert {
  std::string group_key;  // RuleGroupSpec::Key()
  std::string rule;       // the alert name
  Labels labels;          // final labels, including alertname
  Labels annotations;
  AlertState state = AlertState::kInactive;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;
  int64_t last_sent_at_ms = 0;
  int64_t valid_until_ms = 0;
  int64_t keep_firing_since_ms = 0;
  // Why its notifications are held back ("maintenance #3 of carbon: DB upgrade"), empty when
  // they are not: Alertmanager's "suppressed" (docs/alerts.md). Set at every evaluation from
  // the rule manager's suppressor; not persisted.
  std::string suppressed_by;
};

// One entry of the alert history: a firing started or ended.
struct AlertHistoryEvent {
  std::string group_key;
  std::string rule;
  Labels labels;
  Labels annotations;
  std::string event;  // "firing" or "resolved"
  // The component the alert was of when this happened (core/alert_component.h), "" for none;
  // nullopt when not known (a rule runner without components): stored NULL, and a report then
  // tells it by its own config.
  std::optional<std::string> component;
  int64_t ts_ms = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  double value = 0;
};

// A series of a probe that the rules' head ended (a stale marker: the probe's run lacked it, or a
// reload removed the probe), kept so that a restart's read-back ends it again instead of
// bringing it back to life for the 5-minute lookback, as Prometheus replays its markers.
struct SeriesEnd {
  Labels labels;  // __name__ included
  int64_t ts_ms = 0;
};

// Persistence of pending and firing alerts, so that a restart neither resets a `for` timer nor
// re-pages nor forgets a firing alert. Called from the rule evaluation thread only.
class AlertStateStore {
 public:
  virtual ~AlertStateStore() = default;
  // Every persisted alert of every rule.
  virtual Result<std::vector<Alert>> LoadAlerts() = 0;
  // Replaces the persisted alerts of (group_key, rule) with `alerts` (pending, firing, or
  // resolved-but-still-reported ones).
  virtual Status SaveAlerts(const std::string& group_key, const std::string& rule,
                            const std::vector<Alert>& alerts) = 0;
  virtual Status AppendHistory(const std::vector<AlertHistoryEvent>& events) = 0;
  // History events with from_ms <= ts_ms < to_ms, oldest first (for the report).
  virtual Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) = 0;
  // Series ends (stores without them keep none: the default).
  virtual Status SaveSeriesEnds(const std::vector<SeriesEnd>& ends) { return Status::Ok(); }
  // The ends with from_ms <= ts_ms <= to_ms, oldest first.
  virtual Result<std::vector<SeriesEnd>> SeriesEnds(int64_t from_ms, int64_t to_ms) {
    return std::vector<SeriesEnd>{};
  }
};

}  // namespace obsmon
