// report_bench: time to compute the observation report of one component over 7 days of 1-second
// health runs (604,800 runs, plus hourly integration checks), target <= 50 ms.
//
//   report_bench [--runs-only] [--db PATH]
//
// Measures (1) the pure computation (ComputeReport over runs in memory) and the renderers, and
// (2) when built with storage/, the full path BuildReport through a real SQLite Reader on a
// database written by the real Writer (PATH, default a fresh file under /tmp, removed after).
// Prints one line per figure; the minimum and median of several repetitions.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "report/report.h"
#include "render/report_format.h"
#ifdef OBSMON_BENCH_WITH_STORAGE
#include "storage/storage.h"
#endif

namespace {

using obsmon::ProbeRun;
using obsmon::TimestampMs;

constexpr int64_t kDay = 86'400'000;
constexpr TimestampMs kFrom = 1'760'400'000'000;  // 2025-10-14T00:00:00Z
constexpr TimestampMs kTo = kFrom + 7 * kDay;

std::vector<ProbeRun> MakeRuns() {
  std::vector<ProbeRun> runs;
  runs.reserve(604'800 + 200);
  uint64_t x = 88172645463325252ull;  // xorshift: deterministic "latency"
  for (TimestampMs ts = kFrom; ts < kTo; ts += 1000) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ProbeRun r;
    r.key = {"carbon", "health"};
    r.role = obsmon::ProbeRole::kHealth;
    r.ts_ms = ts;
    const int64_t in_day = (ts - kFrom) % kDay;
    r.success = !(in_day >= 36'000'000 && in_day < 36'000'000 + 120'000);  // 2 min a day down
    r.reason = r.success ? "" : "status 503";
    r.duration_seconds = 0.005 + static_cast<double>(x % 20'000) / 1e6;
    r.valid_for_ms = 1500;
    runs.push_back(std::move(r));
  }
  for (TimestampMs ts = kFrom; ts < kTo; ts += 3'600'000) {
    ProbeRun r;
    r.key = {"carbon", "integration"};
    r.role = obsmon::ProbeRole::kIntegration;
    r.ts_ms = ts;
    r.success = true;
    r.duration_seconds = 30;
    r.valid_for_ms = 5'400'000;
    runs.push_back(std::move(r));
  }
  // As the reader returns them: by probe, then time.
  std::stable_sort(runs.begin(), runs.end(),
                   [](const ProbeRun& a, const ProbeRun& b) { return a.key.probe < b.key.probe; });
  return runs;
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Runs `fn` `reps` times; prints min and median wall and CPU milliseconds. On a shared machine
// the CPU time is the steadier figure (wall time includes waiting for a core).
void Time(const char* what, int reps, const std::function<void()>& fn) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = ThreadCpuMs();
    fn();
    cpu.push_back(ThreadCpuMs() - c0);
    auto t1 = std::chrono::steady_clock::now();
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%-40s wall min %8.2f med %8.2f ms | cpu min %8.2f med %8.2f ms (%d reps)\n", what,
              wall.front(), wall[wall.size() / 2], cpu.front(), cpu[cpu.size() / 2], reps);
}

}  // namespace

int main(int argc, char** argv) {
  bool runs_only = false;
  std::string db_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs-only") == 0) runs_only = true;
    if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) db_path = argv[++i];
  }
  const std::vector<ProbeRun> runs = MakeRuns();
  std::printf("report over 7 days: %zu probe runs (1 s health + hourly integration)\n",
              runs.size());
  obsmon::Objective objective;
  obsmon::Report report;
  Time("ComputeReport (pure, in memory)", 15,
       [&] { report = obsmon::ComputeReport(runs, "carbon", objective, kFrom, kTo, kTo); });
  std::printf("  -> %s, uptime %s, %zu incidents, latency n=%llu\n",
              obsmon::VerdictName(report.verdict),
              obsmon::FormatPercent(report.totals.uptime()).c_str(), report.incidents.size(),
              static_cast<unsigned long long>(report.latency.count));
  Time("RenderReportText", 15, [&] { (void)obsmon::RenderReportText(report); });
  Time("RenderReportMarkdown", 15, [&] { (void)obsmon::RenderReportMarkdown(report); });
  Time("RenderReportJson", 15, [&] { (void)obsmon::RenderReportJson(report); });
  Time("RenderReportHtml (inline SVG)", 15, [&] { (void)obsmon::RenderReportHtml(report); });
  // A period with everything a report reads besides the runs: the storage cap of matched lines
  // (1000 a day, half of them critical), a maintenance hour a day and an alert per outage.
  obsmon::ReportOptions rich;
  for (int d = 0; d < 7; ++d) {
    rich.maintenance.push_back({kFrom + d * kDay + 3'600'000, kFrom + d * kDay + 7'200'000,
                                "nightly maintenance"});
    rich.alerts.push_back({kFrom + d * kDay + 36'060'000, kFrom + d * kDay + 36'180'000,
                           "CarbonDown", "{job=\"carbon\"}", "carbon down"});
    for (int i = 0; i < 1000; ++i) {
      obsmon::LogEvent e;
      e.key = {"carbon", "app-log"};
      e.ts_ms = kFrom + d * kDay + i * 86'000;
      e.severity = i % 2 ? "critical" : "error";
      e.line = "ERROR something <odd> happened";
      rich.log_events.push_back(std::move(e));
    }
  }
  obsmon::Report rich_report;
  Time("ComputeReport (+7000 lines, maintenance)", 15, [&] {
    rich_report = obsmon::ComputeReport(runs, "carbon", objective, kFrom, kTo, kTo, rich);
  });
  std::printf("  -> %s, %llu critical lines, %zu gaps, %zu latency hours\n",
              obsmon::VerdictName(rich_report.verdict),
              static_cast<unsigned long long>(rich_report.logs.critical), rich_report.gaps.size(),
              rich_report.latency_hourly.size());
  Time("RenderReportHtml (rich)", 15, [&] { (void)obsmon::RenderReportHtml(rich_report); });
  if (runs_only) return 0;

#ifdef OBSMON_BENCH_WITH_STORAGE
  const bool temporary = db_path.empty();
  if (temporary) {
    db_path = (std::filesystem::temp_directory_path() /
               ("obsmon_report_bench_" + std::to_string(::getpid()) + ".db"))
                  .string();
  }
  // Retention must not see these 2025 runs as old: the writer's clock sits just after the window.
  obsmon::FakeClock clock(kTo + 3'600'000);
  {
    obsmon::storage::StorageOptions opt;
    opt.path = db_path;
    opt.clock = &clock;
    auto writer = obsmon::storage::Writer::Start(opt);
    if (!writer.ok()) {
      std::fprintf(stderr, "cannot open %s: %s\n", db_path.c_str(),
                   writer.status().ToString().c_str());
      return 1;
    }
    // A full queue is drained by a flush; a failing flush would refuse every batch forever.
    auto enqueue = [&](const obsmon::WriteBatch& b) {
      while (!(*writer)->Enqueue(b)) {
        if (obsmon::Status s = (*writer)->Flush(); !s.ok()) {
          std::fprintf(stderr, "cannot write %s: %s\n", db_path.c_str(), s.ToString().c_str());
          return false;
        }
      }
      return true;
    };
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < runs.size(); i += 1000) {
      obsmon::WriteBatch batch;
      batch.runs.assign(runs.begin() + i, runs.begin() + std::min(runs.size(), i + 1000));
      if (!enqueue(batch)) return 1;
    }
    {
      obsmon::WriteBatch lines;  // the rich period's matched lines, stored as a log probe would
      lines.log_events = rich.log_events;
      if (!enqueue(lines)) return 1;
    }
    auto st = (*writer)->Flush();
    (*writer)->Stop();
    auto t1 = std::chrono::steady_clock::now();
    std::printf("wrote %zu runs to %s in %.0f ms (%s)\n", runs.size(), db_path.c_str(),
                std::chrono::duration<double, std::milli>(t1 - t0).count(), st.ToString().c_str());
  }
  auto reader = obsmon::storage::Reader::Open(db_path);
  if (!reader.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", db_path.c_str(),
                 reader.status().ToString().c_str());
    return 1;
  }
  size_t read = 0;
  Time("Reader::ProbeRuns (SQLite read only)", 5, [&] {
    auto r = (*reader)->ProbeRuns("carbon", kFrom, kTo);
    read = r.ok() ? r->size() : 0;
  });
  std::printf("  -> %zu runs read back\n", read);
  // The reads the span-based report needs instead of every run.
  Time("Reader::RunSpans (7 days)", 15, [&] {
    auto r = (*reader)->RunSpans("carbon", kFrom, kTo);
    read = r.ok() ? r->size() : 0;
  });
  std::printf("  -> %zu spans read\n", read);
  size_t values = 0;
  Time("Reader::SuccessDurations (health, 7 days)", 15, [&] {
    auto r = (*reader)->SuccessDurations("carbon", obsmon::ProbeRole::kHealth, kFrom, kTo, {});
    read = r.ok() ? r->size() : 0;
    values = 0;
    if (r.ok()) {
      for (const auto& g : *r) values += g.seconds.size();
    }
  });
  std::printf("  -> %zu hour groups, %zu durations read\n", read, values);
  Time("Reader::RunsOfRole (integration, 7 days)", 15, [&] {
    auto r = (*reader)->RunsOfRole("carbon", obsmon::ProbeRole::kIntegration, kFrom, kTo);
    read = r.ok() ? r->size() : 0;
  });
  std::printf("  -> %zu integration runs read\n", read);
  obsmon::Result<obsmon::Report> full = obsmon::Status::Internal("not run");
  // The plain period: probe runs only (the stored log lines are the harder period's, below).
  obsmon::ReportOptions plain;
  plain.max_log_events = 0;
  Time("BuildReport (SQLite Reader + compute)", 5, [&] {
    full = obsmon::BuildReport(**reader, "carbon", objective, kFrom, kTo, kTo, plain);
  });
  if (full.ok()) {
    // Every figure, not just uptime: the whole JSON report equals the one computed in memory.
    std::printf("  -> %s, uptime %s, p95 %s (JSON identical to the in-memory report: %s)\n",
                obsmon::VerdictName(full->verdict),
                obsmon::FormatPercent(full->totals.uptime()).c_str(),
                obsmon::FormatLatency(full->latency.p95_seconds).c_str(),
                obsmon::RenderReportJson(*full) == obsmon::RenderReportJson(report) ? "yes" : "NO");
  } else {
    std::printf("  -> %s\n", full.status().ToString().c_str());
  }
  // A harder period: maintenance that starts and ends inside hours (01:10-02:20 each day, so
  // 14 hours must be read run by run), the 7,000 stored log lines and an alert a day.
  obsmon::ReportOptions cut;
  for (int d = 0; d < 7; ++d) {
    cut.maintenance.push_back({kFrom + d * kDay + 4'200'000, kFrom + d * kDay + 8'400'000,
                               "nightly maintenance"});
  }
  cut.alerts = rich.alerts;
  obsmon::Result<obsmon::Report> cut_full = obsmon::Status::Internal("not run");
  Time("BuildReport (+maintenance cutting 14 h, 7000 lines)", 5, [&] {
    cut_full = obsmon::BuildReport(**reader, "carbon", objective, kFrom, kTo, kTo, cut);
  });
  if (cut_full.ok()) {
    obsmon::ReportOptions in_memory = cut;
    in_memory.log_events = rich.log_events;
    const obsmon::Report want =
        obsmon::ComputeReport(runs, "carbon", objective, kFrom, kTo, kTo, in_memory);
    std::printf("  -> %s, %llu critical lines, latency n=%llu (JSON identical to the in-memory "
                "report: %s)\n",
                obsmon::VerdictName(cut_full->verdict),
                static_cast<unsigned long long>(cut_full->logs.critical),
                static_cast<unsigned long long>(cut_full->latency.count),
                obsmon::RenderReportJson(*cut_full) == obsmon::RenderReportJson(want) ? "yes"
                                                                                      : "NO");
  } else {
    std::printf("  -> %s\n", cut_full.status().ToString().c_str());
  }
  reader->reset();
  if (temporary) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
      std::filesystem::remove(db_path + suffix, ec);
    }
  }
#else
  std::printf("(built without storage/: the SQLite path is not measured)\n");
#endif
  return 0;
}
