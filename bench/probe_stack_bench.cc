// probe_stack_bench: what probing N HTTP targets at 1 s costs in obsmon, beside the stack a user
// would otherwise run for it, blackbox_exporter scraped by Prometheus, both at once on the same
// targets, as a user would measure them: whole processes, CPU from /proc, in windows of real time.
//
//   probe_stack_bench [N=100] [windows=3] [window_s=60] [interval_ms=1000] [warmup_s=30]
//
// OBSMON_BENCH_BINARY=<path> runs that obsmon instead of this build's (a before/after pair on
// the same targets and stack). OBSMON_BENCH_KEEP_ALIVE=<duration> (e.g. 1m) gives obsmon's probes
// that keep_alive (blackbox_exporter connects for every probe whatever it is told) and the
// target is bench/epoll_http_target.h, which keeps connections; its RESULT names end in "_kept".
// OBSMON_BENCH_WEEK_DB=<path> starts obsmon on a copy of that database, a week of N probes' runs
// written by `report_memory_bench --probes N --days 7 --db PATH --end-now` (component `carbon`,
// probes health-0 ..), and names its probes so that they go on with that week: what a user's
// daemon costs a week into an observation (a bigger database for the writer, a longer window
// for the uptime refresher); its RESULT names end in "_week". blackbox_exporter and Prometheus
// start afresh (a week of Prometheus's own TSDB is not simulated).
//
// The targets are N paths of one in-process loopback HTTP server (bench/loopback_targets.h).
// obsmon probes each path every interval and stores every run in SQLite. Prometheus scrapes
// blackbox_exporter's /probe?target=<path> for each path every interval (the relabelling of
// blackbox_exporter's README) and stores the probe_* series in its TSDB. Both run the whole time;
// each window reads, for each process, utime + stime and RSS from /proc at its start and end, and
// the runs done from each one's own counters (obsmon_probe_runs_total; Prometheus's
// prometheus_target_interval_length_seconds_count, one per scrape). CPU per probe is the window's
// CPU over its runs; for the stack it is blackbox_exporter's plus Prometheus's.
//
// OBSMON_BENCH_FLOOR=1 also runs build/bench/connect_floor_bench in each window, against the
// same target at the same pace in obsmon's batch regime (batch_window 250 ms, 4 requests in
// flight, receive timestamps): the CPU a bare loop of socket/connect/send/poll/recv/close pays
// per run beside the same stack, which no probe that connects afresh can go below; obsmon's
// figure minus it is what obsmon adds. It adds N connections a second to the target.
//
// Output: one line per window, then min-median-max over the windows, then lines
// "RESULT <name> <min> <median> <max>" that bench/compare.sh gathers into its table.
#include <httplib.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
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
using obsmon::bench::SumFamily;
using obsmon::testing::ScratchDir;
using obsmon::testing::Subprocess;
using obsmon::testing::WaitUntil;
using obsmon::testing::WriteWholeFile;

// Set by SIGTERM, SIGINT or SIGHUP: the bench stops at once and its destructors stop obsmon,
// blackbox_exporter and Prometheus and remove the scratch directory (fresh eyes: a killed bench
// left the three probing on, a dead target, with no end).
std::atomic<bool> stop_requested{false};
extern "C" void RequestStop(int) { stop_requested = true; }

// Sleeps `seconds`, or less when a stop is requested; false then.
bool SleepUnlessStopped(int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!stop_requested && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(100), end - std::chrono::steady_clock::now()));
  }
  return !stop_requested;
}

double Counter(int port, const std::string& prefix) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10s);
  auto res = c.Get("/metrics");
  return res && res->status == 200 ? SumFamily(res->body, prefix) : -1;
}

struct Spread {
  double min = 0, median = 0, max = 0;
};

Spread SpreadOf(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {v.front(), median, v.back()};
}

std::string PrometheusConfig(int n, int interval_ms, int target_port, int bb_port) {
  std::string out = "global:\n  scrape_interval: " + std::to_string(interval_ms) +
                    "ms\n  scrape_timeout: " + std::to_string(interval_ms) +
                    "ms\nscrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n"
                    "    params: {module: [http_2xx]}\n    static_configs:\n      - targets:\n";
  for (int i = 0; i < n; ++i) {
    out += "          - http://127.0.0.1:" + std::to_string(target_port) + "/t/" +
           std::to_string(i) + "\n";
  }
  out +=
      "    relabel_configs:\n"
      "      - {source_labels: [__address__], target_label: __param_target}\n"
      "      - {source_labels: [__param_target], target_label: instance}\n"
      "      - {target_label: __address__, replacement: \"127.0.0.1:" +
      std::to_string(bb_port) + "\"}\n";
  return out;
}

struct Window {
  double floor_us = 0;  // OBSMON_BENCH_FLOOR: the bare loop's CPU per run in the window
  double obsmon_runs = 0, obsmon_cpu = 0, obsmon_rss = 0;
  double stack_runs = 0, bb_cpu = 0, prom_cpu = 0, stack_rss = 0;
  double ObsmonUs() const { return obsmon_runs > 0 ? obsmon_cpu / obsmon_runs * 1e6 : 0; }
  double StackUs() const { return stack_runs > 0 ? (bb_cpu + prom_cpu) / stack_runs * 1e6 : 0; }
};

// connect_floor_bench's arguments for one window of N probes every interval_ms: its runs, the
// gap between runs and obsmon's batch (the runs of 250 ms, batch_window's default).
std::vector<std::string> FloorArgs(int n, int interval_ms, int window_s) {
  const std::filesystem::path here = std::filesystem::read_symlink("/proc/self/exe");
  const long gap_us = std::max<long>(1, 1000L * interval_ms / n);
  const long batch = std::max<long>(1, 250'000 / gap_us);
  const long runs = std::max<long>(batch, (window_s * 1'000'000L / gap_us) / batch * batch);
  return {(here.parent_path() / "connect_floor_bench").string(), std::to_string(runs),
          std::to_string(gap_us), std::to_string(batch)};
}

// The "cpu/run X us" of connect_floor_bench's paced line; 0 when it printed none.
double FloorUsPerRun(const std::string& output) {
  const size_t at = output.rfind("cpu/run ");
  return at == std::string::npos ? 0 : std::atof(output.c_str() + at + 8);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100;
  const int windows = argc > 2 ? std::atoi(argv[2]) : 3;
  const int window_s = argc > 3 ? std::atoi(argv[3]) : 60;
  const int interval_ms = argc > 4 ? std::atoi(argv[4]) : 1000;
  const int warmup_s = argc > 5 ? std::atoi(argv[5]) : 30;
  const char* other = std::getenv("OBSMON_BENCH_BINARY");
  const std::string obsmon =
      other != nullptr ? std::string(other) : std::string(OBSMON_BINARY_DIR) + "/obsmon";
  const char* keep_env = std::getenv("OBSMON_BENCH_KEEP_ALIVE");
  const std::string keep_alive = keep_env != nullptr ? keep_env : "";
  const char* week_env = std::getenv("OBSMON_BENCH_WEEK_DB");
  const std::string week_db = week_env != nullptr ? week_env : "";
  const bool with_floor = std::getenv("OBSMON_BENCH_FLOOR") != nullptr;
  for (const int sig : {SIGTERM, SIGINT, SIGHUP}) std::signal(sig, RequestStop);
  ScratchDir dir;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const obsmon::bench::LoopbackTargets targets(!keep_alive.empty());
  std::printf("probing %d loopback HTTP targets every %d ms: obsmon beside blackbox_exporter + "
              "Prometheus, both at once; %d s warm-up, then %d windows of %d s%s\n",
              n, interval_ms, warmup_s, windows, window_s,
              keep_alive.empty() ? ""
                                 : ("; obsmon's probes with keep_alive: " + keep_alive).c_str());

  if (!week_db.empty()) {
    std::error_code error;
    std::filesystem::copy_file(week_db, dir.File("obsmon.db"), error);
    if (error) {
      std::fprintf(stderr, "cannot copy %s: %s\n", week_db.c_str(), error.message().c_str());
      return 2;
    }
    std::printf("obsmon starts on a copy of %s (%.2f GB)\n", week_db.c_str(),
                static_cast<double>(std::filesystem::file_size(week_db)) / 1e9);
  }
  const int obsmon_port = obsmon::testing::FreeLoopbackPort();
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:" + std::to_string(obsmon_port) + "\nstorage:\n  path: " +
                     dir.File("obsmon.db") + "\ncomponents:\n  - name: " +
                     (week_db.empty() ? "bench" : "carbon") + "\n    probes:\n" +
                     targets.ProbesYaml(n, interval_ms, keep_alive,
                                        week_db.empty() ? "t" : "health-"));
  Subprocess obs({obsmon, "run", "--config", dir.File("obsmon.yml"), "--log-level", "warn"},
                 dir.File("obsmon.log"));

  const int bb_port = obsmon::testing::FreeLoopbackPort();
  WriteWholeFile(dir.File("blackbox.yml"),
                 "modules:\n  http_2xx:\n    prober: http\n    timeout: 1s\n    http:\n"
                 "      preferred_ip_protocol: ip4\n");
  Subprocess bb({"prometheus-blackbox-exporter", "--config.file=" + dir.File("blackbox.yml"),
                 "--web.listen-address=127.0.0.1:" + std::to_string(bb_port)},
                dir.File("blackbox.log"));
  const int prom_port = obsmon::testing::FreeLoopbackPort();
  WriteWholeFile(dir.File("prometheus.yml"),
                 PrometheusConfig(n, interval_ms, targets.port(), bb_port));
  Subprocess prom({"prometheus", "--config.file=" + dir.File("prometheus.yml"),
                   "--storage.tsdb.path=" + dir.File("tsdb"),
                   "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                   "--log.level=warn"},
                  dir.File("prometheus.log"));
  const char* runs_obsmon = "obsmon_probe_runs_total{";
  const char* runs_prom = "prometheus_target_interval_length_seconds_count{";
  const auto stopped = [] {
    std::fprintf(stderr, "probe_stack_bench: stopped by a signal\n");
    return 143;
  };
  const bool probing =
      WaitUntil([&] { return stop_requested || Counter(obsmon_port, runs_obsmon) >= n; }, 60s) &&
      WaitUntil([&] { return stop_requested || Counter(prom_port, runs_prom) >= n; }, 60s);
  if (stop_requested) return stopped();
  if (!probing) {
    std::fprintf(stderr, "a stack did not start probing:\nobsmon: %s\nblackbox: %s\nprometheus: %s\n",
                 obs.Output().c_str(), bb.Output().c_str(), prom.Output().c_str());
    return 1;
  }
  if (!SleepUnlessStopped(warmup_s)) return stopped();
  if (with_floor) {
    setenv("FLOOR_TARGET_PORT", std::to_string(targets.port()).c_str(), 1);
    setenv("FLOOR_PATH", "/t/0", 1);
    setenv("FLOOR_IN_FLIGHT", "4", 1);
    setenv("FLOOR_TIMESTAMPS", "1", 1);
    setenv("FLOOR_PACED_ONLY", "1", 1);
  }

  std::printf("%-7s | %10s %8s %9s %8s | %10s %8s %8s %9s %8s | %6s\n", "window", "obsmon runs",
              "CPU s", "us/probe", "RSS MB", "stack runs", "bb CPU s", "prom CPU", "us/probe",
              "RSS MB", "ratio");
  std::vector<Window> got;
  for (int w = 0; w < windows; ++w) {
    const double o_runs0 = Counter(obsmon_port, runs_obsmon);
    const double p_runs0 = Counter(prom_port, runs_prom);
    const ProcStats o0 = ReadProc(obs.pid()), b0 = ReadProc(bb.pid()), p0 = ReadProc(prom.pid());
    std::optional<Subprocess> floor;
    if (with_floor) floor.emplace(FloorArgs(n, interval_ms, window_s), dir.File("floor.log"));
    if (!SleepUnlessStopped(window_s)) return stopped();
    const ProcStats o1 = ReadProc(obs.pid()), b1 = ReadProc(bb.pid()), p1 = ReadProc(prom.pid());
    Window x;
    x.obsmon_runs = Counter(obsmon_port, runs_obsmon) - o_runs0;
    x.stack_runs = Counter(prom_port, runs_prom) - p_runs0;
    x.obsmon_cpu = o1.cpu_seconds - o0.cpu_seconds;
    x.bb_cpu = b1.cpu_seconds - b0.cpu_seconds;
    x.prom_cpu = p1.cpu_seconds - p0.cpu_seconds;
    x.obsmon_rss = o1.rss_mb;
    x.stack_rss = b1.rss_mb + p1.rss_mb;
    if (floor) {
      floor->Wait();
      x.floor_us = FloorUsPerRun(floor->Output());
    }
    got.push_back(x);
    std::printf("%-7d | %10.0f %8.2f %9.1f %8.1f | %10.0f %8.2f %8.2f %9.1f %8.1f | %5.2fx\n",
                w + 1, x.obsmon_runs, x.obsmon_cpu, x.ObsmonUs(), x.obsmon_rss, x.stack_runs,
                x.bb_cpu, x.prom_cpu, x.StackUs(), x.stack_rss,
                x.ObsmonUs() > 0 ? x.StackUs() / x.ObsmonUs() : 0);
    if (floor) {
      std::printf("        | the bare loop beside them: %.1f us a run; obsmon adds %.1f us\n",
                  x.floor_us, x.ObsmonUs() - x.floor_us);
    }
  }
  obs.Signal(SIGTERM);
  prom.Signal(SIGTERM);
  bb.Signal(SIGTERM);
  obs.Wait();
  prom.Wait();
  bb.Wait();

  std::vector<double> o_us, s_us, ratio, o_rss, s_rss, rss_ratio, floor_us, added_us;
  for (const Window& x : got) {
    floor_us.push_back(x.floor_us);
    added_us.push_back(x.ObsmonUs() - x.floor_us);
    o_us.push_back(x.ObsmonUs());
    s_us.push_back(x.StackUs());
    ratio.push_back(x.ObsmonUs() > 0 ? x.StackUs() / x.ObsmonUs() : 0);
    o_rss.push_back(x.obsmon_rss);
    s_rss.push_back(x.stack_rss);
    rss_ratio.push_back(x.obsmon_rss > 0 ? x.stack_rss / x.obsmon_rss : 0);
  }
  const double expected = static_cast<double>(n) * window_s * 1000.0 / interval_ms;
  std::printf("expected runs per window and stack: %.0f\n", expected);
  auto result = [&](const std::string& name, const std::vector<double>& v, const char* unit) {
    const Spread s = SpreadOf(v);
    std::printf("%-40s %10.2f %10.2f %10.2f %s\n", name.c_str(), s.min, s.median, s.max, unit);
  };
  std::printf("%-40s %10s %10s %10s\n", "min-median-max over windows", "min", "median", "max");
  const std::string at = "n" + std::to_string(n) + (keep_alive.empty() ? "" : "_kept") +
                         (week_db.empty() ? "" : "_week");
  result("obsmon CPU per probe", o_us, "us");
  result("blackbox+Prometheus CPU per probe", s_us, "us");
  result("CPU per probe, stack / obsmon", ratio, "x");
  if (with_floor) {
    result("bare connect loop CPU per run", floor_us, "us");
    result("obsmon CPU per probe over the loop's", added_us, "us");
  }
  result("obsmon RSS", o_rss, "MB");
  result("blackbox+Prometheus RSS", s_rss, "MB");
  auto machine = [&](const std::string& name, const std::vector<double>& v) {
    const Spread s = SpreadOf(v);
    std::printf("RESULT %s_%s %.3f %.3f %.3f\n", name.c_str(), at.c_str(), s.min, s.median, s.max);
  };
  machine("probe_cpu_us_obsmon", o_us);
  machine("probe_cpu_us_stack", s_us);
  machine("probe_cpu_ratio", ratio);
  machine("rss_mb_obsmon", o_rss);
  machine("rss_mb_stack", s_rss);
  machine("rss_ratio", rss_ratio);
  if (with_floor) {
    machine("probe_cpu_us_floor", floor_us);
    machine("probe_cpu_us_obsmon_over_floor", added_us);
  }
  return 0;
}
