// report_memory_bench: the memory and CPU of building one window report's latency figures, the
// whole window's durations held (the read before the streaming selection) beside BuildReport as
// it is now (report/latency_selection.h: an hour of one probe at a time, a few passes).
//
//   report_memory_bench [--probes N] [--days D] [--db PATH] [--end-now] [--flap-every K]
//
// Writes N health probes x D days of 1-second runs (5-25 ms latencies, 2 minutes down a day;
// with --flap-every K also one run in K down, each probe at its own phase: a flapping component)
// through the real Writer into PATH (default a fresh file under /tmp, removed after), then, for
// a 1-day window and the D-day window: the peak C++ heap above the baseline during the call
// (every operator new of this process is counted), the peak RSS above the RSS before it (VmHWM
// reset through /proc/self/clear_refs; SQLite's page cache included) and the thread's CPU time.
// Checks that the streamed figures equal the held ones bit for bit. With --end-now the runs end
// at the present instead of in October 2025, and the database is kept: a daemon started on it
// (component `carbon`, health probes health-0 .. health-<N-1>) refreshes a week already in
// (bench/refresh_cost.sh).
//
// Then, for the D-day window, what its uptime costs from the stored spans: copied into runs
// first (SpanAsRun, as reports did until stop 61), all read in place, and 6 hours of them at a
// time (now, as BuildReport); BuildReport as the daemon's refresh asks for it; and what the daemon keeps of the
// report between refreshes, whole and compacted (report/overview_report.h).
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/run_span.h"
#include "report/component_usage.h"
#include "report/log_match_counts.h"
#include "report/overview_report.h"
#include "report/percentiles.h"
#include "report/report.h"
#include "report/report_memory.h"
#include "report/uptime.h"
#include "storage/storage.h"

namespace {

std::atomic<int64_t> g_heap_live{0};
std::atomic<int64_t> g_heap_peak{0};

void NoteAlloc(void* p) {
  const int64_t live = g_heap_live += static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_heap_peak.load();
  while (live > peak && !g_heap_peak.compare_exchange_weak(peak, live)) {
  }
}

}  // namespace

// Every C++ allocation of the process goes through here, so the bench sees the heap's peak.
void* operator new(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  NoteAlloc(p);
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_heap_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }

namespace {

using obsmon::TimestampMs;

constexpr int64_t kDay = 86'400'000;
// Where the written runs begin: 2025-10-14T00:00:00Z, or D days before now with --end-now.
TimestampMs kFrom = 1'760'400'000'000;
int g_flap_every = 0;  // --flap-every: one run in this many down (0: none)

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// VmRSS or VmHWM of this process, in MB.
double ProcStatusMb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key))) / 1024.0;
  }
  return 0;
}

struct Cost {
  double heap_mb = 0;  // peak C++ heap above the heap before the call
  double rss_mb = 0;   // peak RSS above the RSS before the call
  double cpu_ms = 0;
};

// The least of `reps` runs of `fn` (each figure on its own).
Cost Measure(int reps, const std::function<void()>& fn) {
  Cost best{1e300, 1e300, 1e300};
  for (int i = 0; i < reps; ++i) {
    malloc_trim(0);
    std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
    const double rss0 = ProcStatusMb("VmRSS:");
    const int64_t heap0 = g_heap_live.load();
    g_heap_peak = heap0;
    const double c0 = ThreadCpuMs();
    fn();
    best.cpu_ms = std::min(best.cpu_ms, ThreadCpuMs() - c0);
    best.heap_mb = std::min(best.heap_mb, static_cast<double>(g_heap_peak.load() - heap0) / 1e6);
    best.rss_mb = std::min(best.rss_mb, ProcStatusMb("VmHWM:") - rss0);
  }
  return best;
}

void Print(const char* what, int days, const Cost& c) {
  std::printf("%-44s %d-day window: peak heap %9.2f MB, peak RSS +%8.2f MB, cpu %8.1f ms\n", what,
              days, c.heap_mb, c.rss_mb, c.cpu_ms);
}

bool SameFigures(const obsmon::LatencySummary& a, const obsmon::LatencySummary& b) {
  return a.count == b.count && a.min_seconds == b.min_seconds && a.max_seconds == b.max_seconds &&
         a.mean_seconds == b.mean_seconds && a.p50_seconds == b.p50_seconds &&
         a.p95_seconds == b.p95_seconds && a.p99_seconds == b.p99_seconds;
}

bool Write(const std::string& path, int probes, int days, obsmon::Clock* clock) {
  obsmon::storage::StorageOptions opt;
  opt.path = path;
  opt.clock = clock;
  auto writer = obsmon::storage::Writer::Start(opt);
  if (!writer.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), writer.status().ToString().c_str());
    return false;
  }
  uint64_t x = 88172645463325252ull;  // xorshift: deterministic "latency"
  obsmon::WriteBatch batch;
  size_t written = 0;
  for (TimestampMs ts = kFrom; ts < kFrom + days * kDay; ts += 1000) {
    const int64_t in_day = (ts - kFrom) % kDay;
    for (int p = 0; p < probes; ++p) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      obsmon::ProbeRun& r = batch.runs.emplace_back();
      r.key = {"carbon", "health-" + std::to_string(p)};
      r.role = obsmon::ProbeRole::kHealth;
      r.ts_ms = ts;
      r.success = !(in_day >= 36'000'000 && in_day < 36'000'000 + 120'000);
      r.reason = r.success ? "" : "status 503";
      if (g_flap_every > 0 && ((ts - kFrom) / 1000 + 7 * p) % g_flap_every == 0) {
        r.success = false;
        r.reason = "connection timed out after 2.000 s (deadline)";
      }
      r.duration_seconds = 0.005 + static_cast<double>(x % 20'000) / 1e6;
      r.valid_for_ms = 1500;
    }
    // A log probe's counters every 5 s: 3 error lines each time, a critical one every minute.
    if ((ts - kFrom) % 5000 == 0) {
      const double runs = static_cast<double>((ts - kFrom) / 5000 + 1);
      for (const auto& [severity, value] : {std::pair{"error", 3 * runs},
                                            std::pair{"critical", std::floor(runs / 12)}}) {
        batch.samples.push_back({"obsmon_log_matches_total",
                                 obsmon::Labels{{"component", "carbon"}, {"probe", "log"},
                                                {"severity", severity},
                                                {"source", "/var/log/carbon/app.log"}},
                                 ts, value});
      }
    }
    if (batch.runs.size() >= 1000) {
      written += batch.runs.size();
      while (!(*writer)->Enqueue(batch)) {
        if (!(*writer)->Flush().ok()) return false;
      }
      batch.runs.clear();
      batch.samples.clear();
    }
  }
  written += batch.runs.size();
  (*writer)->Enqueue(batch);
  const obsmon::Status st = (*writer)->Flush();
  (*writer)->Stop();
  std::printf("wrote %zu runs (%d probes x %d days) to %s (%s)\n", written, probes, days,
              path.c_str(), st.ToString().c_str());
  return st.ok();
}

// The D-day window's uptime from its spans: copied into runs (until stop 61), all read in place,
// and 6 hours at a time (now, as BuildReport); BuildReport as the daemon's refresh asks for it (no
// incident details); BuildReport for a user, listing every incident and the longest 1,000; what
// the daemon keeps of `report` between refreshes, whole and compacted.
void UptimeFromSpans(obsmon::storage::Reader& reader, int days, obsmon::Report report) {
  const TimestampMs to = kFrom + days * kDay;
  obsmon::UptimeOptions options;
  options.from_ms = kFrom;
  options.to_ms = to;
  options.now_ms = to;
  size_t spans = 0, incidents_copied = 0, incidents_in_place = 0, incidents_by_day = 0;
  const Cost copied = Measure(3, [&] {
    auto read = reader.RunSpans("carbon", kFrom, to);
    if (!read.ok()) return;
    std::vector<obsmon::ProbeRun> runs;
    runs.reserve(read->size());
    for (const obsmon::RunSpan& span : *read) runs.push_back(obsmon::SpanAsRun(span));
    incidents_copied = obsmon::ComputeUptime(runs, options).incidents.size();
  });
  Print("uptime, spans copied into runs (stop 60)", days, copied);
  const Cost in_place = Measure(3, [&] {
    auto read = reader.RunSpans("carbon", kFrom, to);
    if (!read.ok()) return;
    spans = read->size();
    incidents_in_place =
        obsmon::ComputeUptime(std::span<const obsmon::RunSpan>(*read), options).incidents.size();
  });
  Print("uptime, all spans read in place", days, in_place);
  const Cost by_day = Measure(3, [&] {
    obsmon::UptimeResult up;
    (void)reader.StreamRunSpans(
        "carbon", kFrom, to, 6 * 3'600'000,
        [&](std::vector<obsmon::RunSpan>& chunk, TimestampMs c0, TimestampMs c1) {
          obsmon::UptimeOptions o = options;
          o.from_ms = c0;
          o.to_ms = c1;
          auto part = obsmon::ComputeUptime(std::span<const obsmon::RunSpan>(chunk), o);
          if (c0 == kFrom) {
            up = std::move(part);
          } else {
            obsmon::AppendUptime(up, std::move(part));
          }
          return obsmon::Status::Ok();
        });
    incidents_by_day = up.incidents.size();
  });
  Print("uptime, 6 hours of spans at a time (now)", days, by_day);
  std::printf("  -> %zu spans, %zu incidents (copied %zu, 6 hours at a time %zu: %s)\n", spans,
              incidents_in_place, incidents_copied, incidents_by_day,
              incidents_in_place == incidents_copied && incidents_in_place == incidents_by_day
                  ? "same"
                  : "DIFFERENT");
  obsmon::Objective objective;
  obsmon::ReportOptions overview;
  overview.max_log_events = 0;
  overview.for_overview = true;
  const Cost refresh = Measure(3, [&] {
    (void)obsmon::BuildReport(reader, "carbon", objective, kFrom, to, to, overview);
  });
  Print("BuildReport as the daemon's refresh (now)", days, refresh);
  // A report a user asks for (API, CLI, pages): every incident and gap listed, as until stop 62,
  // and the longest ReportOptions::max_listed (1,000 by default), the rest counted.
  obsmon::ReportOptions user;
  user.max_log_events = 0;
  obsmon::ReportOptions every = user;
  every.max_listed = 0;
  size_t listed_every = 0, timeline_every = 0, listed_now = 0, timeline_now = 0;
  uint64_t counted_now = 0;
  const Cost all = Measure(3, [&] {
    auto r = obsmon::BuildReport(reader, "carbon", objective, kFrom, to, to, every);
    if (!r.ok()) return;
    listed_every = r->incidents.size();
    timeline_every = r->timeline.size();
  });
  Print("BuildReport for a user, every incident listed", days, all);
  const Cost bounded = Measure(3, [&] {
    auto r = obsmon::BuildReport(reader, "carbon", objective, kFrom, to, to, user);
    if (!r.ok()) return;
    listed_now = r->incidents.size();
    counted_now = r->IncidentCount();
    timeline_now = r->timeline.size();
  });
  Print("BuildReport for a user, 1,000 listed (now)", days, bounded);
  std::printf("  -> incidents listed %zu of %llu (every one listed: %zu); timeline %zu spans "
              "(every one: %zu)\n",
              listed_now, static_cast<unsigned long long>(counted_now), listed_every,
              timeline_now, timeline_every);
  const size_t whole = obsmon::HeapBytesOf(report);
  obsmon::CompactForOverview(report);
  std::printf("live report kept between refreshes: whole %.3f MB, compacted %.3f MB "
              "(%llu incidents counted)\n",
              static_cast<double>(whole) / 1e6,
              static_cast<double>(obsmon::HeapBytesOf(report)) / 1e6,
              static_cast<unsigned long long>(report.IncidentCount()));
}

// A component whose log lines were capped counts them from its log probe's counters, a week of
// samples every refresh: held whole (until stop 62) and streamed (now), with the same counts.
void LogCounts(obsmon::storage::Reader& reader, int days) {
  const TimestampMs to = kFrom + days * kDay;
  uint64_t held_errors = 0, streamed_errors = 0, streamed_critical = 0;
  size_t samples = 0;
  const Cost held = Measure(3, [&] {
    auto all = reader.Samples("obsmon_log_matches_total", obsmon::Labels{{"component", "carbon"}},
                              kFrom - 3'600'000, to);
    if (!all.ok()) return;
    samples = all->size();
    std::vector<double> values;
    for (const obsmon::Sample& s : *all) {
      if (s.labels.Get("severity") == "error") values.push_back(s.value);
    }
    held_errors = static_cast<uint64_t>(std::llround(obsmon::IncreaseOf(values)));
  });
  Print("log match counts, samples held (stop 61)", days, held);
  const Cost streamed = Measure(3, [&] {
    auto counts = obsmon::ReadLogMatchCounts(reader, "carbon", kFrom, to, {"critical"}, {"error"});
    if (!counts.ok()) return;
    streamed_errors = counts->error;
    streamed_critical = counts->critical;
  });
  Print("log match counts, streamed (now)", days, streamed);
  std::printf("  -> %zu samples; error lines %llu held, %llu streamed (critical %llu)\n", samples,
              static_cast<unsigned long long>(held_errors),
              static_cast<unsigned long long>(streamed_errors),
              static_cast<unsigned long long>(streamed_critical));
}

}  // namespace

int main(int argc, char** argv) {
  int probes = 1, days = 7;
  std::string db_path;
  bool end_now = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--end-now") == 0) end_now = true;
    else if (i + 1 == argc) break;
    else if (std::strcmp(argv[i], "--probes") == 0) probes = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--days") == 0) days = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--db") == 0) db_path = argv[++i];
    else if (std::strcmp(argv[i], "--flap-every") == 0) g_flap_every = std::atoi(argv[++i]);
  }
  if (end_now) {
    kFrom = (obsmon::SystemClock().NowMs() / 1000) * 1000 - days * kDay;
    if (db_path.empty()) {
      std::fprintf(stderr, "--end-now writes a database to keep: give it --db PATH\n");
      return 2;
    }
  }
  const bool temporary = db_path.empty();
  if (temporary) {
    db_path = (std::filesystem::temp_directory_path() /
               ("obsmon_report_memory_bench_" + std::to_string(::getpid()) + ".db"))
                  .string();
  }
  // Retention must not see these 2025 runs as old: the writer's clock sits just after the window
  // (at its end with --end-now, so that the hour a daemon goes on writing is still open).
  obsmon::FakeClock clock(kFrom + days * kDay + (end_now ? 0 : 3'600'000));
  if (!std::filesystem::exists(db_path) && !Write(db_path, probes, days, &clock)) return 1;
  if (end_now) return 0;
  auto reader = obsmon::storage::Reader::Open(db_path);
  if (!reader.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", db_path.c_str(),
                 reader.status().ToString().c_str());
    return 1;
  }
  obsmon::Objective objective;
  obsmon::ReportOptions plain;
  plain.max_log_events = 0;
  bool all_same = true;
  for (int window : {1, days}) {
    const TimestampMs to = kFrom + window * kDay;
    obsmon::LatencySummary held;
    size_t values = 0;
    // Before: the window's durations read and held, as BuildReport did (SuccessDurations), then
    // the pooled percentiles selected from the sorted hours (SummarizeSortedSets).
    const Cost before = Measure(3, [&] {
      auto groups =
          (*reader)->SuccessDurations("carbon", obsmon::ProbeRole::kHealth, kFrom, to, {});
      if (!groups.ok()) return;
      std::vector<std::span<const double>> sets;
      values = 0;
      for (const auto& g : *groups) {
        sets.emplace_back(g.seconds);
        values += g.seconds.size();
      }
      held = obsmon::SummarizeSortedSets(sets);
    });
    Print("whole window held (the read before)", window, before);
    obsmon::Result<obsmon::Report> report = obsmon::Status::Internal("not run");
    const Cost after = Measure(3, [&] {
      report = obsmon::BuildReport(**reader, "carbon", objective, kFrom, to, to, plain);
    });
    Print("BuildReport, streamed (now)", window, after);
    const bool same = report.ok() && SameFigures(report->latency, held);
    all_same = all_same && same;
    std::printf("  -> %zu durations in the window (%.1f MB as doubles); pooled p50/p95/p99 "
                "%.6f/%.6f/%.6f s; streamed == held, bit for bit: %s\n",
                values, static_cast<double>(values) * 8 / 1e6, held.p50_seconds,
                held.p95_seconds, held.p99_seconds, same ? "yes" : "NO");
    if (window == days) {
      if (report.ok()) UptimeFromSpans(**reader, days, *report);
      break;
    }
  }
  LogCounts(**reader, days);
  reader->reset();
  if (temporary) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
      std::filesystem::remove(db_path + suffix, ec);
    }
  }
  return all_same ? 0 : 1;
}
