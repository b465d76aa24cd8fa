// A real httplib server on 127.0.0.1, port 0, running in its own thread: a target for the probe
// tests, a receiver for the alert tests (alert_webhook.h).
// Slow handlers should wait with WaitStopped() so that the destructor never waits out a sleep.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace obsmon::testing {

class TestHttpServer {
 public:
  TestHttpServer() = default;
  ~TestHttpServer() { Stop(); }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  httplib::Server& server() { return server_; }

  // Binds 127.0.0.1:0 and serves in a thread; returns the port (0 on failure).
  int Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return 0;
    // The socket already listens after bind_to_any_port, so clients may connect at once.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so wait for it (bounded).
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return port_;
  }

  void Stop() {
    stopping_ = true;
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  // Sleeps up to `max`, returning early (true) once Stop() began.
  bool WaitStopped(std::chrono::milliseconds max) {
    auto end = std::chrono::steady_clock::now() + max;
    while (std::chrono::steady_clock::now() < end) {
      if (stopping_) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return stopping_;
  }
  bool stopping() const { return stopping_; }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

}  // namespace obsmon::testing
