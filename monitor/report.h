// The observation report of one component over one window: uptime figures, incidents, latency,
// integration checks, error budget, per-day rows and a verdict. A plain value; the renderers in
// monitor/report_format.h turn it into text, markdown or JSON (docs/report-json.md).
//
// BuildReport reads through a storage::Reader (not thread-safe: one per thread, as storage says);
// ComputeReport is a pure function of its arguments and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/records.h"
#include "core/status.h"
#include "monitor/config.h"
#include "monitor/percentiles.h"
#include "monitor/uptime.h"
#include "storage/storage.h"

namespace obsmon {

enum class Verdict { kPass, kFail, kInProgress, kInsufficientData };
// "PASS", "FAIL", "IN PROGRESS", "INSUFFICIENT DATA".
const char* VerdictName(Verdict verdict);

// One criterion of the verdict, measured. `value` and `threshold` are ratios for uptime, coverage
// and pass rate, seconds for latency; `value` is nullopt when there was nothing to measure.
struct Criterion {
  std::string name;          // "uptime", "coverage", "latency_p95", "integration_checks"
  std::optional<double> value;
  double threshold = 0;
  bool met = false;
  std::string detail;        // human sentence: "uptime 99.120 % < objective 99.500 %"
};

// Integration checks (role kIntegration) of one probe in the evaluated window.
struct CheckSummary {
  std::string probe;
  uint64_t runs = 0;
  uint64_t passed = 0;
  uint64_t failed = 0;
  std::optional<TimestampMs> first_failure_ms;
  std::string first_failure_reason;
  // passed / runs; nullopt without runs.
  std::optional<double> pass_rate() const {
    if (runs == 0) return std::nullopt;
    return static_cast<double>(passed) / static_cast<double>(runs);
  }
};

// Downtime allowed by the objective over the whole window (not only the elapsed part):
// (1 - objective) x (window - excluded), rounded to the millisecond.
struct ErrorBudget {
  int64_t allowed_ms = 0;
  int64_t used_ms = 0;  // = down time so far
  int64_t left_ms = 0;  // allowed - used; negative once overspent
  // used / allowed; nullopt when nothing is allowed (objective 100 %).
  std::optional<double> used_ratio() const {
    if (allowed_ms <= 0) return std::nullopt;
    return static_cast<double>(used_ms) / static_cast<double>(allowed_ms);
  }
};

// One UTC calendar day of the evaluated window (the first and last may be partial).
struct DaySummary {
  std::string date;  // "2025-10-14"
  TimestampMs start_ms = 0;  // clipped to the window
  TimestampMs end_ms = 0;
  UptimeTotals totals;
  uint64_t incidents = 0;  // incidents that started in this day
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  LatencySummary latency;  // successful health runs that started in this day
};

struct Report {
  std::string component;
  Objective objective;
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
  TimestampMs now_ms = 0;
  TimestampMs evaluated_to_ms = 0;  // max(from, min(to, now))
  bool in_progress() const { return now_ms < to_ms; }

  UptimeTotals totals;
  std::vector<Incident> incidents;
  LatencySummary latency;  // successful health runs started in the evaluated window
  std::vector<CheckSummary> checks;  // sorted by probe
  ErrorBudget budget;
  std::vector<DaySummary> days;
  std::vector<std::string> health_probes;
  std::vector<TimeInterval> excluded;  // normalized, clipped to [from, to)

  Verdict verdict = Verdict::kInsufficientData;
  std::vector<Criterion> criteria;
  // Why the verdict is what it is, most important first (failed criteria by name and figure).
  std::vector<std::string> verdict_reasons;
};

struct ReportOptions {
  std::vector<TimeInterval> excluded;       // maintenance windows
  std::vector<std::string> health_probes;   // see UptimeOptions::health_probes
};

// Computes the report from a component's runs (as storage::Reader::ProbeRuns returns them).
// Runs of other components are ignored. `from_ms < to_ms` is the caller's business here.
Report ComputeReport(std::span<const ProbeRun> runs, const std::string& component,
                     const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                     TimestampMs now_ms, const ReportOptions& options = {});

// Reads the component's runs and computes its report. InvalidArgument for an empty window or an
// objective outside (0, 100]; NotFound when the component has no stored run at all; the reader's
// Status when reading fails.
Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms);
Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms, const ReportOptions& options);

}  // namespace obsmon
