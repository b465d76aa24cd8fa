#include "config/web_config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/byte_size.h"
#include "core/bounded_read.h"
#include "core/header_secret.h"

namespace obsmon {

namespace {


std::string Resolve(const std::string& config_file, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::filesystem::path dir = std::filesystem::path(config_file).parent_path();
  if (dir.empty()) return path;
  return (dir / path).lexically_normal().string();
}

// Reads a secret from `<base>_file` or `<base>_env` (exactly one must be given when `required`).
// The secret's text never appears in an error.
std::optional<std::string> ReadSecret(ConfigNode& node, const std::string& config_file,
                                      const std::string& base, bool required) {
  // An inline secret would end up in backups, diffs and `ps` of editors: refuse it by name.
  if (node.Has(base)) {
    (void)node.String(base);
    node.ErrorAt(base, "'" + base + "' may not be written in the config; use '" + base +
                           "_file' (a file readable only by obsmon) or '" + base +
                           "_env' (an environment variable)");
    return std::nullopt;
  }
  auto file = node.String(base + "_file");
  auto env = node.String(base + "_env");
  if (file && env) {
    node.ErrorAt(base + "_env", "give only one of '" + base + "_file' and '" + base + "_env'");
    return std::nullopt;
  }
  if (file) {
    const std::string path = Resolve(config_file, *file);
    auto secret = ReadHeaderSecretFile(path);
    if (!secret.ok()) {
      node.ErrorAt(base + "_file", (secret.status().IsInvalidArgument() ? "" : "cannot read ") +
                                       base + "_file " + secret.status().message());
      return std::nullopt;
    }
    return *secret;
  }
  if (env) {
    const char* value = std::getenv(env->c_str());
    if (!value || !*value) {
      node.ErrorAt(base + "_env",
                   "environment variable '" + *env + "' (" + base + "_env) is not set or empty");
      return std::nullopt;
    }
    return std::string(value);
  }
  if (required) node.Error("give '" + base + "_file' or '" + base + "_env'");
  return std::nullopt;
}

// What one client, and all together, may cost the HTTP server (web/gated_server.h).
void ReadConnectionLimits(ConfigNode& node, WebConfig* web) {
  for (auto [key, field] : {std::pair{"max_connections", &web->max_connections},
                            std::pair{"max_connections_per_client",
                                      &web->max_connections_per_client},
                            std::pair{"max_workers_per_client", &web->max_workers_per_client}}) {
    if (auto v = node.Int(key)) {
      if (*v < 1 || *v > 100'000) {
        node.ErrorAt(key, std::string(key) + " must be between 1 and 100000");
      } else {
        *field = static_cast<size_t>(*v);
      }
    }
  }
  if (web->max_connections_per_client > web->max_connections) {
    node.ErrorAt(node.Has("max_connections_per_client") ? "max_connections_per_client"
                                                        : "max_connections",
                 "max_connections_per_client may not exceed max_connections");
  }
  if (auto v = node.DurationInRange("request_timeout", 100, 600'000)) {
    web->request_timeout_ms = *v;
  }
  if (auto v = node.DurationInRange("idle_timeout", 100, 3'600'000)) web->idle_timeout_ms = *v;
  if (auto v = ByteSizeInRange(node, "output_buffer", 0, int64_t{1} << 30)) {
    web->output_buffer_bytes = *v;
  }
}

}  // namespace

void ReadWebConfig(ConfigNode& node, const std::string& config_file, WebConfig* web) {
  auto cert = node.String("tls_cert_file");
  auto key = node.String("tls_key_file");
  if (cert.has_value() != key.has_value()) {
    node.ErrorAt(cert ? "tls_cert_file" : "tls_key_file",
                 "TLS needs both tls_cert_file and tls_key_file");
  } else if (cert) {
    web->tls_cert_file = Resolve(config_file, *cert);
    web->tls_key_file = Resolve(config_file, *key);
    for (const auto& [name, path] : {std::pair{"tls_cert_file", web->tls_cert_file},
                                     std::pair{"tls_key_file", web->tls_key_file}}) {
      // PEM files are small; the bound keeps a device or FIFO named here from hanging `check`.
      auto pem = ReadRegularFile(path, 1u << 20);
      if (!pem.ok()) {
        node.ErrorAt(name, std::string("cannot read ") + name + " " + pem.status().message());
      }
    }
  }
  if (auto auth = node.Map("auth")) {
    const bool bearer = auth->Has("bearer_token") || auth->Has("bearer_token_file") ||
                        auth->Has("bearer_token_env");
    if (!bearer && !auth->Has("basic_auth")) {
      auth->Error("auth needs bearer_token_file, bearer_token_env or basic_auth");
    }
    if (bearer) {
      if (auto token = ReadSecret(*auth, config_file, "bearer_token", true)) {
        web->bearer_token = *token;
      }
    }
    if (auto basic = auth->Map("basic_auth")) {
      auto user = basic->String("username", /*required=*/true);
      if (user && (user->empty() || user->find(':') != std::string::npos)) {
        basic->ErrorAt("username", "username must be non-empty and may not contain ':'");
      } else if (user) {
        web->basic_username = *user;
      }
      if (auto password = ReadSecret(*basic, config_file, "password", true)) {
        web->basic_password = *password;
      }
      basic->CheckUnknownKeys();
    }
    auth->CheckUnknownKeys();
  }
  if (auto v = node.Bool("protect_metrics")) web->protect_metrics = *v;
  if (auto v = node.Bool("protect_health")) web->protect_health = *v;
  if (auto v = node.Bool("enable_lifecycle")) web->enable_lifecycle = *v;
  ReadConnectionLimits(node, web);
  node.CheckUnknownKeys();
}

}  // namespace obsmon
