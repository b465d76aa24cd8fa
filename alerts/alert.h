// What leaves alerts/ after an evaluation: the alerts to send (OutgoingAlert) and the interface
// that takes them (AlertSender, implemented by the Outbox). The alerts themselves and their
// persistence are in core/alert_records.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/alert_records.h"
#include "core/labels.h"

namespace obsmon::alerts {

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

// Whether an alert's notifications are held back at ts_ms, and why: "" to notify, else the
// reason (in the daemon, a maintenance window of the alert's component). Alertmanager's
// silences and inhibitions, decided before sending (docs/alerts.md, "Suppressed during
// maintenance"). Called on the rule evaluation thread; must be quick and must not block.
using Suppressor = std::function<std::string(const Labels& labels, int64_t ts_ms)>;

// Receives what the rule manager decided to send after each group evaluation. Must not block
// for long (the outbox only persists).
class AlertSender {
 public:
  virtual ~AlertSender() = default;
  virtual void Send(const std::vector<OutgoingAlert>& alerts) = 0;
};

}  // namespace obsmon::alerts
