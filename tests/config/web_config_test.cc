// The `web:` section: secrets only from files or environment variables, never quoted in an
// error; every problem with its file:line:column.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config_loader.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using testing::ScratchDir;
using testing::WriteWholeFile;

const char kComponents[] =
    "components:\n"
    "  - name: web\n"
    "    probes:\n"
    "      - {name: port, kind: tcp, address: '127.0.0.1:1'}\n";

std::optional<Config> Load(const ScratchDir& dir, const std::string& web, ConfigErrors* errors) {
  const std::string path = dir.File("obsmon.yml");
  WriteWholeFile(path, web + kComponents);
  FakeClock clock;
  return LoadConfig(path, clock, errors);
}

TEST(WebConfigTest, ReadsSecretsFromRelativeFileAndEnvironment) {
  ScratchDir dir;
  WriteWholeFile(dir.File("token"), "t0ken\n");
  ::setenv("OBSMON_TEST_PASSWORD", "pw from env", 1);
  ConfigErrors errors;
  auto config = Load(dir,
                     "web:\n"
                     "  auth:\n"
                     "    bearer_token_file: token\n"
                     "    basic_auth: {username: grafana, password_env: OBSMON_TEST_PASSWORD}\n"
                     "  protect_metrics: false\n"
                     "  protect_health: true\n"
                     "  enable_lifecycle: false\n",
                     &errors);
  ASSERT_TRUE(config) << errors.ToString();
  EXPECT_EQ(config->web.bearer_token, "t0ken");  // trailing newline dropped
  EXPECT_EQ(config->web.basic_username, "grafana");
  EXPECT_EQ(config->web.basic_password, "pw from env");
  EXPECT_FALSE(config->web.protect_metrics);
  EXPECT_TRUE(config->web.protect_health);
  EXPECT_FALSE(config->web.enable_lifecycle);
  ::unsetenv("OBSMON_TEST_PASSWORD");
}

TEST(WebConfigTest, DefaultsAreNoAuthNoTlsAndProtectedMetricsOnceAuthIsOn) {
  ScratchDir dir;
  ConfigErrors errors;
  auto config = Load(dir, "", &errors);
  ASSERT_TRUE(config) << errors.ToString();
  EXPECT_TRUE(config->web.bearer_token.empty());
  EXPECT_TRUE(config->web.tls_cert_file.empty());
  EXPECT_TRUE(config->web.protect_metrics);
  EXPECT_FALSE(config->web.protect_health);
  EXPECT_TRUE(config->web.enable_lifecycle);
}

TEST(WebConfigTest, EveryProblemIsReportedWithFileLineColumnAndNoSecret) {
  ScratchDir dir;
  const std::string path = dir.File("obsmon.yml");
  ConfigErrors errors;
  auto config = Load(dir,
                     "web:\n"
                     "  tls_cert_file: missing.crt\n"
                     "  auth:\n"
                     "    bearer_token_file: nope\n"
                     "    basic_auth:\n"
                     "      username: a:b\n"
                     "      password: hunter2\n",
                     &errors);
  ASSERT_FALSE(config);
  const std::string text = errors.ToString();
  EXPECT_NE(text.find(path + ":2:18: TLS needs both tls_cert_file and tls_key_file"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(path + ":4:24: cannot read bearer_token_file '" + dir.File("nope") + "'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(path + ":6:17: username must be non-empty and may not contain ':'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(path + ":7:17: 'password' may not be written in the config"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
}

TEST(WebConfigTest, UnsetEnvironmentVariableAndBothSourcesAreRefused) {
  ScratchDir dir;
  WriteWholeFile(dir.File("token"), "x");
  ::unsetenv("OBSMON_TEST_UNSET");
  ConfigErrors errors;
  EXPECT_FALSE(Load(dir, "web:\n  auth:\n    bearer_token_env: OBSMON_TEST_UNSET\n", &errors));
  EXPECT_NE(errors.ToString().find(":3:23: environment variable 'OBSMON_TEST_UNSET'"),
            std::string::npos)
      << errors.ToString();
  ConfigErrors both;
  EXPECT_FALSE(
      Load(dir, "web:\n  auth:\n    bearer_token_file: token\n    bearer_token_env: X\n", &both));
  EXPECT_NE(both.ToString().find("give only one of 'bearer_token_file' and 'bearer_token_env'"),
            std::string::npos)
      << both.ToString();
  ConfigErrors empty_auth;
  EXPECT_FALSE(Load(dir, "web:\n  auth: {}\n", &empty_auth));
}

// Fresh eyes, issue 13, second pass F6: a token file holding a NUL passed `check`, and no
// client could then authenticate (the server refuses control bytes in headers).
TEST(WebConfigTest, SecretFileWithAControlByteIsRefusedAtItsKey) {
  ScratchDir dir;
  WriteWholeFile(dir.File("token"), std::string("s3cr\0t\n", 7));
  ConfigErrors errors;
  auto config = Load(dir,
                     "web:\n"
                     "  auth:\n"
                     "    bearer_token_file: token\n",
                     &errors);
  EXPECT_FALSE(config.has_value());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].line, 3);
  EXPECT_NE(errors.ToString().find("holds a control byte"), std::string::npos)
      << errors.ToString();
  EXPECT_EQ(errors.ToString().find("s3cr"), std::string::npos) << "the secret is never quoted";
  // Nor one ending (or starting) with a space or tab, which HTTP strips from a header value.
  for (const char* secret : {"s3cret \n", "s3cret\t\n", " s3cret\n"}) {
    WriteWholeFile(dir.File("token"), secret);
    ConfigErrors more;
    EXPECT_FALSE(Load(dir, "web:\n  auth:\n    bearer_token_file: token\n", &more).has_value())
        << secret;
    EXPECT_NE(more.ToString().find("space or tab"), std::string::npos) << more.ToString();
  }
}

// What one client may cost the HTTP server: read, bounded, and an error at the key's place.
TEST(WebConfigTest, WorkersPerClientIsReadAndBounded) {
  ScratchDir dir;
  ConfigErrors errors;
  auto config = Load(dir, "", &errors);
  ASSERT_TRUE(config) << errors.ToString();
  EXPECT_EQ(config->web.max_workers_per_client, 4u);
  config = Load(dir, "web:\n  max_workers_per_client: 8\n", &errors);
  ASSERT_TRUE(config) << errors.ToString();
  EXPECT_EQ(config->web.max_workers_per_client, 8u);
  ConfigErrors bad;
  EXPECT_FALSE(Load(dir, "web:\n  max_workers_per_client: 0\n", &bad));
  EXPECT_NE(bad.ToString().find("obsmon.yml:2:27: max_workers_per_client must be between 1"),
            std::string::npos)
      << bad.ToString();
}

// The bytes held for clients slower to read than the server to write: a size, 0 allowed (off).
TEST(WebConfigTest, OutputBufferIsASizeAndBounded) {
  ScratchDir dir;
  ConfigErrors errors;
  auto config = Load(dir, "", &errors);
  ASSERT_TRUE(config) << errors.ToString();
  EXPECT_EQ(config->web.output_buffer_bytes, 64 << 20);
  for (const auto& [text, bytes] : {std::pair{"16MiB", int64_t{16} << 20}, std::pair{"0", int64_t{0}}}) {
    config = Load(dir, std::string("web:\n  output_buffer: ") + text + "\n", &errors);
    ASSERT_TRUE(config) << errors.ToString();
    EXPECT_EQ(config->web.output_buffer_bytes, bytes) << text;
  }
  for (const char* text : {"2GiB", "-1", "lots"}) {
    ConfigErrors bad;
    EXPECT_FALSE(Load(dir, std::string("web:\n  output_buffer: ") + text + "\n", &bad)) << text;
    EXPECT_NE(bad.ToString().find("obsmon.yml:2:18"), std::string::npos) << bad.ToString();
  }
}

}  // namespace
}  // namespace obsmon
