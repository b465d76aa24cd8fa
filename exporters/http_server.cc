#include "exporters/http_server.h"

#include <httplib.h>

#include "core/duration.h"
#include "core/time_format.h"

namespace obsmon {

namespace {

// Prometheus-style error body, so API clients can parse errors the same way.
void SendError(httplib::Response& res, int status, const std::string& type,
               const std::string& message) {
  nlohmann::json body = {{"status", "error"}, {"errorType", type}, {"error", message}};
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendJson(httplib::Response& res, const nlohmann::json& data) {
  nlohmann::json body = {{"status", "success"}, {"data", data}};
  res.set_content(body.dump(2) + "\n", "application/json");
}

}  // namespace

bool SplitHostPort(const std::string& listen, std::string* host, int* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) return false;
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  for (size_t i = colon + 1; i < listen.size(); ++i) {
    if (listen[i] < '0' || listen[i] > '9') return false;
    p = p * 10 + (listen[i] - '0');
    if (p > 65535) return false;
  }
  *host = h.empty() ? "0.0.0.0" : h;
  *port = p;
  return true;
}

HttpServer::HttpServer(HttpServerOptions options, ApiBackend& backend, const Clock& clock)
    : options_(std::move(options)), backend_(backend), clock_(clock) {}

HttpServer::~HttpServer() { Stop(); }

// Paths are dispatched here by hand: cpp-httplib's route patterns run std::regex on every
// request, which the project keeps off request paths.
void HttpServer::Routes() {
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return SendError(res, 405, "bad_data", "method " + req.method + " not allowed on " + path);
  }
  if (path == "/metrics") {
    return res.set_content(backend_.MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/healthz" || path == "/-/healthy" || path == "/-/ready") {
    return res.set_content("OK\n", "text/plain");
  }
  if (path == "/api/v1/components") return SendJson(res, backend_.Components());
  const std::string prefix = "/api/v1/components/";
  if (path.rfind(prefix, 0) == 0) {
    std::string rest = path.substr(prefix.size());
    auto slash = rest.find('/');
    std::string name = rest.substr(0, slash);
    if (name.empty()) return SendError(res, 404, "not_found", "no such path " + path);
    if (slash == std::string::npos) {
      auto c = backend_.ComponentJson(name);
      if (!c) return SendError(res, 404, "not_found", "no component '" + name + "'");
      return SendJson(res, *c);
    }
    if (rest.substr(slash) == "/report") return HandleReport(name, req, res);
  }
  SendError(res, 404, "not_found", "no such path " + path);
}

void HttpServer::HandleReport(const std::string& component, const httplib::Request& req,
                              httplib::Response& res) {
  ReportQuery q;
  q.component = component;
  auto window = backend_.ObjectiveWindowMs(q.component);
  if (!window) return SendError(res, 404, "not_found", "no component '" + q.component + "'");
  for (const auto& [key, value] : req.params) {
    if (key != "from" && key != "to" && key != "last" && key != "format") {
      return SendError(res, 400, "bad_data",
                       "unknown parameter '" + key + "' (known: from, to, last, format)");
    }
  }
  const TimestampMs now = clock_.NowMs();
  q.to_ms = now;
  if (req.has_param("to")) {
    auto t = ParseTimestamp(req.get_param_value("to"));
    if (!t) {
      return SendError(res, 400, "bad_data",
                       "parameter 'to': cannot parse '" + req.get_param_value("to") +
                           "' as RFC 3339 or Unix time");
    }
    q.to_ms = *t;
  }
  if (req.has_param("last") && req.has_param("from")) {
    return SendError(res, 400, "bad_data", "parameters 'from' and 'last' exclude each other");
  }
  q.from_ms = q.to_ms - *window;
  if (req.has_param("from")) {
    auto f = ParseTimestamp(req.get_param_value("from"));
    if (!f) {
      return SendError(res, 400, "bad_data",
                       "parameter 'from': cannot parse '" + req.get_param_value("from") +
                           "' as RFC 3339 or Unix time");
    }
    q.from_ms = *f;
  }
  if (req.has_param("last")) {
    auto d = ParseDurationMs(req.get_param_value("last"));
    if (!d || *d <= 0) {
      return SendError(res, 400, "bad_data",
                       "parameter 'last': '" + req.get_param_value("last") +
                           "' is not a positive duration such as 7d or 24h");
    }
    q.from_ms = q.to_ms - *d;
  }
  if (q.from_ms >= q.to_ms) return SendError(res, 400, "bad_data", "'from' must be before 'to'");
  if (q.to_ms - q.from_ms > 400LL * 86'400'000) {
    return SendError(res, 400, "bad_data", "the report window may not exceed 400d");
  }
  if (req.has_param("format")) q.format = req.get_param_value("format");
  if (q.format != "json" && q.format != "markdown" && q.format != "text") {
    return SendError(res, 400, "bad_data",
                     "parameter 'format': '" + q.format + "' is not one of json, markdown, text");
  }
  auto body = backend_.Report(q);
  if (!body.ok()) {
    return SendError(res, body.status().IsNotFound() ? 404 : 500, "execution",
                     body.status().message());
  }
  res.set_content(body->body, body->content_type);
}

Status HttpServer::Start() {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options_.listen, &host, &port)) {
    return Status::InvalidArgument("listen address '" + options_.listen + "' is not host:port");
  }
  server_ = std::make_unique<httplib::Server>();
  server_->set_payload_max_length(options_.max_request_bytes);
  server_->set_read_timeout(options_.read_timeout_seconds, 0);
  server_->set_write_timeout(options_.write_timeout_seconds, 0);
  server_->set_keep_alive_max_count(100);
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                    std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(res, 500, "internal", what);
  });
  Routes();
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ < 0) return Status::Unavailable("cannot bind " + options_.listen);
  } else {
    if (!server_->bind_to_port(host, port)) {
      return Status::Unavailable("cannot listen on " + options_.listen +
                                 " (address in use or not available)");
    }
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace obsmon
