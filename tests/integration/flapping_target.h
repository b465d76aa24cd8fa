// A loopback /health target that flaps or goes down on demand and counts its own outages: the
// independent truth of the incidents a report must count (ops_report_* tests).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "tests/support/subprocess.h"

namespace obsmon::testing {

// /health answers 200, or while flapping 503 and 200 in turn, or while down 503; counts its
// outages (a 503 after a 200 or none) and the 503s it answered.
class FlappingTarget {
 public:
  FlappingTarget() {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const bool fail = down_ || (flapping_ && (answered_++ % 2 == 1));
      if (fail) {
        res.status = 503;
        ++failed_;
        if (!failing_.exchange(true)) ++outages_;
        if (down_) {
          const int64_t at = SteadyMs();
          int64_t unset = 0;
          long_first_ms_.compare_exchange_strong(unset, at);
          long_last_ms_ = at;
        }
      } else {
        failing_ = false;
      }
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, std::chrono::seconds(5));
  }
  ~FlappingTarget() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void Flap(bool on) { flapping_ = on; }
  void Down(bool on) { down_ = on; }
  int64_t failed() const { return failed_; }
  int64_t outages() const { return outages_; }
  bool failing() const { return failing_; }
  // From the first to the last 503 answered while down (ms).
  int64_t down_ms() const { return long_last_ms_ - long_first_ms_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> flapping_{false};
  std::atomic<bool> down_{false};
  std::atomic<bool> failing_{false};
  std::atomic<int64_t> answered_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> outages_{0};
  std::atomic<int64_t> long_first_ms_{0};
  std::atomic<int64_t> long_last_ms_{0};
  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int port_ = 0;
};

}  // namespace obsmon::testing
