// obsmon-demo-component: a small stand-in for the Carbon component of the seeds, so that the
// bundled example config has something real to watch.
//   serve --port N --log FILE [--fail-every 180s --fail-for 20s --seed S]
//   check --url URL [--timeout 2s]
// Routes live in their own files (health_routes.cc, ...) and are registered below.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "examples/demo_component/check_command.h"
#include "core/clock.h"
#include "core/duration.h"
#include "examples/demo_component/demo_emissions.h"
#include "examples/demo_component/demo_log.h"
#include "examples/demo_component/demo_metrics.h"
#include "examples/demo_component/failure_schedule.h"
#include "examples/demo_component/health_routes.h"

namespace {

using namespace obsmon;

std::optional<int64_t> Duration(const std::string& text, const char* flag) {
  auto ms = ParseDurationMs(text);
  if (!ms) std::fprintf(stderr, "bad duration for %s: '%s' (use 500ms, 20s, 3m ...)\n", flag, text.c_str());
  return ms;
}

struct ServeFlags {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string log_path = "carbon.log";
  std::string fail_every = "180s";
  std::string fail_for = "20s";
  std::string log_every = "1s";
  double random_failures = 0.02;
  uint64_t seed = 1;
  std::string carbon_dir;  // codecarbon-style emissions.csv goes here; empty: none
  double emissions_rate = 0.0002;  // kg CO2eq per second
  std::string emissions_every = "15s";
};

int Serve(const ServeFlags& flags) {
  auto every = Duration(flags.fail_every, "--fail-every");
  auto fail_for = Duration(flags.fail_for, "--fail-for");
  auto log_every = Duration(flags.log_every, "--log-every");
  if (!every || !fail_for || !log_every || *log_every <= 0) return 2;

  // Signals are taken by sigwait() below, so every thread must start with them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Clock& clock = SystemClock::Instance();
  demo::FailureSchedule schedule(
      demo::FailureOptions{*every, *fail_for, flags.random_failures, flags.seed}, clock.NowMs());
  demo::DemoLog log(
      demo::LogOptions{flags.log_path, 0.05, 0.005, flags.seed, FormatDurationMs(*log_every)},
      clock, schedule);

  httplib::Server server;
  demo::RegisterHealthRoutes(server, clock, schedule);
  auto emissions_every = Duration(flags.emissions_every, "--emissions-every");
  if (!emissions_every) return 2;
  demo::DemoEmissions emissions(
      demo::EmissionsOptions{flags.carbon_dir, "TTA-Staging", flags.emissions_rate, 2.5,
                             *emissions_every},
      clock);
  demo::RegisterMetricsRoutes(server, emissions);

  int port = flags.port == 0 ? server.bind_to_any_port(flags.host)
                             : (server.bind_to_port(flags.host, flags.port) ? flags.port : -1);
  if (port <= 0) {
    std::fprintf(stderr, "cannot listen on %s:%d\n", flags.host.c_str(), flags.port);
    return 1;
  }
  if (!log.Write("INFO", "Carbon component started")) {
    std::fprintf(stderr, "cannot write log file %s\n", flags.log_path.c_str());
    return 1;
  }
  std::printf("listening on %s:%d\n", flags.host.c_str(), port);
  std::fflush(stdout);

  std::thread http([&server] { server.listen_after_bind(); });
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mutex
  std::thread writer([&] {
    std::unique_lock<std::mutex> lock(mutex);
    while (!wake.wait_for(lock, std::chrono::milliseconds(*log_every), [&] { return stopping; })) {
      lock.unlock();
      log.Tick();
      emissions.Tick();
      lock.lock();
    }
  });

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) continue;  // the log is reopened on every line anyway
    break;
  }
  log.Write("INFO", "Carbon component stopping");
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  server.stop();
  http.join();
  writer.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A demo component that behaves like the Carbon component, for obsmon to watch"};
  app.require_subcommand(1);

  ServeFlags serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "serve /health and write a log");
  serve_cmd->add_option("--host", serve.host, "address to listen on")->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "port (0 picks a free one)")->capture_default_str();
  serve_cmd->add_option("--log", serve.log_path, "log file to append to")->capture_default_str();
  serve_cmd->add_option("--fail-every", serve.fail_every, "period of failure windows (0s: none)")
      ->capture_default_str();
  serve_cmd->add_option("--fail-for", serve.fail_for, "length of each failure window")
      ->capture_default_str();
  serve_cmd->add_option("--random-failures", serve.random_failures,
                        "share of other requests answered 503")
      ->capture_default_str();
  serve_cmd->add_option("--log-every", serve.log_every, "interval between log lines")
      ->capture_default_str();
  serve_cmd->add_option("--seed", serve.seed, "seed for random failures and log lines")
      ->capture_default_str();

  serve_cmd->add_option("--carbon-dir", serve.carbon_dir,
                        "directory for a codecarbon-style emissions.csv (CARBON_OUTPUT_DIR)");
  serve_cmd->add_option("--emissions-rate", serve.emissions_rate, "kg CO2eq per second")
      ->capture_default_str();
  serve_cmd->add_option("--emissions-every", serve.emissions_every,
                        "interval between emissions.csv rows")
      ->capture_default_str();

  std::string url;
  std::string timeout = "2s";
  CLI::App* check_cmd = app.add_subcommand("check", "exit 0 when URL answers 2xx, else 1");
  check_cmd->add_option("--url", url, "health endpoint")->required();
  check_cmd->add_option("--timeout", timeout, "how long to wait")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*serve_cmd) return Serve(serve);
  auto timeout_ms = Duration(timeout, "--timeout");
  if (!timeout_ms || *timeout_ms <= 0) return 2;
  return obsmon::demo::RunCheck(url, *timeout_ms);
}
