// Alerts as the rule manager keeps them, and the interfaces through which they leave alerts/:
// AlertStateStore (persistence, implemented in storage/alert_store) and AlertSender (delivery,
// implemented by the Outbox).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/labels.h"
#include "core/status.h"

namespace obsmon::alerts {

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
};

// One entry of the alert history: a firing started or ended.
struct AlertHistoryEvent {
  std::string group_key;
  std::string rule;
  Labels labels;
  Labels annotations;
  std::string event;  // "firing" or "resolved"
  int64_t ts_ms = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  double value = 0;
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
};

// One alert as it is sent to Alertmanager (its API v2 model).
struct OutgoingAlert {
  Labels labels;
  Labels annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // in the future while firing (valid-until), the resolve time after
  std::string generator_url;
  bool resolved = false;
  // When this send was decided (an evaluation time) and when this alert was last sent before
  // it (0: never). Receivers that want state changes rather than every resend (webhooks) decide
  // from these; last sends are persisted, so a restart is not a state change.
  int64_t sent_at_ms = 0;
  int64_t previously_sent_at_ms = 0;
};

// Receives what the rule manager decided to send after each group evaluation. Must not block
// for long (the outbox only persists).
class AlertSender {
 public:
  virtual ~AlertSender() = default;
  virtual void Send(const std::vector<OutgoingAlert>& alerts) = 0;
};

}  // namespace obsmon::alerts
