// daemon_probe_bench: what probing N loopback HTTP targets costs, obsmon beside the tool a user
// would otherwise run (prometheus-blackbox-exporter), in one run, as ratios.
//
//   daemon_probe_bench [N=100] [seconds=20] [interval_ms=1000]
//
// Both probe the same N paths of one in-process HTTP server once per interval. obsmon schedules its
// own probes and stores every run in SQLite; blackbox_exporter is driven by this program (as
// Prometheus would drive it) and stores nothing, so the comparison flatters the exporter.
// Measured per process from /proc: CPU time (utime + stime) per probe run, and peak RSS (VmHWM).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/loopback_targets.h"
#include "bench/metrics_text.h"
#include "bench/proc_stats.h"
#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"

namespace {

using namespace std::chrono_literals;
using obsmon::bench::ProcStats;
using obsmon::bench::ReadProc;
using obsmon::testing::ScratchDir;
using obsmon::testing::Subprocess;
using obsmon::testing::WaitUntil;
using obsmon::testing::WriteWholeFile;

double SumRuns(const std::string& metrics) {
  return obsmon::bench::SumFamily(metrics, "obsmon_probe_runs_total{");
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 20;
  const int interval_ms = argc > 3 ? std::atoi(argv[3]) : 1000;
  const std::string obsmon = std::string(OBSMON_BINARY_DIR) + "/obsmon";
  ScratchDir dir;

  const obsmon::bench::LoopbackTargets targets;
  const int target_port = targets.port();

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("probing %d loopback HTTP targets every %d ms for %d s\n", n, interval_ms, seconds);
  const double expected_runs = static_cast<double>(n) * seconds * 1000.0 / interval_ms;

  // --- obsmon ---
  const int obsmon_port = obsmon::testing::FreeLoopbackPort();
  std::string config = "listen: 127.0.0.1:" + std::to_string(obsmon_port) +
                       "\nstorage:\n  path: " + dir.File("bench.db") +
                       "\nworkers: 8\ncomponents:\n  - name: bench\n    probes:\n";
  config += targets.ProbesYaml(n, interval_ms);
  WriteWholeFile(dir.File("bench.yml"), config);
  Subprocess obs({obsmon, "run", "--config", dir.File("bench.yml"), "--log-level", "warn"},
                 dir.File("obsmon.log"));
  httplib::Client oc("127.0.0.1", obsmon_port);
  if (!WaitUntil([&] { return static_cast<bool>(oc.Get("/healthz")); }, 20s)) {
    std::fprintf(stderr, "obsmon did not start:\n%s\n", obs.Output().c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms + 500));  // every probe ran once
  const double runs0 = SumRuns(oc.Get("/metrics")->body);
  const ProcStats o0 = ReadProc(obs.pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const ProcStats o1 = ReadProc(obs.pid());
  const double obsmon_runs = SumRuns(oc.Get("/metrics")->body) - runs0;
  obs.Signal(SIGTERM);
  obs.Wait();
  const double obsmon_cpu = o1.cpu_seconds - o0.cpu_seconds;

  // --- blackbox_exporter, driven like Prometheus would drive it ---
  const int bb_port = obsmon::testing::FreeLoopbackPort();
  WriteWholeFile(dir.File("blackbox.yml"),
                 "modules:\n  http_2xx:\n    prober: http\n    timeout: 1s\n    http:\n"
                 "      preferred_ip_protocol: ip4\n");
  Subprocess bb({"prometheus-blackbox-exporter", "--config.file=" + dir.File("blackbox.yml"),
                 "--web.listen-address=127.0.0.1:" + std::to_string(bb_port)},
                dir.File("blackbox.log"));
  httplib::Client warm("127.0.0.1", bb_port);
  if (!WaitUntil([&] { return static_cast<bool>(warm.Get("/metrics")); }, 20s)) {
    std::fprintf(stderr, "blackbox_exporter did not start:\n%s\n", bb.Output().c_str());
    return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> bb_runs{0};
  auto drive = [&](int from, int to) {
    httplib::Client c("127.0.0.1", bb_port);
    c.set_keep_alive(true);
    auto next = std::chrono::steady_clock::now();
    while (!stop) {
      for (int i = from; i < to && !stop; ++i) {
        std::string path = "/probe?module=http_2xx&target=http://127.0.0.1:" +
                           std::to_string(target_port) + "/t/" + std::to_string(i);
        if (auto res = c.Get(path.c_str()); res && res->status == 200) ++bb_runs;
      }
      next += std::chrono::milliseconds(interval_ms);
      std::this_thread::sleep_until(next);
    }
  };
  std::vector<std::thread> drivers;
  const int threads = std::min(8, n);
  for (int t = 0; t < threads; ++t) drivers.emplace_back(drive, n * t / threads, n * (t + 1) / threads);
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms + 500));
  const long bb_runs0 = bb_runs;
  const ProcStats b0 = ReadProc(bb.pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const ProcStats b1 = ReadProc(bb.pid());
  const double bb_count = static_cast<double>(bb_runs - bb_runs0);
  stop = true;
  for (auto& d : drivers) d.join();
  const double bb_cpu = b1.cpu_seconds - b0.cpu_seconds;


  const double obsmon_us = obsmon_runs > 0 ? obsmon_cpu / obsmon_runs * 1e6 : 0;
  const double bb_us = bb_count > 0 ? bb_cpu / bb_count * 1e6 : 0;
  std::printf("%-28s %12s %12s %14s %12s\n", "", "probe runs", "CPU s", "CPU us/probe",
              "peak RSS MB");
  std::printf("%-28s %12.0f %12.2f %14.1f %12.1f\n", "obsmon (probes + SQLite)", obsmon_runs,
              obsmon_cpu, obsmon_us, o1.peak_rss_mb);
  std::printf("%-28s %12.0f %12.2f %14.1f %12.1f\n", "blackbox_exporter (probes)", bb_count,
              bb_cpu, bb_us, b1.peak_rss_mb);
  std::printf("expected runs per tool: %.0f\n", expected_runs);
  if (obsmon_us > 0 && bb_us > 0) {
    std::printf("ratio CPU per probe (blackbox / obsmon): %.2fx\n", bb_us / obsmon_us);
    std::printf("ratio peak RSS (blackbox / obsmon): %.2fx\n", b1.peak_rss_mb / o1.peak_rss_mb);
  }
  return 0;
}
