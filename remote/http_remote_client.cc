#include <cstdlib>

#include "core/header_secret.h"
#include "probes/bounded_http_client.h"
#include "probes/url.h"
#include "remote/remote_client.h"
#include "remote/write_request.h"

namespace obsmon::remote {
namespace {

Result<std::string> ReadSecret(const std::string& file, const std::string& env) {
  if (!file.empty()) return ReadHeaderSecretFile(file);
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    return std::string(v ? v : "");
  }
  return std::string();
}

class HttpRemoteClient final : public RemoteClient {
 public:
  HttpRemoteClient(RemoteWriteConfig config, probes::HttpUrl url, std::string version)
      : config_(std::move(config)), url_(std::move(url)), user_agent_("obsmon/" + version) {}

  SendResult Send(const std::string& body) override {
    SendResult out;
    httplib::Headers headers = {{"Content-Encoding", kContentEncoding},
                                {"X-Prometheus-Remote-Write-Version", kRemoteWriteVersion},
                                {"User-Agent", user_agent_}};
    for (const auto& [k, v] : config_.headers) headers.emplace(k, v);
    auto token = ReadSecret(config_.bearer_token_file, config_.bearer_token_env);
    if (!token.ok()) {
      out.error = "bearer token: " + token.status().message();
      return out;
    }
    if (!token->empty()) headers.emplace("Authorization", "Bearer " + *token);
    std::string password;
    if (!config_.basic_username.empty()) {
      auto p = ReadSecret(config_.basic_password_file, config_.basic_password_env);
      if (!p.ok()) {
        out.error = "basic_auth password: " + p.status().message();
        return out;
      }
      password = *p;
    }
    probes::ResponseLimits limits;
    limits.max_after_head_bytes = 1u << 20;
    limits.deadline = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(config_.remote_timeout_ms);
    probes::ResponseBudget budget(limits);
    auto client = probes::MakeBoundedClient(url_.scheme, url_.target.host, url_.target.port, budget);
    const auto timeout = std::chrono::milliseconds(config_.remote_timeout_ms);
    client->set_connection_timeout(timeout);
    client->set_read_timeout(timeout);
    client->set_write_timeout(timeout);
    if (!config_.basic_username.empty()) client->set_basic_auth(config_.basic_username, password);
    if (url_.scheme == "https") {
      client->enable_server_certificate_verification(!config_.tls.insecure_skip_verify);
      if (!config_.tls.ca_file.empty()) client->set_ca_cert_path(config_.tls.ca_file);
    }
    auto res = client->Post(url_.path, headers, body, kContentType);
    if (!res) {
      out.error = httplib::to_string(res.error());
      const std::string overflow = budget.Overflow();
      if (!overflow.empty()) out.error += " (" + overflow + ")";
      return out;
    }
    out.status = res->status;
    out.body = res->body.substr(0, kMaxLoggedBody);
    return out;
  }

 private:
  const RemoteWriteConfig config_;
  const probes::HttpUrl url_;
  const std::string user_agent_;
};

}  // namespace

std::unique_ptr<RemoteClient> MakeHttpRemoteClient(const RemoteWriteConfig& config,
                                                   std::string version) {
  auto url = probes::ParseHttpUrl(config.url);
  if (!url.ok()) return nullptr;  // the config parser has refused such a url already
  return std::make_unique<HttpRemoteClient>(config, *url, std::move(version));
}

}  // namespace obsmon::remote
