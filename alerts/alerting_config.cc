#include "alerts/alerting_config.h"

#include "core/bounded_read.h"
#include "core/byte_size.h"

namespace obsmon::alerts {

namespace {

// A credentials file is read when a notification is sent, so it may not exist yet; but one that
// is a device, a FIFO or too large (`/dev/zero`) is refused here, at once, where it is named.
void CheckSecretFile(ConfigNode& n, const std::string& key, const std::string& path) {
  if (path.empty()) return;
  auto text = ReadRegularFile(path, 4096);
  if (!text.ok() && !text.status().IsNotFound()) {
    n.ErrorAt(key, "cannot read " + key + " " + text.status().message());
  }
}

bool ValidUrl(const std::string& url) {
  return (url.rfind("http://", 0) == 0 && url.size() > 7) ||
         (url.rfind("https://", 0) == 0 && url.size() > 8);
}

void ParseReceiver(ConfigNode& n, ReceiverConfig::Kind kind, size_t index, ReceiverConfig* r) {
  r->kind = kind;
  const bool am = kind == ReceiverConfig::Kind::kAlertmanager;
  r->name = n.String("name").value_or(am ? "alertmanager[" + std::to_string(index) + "]"
                                         : "webhook[" + std::to_string(index) + "]");
  if (auto url = n.String("url", true)) {
    r->url = *url;
    if (!ValidUrl(*url)) n.ErrorAt("url", "url must start with http:// or https://");
  }
  // At most 20s: a send in flight is waited for at shutdown, which must end well within
  // systemd's TimeoutStopSec (30s in deploy/obsmon.service). Prometheus's default is 10s.
  if (auto t = n.DurationInRange("timeout", 1, 20'000)) r->timeout_ms = *t;
  if (!am) {
    if (auto v = n.DurationInRange("repeat_interval", 1000, 30LL * 86'400'000)) {
      r->repeat_interval_ms = *v;
    }
  }
  r->bearer_token_file = n.String("bearer_token_file").value_or("");
  CheckSecretFile(n, "bearer_token_file", r->bearer_token_file);
  r->bearer_token_env = n.String("bearer_token_env").value_or("");
  if (auto ba = n.Map("basic_auth")) {
    r->basic_username = ba->String("username", true).value_or("");
    r->basic_password_file = ba->String("password_file").value_or("");
    CheckSecretFile(*ba, "password_file", r->basic_password_file);
    r->basic_password_env = ba->String("password_env").value_or("");
    if (r->basic_password_file.empty() == r->basic_password_env.empty()) {
      ba->Error("basic_auth needs exactly one of password_file or password_env");
    }
    ba->CheckUnknownKeys();
  }
  if (!r->bearer_token_file.empty() && !r->bearer_token_env.empty()) {
    n.Error("at most one of bearer_token_file and bearer_token_env");
  }
  if ((!r->bearer_token_file.empty() || !r->bearer_token_env.empty()) &&
      !r->basic_username.empty()) {
    n.Error("at most one of bearer token and basic_auth");
  }
  n.CheckUnknownKeys();
}

}  // namespace

Result<AlertingConfig> ParseAlertingConfig(ConfigNode& node) {
  const size_t before = node.errors()->errors().size();
  AlertingConfig c;
  if (auto v = node.DurationInRange("evaluation_interval", 1000, 3'600'000)) {
    c.evaluation_interval_ms = *v;
  }
  if (auto v = node.DurationInRange("resend_delay", 1000, 86'400'000)) c.resend_delay_ms = *v;
  if (auto v = node.String("external_url")) c.external_url = *v;
  if (auto v = node.Bool("slo_alerts")) c.slo_alerts = *v;
  if (auto m = node.StringMap("external_labels")) {
    for (const auto& [k, v] : *m) c.external_labels.Set(k, v);
  }
  std::vector<std::string> names;
  if (auto list = node.MapList("alertmanagers")) {
    for (size_t i = 0; i < list->size(); ++i) {
      ReceiverConfig r;
      ParseReceiver((*list)[i], ReceiverConfig::Kind::kAlertmanager, i, &r);
      c.receivers.push_back(std::move(r));
    }
  }
  if (auto list = node.MapList("webhooks")) {
    for (size_t i = 0; i < list->size(); ++i) {
      ReceiverConfig r;
      ParseReceiver((*list)[i], ReceiverConfig::Kind::kWebhook, i, &r);
      c.receivers.push_back(std::move(r));
    }
  }
  for (size_t i = 0; i < c.receivers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.receivers[i].name == c.receivers[j].name) {
        node.Error("receiver name '" + c.receivers[i].name + "' is used twice");
      }
    }
  }
  if (auto o = node.Map("outbox")) {
    c.outbox_max_age_ms =
        o->DurationInRange("max_age", 60'000, 30LL * 86'400'000).value_or(c.outbox_max_age_ms);
    c.backoff_initial_ms =
        o->DurationInRange("backoff_initial", 1, 3'600'000).value_or(c.backoff_initial_ms);
    c.backoff_max_ms = o->DurationInRange("backoff_max", 1, 86'400'000).value_or(c.backoff_max_ms);
    if (c.backoff_initial_ms <= 0 || c.backoff_max_ms < c.backoff_initial_ms) {
      o->Error("need 0 < backoff_initial <= backoff_max");
    }
    o->CheckUnknownKeys();
  }
  if (auto h = node.Map("head")) {
    if (auto v = h->Int("max_series")) {
      if (*v < 1 || *v > 10'000'000) {
        h->ErrorAt("max_series", "max_series must be between 1 and 10000000, got " +
                                     std::to_string(*v));
      } else {
        c.head_max_series = static_cast<size_t>(*v);
      }
    }
    if (auto v = ByteSizeInRange(*h, "max_point_bytes", int64_t{1} << 20, int64_t{1} << 40)) {
      c.head_max_point_bytes = *v;
    }
    h->CheckUnknownKeys();
  }
  node.CheckUnknownKeys();
  if (node.errors()->errors().size() != before) {
    return Status::InvalidArgument("invalid alerting section");
  }
  return c;
}

}  // namespace obsmon::alerts
