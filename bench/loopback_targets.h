// What the daemon benchmarks probe: one in-process HTTP server on 127.0.0.1 answering
// GET /t/<n> with a small JSON body (4 threads, so the target is never the bottleneck), and the
// config lines of N http probes of it.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace obsmon::bench {

class LoopbackTargets {
 public:
  LoopbackTargets() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(4); };
    server_.Get(R"(/t/(\d+))", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"OK\"}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LoopbackTargets() {
    server_.stop();
    thread_.join();
  }
  LoopbackTargets(const LoopbackTargets&) = delete;
  LoopbackTargets& operator=(const LoopbackTargets&) = delete;

  int port() const { return port_; }

  // `n` entries of a component's `probes:` list (6-space indent): http probes t0..t<n-1> of
  // this server, every `interval_ms`, with that timeout.
  std::string ProbesYaml(int n, int interval_ms) const {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += "      - {name: t" + std::to_string(i) + ", kind: http, url: \"http://127.0.0.1:" +
             std::to_string(port_) + "/t/" + std::to_string(i) + "\", interval: " +
             std::to_string(interval_ms) + "ms, timeout: " + std::to_string(interval_ms) + "ms}\n";
    }
    return out;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace obsmon::bench
