// Test support: a webhook receiver for Alertmanager's and obsmon's notifications (the webhook
// JSON: {"alerts": [{"status", "labels", "startsAt", ...}]}), recording every alert of every POST
// with the path it came to and when it arrived. Header-only; links httplib and nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/test_http_server.h"

namespace obsmon::testing {

// Wall-clock now in ms since the epoch: the clock ReceivedAlert::wall_ms is taken on.
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct ReceivedAlert {
  std::string path;  // e.g. "/hook"
  std::string alertname;
  std::string status;  // "firing" or "resolved"
  std::string starts_at;
  nlohmann::json labels;
  int64_t wall_ms = 0;  // when it arrived (system clock)
};

class AlertWebhook {
 public:
  // Listens on 127.0.0.1 (port()) for POSTs to any path; answers 200.
  AlertWebhook() {
    server_.server().Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req.path, req.body);
      res.status = 200;
    });
    server_.Start();
  }

  int port() const { return server_.port(); }
  std::string Url(const std::string& path = "/hook") const { return server_.Url(path); }

  // The alerts named `alertname` received on `path` ("" for any path), in arrival order.
  std::vector<ReceivedAlert> Received(const std::string& alertname,
                                      const std::string& path = "") {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ReceivedAlert> out;
    for (const auto& a : received_) {
      if (a.alertname == alertname && (path.empty() || a.path == path)) out.push_back(a);
    }
    return out;
  }

 private:
  void Record(const std::string& path, const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.contains("alerts") || !json["alerts"].is_array()) return;
    const int64_t now = WallMs();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& a : json["alerts"]) {
      if (!a.is_object()) continue;
      ReceivedAlert r;
      r.path = path;
      r.labels = a.value("labels", nlohmann::json::object());
      r.alertname = r.labels.is_object() ? r.labels.value("alertname", "") : "";
      r.status = a.value("status", "");
      r.starts_at = a.value("startsAt", "");
      r.wall_ms = now;
      received_.push_back(std::move(r));
    }
  }

  TestHttpServer server_;
  std::mutex mu_;
  std::vector<ReceivedAlert> received_;
};

}  // namespace obsmon::testing
