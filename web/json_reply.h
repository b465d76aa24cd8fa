// The JSON bodies of obsmon's HTTP API, for the files of web/ that answer it (private to web/).
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace obsmon {

// Prometheus-style error body, so API clients can parse errors the same way.
inline void SendError(httplib::Response& res, int status, const std::string& type,
                      const std::string& message) {
  nlohmann::json body = {{"status", "error"}, {"errorType", type}, {"error", message}};
  res.status = status;
  // `replace`: a message that still carries invalid UTF-8 must not throw from the encoder.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

inline void SendJson(httplib::Response& res, const nlohmann::json& data) {
  nlohmann::json body = {{"status", "success"}, {"data", data}};
  res.set_content(body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

}  // namespace obsmon
