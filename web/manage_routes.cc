#include "web/manage_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "web/http_server.h"
#include "web/json_reply.h"
#include "web/manage_request.h"

namespace obsmon {
namespace {

constexpr std::string_view kPeriods = "/api/v1/periods";
constexpr std::string_view kMaintenance = "/api/v1/maintenance";
// The bodies are flat objects; a deeper document is refused before it costs anything.
constexpr int kMaxJsonDepth = 4;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Answers 405 naming the allowed methods; nullopt, for Route to return.
std::nullopt_t MethodNotAllowed(const httplib::Request& req, httplib::Response& res,
                                const char* allow) {
  res.set_header("Allow", allow);
  SendError(res, 405, "bad_data",
            "method " + EchoSafe(req.method) + " not allowed on " + EchoSafe(req.path) +
                " (allowed: " + allow + ")");
  return std::nullopt;
}

// The request's body as a JSON object (an empty body is an empty object); nullopt after an
// error answer naming where it fails.
std::optional<nlohmann::json> ParseBody(const httplib::Request& req, httplib::Response& res) {
  if (req.body.empty()) return nlohmann::json::object();
  using Event = nlohmann::json::parse_event_t;
  bool too_deep = false;
  std::string repeated;  // a key given twice in one object (nlohmann would keep the last)
  std::vector<std::set<std::string>> keys;  // of each object open, innermost last
  nlohmann::json::parser_callback_t check = [&](int depth, Event event, nlohmann::json& parsed) {
    if (depth > kMaxJsonDepth) too_deep = true;
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end && !keys.empty()) keys.pop_back();
    if (event == Event::key && !keys.empty() &&
        !keys.back().insert(parsed.get<std::string>()).second && repeated.empty()) {
      repeated = parsed.get<std::string>();
    }
    return !too_deep;
  };
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body, check);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." without the tag.
    if (auto tag = what.find("] "); tag != std::string::npos) what = what.substr(tag + 2);
    SendError(res, 400, "bad_data", "body: invalid JSON: " + EchoSafe(what, 300));
    return std::nullopt;
  }
  if (too_deep) {
    SendError(res, 400, "bad_data",
              "body: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return std::nullopt;
  }
  if (!repeated.empty()) {
    SendError(res, 400, "bad_data",
              "body: field '" + EchoSafe(repeated) + "' given more than once");
    return std::nullopt;
  }
  if (!body.is_object()) {
    SendError(res, 400, "bad_data", "body: must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// The list's `component` filter; false after an error answer (another parameter, or twice).
bool ReadListParams(const httplib::Request& req, httplib::Response& res, std::string* component) {
  for (const auto& [key, value] : req.params) {
    if (key != "component") {
      SendError(res, 400, "bad_data",
                "unknown parameter '" + EchoSafe(key) + "' (known: component)");
      return false;
    }
    if (req.get_param_value_count(key) > 1) {
      SendError(res, 400, "bad_data", "parameter 'component' given more than once");
      return false;
    }
  }
  *component = req.get_param_value("component");
  return true;
}

// The operation `req` asks for; nullopt after an error answer (404, 405, 400 for a bad id).
std::optional<ManageRequest> Route(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  ManageRequest out;
  if (path == kPeriods || path == kMaintenance) {
    const bool periods = path == kPeriods;
    if (!get && m != "POST") return MethodNotAllowed(req, res, "GET, HEAD, POST");
    if (get) {
      out.op = periods ? ManageOp::kListPeriods : ManageOp::kListWindows;
      if (!ReadListParams(req, res, &out.component)) return std::nullopt;
    } else {
      out.op = periods ? ManageOp::kStartPeriod : ManageOp::kAddWindow;
    }
    return out;
  }
  if (path == std::string(kPeriods) + "/stop") {
    if (m != "POST") return MethodNotAllowed(req, res, "POST");
    out.op = ManageOp::kStopPeriod;
    return out;
  }
  const std::string prefix = std::string(kMaintenance) + "/";
  if (!StartsWith(path, prefix)) {
    SendError(res, 404, "not_found", "no such path " + EchoSafe(path));
    return std::nullopt;
  }
  const std::string id = path.substr(prefix.size());
  bool digits = !id.empty() && id.size() <= 18;
  for (char c : id) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoll(id) <= 0) {
    SendError(res, 404, "not_found",
              "no maintenance window '" + EchoSafe(id) + "' (ids are numbers)");
    return std::nullopt;
  }
  if (m != "PATCH" && m != "DELETE") return MethodNotAllowed(req, res, "PATCH, DELETE");
  out.op = m == "PATCH" ? ManageOp::kEditWindow : ManageOp::kDeleteWindow;
  out.id = std::stoll(id);
  return out;
}

bool IsLoopback(std::string_view addr) {
  return StartsWith(addr, "127.") || addr == "::1" || StartsWith(addr, "::ffff:127.");
}

}  // namespace

bool IsManagePath(const std::string& path) {
  return path == kPeriods || path == kMaintenance ||
         StartsWith(path, std::string(kPeriods) + "/") ||
         StartsWith(path, std::string(kMaintenance) + "/");
}

bool MayChange(bool auth_enabled, std::string_view remote_addr) {
  return auth_enabled || IsLoopback(remote_addr);
}

void HandleManage(const httplib::Request& req, httplib::Response& res, ApiBackend& backend,
                  bool auth_enabled) {
  auto request = Route(req, res);
  if (!request) return;
  request->client = req.remote_addr;
  if (IsChange(request->op)) {
    if (!MayChange(auth_enabled, req.remote_addr)) {
      return SendError(res, 403, "forbidden",
                       "changes over HTTP need credentials: configure web.auth, or run the "
                       "client on this machine (loopback)");
    }
    if (request->op != ManageOp::kDeleteWindow) {
      auto body = ParseBody(req, res);
      if (!body) return;
      request->body = std::move(*body);
    }
  }
  const ManageReply reply = backend.Manage(*request);
  if (reply.status >= 400) {
    const char* type = reply.status == 404   ? "not_found"
                       : reply.status < 500  ? "bad_data"
                       : reply.status == 503 ? "unavailable"
                                             : "execution";
    // What a client that retries needs: a second (the lock a change waited for is most often
    // a shell's or a backup's moment; another change in the queue ends within busy_timeout).
    if (reply.status == 503) res.set_header("Retry-After", "1");
    return SendError(res, reply.status, type, reply.error);
  }
  SendJson(res, reply.data);
  res.status = reply.status;
}

}  // namespace obsmon
