// Test-only: a realistic 7-day observation period of "carbon" built on a fake timeline (no clock,
// no sleep), for the HTML tests, the Chromium test and docs/report-screenshot.png. Health probe
// every `step_ms` with a daily latency rhythm, two outages (one across a maintenance window), a
// monitor gap, an hourly integration check, matched error lines, and optionally hostile text in
// a reason, a log line and the maintenance reason.
#pragma once

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "report/report.h"
#include "tests/report/uptime_oracle.h"

namespace obsmon::fake_period {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

// Text that would run script, break attributes or a terminal if it were not escaped.
inline const std::string kHostile =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='img'\"> "
    "\"quoted\" 'single' & \x1b[31mred\x07 end";

struct FakePeriod {
  std::vector<ProbeRun> runs;
  ReportOptions options;
  Objective objective;
  int64_t from = kT0;
  int64_t to = kT0 + 7 * kDay;
};

// How often `needle` occurs in `haystack` (overlaps counted).
inline size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// One line of carbon's application log, as the log probe stores it.
inline LogEvent CarbonLogLine(int64_t ts, const std::string& severity, const std::string& text) {
  LogEvent e;
  e.key = {"carbon", "app-log"};
  e.ts_ms = ts;
  e.file = "/var/log/carbon/app.log";
  e.severity = severity;
  e.line = text;
  return e;
}

inline FakePeriod MakeFakePeriod(int64_t step_ms = 60'000, bool hostile = false) {
  FakePeriod p;
  p.objective.uptime_percent = 99.5;
  p.objective.latency_p95_ms = 120;
  const int64_t down1 = kT0 + 2 * kDay + 14 * kHour + 7 * kMinute;  // 18 min outage on day 3
  const int64_t down2 = kT0 + 5 * kDay + 3 * kHour;                 // 6 min on day 6
  const int64_t gap = kT0 + 4 * kDay + 9 * kHour;                   // 25 min nobody looking
  const std::string reason = hostile ? "status 503: " + kHostile : "status 503";
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int64_t ts = kT0 - step_ms; ts < p.to; ts += step_ms) {
    if (ts >= gap && ts < gap + 25 * kMinute) continue;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const double hour = static_cast<double>((ts - kT0) % kDay) / kHour;
    // Busier afternoons are slower; a little noise and a rare slow run.
    double ms = 38 + 14 * std::sin((hour - 8) / 24 * 2 * std::numbers::pi) +
                static_cast<double>(x % 9000) / 1000;
    if (x % 97 == 0) ms += 60;
    const bool down =
        (ts >= down1 && ts < down1 + 18 * kMinute) || (ts >= down2 && ts < down2 + 6 * kMinute);
    p.runs.push_back(MakeRun("http", ts, !down, step_ms * 3 / 2, reason, ms / 1000));
  }
  for (int64_t ts = kT0; ts < p.to; ts += kHour) {
    p.runs.push_back(
        MakeRun("pytest-integration", ts, true, 90 * kMinute, "", 42, ProbeRole::kIntegration));
  }
  std::stable_sort(p.runs.begin(), p.runs.end(),
                   [](const ProbeRun& a, const ProbeRun& b) { return a.key.probe < b.key.probe; });
  p.options.maintenance = {{kT0 + 3 * kDay + 2 * kHour, kT0 + 3 * kDay + 3 * kHour,
                            hostile ? "DB upgrade " + kHostile : "PostgreSQL 16 upgrade"}};
  auto line = CarbonLogLine;
  p.options.log_events = {
      line(kT0 + kDay + 3 * kHour, "error", "ERROR codecarbon: emissions upload retried (timeout)"),
      line(kT0 + 2 * kDay + 14 * kHour + 8 * kMinute, "error",
           hostile ? "ERROR " + kHostile : "ERROR db: connection refused"),
      line(kT0 + 6 * kDay + 20 * kHour, "error", "ERROR codecarbon: emissions upload retried")};
  if (hostile)
    p.options.log_events.push_back(line(kT0 + 4 * kDay, "critical", "CRITICAL " + kHostile));
  p.options.alerts = {{down1 + 2 * kMinute, down1 + 19 * kMinute, "CarbonDown",
                       "{alertname=\"CarbonDown\",job=\"carbon\"}",
                       hostile ? kHostile : "carbon health check failing"}};
  return p;
}

inline Report FakePeriodReport(int64_t step_ms = 60'000, bool hostile = false,
                               const std::string& component = "carbon") {
  FakePeriod p = MakeFakePeriod(step_ms, hostile);
  for (auto& r : p.runs) r.key.component = component;
  for (auto& e : p.options.log_events) e.key.component = component;
  p.options.period_id = 3;
  return ComputeReport(p.runs, component, p.objective, p.from, p.to, p.to, p.options);
}

}  // namespace obsmon::fake_period
