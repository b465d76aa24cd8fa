#include "alerts/http_notifier.h"

#include <httplib.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "core/bounded_read.h"
#include "core/header_secret.h"

namespace obsmon::alerts {

namespace {

using nlohmann::json;

json LabelsJson(const Labels& l) {
  json j = json::object();
  for (const auto& [n, v] : l.pairs()) j[n] = v;
  return j;
}


// A secret from its file (bounded: `/dev/zero` or a FIFO is an error, not a hang) or variable.
Result<std::string> ReadSecret(const std::string& file, const std::string& env) {
  if (!file.empty()) {
    return ReadHeaderSecretFile(file);  // never a newline inside: it would be a header of its own
  }
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    return std::string(v ? v : "");
  }
  return std::string();
}

// Splits "http://host:port/base" into ("http://host:port", "/base").
void SplitUrl(const std::string& url, std::string* origin, std::string* path) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) {
    *origin = url;
    *path = "";
  } else {
    *origin = url.substr(0, slash);
    *path = url.substr(slash);
  }
}

Status Post(const ReceiverConfig& c, const std::string& url, const std::string& body) {
  std::string origin, path;
  SplitUrl(url, &origin, &path);
  if (path.empty()) path = "/";
  httplib::Client cli(origin);
  if (!cli.is_valid()) return Status::InvalidArgument(c.name + ": invalid url");
  const auto timeout = std::chrono::milliseconds(c.timeout_ms);
  cli.set_connection_timeout(timeout);
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  httplib::Headers headers;
  auto token = ReadSecret(c.bearer_token_file, c.bearer_token_env);
  if (!token.ok()) return Status::Unavailable(c.name + ": bearer token: " + token.status().message());
  if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);
  if (!c.basic_username.empty()) {
    auto password = ReadSecret(c.basic_password_file, c.basic_password_env);
    if (!password.ok()) {
      return Status::Unavailable(c.name + ": basic_auth password: " + password.status().message());
    }
    cli.set_basic_auth(c.basic_username, *password);
  }
  auto res = cli.Post(path, headers, body, "application/json");
  if (!res) {
    return Status::Unavailable(c.name + ": " + httplib::to_string(res.error()));
  }
  if (res->status >= 200 && res->status < 300) return Status::Ok();
  // The body may echo a request; keep only its start and never the headers.
  std::string msg = c.name + ": status " + std::to_string(res->status);
  if (res->status >= 500 || res->status == 429) return Status::Unavailable(msg);
  return Status::InvalidArgument(msg + ": " + res->body.substr(0, 200));
}

std::string Fingerprint(const Labels& l) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const auto& [n, v] : l.pairs()) {
    mix(n);
    mix(v);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string Rfc3339(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

AlertmanagerNotifier::AlertmanagerNotifier(ReceiverConfig config) : config_(std::move(config)) {}

std::vector<std::string> AlertmanagerNotifier::Render(
    const std::vector<OutgoingAlert>& alerts) const {
  if (alerts.empty()) return {};
  json arr = json::array();
  for (const auto& a : alerts) {
    arr.push_back({{"labels", LabelsJson(a.labels)},
                   {"annotations", LabelsJson(a.annotations)},
                   {"startsAt", Rfc3339(a.starts_at_ms)},
                   {"endsAt", Rfc3339(a.ends_at_ms)},
                   {"generatorURL", a.generator_url}});
  }
  return {arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

Status AlertmanagerNotifier::Deliver(const std::string& body) {
  std::string url = config_.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return Post(config_, url + "/api/v2/alerts", body);
}

WebhookNotifier::WebhookNotifier(ReceiverConfig config, std::string external_url)
    : config_(std::move(config)), external_url_(std::move(external_url)) {}

namespace {

// Whether a webhook hears of this send: a state change (the first send of a firing, or of its
// resolution) or a repeat_interval boundary since it fired; the resends in between are for
// Alertmanager (which deduplicates them), and a plain webhook would page at each of them.
bool WebhookWants(const OutgoingAlert& a, int64_t repeat_interval_ms) {
  if (a.resolved) return a.previously_sent_at_ms < a.ends_at_ms;
  if (a.previously_sent_at_ms < a.starts_at_ms) return true;
  const int64_t since_prev = a.previously_sent_at_ms - a.starts_at_ms;
  const int64_t since_now = a.sent_at_ms - a.starts_at_ms;
  return since_now / repeat_interval_ms > since_prev / repeat_interval_ms;
}

}  // namespace

std::vector<std::string> WebhookNotifier::Render(const std::vector<OutgoingAlert>& alerts) const {
  // One message per alert name, like an Alertmanager route grouped by alertname.
  std::map<std::string, std::vector<const OutgoingAlert*>> groups;
  for (const auto& a : alerts) {
    if (WebhookWants(a, config_.repeat_interval_ms)) groups[a.labels.Get("alertname")].push_back(&a);
  }
  std::vector<std::string> out;
  for (const auto& [name, members] : groups) {
    bool any_firing = false;
    json list = json::array();
    Labels common = members[0]->labels;
    Labels common_ann = members[0]->annotations;
    for (const auto* a : members) {
      if (!a->resolved) any_firing = true;
      list.push_back({{"status", a->resolved ? "resolved" : "firing"},
                      {"labels", LabelsJson(a->labels)},
                      {"annotations", LabelsJson(a->annotations)},
                      {"startsAt", Rfc3339(a->starts_at_ms)},
                      {"endsAt", a->resolved ? Rfc3339(a->ends_at_ms) : Rfc3339(0)},
                      {"generatorURL", a->generator_url},
                      {"fingerprint", Fingerprint(a->labels)}});
      const Labels common_before = common;
      for (const auto& [n, v] : common_before.pairs()) {
        if (a->labels.Get(n) != v) common.Remove(n);
      }
      const Labels common_ann_before = common_ann;
      for (const auto& [n, v] : common_ann_before.pairs()) {
        if (a->annotations.Get(n) != v) common_ann.Remove(n);
      }
    }
    Labels group_labels{{"alertname", name}};
    json msg = {{"version", "4"},
                {"groupKey", "{}:" + group_labels.ToString()},
                {"truncatedAlerts", 0},
                {"status", any_firing ? "firing" : "resolved"},
                {"receiver", config_.name},
                {"groupLabels", LabelsJson(group_labels)},
                {"commonLabels", LabelsJson(common)},
                {"commonAnnotations", LabelsJson(common_ann)},
                {"externalURL", external_url_},
                {"alerts", list}};
    out.push_back(msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

Status WebhookNotifier::Deliver(const std::string& body) {
  return Post(config_, config_.url, body);
}

std::vector<std::unique_ptr<Notifier>> MakeNotifiers(const AlertingConfig& config) {
  std::vector<std::unique_ptr<Notifier>> out;
  for (const auto& r : config.receivers) {
    if (r.kind == ReceiverConfig::Kind::kAlertmanager) {
      out.push_back(std::make_unique<AlertmanagerNotifier>(r));
    } else {
      out.push_back(std::make_unique<WebhookNotifier>(r, config.external_url));
    }
  }
  return out;
}

}  // namespace obsmon::alerts
