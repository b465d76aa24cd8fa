#include "alerts/alerts_api.h"

#include <nlohmann/json.hpp>

#include "alerts/http_notifier.h"
#include "alerts/template.h"

namespace obsmon::alerts {

namespace {
nlohmann::json LabelsJson(const Labels& l) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, v] : l.pairs()) j[n] = v;
  return j;
}

// Prometheus's API gives an alert's value as strconv.FormatFloat(v, 'e', -1, 64): "6e+00",
// "1.5e-01" (fresh eyes, stop 59: obsmon gave "6").
std::string AlertValue(double v) {
  std::string s = FormatGoFloatE(v);
  for (char& c : s) {
    if (c == 'E') c = 'e';
  }
  return s;
}

}  // namespace

std::string ActiveAlertsJson(const std::vector<Alert>& alerts) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& a : alerts) {
    nlohmann::json j = {{"labels", LabelsJson(a.labels)},
                        {"annotations", LabelsJson(a.annotations)},
                        {"state", AlertStateName(a.state)},
                        {"activeAt", Rfc3339(a.active_at_ms)},
                        {"value", AlertValue(a.value)}};
    // Only when held back, so that the common case keeps Prometheus's exact shape.
    if (!a.suppressed_by.empty()) {
      j["suppressed"] = true;
      j["suppressedBy"] = nlohmann::json::array({a.suppressed_by});
    }
    list.push_back(std::move(j));
  }
  nlohmann::json out = {{"status", "success"}, {"data", {{"alerts", list}}}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string AlertHistoryJson(const std::vector<AlertHistoryEvent>& events) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) {
    list.push_back({{"ts", Rfc3339(e.ts_ms)},
                    {"event", e.event},
                    {"rule", e.rule},
                    {"group", e.group_key},
                    {"labels", LabelsJson(e.labels)},
                    {"annotations", LabelsJson(e.annotations)},
                    {"activeAt", Rfc3339(e.active_at_ms)},
                    {"firedAt", Rfc3339(e.fired_at_ms)},
                    {"value", FormatGoFloat(e.value)}});
  }
  return nlohmann::json({{"events", list}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace obsmon::alerts
