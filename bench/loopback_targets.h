// What the daemon benchmarks probe: one in-process HTTP server on 127.0.0.1 answering
// GET /t/<n> with a small JSON body (4 threads, so the target is never the bottleneck), and the
// config lines of N http probes of it. For probes with keep_alive the server is one epoll thread
// instead (bench/epoll_http_target.h), which keeps connections until the client closes them.
#pragma once

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "bench/epoll_http_target.h"

namespace obsmon::bench {

class LoopbackTargets {
 public:
  explicit LoopbackTargets(bool kept_connections = false) {
    if (kept_connections) {
      kept_ = std::make_unique<EpollHttpTarget>();
      port_ = kept_->port();
      return;
    }
    server_.new_task_queue = [] { return new httplib::ThreadPool(4); };
    server_.Get(R"(/t/(\d+))", [this](const httplib::Request&, httplib::Response& res) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      res.set_content("{\"status\":\"OK\"}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    WidenBacklog();
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LoopbackTargets() {
    if (kept_) return;
    server_.stop();
    thread_.join();
  }
  LoopbackTargets(const LoopbackTargets&) = delete;
  LoopbackTargets& operator=(const LoopbackTargets&) = delete;

  int port() const { return port_; }
  // Requests answered so far (the truth a benchmark checks the daemon's run count against); not
  // counted for kept connections.
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

  // `n` entries of a component's `probes:` list (6-space indent): http probes <prefix>0 ..
  // <prefix><n-1> of this server, every `interval_ms`, with that timeout, and `keep_alive` when
  // not empty.
  std::string ProbesYaml(int n, int interval_ms, const std::string& keep_alive = "",
                         const std::string& prefix = "t") const {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += "      - {name: " + prefix + std::to_string(i) +
             ", kind: http, url: \"http://127.0.0.1:" +
             std::to_string(port_) + "/t/" + std::to_string(i) + "\", interval: " +
             std::to_string(interval_ms) + "ms, timeout: " + std::to_string(interval_ms) + "ms" +
             (keep_alive.empty() ? "" : ", keep_alive: " + keep_alive) + "}\n";
    }
    return out;
  }

 private:
  // cpp-httplib listens with a backlog of 5: connects beyond it (obsmon's batches start up to 64
  // runs together) wait a second for the SYN to be sent again, which no real server (nginx: 511)
  // does. Listening again on the same socket widens its queue.
  void WidenBacklog() const {
    for (int fd = 3; fd < 1024; ++fd) {
      sockaddr_in addr{};
      socklen_t len = sizeof addr;
      int listening = 0;
      socklen_t optlen = sizeof listening;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
          addr.sin_family != AF_INET || ntohs(addr.sin_port) != port_ ||
          getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || !listening) {
        continue;
      }
      ::listen(fd, 1024);
    }
  }

  httplib::Server server_;
  std::thread thread_;
  std::unique_ptr<EpollHttpTarget> kept_;
  std::atomic<uint64_t> hits_{0};
  int port_ = 0;
};

}  // namespace obsmon::bench
