// Where alerts go: one Notifier per configured Alertmanager or webhook. A notifier renders a
// batch of alerts into its HTTP body (stored in the outbox) and later delivers a body. The
// outbox owns retries; a notifier makes exactly one attempt per Deliver().
#pragma once

#include <string>
#include <vector>

#include "alerts/alert.h"
#include "core/status.h"

namespace obsmon::alerts {

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Unique among the configured notifiers; names outbox rows ("alertmanager[0]", "webhook:ops").
  virtual const std::string& name() const = 0;
  // Zero or more bodies for `alerts` (a webhook sends one message per alert name).
  virtual std::vector<std::string> Render(const std::vector<OutgoingAlert>& alerts) const = 0;
  // One delivery attempt. Unavailable for network trouble and 5xx/429 (retried), InvalidArgument
  // for other 4xx (retried too: the receiver may be misconfigured for a while). Thread-safe.
  virtual Status Deliver(const std::string& body) = 0;
  // How long the outbox keeps retrying this notifier's rows; 0: the outbox's max_age (24 h by
  // default, right for alerts, too short for a daily digest comment behind a long outage).
  virtual int64_t max_age_ms() const { return 0; }
};

}  // namespace obsmon::alerts
