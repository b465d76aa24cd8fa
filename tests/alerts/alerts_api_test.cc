#include "alerts/alerts_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace obsmon::alerts {
namespace {

TEST(AlertsApiTest, ActiveAlertsInPrometheusShape) {
  Alert a;
  a.labels = Labels{{"alertname", "CarbonComponentDown"}, {"severity", "critical"}};
  a.annotations = Labels{{"summary", "down"}};
  a.state = AlertState::kFiring;
  a.active_at_ms = 1'760'400'060'000;
  a.value = 0;
  auto j = nlohmann::json::parse(ActiveAlertsJson({a}));
  EXPECT_EQ(j["status"], "success");
  ASSERT_EQ(j["data"]["alerts"].size(), 1u);
  const auto& x = j["data"]["alerts"][0];
  EXPECT_EQ(x["state"], "firing");
  EXPECT_EQ(x["labels"]["severity"], "critical");
  EXPECT_EQ(x["activeAt"], "2025-10-14T00:01:00.000Z");
  EXPECT_EQ(x["value"], "0e+00");  // Go's FormatFloat(v, 'e', -1, 64), as Prometheus's API
  a.value = 0.15;
  EXPECT_EQ(nlohmann::json::parse(ActiveAlertsJson({a}))["data"]["alerts"][0]["value"], "1.5e-01");
  EXPECT_FALSE(x.contains("suppressed"));  // Prometheus's exact shape unless held back
  EXPECT_EQ(nlohmann::json::parse(ActiveAlertsJson({}))["data"]["alerts"].size(), 0u);
}

TEST(AlertsApiTest, SuppressedAlertIsListedAndMarked) {
  Alert a;
  a.labels = Labels{{"alertname", "CarbonComponentDown"}};
  a.state = AlertState::kFiring;
  a.suppressed_by = "maintenance #3 of carbon: DB upgrade";
  const auto x = nlohmann::json::parse(ActiveAlertsJson({a}))["data"]["alerts"][0];
  EXPECT_EQ(x["state"], "firing");
  EXPECT_EQ(x["suppressed"], true);
  EXPECT_EQ(x["suppressedBy"][0], "maintenance #3 of carbon: DB upgrade");
}

// A scraped label value need not be UTF-8; nlohmann's dump() threw on it (type_error 316)
// instead of writing U+FFFD, from a function that cannot fail.
TEST(AlertsApiTest, InvalidUtf8InLabelsIsReplacedNotThrown) {
  Alert a;
  a.labels = Labels{{"alertname", "Bad"}, {"path", std::string("/var/\xff\xfe")}};
  std::string body;
  ASSERT_NO_THROW(body = ActiveAlertsJson({a}));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["data"]["alerts"][0]["labels"]["path"], "/var/\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(AlertsApiTest, HistoryEvents) {
  AlertHistoryEvent e;
  e.rule = "A";
  e.event = "resolved";
  e.ts_ms = 1'760'400'000'000;
  auto j = nlohmann::json::parse(AlertHistoryJson({e}));
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["event"], "resolved");
  EXPECT_EQ(j["events"][0]["ts"], "2025-10-14T00:00:00.000Z");
  EXPECT_EQ(j["events"][0]["firedAt"], "0001-01-01T00:00:00Z");
}

}  // namespace
}  // namespace obsmon::alerts
