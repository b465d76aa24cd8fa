#include "alerts/alerting_config.h"

#include <gtest/gtest.h>

namespace obsmon::alerts {
namespace {

TEST(AlertingConfigTest, ParsesEveryField) {
  YAML::Node n = YAML::Load(R"(
evaluation_interval: 30s
resend_delay: 2m
external_url: http://obsmon:9950
external_labels: {site: lab}
alertmanagers:
  - url: http://127.0.0.1:9093
    bearer_token_file: /etc/obsmon/am.token
webhooks:
  - name: ops
    url: https://hooks.example/alerts
    timeout: 5s
    basic_auth: {username: obsmon, password_env: HOOK_PW}
outbox: {max_age: 12h, backoff_initial: 2s, backoff_max: 1m}
)");
  ConfigErrors errors;
  ConfigNode node(n, "obsmon.yml", &errors);
  auto c = ParseAlertingConfig(node);
  ASSERT_TRUE(c.ok()) << errors.ToString();
  EXPECT_EQ(c->evaluation_interval_ms, 30'000);
  EXPECT_EQ(c->resend_delay_ms, 120'000);
  EXPECT_EQ(c->external_labels.Get("site"), "lab");
  ASSERT_EQ(c->receivers.size(), 2u);
  EXPECT_EQ(c->receivers[0].name, "alertmanager[0]");
  EXPECT_EQ(c->receivers[0].bearer_token_file, "/etc/obsmon/am.token");
  EXPECT_EQ(c->receivers[1].kind, ReceiverConfig::Kind::kWebhook);
  EXPECT_EQ(c->receivers[1].timeout_ms, 5'000);
  EXPECT_EQ(c->receivers[1].basic_password_env, "HOOK_PW");
  EXPECT_EQ(c->outbox_max_age_ms, 12 * 3'600'000LL);
  EXPECT_EQ(c->backoff_max_ms, 60'000);
}

TEST(AlertingConfigTest, RefusesBadValuesWithPositions) {
  YAML::Node n = YAML::Load(R"(alertmanagers:
  - url: ftp://x
    bearer_token_file: a
    bearer_token_env: B
webhooks:
  - url: http://x
    basic_auth: {username: u}
    colour: blue
)");
  ConfigErrors errors;
  ConfigNode node(n, "obsmon.yml", &errors);
  EXPECT_FALSE(ParseAlertingConfig(node).ok());
  std::string all = errors.ToString();
  EXPECT_NE(all.find("obsmon.yml:2:"), std::string::npos) << all;
  EXPECT_NE(all.find("http:// or https://"), std::string::npos) << all;
  EXPECT_NE(all.find("at most one of bearer_token_file and bearer_token_env"), std::string::npos);
  EXPECT_NE(all.find("password_file or password_env"), std::string::npos) << all;
  EXPECT_NE(all.find("colour"), std::string::npos) << all;
}

}  // namespace
// Issue 13: `bearer_token_file: /dev/zero` made the notifier read until the heap was exhausted.
TEST(AlertingConfigTest, DeviceAsSecretFileIsRefusedWhereItIsNamed) {
  YAML::Node n = YAML::Load(R"(alertmanagers:
  - url: http://am:9093
    bearer_token_file: /dev/zero
webhooks:
  - url: http://hook
    basic_auth: {username: u, password_file: /dev/zero}
)");
  ConfigErrors errors;
  ConfigNode node(n, "obsmon.yml", &errors);
  EXPECT_FALSE(ParseAlertingConfig(node).ok());
  const std::string all = errors.ToString();
  EXPECT_NE(all.find("obsmon.yml:3:24: cannot read bearer_token_file '/dev/zero' is not a regular file"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("obsmon.yml:6:46: cannot read password_file '/dev/zero'"), std::string::npos)
      << all;
}

}  // namespace obsmon::alerts
