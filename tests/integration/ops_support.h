// Helpers shared by the ops_* integration tests: a real HTTP target, starting the real obsmon
// binary and finding its port, reading one value from /metrics text, a process's RSS.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "tests/support/files.h"
#include "tests/support/loopback.h"
#include "tests/support/sanitizers.h"  // kAddressSanitizer: RSS bounds in the normal build only
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::testing {

// The resident set of `pid` in KiB (VmRSS), or -1.
inline long RssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The obsmon under test: the one built here, or OBSMON_TEST_BINARY (e.g. an older build, to show
// what a test catches).
inline const std::string kObsmonBinary = [] {
  const char* env = std::getenv("OBSMON_TEST_BINARY");
  return env && *env ? std::string(env) : std::string(OBSMON_BINARY_DIR) + "/obsmon";
}();

// The runs of one probe at `interval_ms` that a kill -9 of a daemon with the default group commit
// (storage.commit_interval) may lose: those that ended within the commit's wait, those of the
// transaction being written as the kill comes (a slow commit under the sanitizers), and the one
// in flight.
inline int64_t RunsAKillMayLose(int64_t interval_ms) {
  const int64_t wait_ms = StorageConfig{}.commit_interval_ms;
  return (wait_ms + interval_ms - 1) / interval_ms + 3;
}

// A /health endpoint answering 200 on 127.0.0.1 (a port of its own), counting what it answered.
class HealthTarget {
 public:
  // `kept_connections` > 0: the target keeps up to that many connections open for an hour
  // (httplib closes one after 5 requests or 5 s idle by default, and serves each kept
  // connection on a worker of its own, so the pool is sized for them).
  explicit HealthTarget(int kept_connections = 0) {
    if (kept_connections > 0) {
      server_.set_keep_alive_max_count(1'000'000);
      server_.set_keep_alive_timeout(3600);
      server_.new_task_queue = [kept_connections] {
        return new httplib::ThreadPool(static_cast<size_t>(kept_connections) + 4);
      };
    }
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"OK\"}", "application/json");
      ++answered_;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, std::chrono::seconds(5));
  }
  ~HealthTarget() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  int64_t answered() const { return answered_.load(); }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::atomic<int64_t> answered_{0};
  int port_ = 0;
};

// A component `name` of a config's `components:` list, with one http health probe of
// 127.0.0.1:`port`/health every 200 ms; `extra_probe_keys` are more of the probe's keys, each a
// line indented by 8 spaces.
inline std::string HealthComponentYaml(const std::string& name, int port,
                                       const std::string& extra_probe_keys = "") {
  return "  - name: " + name +
         "\n"
         "    probes:\n"
         "      - name: health\n"
         "        kind: http\n"
         "        url: http://127.0.0.1:" +
         std::to_string(port) +
         "/health\n"
         "        interval: 200ms\n"
         "        timeout: 150ms\n" +
         extra_probe_keys;
}

// Sets an environment variable for the obsmons a test starts (they inherit it), and unsets it
// after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// Starts `obsmon run --config <config> <extra...>`; `port` gets its HTTP port once it listens
// (0 when it never did, e.g. because it refused to start).
inline std::unique_ptr<Subprocess> StartObsmon(
    const std::string& config, const std::string& log, int* port,
    const std::vector<std::string>& extra = {},
    std::chrono::milliseconds wait = std::chrono::seconds(20)) {
  std::vector<std::string> argv{kObsmonBinary, "run", "--config", config};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Subprocess>(argv, log);
  *port = 0;
  WaitUntil(
      [&] {
        const std::string out = p->Output();
        auto at = out.find("(port ");
        if (at == std::string::npos) return false;
        *port = std::stoi(out.substr(at + 6));
        return true;
      },
      wait);
  return p;
}

inline const std::string kPrometheusBinary = "/usr/bin/prometheus";

// Starts the real Prometheus (Debian's 2.42) with `config` (prometheus.yml's text, written to
// `dir`), its TSDB and log in `dir`, on a free loopback port (`*port`).
inline std::unique_ptr<Subprocess> StartPrometheus(const ScratchDir& dir, const std::string& config,
                                                   int* port,
                                                   const std::vector<std::string>& extra = {}) {
  WriteWholeFile(dir.File("prometheus.yml"), config);
  *port = FreeLoopbackPort();
  std::vector<std::string> argv{kPrometheusBinary, "--config.file=" + dir.File("prometheus.yml"),
                                "--storage.tsdb.path=" + dir.File("tsdb"),
                                "--web.listen-address=127.0.0.1:" + std::to_string(*port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<Subprocess>(argv, dir.File("prometheus.log"));
}

// The value of the first sample of `name` whose label text contains `label_part` ("" = any).
inline std::optional<double> MetricValue(const std::string& text, const std::string& name,
                                         const std::string& label_part = "") {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    const auto space = line.rfind(' ');
    const std::string labels = line.substr(name.size(), space - name.size());
    if (!label_part.empty() && labels.find(label_part) == std::string::npos) continue;
    return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

}  // namespace obsmon::testing
