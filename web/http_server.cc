#include "web/http_server.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <filesystem>

#include "core/duration.h"
#include "core/thread_name.h"
#include "core/time_format.h"
#include "web/gated_server.h"
#include "web/json_reply.h"
#include "web/manage_routes.h"

namespace obsmon {

namespace {

bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  const std::string length = req.get_header_value("Content-Length");
  return !length.empty() && length != "0";
}

bool IsHealthPath(const std::string& path) {
  return path == "/healthz" || path == "/-/healthy" || path == "/-/ready";
}

}  // namespace

// Why listening on host:port fails, as the kernel says it ("Address already in use"), or ""
// when it would not: cpp-httplib reports only that it failed. Uses a throwaway socket with the
// server's options.
static std::string BindError(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return gai_strerror(rc);
  }
  std::string error = "address not available";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // bind() alone succeeds beside a listener bound with SO_REUSEADDR; listen() then fails.
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 1) != 0) {
      error = std::strerror(errno);
    } else {
      error.clear();  // free
    }
    ::close(fd);
    break;
  }
  ::freeaddrinfo(found);
  return error;
}

std::optional<ListenAddress> ParseListenAddress(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) return std::nullopt;
  ListenAddress out;
  out.host = listen.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  for (size_t i = colon + 1; i < listen.size(); ++i) {
    if (listen[i] < '0' || listen[i] > '9') return std::nullopt;
    out.port = out.port * 10 + (listen[i] - '0');
    if (out.port > 65535) return std::nullopt;
  }
  return out;
}

std::string EchoSafe(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_bytes) {
      out += "...(" + std::to_string(text.size()) + " bytes)";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

// How long a report request whose address holds its share of the places waits for one of them.
constexpr std::chrono::milliseconds kOwnReportPlaceWait{1000};

// Half the report places for one client address, or all of them when one address may hold every
// worker (behind a reverse proxy).
size_t ReportPlacesPerClient(const HttpServerOptions& o) {
  const size_t places = o.reports_building + o.reports_waiting;
  if (o.gate.max_workers_per_client >= o.gate.workers) return places;
  return std::max<size_t>(1, places / 2);
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, ApiBackend& backend, const Clock& clock)
    : options_(std::move(options)),
      backend_(backend),
      clock_(clock),
      auth_(options_.auth),
      report_slots_(std::max<size_t>(options_.reports_building, 1)),
      report_places_(options_.reports_building + options_.reports_waiting,
                     ReportPlacesPerClient(options_)) {}

void HttpServer::SetAuth(HttpAuthOptions auth) {
  MutexLock lock(auth_mu_);
  auth_ = std::move(auth);
}

bool HttpServer::CheckAuth(const std::string& path, const httplib::Request& req,
                           httplib::Response& res) {
  HttpAuthOptions auth;
  {
    MutexLock lock(auth_mu_);
    if (!auth_.enabled()) return true;
    if (path == "/metrics" && !auth_.protect_metrics) return true;
    if (IsHealthPath(path) && !auth_.protect_health) return true;
    auth = auth_;
  }
  if (Authorized(auth, req.get_header_value("Authorization"))) return true;
  for (const auto& challenge : AuthChallenges(auth)) res.set_header("WWW-Authenticate", challenge);
  SendError(res, 401, "unauthorized", "authentication required");
  return false;
}

void HttpServer::HandleReload(httplib::Response& res) {
  if (!options_.reload) {
    return SendError(res, 403, "forbidden", "the lifecycle API is not enabled");
  }
  const Status s = options_.reload();
  if (!s.ok()) {
    // The errors name the config file, line and column; they carry no secret (secrets are read
    // from their files, whose contents are never quoted).
    return SendError(res, 500, "reload", "failed to reload config: " + s.message());
  }
  res.set_content("config reloaded\n", "text/plain");
}

HttpServer::~HttpServer() { Stop(); }

// Paths are dispatched here by hand: cpp-httplib's route patterns run std::regex on every
// request, which the project keeps off request paths.
//
// cpp-httplib calls the pre-routing handler BEFORE it reads a request body, so a request that
// carries one is left to it: it reads the body within max_request_bytes (413 beyond, the body
// skipped), finds no registered route and answers 404 through the error handler, where the
// request is dispatched with its body consumed (so a keep-alive connection stays in sync).
void HttpServer::Routes() {
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (HasBody(req)) return httplib::Server::HandlerResponse::Unhandled;
    Handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req,
                                                         httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
    if (res.status == 413) {
      SendError(
          res, 413, "bad_data",
          "request body larger than " + std::to_string(options_.max_request_bytes) + " bytes");
    } else if (res.status == 404 && HasBody(req) && (req.method == "POST" || req.method == "PUT" ||
                                                    req.method == "PATCH")) {
      res.status = 200;
      Handle(req, res);
    } else if (res.status == 404 && HasBody(req)) {
      SendError(res, 400, "bad_data",
                "a " + EchoSafe(req.method) + " request may not carry a body");
    } else if (res.status == 414) {
      SendError(res, 414, "bad_data", "request URI too long");
    } else {
      SendError(res, res.status, "bad_data", "malformed request");
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  server_->set_error_handler(std::move(on_error));
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  if (!CheckAuth(path, req, res)) return;
  if (path == "/-/reload") {
    if (req.method != "POST" && req.method != "PUT") {
      res.set_header("Allow", "POST, PUT");
      return SendError(res, 405, "bad_data", "use POST to reload");
    }
    return HandleReload(res);
  }
  if (IsManagePath(path)) {
    bool auth_enabled = false;
    {
      MutexLock lock(auth_mu_);
      auth_enabled = auth_.enabled();
    }
    return HandleManage(req, res, backend_, auth_enabled);
  }
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return SendError(res, 405, "bad_data",
                     "method " + EchoSafe(req.method) + " not allowed on " + EchoSafe(path));
  }
  if (path == "/metrics") {
    return res.set_content(backend_.MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (IsHealthPath(path)) return HandleHealth(path, res);
  if (path == "/") return res.set_content(backend_.IndexHtml(), "text/html; charset=utf-8");
  if (path == "/api/v1/components") return SendJson(res, backend_.Components());
  if (path == "/api/v1/alerts") return res.set_content(backend_.AlertsJson(), "application/json");
  const std::string prefix = "/api/v1/components/";
  if (path.rfind(prefix, 0) == 0) {
    std::string rest = path.substr(prefix.size());
    auto slash = rest.find('/');
    std::string name = rest.substr(0, slash);
    if (name.empty()) return SendError(res, 404, "not_found", "no such path " + EchoSafe(path));
    if (slash == std::string::npos) {
      auto c = backend_.ComponentJson(name);
      if (!c) return SendError(res, 404, "not_found", "no component '" + EchoSafe(name) + "'");
      return SendJson(res, *c);
    }
    if (rest.substr(slash) == "/report") return HandleReport(name, req, res);
    if (rest.substr(slash) == "/badge.svg") {
      auto badge = backend_.BadgeSvg(name);
      if (!badge.ok()) {
        const bool not_found = badge.status().IsNotFound();
        return SendError(res, not_found ? 404 : 500, not_found ? "not_found" : "execution",
                         EchoSafe(badge.status().message()));
      }
      res.set_header("Cache-Control", "no-cache");  // a README's image shows the verdict of now
      return res.set_content(badge->body, badge->content_type);
    }
  }
  SendError(res, 404, "not_found", "no such path " + EchoSafe(path));
}

namespace {
// ?day=N (a day number from 1 to 9999) into q->day; the error message when it is not one.
std::optional<std::string> ReadDay(const httplib::Request& req, ReportQuery* q) {
  if (!req.has_param("day")) return std::nullopt;
  const std::string text = req.get_param_value("day");
  bool digits = !text.empty() && text.size() <= 4;
  for (char ch : text) digits = digits && ch >= '0' && ch <= '9';
  if (!digits || std::stoi(text) < 1) {
    return "parameter 'day': '" + EchoSafe(text) + "' is not a day number (1, 2, ...)";
  }
  q->day = std::stoi(text);
  return std::nullopt;
}

// ?max_listed=N (1 to kMaxListedOverApi) into q->max_listed; the error message when it is not.
std::optional<std::string> ReadMaxListed(const httplib::Request& req, ReportQuery* q) {
  if (!req.has_param("max_listed")) return std::nullopt;
  const std::string text = req.get_param_value("max_listed");
  bool digits = !text.empty() && text.size() <= 9;
  for (char ch : text) digits = digits && ch >= '0' && ch <= '9';
  const size_t n = digits ? static_cast<size_t>(std::stoul(text)) : 0;
  if (n < 1 || n > kMaxListedOverApi) {
    return "parameter 'max_listed': '" + EchoSafe(text) + "' is not a count from 1 to " +
           std::to_string(kMaxListedOverApi) +
           " (the daemon lists at most that many; `obsmon report --max-listed 0` lists all)";
  }
  q->max_listed = n;
  return std::nullopt;
}
}  // namespace

void HttpServer::HandleReport(const std::string& component, const httplib::Request& req,
                              httplib::Response& res) {
  ReportQuery q;
  q.component = component;
  auto window = backend_.ObjectiveWindowMs(q.component);
  if (!window) {
    return SendError(res, 404, "not_found", "no component '" + EchoSafe(q.component) + "'");
  }
  for (const auto& [key, value] : req.params) {
    if (key != "from" && key != "to" && key != "last" && key != "format" && key != "period" &&
        key != "day" && key != "max_listed") {
      return SendError(res, 400, "bad_data",
                       "unknown parameter '" + EchoSafe(key) +
                           "' (known: from, to, last, period, format, day, max_listed)");
    }
    if (req.get_param_value_count(key) > 1) {
      return SendError(res, 400, "bad_data", "parameter '" + key + "' given more than once");
    }
  }
  const TimestampMs now = clock_.NowMs();
  q.to_ms = now;
  q.explicit_window = req.has_param("from") || req.has_param("to") || req.has_param("last");
  if (req.has_param("period")) {
    if (q.explicit_window) {
      return SendError(res, 400, "bad_data",
                       "parameter 'period' excludes 'from', 'to' and 'last'");
    }
    const std::string text = req.get_param_value("period");
    int64_t id = 0;
    bool digits = !text.empty() && text.size() <= 18;
    for (char ch : text) digits = digits && ch >= '0' && ch <= '9';
    if (!digits || (id = std::stoll(text)) <= 0) {
      return SendError(res, 400, "bad_data",
                       "parameter 'period': '" + EchoSafe(text) + "' is not a period id");
    }
    q.period_id = id;
  }
  if (auto bad = ReadDay(req, &q)) return SendError(res, 400, "bad_data", *bad);
  if (auto bad = ReadMaxListed(req, &q)) return SendError(res, 400, "bad_data", *bad);
  if (req.has_param("to")) {
    auto t = ParseTimestamp(req.get_param_value("to"));
    if (!t) {
      return SendError(res, 400, "bad_data",
                       "parameter 'to': cannot parse '" + EchoSafe(req.get_param_value("to")) +
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
                       "parameter 'from': cannot parse '" + EchoSafe(req.get_param_value("from")) +
                           "' as RFC 3339 or Unix time");
    }
    q.from_ms = *f;
  }
  if (req.has_param("last")) {
    auto d = ParseDurationMs(req.get_param_value("last"));
    if (!d || *d <= 0) {
      return SendError(res, 400, "bad_data",
                       "parameter 'last': '" + EchoSafe(req.get_param_value("last")) +
                           "' is not a positive duration such as 7d or 24h");
    }
    q.from_ms = q.to_ms - *d;
  }
  if (q.from_ms >= q.to_ms) return SendError(res, 400, "bad_data", "'from' must be before 'to'");
  if (q.to_ms - q.from_ms > 400LL * 86'400'000) {
    return SendError(res, 400, "bad_data", "the report window may not exceed 400d");
  }
  if (req.has_param("format")) q.format = req.get_param_value("format");
  if (q.day && !req.has_param("format")) q.format = "markdown";  // as the CLI's --day alone
  if (q.format != "json" && q.format != "markdown" && q.format != "text" && q.format != "html") {
    return SendError(res, 400, "bad_data",
                     "parameter 'format': '" + EchoSafe(q.format) +
                         "' is not one of json, markdown, text, html");
  }
  if (q.day && q.format != "markdown") {
    return SendError(res, 400, "bad_data",
                     "parameter 'format': a day's comment (day=N) is markdown only");
  }
  // At most reports_building built at once, reports_waiting more waiting (see HttpServerOptions).
  auto busy = [&](const std::string& why) {
    res.set_header("Retry-After", "1");
    SendError(res, 503, "unavailable", why);
  };
  auto place = report_places_.TryAdd(req.remote_addr);
  // The address's own places may be held by requests it has just given up on (a page reloaded
  // twice): they leave within 0.1 s, so wait a little for one before refusing (fresh eyes, stop
  // 64: the third reload got an immediate 503). Waiting takes a worker but no report place.
  const auto own_wait_end = std::chrono::steady_clock::now() + kOwnReportPlaceWait;
  while (place == ConnectionLimits::Verdict::kOverClient &&
         std::chrono::steady_clock::now() < own_wait_end && !GatedServer::ServedClientGone()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    place = report_places_.TryAdd(req.remote_addr);
  }
  if (place == ConnectionLimits::Verdict::kOverClient) {
    ++reports_refused_per_client_;
    return busy("this address has " + std::to_string(report_places_.per_client_limit()) +
                " reports being built or waiting, as many as one address may; try again");
  }
  if (place == ConnectionLimits::Verdict::kOverTotal) {
    ++reports_refused_total_;
    return busy("too many reports asked for at once (" +
                std::to_string(options_.reports_building) + " built at a time, " +
                std::to_string(options_.reports_waiting) + " waiting); try again");
  }
  struct Leave {
    ConnectionLimits& places;
    const std::string& client;
    ~Leave() { places.Remove(client); }
  };
  Leave leave{report_places_, req.remote_addr};
  // A client that closed its connection (a reloaded page, a timed-out script) is not waited
  // for, nor built for: nginx's 499, "client closed request". Nobody reads the answer.
  auto canceled = [&] {
    SendError(res, 499, "canceled", "the client closed the connection before its report");
  };
  const auto outcome = report_slots_.Acquire(options_.report_wait, GatedServer::ServedClientGone);
  if (outcome == FairSlots::Outcome::kTimedOut) {
    ++reports_refused_wait_;
    return busy("no report could be built within " + FormatDurationMs(options_.report_wait.count()) +
                "; try again");
  }
  if (outcome == FairSlots::Outcome::kGone) return canceled();
  q.cancelled = GatedServer::ServedClientGone;  // asked by the build as it goes
  auto body = backend_.Report(q);
  report_slots_.Release();
  if (!body.ok() && body.status().IsCancelled()) return canceled();
  if (!body.ok()) {
    // The caller's mistake (a day out of range or not begun) is a 400, as every bad parameter.
    const Status& s = body.status();
    const int code = s.IsNotFound() ? 404 : s.IsInvalidArgument() ? 400 : 500;
    return SendError(res, code, code == 400 ? "bad_data" : "execution", s.message());
  }
  res.set_content(body->body, body->content_type);
}

Status CheckListenAddress(const std::string& listen) {
  const auto address = ParseListenAddress(listen);
  if (!address) return Status::InvalidArgument("listen address '" + listen + "' is not host:port");
  if (address->port == 0) return Status::Ok();
  const std::string error = BindError(address->host, address->port);
  if (error.empty()) return Status::Ok();
  return Status::Unavailable("cannot listen on " + listen + ": " + error +
                             " (is another obsmon running there?)");
}

// /-/healthy is liveness (200 while the process serves, as in Prometheus); /healthz and /-/ready
// also say whether obsmon can keep its evidence: 503 with the reason while storage fails.
void HttpServer::HandleHealth(const std::string& path, httplib::Response& res) {
  if (path != "/-/healthy") {
    const std::string failure = backend_.HealthFailure();
    if (!failure.empty()) {
      res.status = 503;
      return res.set_content("unhealthy: " + failure + "\n", "text/plain");
    }
  }
  if (path == "/-/healthy") {
    if (const std::string id = backend_.DatabaseId(); !id.empty()) {
      res.set_header("Obsmon-Database", id);
    }
  }
  res.set_content("OK\n", "text/plain");
}

Status HttpServer::Start() {
  const auto address = ParseListenAddress(options_.listen);
  if (!address) {
    return Status::InvalidArgument("listen address '" + options_.listen + "' is not host:port");
  }
  const std::string& host = address->host;
  const int port = address->port;
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return Status::InvalidArgument("TLS needs both a certificate and a key file");
  }
  GateOptions gate = options_.gate;
  gate.max_body_bytes = options_.max_request_bytes;
  server_ = std::make_unique<GatedServer>(gate);
  if (tls()) {
    for (const std::string* f : {&options_.tls_cert_file, &options_.tls_key_file}) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(*f, ec)) {
        return Status::InvalidArgument("TLS file '" + *f + "' does not exist or is not a file");
      }
    }
    if (Status s = server_->EnableTls(options_.tls_cert_file, options_.tls_key_file); !s.ok()) {
      return s;
    }
  }
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
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
  auto bound = server_->Bind(host, port);
  if (!bound.ok()) {
    return Status::Unavailable("cannot listen on " + options_.listen + ": " +
                               bound.status().message() + " (is another obsmon running there?)");
  }
  port_ = *bound;
  server_->Start();
  return Status::Ok();
}

void HttpServer::Stop() {
  if (server_) server_->Stop();
}

GateStats HttpServer::ConnectionStats() const {
  GateStats stats = server_ ? server_->Stats() : GateStats{};
  stats.reports_refused_per_client = reports_refused_per_client_;
  stats.reports_refused_total = reports_refused_total_;
  stats.reports_refused_wait = reports_refused_wait_;
  return stats;
}

}  // namespace obsmon
