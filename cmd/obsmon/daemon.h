// `obsmon run`: the one place where concrete parts are wired together (like Prometheus's
// cmd/prometheus/main.go): config -> probes -> scheduler -> runner -> sinks (storage, state,
// metrics) and the HTTP server over them.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "core/clock.h"
#include "core/status.h"
#include "config/config.h"

namespace obsmon {

struct DaemonOptions {
  std::string config_path;
  std::string listen_override;  // empty: the config's listen
  std::string version;
  const Clock* clock = &SystemClock::Instance();
  std::shared_ptr<spdlog::logger> logger;
  // Called around every reload, SIGHUP's and POST /-/reload's, one reload at a time: the
  // service manager's RELOADING=1 before, READY=1 and the outcome after (service_notify.h).
  std::function<void()> before_reload;
  std::function<void(const Status&)> after_reload;
};

class Daemon {
 public:
  // Loads the config (InvalidConfig with every error, one a line, when it is bad), opens storage
  // (a Status when the database is unusable or in use), binds the HTTP server and starts probing.
  static Result<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();

  // Re-reads the config. A bad config is refused with its errors and the running one stays;
  // probes whose settings did not change keep their schedule and state.
  Status Reload();
  // Stops probing, drains the storage queue, stops the server. Idempotent.
  void Shutdown();
  // The first step of Shutdown, at once: the probe runs in flight are abandoned (not recorded).
  // For the signal thread, the moment SIGTERM is taken. Idempotent.
  void AbandonRuns();
  // The second: waits for a reload under way, then refuses every later one (Unavailable) and
  // runs `then` (the service manager's STOPPING=1, so that no reload is framed after it).
  void EndReloads(const std::function<void()>& then);

  int http_port() const;

  class Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace obsmon
