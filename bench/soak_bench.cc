// soak_bench: is obsmon's memory flat over hours? The real binary, real time (a daemon's memory
// is what its threads, SQLite and the allocator do in wall time: a fake clock cannot compress
// it), N loopback HTTP probes plus one log probe on a file this program appends to.
//
//   soak_bench [N=100] [minutes=60] [interval_ms=1000] [sample_s=60]
//
// OBSMON_SOAK_BINARY=PATH runs that obsmon instead of the build's: a soak of hours should run a
// copy, so that rebuilding the tree meanwhile does not change the binary under it.
// OBSMON_SOAK_CACHE_SIZE=SIZE sets storage.cache_size (e.g. 16MiB) instead of its default.
// OBSMON_SOAK_FLAPPING=M adds a component `flap` of M http probes (every interval_ms) of targets
// that answer 503 and 200 in turn: an incident every other run, the case where a report's spans
// and incidents grow fastest (a week of one such probe at 1 s is 302,400 incidents).
// OBSMON_SOAK_CLOCK_SPEED=K starts the daemon with OBSMON_CLOCK_SPEED=K: its clock, and so its
// probe schedule, refreshes, sealed hours and rule cycles, run K times faster than real time, and
// the log writer appends K times as fast; `minutes` and the minute column are then the daemon's
// time (a day at K=20 takes 72 real minutes), sampled every sample_s real seconds. What a day of
// the work leaves in memory shows in hours; what only wall time does (the kernel's page cache,
// timers) does not, which is why the real-time soak is run as well.
// OBSMON_SOAK_OPERATE=M operates the daemon as a user would, every M minutes of the daemon's
// clock (real minutes until stop 65): a SIGHUP reload, an HTML report over HTTP, an `obsmon
// report` from the CLI and a `sqlite3 .backup` checked with `PRAGMA integrity_check`
// (bench/soak_operations.h; OBSMON_SOAK_OPERATIONS picks some); the "ops" column counts the
// rounds done and the operations that failed.
//
// At the end the daemon's counts are checked against what this program knows independently: the
// requests its targets answered against the HTTP runs obsmon counted, and the ERROR lines its
// writer appended against obsmon's obsmon_log_matches_total{severity="error"}.
//
// Every sample_s it reads from outside (/proc/<pid>) RSS, anonymous RSS and CPU, and from
// obsmon's /metrics the sizes of its in-memory parts (the writer's SQLite page cache and all of
// SQLite's memory, writer queue rows and bytes, rule head points, their bytes and the bytes of
// the head's labels and index, the live reports' bytes, C heap in use and free), and the work
// done (HTTP runs made over those due, failed, skipped), and prints one line. At the end: the
// least-squares slope of RSS over the second half (after warm-up: the rule head fills its
// 15-minute window, the page cache its cap), in MB per hour, beside first, last and peak RSS
// (the largest sample, and the kernel's high-water mark VmHWM, which sees the peaks between
// samples: a refresh's read lasts a fraction of a second).
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/loopback_targets.h"
#include "bench/proc_stats.h"
#include "bench/soak_operations.h"
#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"

namespace {

using namespace std::chrono_literals;
using obsmon::bench::ReadProc;
using obsmon::testing::ScratchDir;
using obsmon::testing::Subprocess;
using obsmon::testing::WaitUntil;
using obsmon::testing::WriteWholeFile;

// Values of unlabelled (or exactly labelled) series in a /metrics body, e.g.
// "obsmon_storage_cache_bytes" or "obsmon_heap_bytes{state=\"free\"}".
double Metric(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// "\n  cache_size: SIZE" from OBSMON_SOAK_CACHE_SIZE, or nothing (obsmon's default).
std::string CacheSizeYaml() {
  const char* size = std::getenv("OBSMON_SOAK_CACHE_SIZE");
  return size != nullptr && *size != '\0' ? std::string("\n  cache_size: ") + size : "";
}

// The sum of the HTTP probes' obsmon_probe_runs_total series with `result` (the log probe's, named
// "log", left out).
double HttpRuns(const std::string& body, const std::string& result) {
  std::istringstream in(body);
  std::string line;
  double sum = 0;
  const std::string prefix = "obsmon_probe_runs_total{";
  const std::string wanted = "result=\"" + result + "\"}";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0 || line.find(wanted) == std::string::npos ||
        line.find("probe=\"log\"") != std::string::npos) {
      continue;
    }
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// The sum of the values of `name`'s series whose labels contain `label` (e.g. severity="error").
double SumSeries(const std::string& body, const std::string& name, const std::string& label) {
  std::istringstream in(body);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.compare(0, name.size() + 1, name + "{") == 0 &&
        line.find(label) != std::string::npos) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

// Slope of y over x (least squares), in y-units per x-unit.
double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (n < 2) return 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double d = n * sxx - sx * sx;
  return d == 0 ? 0 : (n * sxy - sx * sy) / d;
}

// Targets that answer 503 and 200 in turn, each path /f/<n> on its own (OBSMON_SOAK_FLAPPING).
class FlappingTargets {
 public:
  explicit FlappingTargets(int count) : answered_(static_cast<size_t>(std::max(count, 0))) {
    if (count <= 0) return;
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.Get(R"(/f/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      const size_t i = std::stoul(req.matches[1]);
      if (i < answered_.size() && answered_[i]++ % 2 == 1) res.status = 503;
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  uint64_t hits() const {
    uint64_t sum = 0;
    for (const auto& a : answered_) sum += a.load();
    return sum;
  }
  ~FlappingTargets() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  // The `flap` component's config, or nothing.
  std::string ComponentYaml(int interval_ms) const {
    if (answered_.empty()) return "";
    std::string out = "  - name: flap\n    probes:\n";
    for (size_t i = 0; i < answered_.size(); ++i) {
      out += "      - {name: f" + std::to_string(i) + ", kind: http, url: \"http://127.0.0.1:" +
             std::to_string(port_) + "/f/" + std::to_string(i) + "\", interval: " +
             std::to_string(interval_ms) + "ms, timeout: " + std::to_string(interval_ms) + "ms}\n";
    }
    return out;
  }

 private:
  httplib::Server server_;
  std::vector<std::atomic<uint64_t>> answered_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100;
  const int minutes = argc > 2 ? std::atoi(argv[2]) : 60;
  const int interval_ms = argc > 3 ? std::atoi(argv[3]) : 1000;
  const int sample_s = argc > 4 ? std::atoi(argv[4]) : 60;
  const char* speed_env = std::getenv("OBSMON_SOAK_CLOCK_SPEED");
  const std::string speed_text = speed_env != nullptr ? speed_env : "";
  int speed = 1;
  if (!speed_text.empty()) {
    const bool digits = speed_text.size() <= 4 && speed_text.front() != '0' &&
                        speed_text.find_first_not_of("0123456789") == std::string::npos;
    speed = digits ? std::stoi(speed_text) : 0;
    if (speed < 1 || speed > 1000) {
      std::fprintf(stderr, "OBSMON_SOAK_CLOCK_SPEED=\"%s\": not a whole number from 1 to 1000\n",
                   speed_text.c_str());
      return 2;
    }
  }
  // Set or unset here, whatever this program inherited: the header and the minute column say the
  // speed the daemon really runs at.
  if (speed > 1) {
    ::setenv("OBSMON_CLOCK_SPEED", std::to_string(speed).c_str(), 1);
  } else {
    ::unsetenv("OBSMON_CLOCK_SPEED");
  }
  const char* binary_override = std::getenv("OBSMON_SOAK_BINARY");
  const std::string obsmon = binary_override != nullptr && *binary_override != '\0'
                                 ? std::string(binary_override)
                                 : std::string(OBSMON_BINARY_DIR) + "/obsmon";
  ScratchDir dir;

  const obsmon::bench::LoopbackTargets targets;
  const char* flapping_env = std::getenv("OBSMON_SOAK_FLAPPING");
  const int flapping = flapping_env != nullptr ? std::max(0, std::atoi(flapping_env)) : 0;
  const FlappingTargets flappers(flapping);

  const std::string log_path = dir.File("app.log");
  WriteWholeFile(log_path, "");
  const int obsmon_port = obsmon::testing::FreeLoopbackPort();
  std::string config = "listen: 127.0.0.1:" + std::to_string(obsmon_port) +
                       "\nstorage:\n  path: " + dir.File("soak.db") + CacheSizeYaml() +
                       "\ncomponents:\n  - name: soak\n    probes:\n"
                       "      - {name: log, kind: log, paths: [\"" + log_path +
                       "\"], interval: 5s}\n" +
                       targets.ProbesYaml(n, interval_ms) + flappers.ComponentYaml(interval_ms);
  WriteWholeFile(dir.File("soak.yml"), config);
  Subprocess obs({obsmon, "run", "--config", dir.File("soak.yml"), "--log-level", "warn"},
                 dir.File("obsmon.log"));
  httplib::Client oc("127.0.0.1", obsmon_port);
  if (!WaitUntil([&] { return static_cast<bool>(oc.Get("/healthz")); }, 20s)) {
    std::fprintf(stderr, "obsmon did not start:\n%s\n", obs.Output().c_str());
    return 1;
  }

  // The log writer: 20 lines a second of the daemon's time, one in ten an ERROR, as an
  // application would.
  std::atomic<bool> stop{false};
  std::atomic<long> errors_written{0};
  std::thread writer([&] {
    std::ofstream log(log_path, std::ios::app);
    // Paced by deadline, not by sleeping a line's share after each: at K=50 a sleep of 1 ms
    // after each write came to 592 lines a second, not 1,000.
    const auto every = std::chrono::nanoseconds(50'000'000 / speed);
    auto due = std::chrono::steady_clock::now();
    for (long i = 0; !stop; ++i) {
      log << "2026-12-01 10:00:00,000 " << (i % 10 == 0 ? "ERROR" : "INFO ")
          << " app.worker request " << i << " done\n";
      log.flush();
      if (i % 10 == 0) errors_written.fetch_add(1);
      due += every;
      std::this_thread::sleep_until(due);
    }
  });

  const char* operate_env = std::getenv("OBSMON_SOAK_OPERATE");
  const int operate_min = operate_env != nullptr ? std::max(0, std::atoi(operate_env)) : 0;
  const char* operations_env = std::getenv("OBSMON_SOAK_OPERATIONS");
  obsmon::bench::SoakOperator operate(
      {.obsmon = obsmon, .config = dir.File("soak.yml"), .db = dir.File("soak.db"),
       .scratch = dir.path(), .component = "soak", .port = obsmon_port, .pid = obs.pid(),
       .operations = operations_env != nullptr ? operations_env : "reload,report,cli,backup"},
      // Minutes of the daemon's clock, as the minute column: at OBSMON_SOAK_CLOCK_SPEED=16 a
      // round every 10 minutes is one every 37 s, so a compressed day is operated as a real one.
      operate_min > 0 ? std::max(1, operate_min * 60 / speed) : 0);

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("soak: %d HTTP probes every %d ms + 1 log probe (20 lines/s), %d min, sample every %d s\n",
              n, interval_ms, minutes, sample_s);
  std::printf("obsmon: %s; storage.cache_size: %s; clock speed %d (minutes are the daemon's)\n",
              obsmon.c_str(),
              CacheSizeYaml().empty() ? "default" : CacheSizeYaml().substr(15).c_str(), speed);
  if (flapping > 0) {
    std::printf("flapping: component 'flap', %d probes every %d ms, 503 and 200 in turn (counted "
                "in runs %% and failed)\n", flapping, interval_ms);
  }
  if (operate.enabled()) {
    std::printf("operated every %d min of the daemon's clock: %s (reload: SIGHUP; report: HTML "
                "report over HTTP; cli: obsmon report from the CLI; backup: sqlite3 .backup + "
                "integrity_check; ops: rounds/failed operations)\n",
                operate_min, operate.operations().c_str());
  }
  // "runs %": the HTTP runs made over those due since the first sample (n x the daemon's seconds
  // / the interval), so that a soak shows it did the work it claims (a sped-up clock the machine
  // cannot keep up with makes fewer); "failed" and "skipped" (a run not started because the
  // previous one was busy) since the start.
  std::printf("%7s %8s %8s %9s %9s %9s %9s %9s %9s %10s %9s %9s %9s %9s %7s %8s %8s %7s\n", "minute",
              "RSS MB", "anon MB", "heap MB", "free MB", "cache MB", "sqlite MB", "queue",
              "queue MB", "head pts", "head MB", "index MB", "report MB", "CPU %", "runs %",
              "failed", "skipped", "ops");
  std::vector<double> t_min, rss;
  double peak = 0, first = 0;
  const auto start = std::chrono::steady_clock::now();
  auto prev = ReadProc(obs.pid());
  double runs_at_start = 0;
  for (int k = 0;; ++k) {
    const auto due = start + std::chrono::seconds(static_cast<long>(k) * sample_s);
    std::this_thread::sleep_until(due);
    const auto p = ReadProc(obs.pid());
    const auto res = oc.Get("/metrics");
    const std::string body = res ? res->body : "";
    const double minute = k * sample_s * speed / 60.0;
    const double cpu_pct = k == 0 ? 0 : (p.cpu_seconds - prev.cpu_seconds) / sample_s * 100;
    prev = p;
    const double runs = HttpRuns(body, "success") + HttpRuns(body, "failure");
    if (k == 0) runs_at_start = runs;
    const double due_runs = static_cast<double>(n + flapping) * minute * 60'000.0 / interval_ms;
    std::printf("%7.1f %8.1f %8.1f %9.1f %9.1f %9.2f %9.2f %9.0f %9.2f %10.0f %9.2f %9.2f %9.2f "
                "%9.1f %7.1f %8.0f %8.0f %4d/%d\n",
                minute, p.rss_mb, p.anon_mb,
                Metric(body, "obsmon_heap_bytes{state=\"in_use\"}") / 1048576,
                Metric(body, "obsmon_heap_bytes{state=\"free\"}") / 1048576,
                Metric(body, "obsmon_storage_cache_bytes") / 1048576,
                Metric(body, "obsmon_sqlite_memory_bytes") / 1048576,
                Metric(body, "obsmon_storage_queue_rows"),
                Metric(body, "obsmon_storage_queue_bytes") / 1048576,
                Metric(body, "obsmon_rule_head_points"),
                Metric(body, "obsmon_rule_head_point_bytes") / 1048576,
                Metric(body, "obsmon_rule_head_index_bytes") / 1048576,
                Metric(body, "obsmon_uptime_live_report_bytes") / 1048576, cpu_pct,
                due_runs > 0 ? (runs - runs_at_start) / due_runs * 100 : 0.0,
                HttpRuns(body, "failure"), Metric(body, "obsmon_scheduler_skipped_runs_total"),
                operate.rounds(), operate.failed());
    if (k == 0) first = p.rss_mb;
    peak = std::max(peak, p.rss_mb);
    t_min.push_back(minute);
    rss.push_back(p.rss_mb);
    if (minute >= minutes) break;
  }
  // VmHWM, or the largest read before the operator reset it.
  const double high_water = operate.peak_mb();
  operate.Stop();
  stop = true;
  writer.join();
  // The truth: what the targets answered and the writer wrote, against the daemon's counts once
  // its log probe has read the last lines (its interval is 5 s of the daemon's clock).
  const double errors = static_cast<double>(errors_written.load());
  double matched = -1;
  WaitUntil([&] {
    auto res = oc.Get("/metrics");
    matched = res ? SumSeries(res->body, "obsmon_log_matches_total", "severity=\"error\"") : -1;
    return matched == errors;
  }, 30s);
  const auto last = oc.Get("/metrics");
  const std::string last_body = last ? last->body : "";
  const double runs = HttpRuns(last_body, "success") + HttpRuns(last_body, "failure");
  const auto answered = static_cast<double>(targets.hits() + flappers.hits());
  obs.Signal(SIGTERM);
  obs.Wait();

  const size_t half = t_min.size() / 2;
  const std::vector<double> x(t_min.begin() + half, t_min.end()), y(rss.begin() + half, rss.end());
  std::printf("RSS: first %.1f MB, last %.1f MB, peak %.1f MB (high-water mark %.1f MB); slope "
              "over minutes %.0f-%.0f: %+.2f MB/hour%s\n",
              first, rss.back(), peak, high_water, x.empty() ? 0 : x.front(),
              x.empty() ? 0 : x.back(),
              Slope(x, y) * 60, speed > 1 ? " (hours and minutes of the daemon's clock)" : "");
  std::printf("truth: targets answered %.0f requests, obsmon counted %.0f HTTP runs (%.0f failed); "
              "ERROR lines written %.0f, obsmon matched %.0f\n",
              answered, runs, HttpRuns(last_body, "failure"), errors, matched);
  if (operate.enabled()) {
    std::printf("operations: %s\n", operate.Summary().c_str());
    std::printf("high-water mark during each operation and between them: %s\n",
                operate.PeakSummary().c_str());
  }
  // A run in flight when the counts were read is answered but not yet counted, so at most one a
  // probe apart; a failed run (timeout) counted but perhaps not answered.
  const bool runs_true = answered >= runs - HttpRuns(last_body, "failure") &&
                         answered <= runs + n + flapping;
  return runs_true && matched == errors && operate.failed() == 0 ? 0 : 1;
}
