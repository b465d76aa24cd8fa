// obsmon's HTTP server: /metrics, /healthz, /api/v1/..., POST /-/reload. Parameters are
// validated here (a clear 400 naming the parameter); the work is done by an ApiBackend that
// cmd/obsmon/main provides. Optional TLS (certificate and key files) and bearer/basic auth
// (web/http_auth.h); request size and time limits bound what a hostile client can cost.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"
#include "web/connection_limits.h"
#include "web/fair_slots.h"
#include "web/gate_options.h"
#include "web/http_auth.h"
#include "web/manage_request.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace obsmon {

class GatedServer;

struct ReportQuery {
  std::string component;
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
  std::string format = "json";  // json | markdown | text | html
  // from/to/last given; otherwise the component's current observation period (or, without one,
  // the objective window ending now) is reported.
  bool explicit_window = false;
  std::optional<int64_t> period_id;  // a stored observation period
  std::optional<int> day;            // ?day=N: only Day N's comment (markdown)
  // ?max_listed=N: at most N incidents and N gaps listed, the longest (0: all); nullopt: the
  // report's default (ReportOptions::max_listed).
  std::optional<size_t> max_listed;
  // Whether the client that asked has gone (asked between chunks of the build; may be empty).
  std::function<bool()> cancelled;
};

struct HttpBody {
  std::string content_type;
  std::string body;
};

// Implemented by the daemon. Called from HTTP worker threads: must be thread-safe.
class ApiBackend {
 public:
  virtual ~ApiBackend() = default;
  virtual std::string MetricsText() = 0;
  virtual nlohmann::json Components() = 0;
  // nullopt: no such component.
  virtual std::optional<nlohmann::json> ComponentJson(const std::string& name) = 0;
  // The objective window of a component (default range of a report); nullopt: unknown component.
  virtual std::optional<int64_t> ObjectiveWindowMs(const std::string& name) = 0;
  virtual Result<HttpBody> Report(const ReportQuery& query) = 0;
  // GET /: the HTML overview of every component.
  virtual std::string IndexHtml() { return "<!doctype html><title>obsmon</title>"; }
  // GET /api/v1/components/<name>/badge.svg: the component's status badge (image/svg+xml).
  // NotFound for an unknown component.
  virtual Result<HttpBody> BadgeSvg(const std::string& component) {
    return Status::NotFound("no component '" + component + "'");
  }
  // GET /api/v1/alerts: pending and firing alerts, in Prometheus's JSON shape (a full body).
  virtual std::string AlertsJson() { return R"({"status":"success","data":{"alerts":[]}})"; }
  // Empty while obsmon is healthy; otherwise why not ("storage: write: disk I/O error"). /healthz
  // and /-/ready answer 503 with it.
  virtual std::string HealthFailure() { return ""; }
  // Which database this obsmon writes, as an opaque id (a hash, never the path): sent on
  // /-/healthy as the Obsmon-Database header so that the CLI sends a change only to the daemon
  // of its own database. Empty: no header.
  virtual std::string DatabaseId() { return ""; }
  // /api/v1/periods and /api/v1/maintenance (web/manage_routes.h routed the request and checked
  // who may change anything; the backend reads the body's fields).
  virtual ManageReply Manage(const ManageRequest&) {
    return {404, nullptr, "periods and maintenance are not managed by this server"};
  }
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:9950";
  size_t max_request_bytes = 64 * 1024;  // bodies beyond this get 413
  // What a client may cost (web/gated_server.h): connections, the time to send a whole
  // request and to read a response. `web:` in the config sets them (docs/configuration.md).
  GateOptions gate;
  // Both set: serve HTTPS only (the files are read once, at Start()).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Credentials; replaceable at run time with SetAuth() (a reload changes them).
  HttpAuthOptions auth;
  // Called by POST /-/reload (from an HTTP worker thread; must be thread-safe). Empty: the
  // endpoint answers 403, as Prometheus does without --web.enable-lifecycle.
  std::function<Status()> reload;
  // Reports built at once (each holds up to a few tens of MB while built: docs/operations.md,
  // "Memory"), and how many more may wait for one of them, `report_wait` at most; beyond, or
  // after the wait, 503 with Retry-After. The waiting take workers from the 8 (GateOptions), so
  // together they leave /metrics and the pages some. One client address holds at most half of
  // these places (none of them when gate.max_workers_per_client is all the workers: behind a
  // reverse proxy every client is the proxy), so that a script asking and giving up over and
  // over cannot keep everyone else's reports at 503.
  size_t reports_building = 2;
  size_t reports_waiting = 2;
  std::chrono::milliseconds report_wait{10'000};
};

// The most incidents and gaps a report over the API lists (max_listed=N): the CLI's
// --max-listed 0 lists all, in the user's own process; the daemon's memory stays bounded.
inline constexpr size_t kMaxListedOverApi = 10'000;

// Fails ("cannot listen on HOST:PORT: Address already in use ...") when `listen` cannot be bound
// now; port 0 always can. The daemon asks before it opens anything else, so a second obsmon on a
// taken address creates no database on its way out. (Start() still reports a bind that fails
// later.)
Status CheckListenAddress(const std::string& listen);

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, ApiBackend& backend, const Clock& clock);
  ~HttpServer();

  // Binds and starts serving on a background thread. Fails with a clear Status when the address
  // cannot be bound. Port 0 picks a free port (see port()).
  Status Start();
  void Stop();
  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert_file.empty(); }
  // Replaces the credentials; requests already authorized finish. Thread-safe.
  void SetAuth(HttpAuthOptions auth);
  // The connection gate's counters (for /metrics); zeros before Start(). Thread-safe.
  GateStats ConnectionStats() const;

 private:
  void Routes();
  void HandleHealth(const std::string& path, httplib::Response& res);
  void Handle(const httplib::Request& req, httplib::Response& res);
  // False (and a 401 in `res`) when `path` needs credentials the request does not carry.
  bool CheckAuth(const std::string& path, const httplib::Request& req, httplib::Response& res);
  void HandleReload(httplib::Response& res);
  void HandleReport(const std::string& component, const httplib::Request& req,
                    httplib::Response& res);

  HttpServerOptions options_;
  ApiBackend& backend_;
  const Clock& clock_;
  Mutex auth_mu_;
  HttpAuthOptions auth_ GUARDED_BY(auth_mu_);
  std::unique_ptr<GatedServer> server_;
  int port_ = 0;
  FairSlots report_slots_;  // in the order asked; a waiter whose client left goes
  ConnectionLimits report_places_;  // reports being built or waiting to be, by client address
  std::atomic<uint64_t> reports_refused_per_client_{0}, reports_refused_total_{0},
      reports_refused_wait_{0};
};

// Where to listen: "host:port", IPv6 in brackets, an empty host meaning every interface.
struct ListenAddress {
  std::string host;  // without brackets; "0.0.0.0" for an empty host
  int port = 0;      // 0: any free port
};
// nullopt when `listen` is not host:port (the caller names the setting).
std::optional<ListenAddress> ParseListenAddress(const std::string& listen);

// Text from a request made safe to echo in an error: at most `max_bytes`, control bytes and
// non-ASCII bytes as \xNN (so invalid UTF-8 and NUL never reach the JSON encoder or a log).
std::string EchoSafe(std::string_view text, size_t max_bytes = 80);

}  // namespace obsmon
