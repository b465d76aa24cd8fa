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

TEST(AlertingConfigTest, TheHeadsLimitsAreReadAndCheckedWhereTheyAreWritten) {
  YAML::Node n = YAML::Load("head: {max_series: 5000, max_point_bytes: 64MiB}\n");
  ConfigErrors errors;
  ConfigNode node(n, "obsmon.yml", &errors);
  auto c = ParseAlertingConfig(node);
  ASSERT_TRUE(c.ok()) << errors.ToString();
  EXPECT_EQ(c->head_max_series, 5000u);
  EXPECT_EQ(c->head_max_point_bytes, int64_t{64} << 20);

  YAML::Node defaults = YAML::Load("evaluation_interval: 30s\n");
  ConfigNode dnode(defaults, "obsmon.yml", &errors);
  auto d = ParseAlertingConfig(dnode);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->head_max_series, 200'000u);
  EXPECT_EQ(d->head_max_point_bytes, int64_t{256} << 20);

  YAML::Node bad = YAML::Load(R"(evaluation_interval: 30s
head:
  max_series: 0
  max_point_bytes: 100KB
  max_points: 5
)");
  ConfigErrors bad_errors;
  ConfigNode bnode(bad, "obsmon.yml", &bad_errors);
  EXPECT_FALSE(ParseAlertingConfig(bnode).ok());
  const std::string all = bad_errors.ToString();
  EXPECT_NE(all.find("obsmon.yml:3:15: max_series must be between 1 and 10000000, got 0"),
            std::string::npos) << all;
  EXPECT_NE(all.find("obsmon.yml:4:20: max_point_bytes must be between 1MiB and 1TiB, got "
                     "'100KB'"),
            std::string::npos) << all;
  EXPECT_NE(all.find("obsmon.yml:5:"), std::string::npos) << all;
  EXPECT_NE(all.find("max_points"), std::string::npos) << all;
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
