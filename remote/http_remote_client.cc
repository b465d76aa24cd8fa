#include <algorithm>
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
    // An unset or empty variable is a secret that cannot be read, as a missing file is: the
    // request waits (retried, the samples kept) instead of going out without credentials and
    // being dropped for the 401 (fresh eyes, issue 16).
    const char* v = std::getenv(env.c_str());
    if (v == nullptr) return Status::NotFound("environment variable " + env + " is not set");
    if (*v == '\0') return Status::InvalidArgument("environment variable " + env + " is empty");
    return std::string(v);
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
    // The answer's status decides (2xx done, 4xx dropped, 5xx retried); of its body only the
    // first kMaxLoggedBody bytes are kept for the log, and the rest is not read: a receiver
    // answering 400 with 50 MB must be a 400, not "no answer" retried for ever (fresh eyes).
    httplib::Request req;
    req.method = "POST";
    req.path = url_.path;
    req.headers = headers;
    req.headers.emplace("Content-Type", kContentType);
    req.body = body;
    int answered = 0;
    std::string kept;
    req.response_handler = [&answered](const httplib::Response& r) {
      answered = r.status;
      return true;
    };
    req.content_receiver = [&kept](const char* data, size_t n, uint64_t, uint64_t) {
      kept.append(data, std::min(n, kMaxLoggedBody - kept.size()));
      return kept.size() < kMaxLoggedBody;  // false: enough read, the rest is not wanted
    };
    auto res = client->send(req);
    if (answered != 0) {
      out.status = answered;
      out.body = std::move(kept);
      return out;
    }
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
