// obsmon's HTTP server: /metrics, /healthz, /api/v1/... . Parameters are validated here (a clear
// 400 naming the parameter); the work is done by an ApiBackend that monitor/main provides.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace obsmon {

struct ReportQuery {
  std::string component;
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
  std::string format = "json";  // json | markdown | text
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
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:9950";
  size_t max_request_bytes = 64 * 1024;  // bodies beyond this get 413
  int read_timeout_seconds = 5;          // slow clients are cut off
  int write_timeout_seconds = 10;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, ApiBackend& backend, const Clock& clock);
  ~HttpServer();

  // Binds and starts serving on a background thread. Fails with a clear Status when the address
  // cannot be bound. Port 0 picks a free port (see port()).
  Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  void Routes();
  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleReport(const std::string& component, const httplib::Request& req,
                    httplib::Response& res);

  HttpServerOptions options_;
  ApiBackend& backend_;
  const Clock& clock_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "host:port" (IPv6 in brackets); false when malformed.
bool SplitHostPort(const std::string& listen, std::string* host, int* port);

}  // namespace obsmon
