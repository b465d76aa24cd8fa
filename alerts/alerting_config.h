// The `alerting:` section of obsmon's configuration:
//
//   alerting:
//     evaluation_interval: 1m        # groups without their own `interval`
//     resend_delay: 1m               # resend firing alerts this often
//     external_url: http://obsmon.example:9950   # generatorURL base and $externalURL
//     external_labels: {site: lab}   # added to every sent alert; $externalLabels
//     alertmanagers:
//       - url: http://127.0.0.1:9093           # POST {url}/api/v2/alerts
//         timeout: 10s
//         bearer_token_file: /etc/obsmon/am.token   # or bearer_token_env: AM_TOKEN
//     webhooks:
//       - name: ops                             # the payload's `receiver`
//         url: https://hooks.example/alerts     # POSTed as is
//         basic_auth: {username: obsmon, password_file: /etc/obsmon/hook.pw}  # or password_env
//     outbox:
//       max_age: 24h                 # undelivered rows older than this are dropped (counted)
//       backoff_initial: 1s
//       backoff_max: 5m
//     head:                          # the in-memory head the rules read (series_store.h)
//       max_series: 200000           # new series beyond it are refused (counted)
//       max_point_bytes: 256MiB      # history beyond it: the oldest points go first (counted)
//
// Secrets are read from their file or environment variable at each delivery (so rotation works)
// and are never logged or stored in the outbox.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/labels.h"
#include "core/status.h"

namespace obsmon::alerts {

struct ReceiverConfig {
  enum class Kind { kAlertmanager, kWebhook };
  Kind kind = Kind::kAlertmanager;
  std::string name;
  std::string url;
  int64_t timeout_ms = 10'000;
  std::string bearer_token_file;
  std::string bearer_token_env;
  std::string basic_username;
  std::string basic_password_file;
  std::string basic_password_env;
  // Webhooks: a firing alert is sent when it fires, then again every repeat_interval (as
  // Alertmanager's route setting of that name, default 4h), and once when it resolves; not at
  // every resend_delay, which is Alertmanager's to absorb.
  int64_t repeat_interval_ms = 4 * 3'600'000LL;
};

struct AlertingConfig {
  int64_t evaluation_interval_ms = 60'000;
  int64_t resend_delay_ms = 60'000;
  std::string external_url = "http://localhost:9950";
  Labels external_labels;
  std::vector<ReceiverConfig> receivers;  // alertmanagers first, then webhooks
  int64_t outbox_max_age_ms = 24 * 3'600'000LL;
  int64_t backoff_initial_ms = 1'000;
  int64_t backoff_max_ms = 300'000;
  // The burn-rate alerts generated from each component's objective (`slo_alerts: false` keeps
  // their recording rules and drops the alerts).
  bool slo_alerts = true;
  // The rules' in-memory head: how many series it holds, and how many bytes their points may
  // take before the oldest go (as Prometheus's `storage.tsdb.retention.size` drops the oldest
  // blocks). Each series' last 6 minutes are kept whatever the bytes (docs/alerts.md).
  size_t head_max_series = 200'000;
  int64_t head_max_point_bytes = int64_t{256} << 20;
};

// Reads the `alerting:` mapping. Every problem goes to node.errors() with its position; returns
// InvalidArgument when there was any. Unknown keys are refused.
Result<AlertingConfig> ParseAlertingConfig(ConfigNode& node);

}  // namespace obsmon::alerts
