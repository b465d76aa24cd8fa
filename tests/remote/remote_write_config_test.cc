// The `remote_write:` section: defaults, every key, and bad entries reported at file:line:column.
#include "remote/remote_write_config.h"

#include <gtest/gtest.h>

namespace obsmon::remote {
namespace {

std::vector<RemoteWriteConfig> Parse(const std::string& yaml, ConfigErrors* errors) {
  YAML::Node root = YAML::Load(yaml);
  return ParseRemoteWriteConfigs(root["remote_write"], "/etc/obsmon/obsmon.yml", errors);
}

TEST(RemoteWriteConfigTest, DefaultsAndName) {
  ConfigErrors errors;
  auto r = Parse("remote_write: [{url: 'http://127.0.0.1:9090/api/v1/write'}]", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].name, DefaultRemoteName("http://127.0.0.1:9090/api/v1/write"));
  EXPECT_EQ(r[0].name.size(), 10u);  // url- and 6 hex digits
  EXPECT_EQ(r[0].remote_timeout_ms, 30'000);
  EXPECT_EQ(r[0].queue.max_samples_per_send, 2000u);
  EXPECT_EQ(r[0].queue.shards, 1);
  EXPECT_EQ(r[0].queue.retry_cap, 10);
  EXPECT_EQ(r[0].queue.sample_age_limit_ms, 0);
  EXPECT_TRUE(r[0].queue.retry_on_http_429);
  EXPECT_FALSE(r[0].relabel && !r[0].relabel->empty());
}

TEST(RemoteWriteConfigTest, EveryKey) {
  ConfigErrors errors;
  auto r = Parse(R"(
remote_write:
  - url: https://mimir.example/api/v1/push
    name: mimir
    remote_timeout: 10s
    headers: {X-Scope-OrgID: staging}
    basic_auth: {username: obsmon, password_file: rw.pw}
    tls_config: {ca_file: ca.pem, insecure_skip_verify: true}
    write_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]
    queue_config:
      max_samples_per_send: 500
      batch_send_deadline: 1s
      min_backoff: 10ms
      max_backoff: 2s
      shards: 3
      retry_cap: 4
      retry_on_http_429: false
      sample_age_limit: 2h
      settle_delay: 7s
)", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(r.size(), 1u);
  const auto& c = r[0];
  EXPECT_EQ(c.name, "mimir");
  EXPECT_EQ(c.remote_timeout_ms, 10'000);
  EXPECT_EQ(c.headers.at("X-Scope-OrgID"), "staging");
  EXPECT_EQ(c.basic_username, "obsmon");
  EXPECT_EQ(c.basic_password_file, "/etc/obsmon/rw.pw");  // beside the config file
  EXPECT_EQ(c.tls.ca_file, "/etc/obsmon/ca.pem");
  EXPECT_TRUE(c.tls.insecure_skip_verify);
  ASSERT_TRUE(c.relabel);
  EXPECT_FALSE(c.relabel->empty());
  EXPECT_EQ(c.queue.max_samples_per_send, 500u);
  EXPECT_EQ(c.queue.batch_send_deadline_ms, 1'000);
  EXPECT_EQ(c.queue.min_backoff_ms, 10);
  EXPECT_EQ(c.queue.max_backoff_ms, 2'000);
  EXPECT_EQ(c.queue.shards, 3);
  EXPECT_EQ(c.queue.retry_cap, 4);
  EXPECT_FALSE(c.queue.retry_on_http_429);
  EXPECT_EQ(c.queue.sample_age_limit_ms, 7'200'000);
  EXPECT_EQ(c.queue.settle_delay_ms, 7'000);
}

// Each bad entry names its place: file, line and column of the offending value.
TEST(RemoteWriteConfigTest, BadEntriesNameTheirPlace) {
  ConfigErrors errors;
  auto r = Parse(R"(remote_write:
  - url: ftp://x
  - url: http://a:1/w
    headers: {Content-Type: text/plain}
    queue_config: {shards: 0, colour: blue}
  - url: http://a:1/w
    write_relabel_configs: [{action: explode}]
  - url: http://a:1/w
    tls_config: {cert_file: c.pem, key_file: k.pem}
  - url: http://b:1/w
    name: dup
  - url: http://c:1/w
    name: dup
    bearer_token_file: t
    basic_auth: {username: u, password_env: P}
  - name: nourl
)", &errors);
  EXPECT_EQ(r.size(), 1u);  // only the first `dup` entry is whole
  const std::string all = errors.ToString();
  EXPECT_NE(all.find("/etc/obsmon/obsmon.yml:2:10: unsupported url scheme 'ftp'"), std::string::npos) << all;
  EXPECT_NE(all.find(":4:14: header 'Content-Type' is set by obsmon"), std::string::npos) << all;
  EXPECT_NE(all.find(":5:28: shards must be between 1 and 32"), std::string::npos) << all;
  EXPECT_NE(all.find("colour"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown action 'explode'"), std::string::npos) << all;
  EXPECT_NE(all.find("client certificates are not supported"), std::string::npos) << all;
  EXPECT_NE(all.find(":13:11: duplicate remote_write name 'dup'"), std::string::npos) << all;
  EXPECT_NE(all.find("not both"), std::string::npos) << all;
  EXPECT_NE(all.find(":16:5: missing required key 'url'"), std::string::npos) << all;
}

}  // namespace
}  // namespace obsmon::remote
