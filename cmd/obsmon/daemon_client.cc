#include "cmd/obsmon/daemon_client.h"

#include <httplib.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cmd/obsmon/period_json.h"
#include "web/http_server.h"

namespace obsmon {
namespace {

using nlohmann::json;

// The address a client reaches a server on that listens on `host` ("0.0.0.0": every interface).
std::string ClientHost(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

std::string BaseUrl(const Config& config, const ListenAddress& address) {
  const std::string host = ClientHost(address.host);
  const bool v6 = host.find(':') != std::string::npos;
  return (config.web.tls_cert_file.empty() ? "http://" : "https://") +
         (v6 ? "[" + host + "]" : host) + ":" + std::to_string(address.port);
}

std::unique_ptr<httplib::Client> MakeClient(const Config& config, const std::string& url) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_connection_timeout(1, 0);
  // Longer than the daemon's wait for a write lock (storage.busy_timeout): a change stored
  // after the client gave up was said as "cannot reach the daemon", and a retry stored it twice
  // (fresh eyes 2, busy_timeout 60 s).
  const int64_t busy_s = (config.storage.busy_timeout_ms + 999) / 1000;
  client->set_read_timeout(static_cast<time_t>(std::max<int64_t>(30, busy_s + 10)), 0);
  client->set_write_timeout(10, 0);
  if (!config.web.tls_cert_file.empty()) {
    // The daemon's own certificate is the one to trust (it is often self-signed).
    client->set_ca_cert_path(config.web.tls_cert_file);
    client->enable_server_certificate_verification(true);
  }
  if (!config.web.bearer_token.empty()) {
    client->set_bearer_token_auth(config.web.bearer_token);
  } else if (!config.web.basic_username.empty()) {
    client->set_basic_auth(config.web.basic_username, config.web.basic_password);
  }
  return client;
}

// A failed answer as the Status the local action would have returned.
Status FailureOf(const httplib::Result& res, const std::string& url) {
  if (res.error() == httplib::Error::Read) {
    // Sent, and no answer in time: the daemon may still do it (fresh eyes, stop 72: a window
    // reported "cannot reach the daemon" was stored 6 s later, and sent again, twice).
    return Status::Unavailable("the daemon at " + url +
                               " did not answer in time (it may be waiting for the database); "
                               "it may still apply the change: list to check before sending it "
                               "again");
  }
  if (!res) {
    return Status::Unavailable("cannot reach the daemon at " + url + ": " +
                               httplib::to_string(res.error()));
  }
  const json body = json::parse(res->body, nullptr, false);
  std::string message = body.is_object() ? body.value("error", "") : "";
  if (message.empty()) message = "HTTP " + std::to_string(res->status);
  if (res->status == 400) return Status::InvalidArgument(message);
  if (res->status == 404) return Status::NotFound(message);
  if (res->status == 503) return Status::Unavailable(message);
  if (res->status == 401 || res->status == 403) {
    return Status::Unavailable("the daemon at " + url + " refused: " + message);
  }
  return Status::IoError(message);
}

class DaemonManager final : public PeriodManager {
 public:
  DaemonManager(std::unique_ptr<httplib::Client> client, std::string url)
      : client_(std::move(client)), url_(std::move(url)) {}

  Result<PeriodRecord> StartPeriod(const ObserveStartArgs& a) override {
    return Period(Call("POST", "/api/v1/periods", StartArgsToJson(a)));
  }
  Result<PeriodRecord> StopPeriod(const std::string& component) override {
    return Period(Call("POST", "/api/v1/periods/stop", {{"component", component}}));
  }
  Result<std::vector<PeriodRecord>> Periods(const std::string& component) override {
    return List<PeriodRecord>(Call("GET", ListPath("/api/v1/periods", component), nullptr),
                              PeriodFromJson);
  }
  Result<MaintenanceRecord> AddWindow(const MaintenanceAddArgs& a) override {
    return Window(Call("POST", "/api/v1/maintenance", AddArgsToJson(a)));
  }
  Result<EditedWindow> EditWindow(const MaintenanceEditArgs& a) override;
  Result<MaintenanceRecord> DeleteWindow(int64_t id) override {
    return Window(Call("DELETE", "/api/v1/maintenance/" + std::to_string(id), nullptr));
  }
  Result<std::vector<MaintenanceRecord>> Windows(const std::string& component) override {
    return List<MaintenanceRecord>(Call("GET", ListPath("/api/v1/maintenance", component), nullptr),
                                   WindowFromJson);
  }

 private:
  static std::string ListPath(const std::string& path, const std::string& component) {
    if (component.empty()) return path;
    return path + "?component=" + httplib::detail::encode_query_param(component);
  }
  // The answer's `data`, or the failure as the local action's Status.
  Result<json> Call(const std::string& method, const std::string& path, const json& body);
  static Result<PeriodRecord> Period(const Result<json>& data) {
    if (!data.ok()) return data.status();
    return PeriodFromJson(*data);
  }
  static Result<MaintenanceRecord> Window(const Result<json>& data) {
    if (!data.ok()) return data.status();
    return WindowFromJson(*data);
  }
  template <typename T, typename Read>
  static Result<std::vector<T>> List(const Result<json>& data, Read read) {
    if (!data.ok()) return data.status();
    std::vector<T> out;
    if (!data->is_array()) return Status::Internal("the daemon's list is not a JSON array");
    for (const auto& item : *data) {
      auto record = read(item);
      if (!record.ok()) return record.status();
      out.push_back(std::move(*record));
    }
    return out;
  }

  std::unique_ptr<httplib::Client> client_;
  const std::string url_;
};

Result<json> DaemonManager::Call(const std::string& method, const std::string& path,
                                 const json& body) {
  std::string text;
  try {
    text = body.is_null() ? "" : body.dump();
  } catch (const json::type_error& e) {
    // The daemon's API speaks JSON, which holds UTF-8 text only: a --reason with other bytes
    // aborted the CLI (fresh eyes, stop 69). `--db` stores such bytes as given.
    return Status::InvalidArgument(
        std::string("an argument is not UTF-8 text, which the daemon's API cannot carry (") +
        e.what() + "); write it as UTF-8, or use --db with the daemon stopped");
  }
  httplib::Result res = method == "GET"      ? client_->Get(path)
                        : method == "DELETE" ? client_->Delete(path)
                        : method == "PATCH"  ? client_->Patch(path, text, "application/json")
                                             : client_->Post(path, text, "application/json");
  if (!res || res->status >= 300) return FailureOf(res, url_);
  json answer = json::parse(res->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("data")) {
    return Status::Internal("the daemon at " + url_ + " answered something other than JSON");
  }
  return answer["data"];
}

Result<EditedWindow> DaemonManager::EditWindow(const MaintenanceEditArgs& a) {
  auto data = Call("PATCH", "/api/v1/maintenance/" + std::to_string(a.id), EditArgsToJson(a));
  if (!data.ok()) return data.status();
  auto window = WindowFromJson(*data);
  if (!window.ok()) return window.status();
  auto was = WindowFromJson(data->value("was", json()));
  if (!was.ok()) return was.status();
  return EditedWindow{*window, *was};
}

}  // namespace

std::string DatabaseIdentity(const std::string& db_path) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::weakly_canonical(db_path, ec);
  if (ec) path = std::filesystem::absolute(db_path, ec).lexically_normal();
  const std::string text = path.string();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::unique_ptr<PeriodManager> DaemonPeriodManager(const Config& config, std::string* where) {
  const auto address = ParseListenAddress(config.listen);
  if (!address || address->port == 0) {
    *where = "no daemon to find: listen is '" + config.listen + "'";
    return nullptr;
  }
  const std::string url = BaseUrl(config, *address);
  auto client = MakeClient(config, url);
  auto health = client->Get("/-/healthy");
  if (!health || health->status != 200) {
    *where = "no daemon answers at " + url +
             (health ? " (HTTP " + std::to_string(health->status) + ")"
                     : " (" + httplib::to_string(health.error()) + " error)");
    return nullptr;
  }
  if (health->get_header_value("Obsmon-Database") != DatabaseIdentity(config.storage.path)) {
    *where = "the obsmon at " + url + " writes another database than " + config.storage.path;
    return nullptr;
  }
  *where = "the daemon at " + url;
  return std::make_unique<DaemonManager>(std::move(client), url);
}

}  // namespace obsmon
