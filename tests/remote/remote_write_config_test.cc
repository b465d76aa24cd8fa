// The `remote_write:` section: defaults, every key, and bad entries reported at file:line:column.
#include "remote/remote_write_config.h"

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::remote {
namespace {

std::vector<RemoteWriteConfig> Parse(const std::string& yaml, ConfigErrors* errors,
                                     const std::string& config_file = "/etc/obsmon/obsmon.yml") {
  YAML::Node root = YAML::Load(yaml);
  return ParseRemoteWriteConfigs(root["remote_write"], config_file, errors);
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
  testing::ScratchDir dir;  // the files the config names, beside it
  testing::WriteWholeFile(dir.File("rw.pw"), "s3cret\n");
  // A real certificate: the check loads it as TLS would (a PEM header is not enough).
  auto [code, out] = testing::RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-subj", "/CN=ca.example", "-days", "1", "-keyout", dir.File("ca.key"), "-out",
       dir.File("ca.pem")},
      dir.File("openssl.out"));
  ASSERT_EQ(code, 0) << out;
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
)", &errors, dir.File("obsmon.yml"));
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(r.size(), 1u);
  const auto& c = r[0];
  EXPECT_EQ(c.name, "mimir");
  EXPECT_EQ(c.remote_timeout_ms, 10'000);
  EXPECT_EQ(c.headers.at("X-Scope-OrgID"), "staging");
  EXPECT_EQ(c.basic_username, "obsmon");
  EXPECT_EQ(c.basic_password_file, dir.File("rw.pw"));  // beside the config file
  EXPECT_EQ(c.tls.ca_file, dir.File("ca.pem"));
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
    bearer_token_env: T
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

// A secret or CA file that cannot be used is an error where it is named (`obsmon check`, the start
// and a reload refuse it) rather than every request waiting for it, retried for ever. Variables
// are not checked: the daemon's environment is not the one `obsmon check` runs in.
TEST(RemoteWriteConfigTest, UnusableSecretAndCaFilesNameTheirPlace) {
  testing::ScratchDir dir;
  testing::WriteWholeFile(dir.File("two-lines.token"), "abc\ndef\n");
  testing::WriteWholeFile(dir.File("not-a.pem"), "hello\n");
  ConfigErrors errors;
  auto r = Parse(R"(remote_write:
  - url: http://a:1/w
    bearer_token_file: missing.token
  - url: http://b:1/w
    basic_auth: {username: u, password_file: missing.pw}
  - url: https://c:1/w
    tls_config: {ca_file: missing-ca.pem}
  - url: https://d:1/w
    bearer_token_file: two-lines.token
    tls_config: {ca_file: not-a.pem}
  - url: http://e:1/w
    bearer_token_env: OBSMON_REMOTE_WRITE_CONFIG_TEST_UNSET
)", &errors, dir.File("obsmon.yml"));
  EXPECT_EQ(r.size(), 1u);  // only the one naming a variable
  EXPECT_EQ(errors.errors().size(), 5u) << errors.ToString();
  const std::string all = errors.ToString();
  const std::string at = dir.File("obsmon.yml") + ":";
  EXPECT_NE(all.find(at + "3:24: bearer_token_file: '" + dir.File("missing.token") +
                     "' does not exist"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(at + "5:46: password_file: '" + dir.File("missing.pw") + "' does not exist"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(at + "7:27: ca_file: '" + dir.File("missing-ca.pem") + "' does not exist"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(at + "9:24: bearer_token_file: '" + dir.File("two-lines.token") +
                     "' holds a control byte"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(at + "10:27: ca_file: '" + dir.File("not-a.pem") +
                     "' holds no PEM certificate"),
            std::string::npos)
      << all;
}

// Fresh eyes, stop 25: what passed the check and failed later, or not at all.
TEST(RemoteWriteConfigTest, EmptySecretsBadEnvNamesBrokenCaNamesAndDuplicateHeadersAreRefused) {
  testing::ScratchDir dir;
  // A PEM header around a body that is no certificate: TLS would fail every handshake.
  testing::WriteWholeFile(dir.File("broken.pem"),
                          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  ConfigErrors errors;
  auto r = Parse(R"(remote_write:
  - url: http://a:1/w
    bearer_token_file: ""
  - url: http://b:1/w
    bearer_token_env: "A=B"
  - url: http://c:1/w
    basic_auth: {username: u, password_env: ""}
  - url: https://d:1/w
    tls_config: {ca_file: broken.pem}
  - url: http://e:1/w
    name: "x\ny"
  - url: http://f:1/w
    headers: {X-A: "1", x-a: "2"}
  - url: "http://g:1/a\x01b"
)", &errors, dir.File("obsmon.yml"));
  EXPECT_TRUE(r.empty());
  const std::string all = errors.ToString();
  const std::string at = dir.File("obsmon.yml") + ":";
  for (const std::string& want : {
           at + "3:24: bearer_token_file must not be empty",
           at + "5:23: bearer_token_env 'A=B' is not an environment variable name",
           at + "7:45: password_env '' is not an environment variable name",
           at + "9:27: ca_file: '" + dir.File("broken.pem") +
               "': certificate 1 of 1 is not a valid X.509 certificate",
           at + "11:11: name 'x\\x0ay' must be 1 to 128 bytes of printable UTF-8",
           at + "13:14: header 'x-a' is given twice (names are case-insensitive)",
           at + "14:10: url must not contain whitespace or control characters: 'http://g:1/a\\x01b'",
       }) {
    EXPECT_NE(all.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << all;
  }
}

}  // namespace
}  // namespace obsmon::remote
