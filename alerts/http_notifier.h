// Notifiers over HTTP (httplib's client only): Alertmanager's API v2 and Alertmanager-format
// webhooks. Credentials are read from their file / environment variable at each delivery and
// never appear in errors or logs. Thread-safe (each Deliver uses its own client).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "alerts/alerting_config.h"
#include "alerts/notifier.h"

namespace obsmon::alerts {

// POST {url}/api/v2/alerts with a JSON array of {labels, annotations, startsAt, endsAt,
// generatorURL}.
class AlertmanagerNotifier final : public Notifier {
 public:
  explicit AlertmanagerNotifier(ReceiverConfig config);
  const std::string& name() const override { return config_.name; }
  std::vector<std::string> Render(const std::vector<OutgoingAlert>& alerts) const override;
  Status Deliver(const std::string& body) override;

 private:
  ReceiverConfig config_;
};

// POST {url} with Alertmanager's webhook payload (version "4"), one message per alert name.
class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(ReceiverConfig config, std::string external_url);
  const std::string& name() const override { return config_.name; }
  std::vector<std::string> Render(const std::vector<OutgoingAlert>& alerts) const override;
  Status Deliver(const std::string& body) override;

 private:
  ReceiverConfig config_;
  std::string external_url_;
};

// Builds the notifiers of `config` (alertmanagers, then webhooks).
std::vector<std::unique_ptr<Notifier>> MakeNotifiers(const AlertingConfig& config);

// RFC 3339 UTC with milliseconds ("2026-10-14T00:00:00.000Z"); 0 gives Go's zero time
// ("0001-01-01T00:00:00Z"), which Alertmanager reads as unset.
std::string Rfc3339(int64_t ms);

}  // namespace obsmon::alerts
