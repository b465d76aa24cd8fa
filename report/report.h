// The observation report of one component over one window: uptime figures, incidents, latency,
// integration checks, error budget, per-day rows and a verdict. A plain value; the renderers in
// render/report_format.h turn it into text, markdown or JSON (docs/report-json.md).
//
// BuildReport reads through a storage::Reader (not thread-safe: one per thread, as storage says);
// ComputeReport is a pure function of its arguments and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/alert_component.h"
#include "core/records.h"
#include "core/run_span.h"
#include "core/status.h"
#include "core/time_zone.h"
#include "core/objective.h"
#include "report/percentiles.h"
#include "report/period_days.h"
#include "report/component_usage.h"
#include "report/uptime.h"
#include "storage/storage.h"

namespace obsmon {

enum class Verdict { kPass, kFail, kInProgress, kInsufficientData };
// "PASS", "FAIL", "IN PROGRESS", "INSUFFICIENT DATA".
const char* VerdictName(Verdict verdict);

// Where a criterion stands. A finished window has only kMet and kFailed; while the window runs a
// criterion not met yet is kNotYet unless the rest of the window cannot undo it (budget spent, a
// failed integration check, a critical line), which is kFailed.
enum class CriterionState { kMet, kNotYet, kFailed };
// "met", "not yet", "failed".
const char* CriterionStateName(CriterionState state);

// One criterion of the verdict, measured. `value` and `threshold` are ratios for uptime, coverage
// and pass rate, seconds for latency; `value` is nullopt when there was nothing to measure.
struct Criterion {
  std::string name;  // "uptime", "coverage", "latency_p95", "integration_checks"
  std::optional<double> value;
  double threshold = 0;
  bool met = false;
  std::string detail;  // human sentence: "uptime 99.120 % < objective 99.500 %"
  CriterionState state = CriterionState::kNotYet;  // set by the verdict (Decide)
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

// A maintenance window: excluded from uptime, coverage and the budget, listed with its reason.
struct MaintenanceWindow {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  std::string reason;
};

// Matched log lines of the evaluated window (severities "critical"/"fatal" and "error"; see
// ReportOptions). The lines are kept verbatim here; every renderer escapes them.
struct LogLineSummary {
  uint64_t critical = 0;
  uint64_t error = 0;
  // Storage keeps a bounded number of lines per day (or the reader was given a limit): the counts
  // are then lower bounds, and renderers say "at least".
  bool truncated = false;
  // Why there is no log evidence at all (a report read from a Prometheus-compatible store,
  // docs/report-from-store.md); empty when the lines were read. When set, the counts are not
  // "zero lines" but "not known", and the critical_lines criterion is left out of the verdict.
  std::string unavailable;
  std::optional<LogEvent> first_critical, last_critical, first_error, last_error;
};

// An alert that fired in the window (from alert history), with its resolution if seen.
struct AlertFired {
  TimestampMs fired_ms = 0;
  std::optional<TimestampMs> resolved_ms;
  std::string rule;
  std::string labels;   // Prometheus text form
  std::string summary;  // the summary annotation, may be empty
  // The component's maintenance window it fired in, if it did (BuildReport; clipped to the
  // window). The daemon holds back an alert's notifications while its component is in a
  // window it knows of (docs/maintenance.md); a window declared afterwards did not.
  std::optional<MaintenanceWindow> maintenance;
};

// IN PROGRESS only: where the window ends if the rest of it goes as the elapsed part did.
// The down share of known time so far, f = down / (up + down), is assumed to hold over the
// remaining (non-excluded) time.
struct BurnProjection {
  // f / (1 - objective): 1 spends exactly the budget over the window; nullopt at objective 100 %.
  std::optional<double> burn_rate;
  int64_t remaining_ms = 0;                // window time not yet evaluated, minus maintenance in it
  int64_t projected_down_ms = 0;           // used + round(f x remaining)
  std::optional<double> projected_uptime;  // 1 - projected_down / (window - excluded)
  Verdict projected_verdict = Verdict::kPass;  // kPass or kFail (budget only)
  // When the budget runs out at rate f, if before the window's end (and not already out).
  std::optional<TimestampMs> budget_exhausted_at_ms;
};

// Latency of one health probe's successful runs started in the evaluated window.
struct ProbeLatency {
  std::string probe;
  // The objective has a latency SLA and it is about this probe (Objective::latency_probes; every
  // health probe when that list is empty).
  bool sla = false;
  LatencySummary latency;
};

// Latency of the SLA's probes' successful runs started in one UTC hour of the evaluated window.
struct LatencyPoint {
  TimestampMs start_ms = 0;  // start of the UTC hour (may precede from_ms for the first)
  LatencySummary latency;
};

// One day of the evaluated window as report/period_days.h counts them: by default the N-th 24 h
// from the window's start, calendar days of ReportOptions::time_zone when it is set.
struct DaySummary {
  int number = 0;            // Day N, 1-based
  std::string date;          // "2025-10-14", the local date of the day's start
  std::string label;         // "Day 3 — 2026-10-16 06:36 → 2026-10-17 06:36 UTC" (DayLabel)
  TimestampMs start_ms = 0;  // within the window
  TimestampMs end_ms = 0;    // clipped to the evaluated end
  TimestampMs planned_end_ms = 0;  // where the day ends (the window's end for the last one)
  // The day is over (not cut by the evaluated end).
  bool complete() const { return end_ms == planned_end_ms; }
  UptimeTotals totals;
  uint64_t incidents = 0;  // incidents that started in this day
  // The day's kDayIncidentsListed longest incidents (ties: the earlier), by start, whatever the
  // report lists of the whole window (ReportOptions::max_listed): the day's section and its
  // Day N comment show them. Set by BuildReport and ComputeReport (report/report_uptime_fold.h).
  std::vector<Incident> longest_incidents;
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  LatencySummary latency;  // successful runs of the SLA's probes that started in this day
  uint64_t errors = 0;     // matched error lines seen this day
  uint64_t criticals = 0;  // matched critical/fatal lines seen this day
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
  // Incidents of the window not in `incidents`: a report for a user lists the longest
  // ReportOptions::max_listed of them (report/report_uptime_fold.h), the daemon's kept live
  // report none (CompactForOverview, report/overview_report.h). Each day counts them all.
  uint64_t incidents_not_listed = 0;
  uint64_t IncidentCount() const { return incidents.size() + incidents_not_listed; }
  // Successful runs of every health probe started in the evaluated window, pooled: shown as
  // "all health probes, pooled" (an exec probe's start-up and a TCP connect are not comparable
  // with an HTTP answer: the SLA and the per-probe figures below are what to read).
  LatencySummary latency;
  std::vector<ProbeLatency> latency_by_probe;  // every health probe with a stored run, by name
  std::vector<CheckSummary> checks;  // sorted by probe
  ErrorBudget budget;
  std::vector<DaySummary> days;    // the days begun so far
  std::vector<PeriodDay> period_days;  // every day of the whole window, begun or not
  std::string time_zone;           // the days' zone (IANA name); "" for 24 h days from `from_ms`
  std::vector<std::string> health_probes;
  std::vector<TimeInterval> excluded;  // normalized, clipped to [from, to)

  std::optional<int64_t> period_id;  // set when the report is of a stored observation period
  std::vector<MaintenanceWindow> maintenance;  // with reasons, clipped to [from, to), by start
  LogLineSummary logs;
  // Fired in [from, evaluated_to), oldest first: the longest ReportOptions::max_listed of
  // them, and how many more fired (ReportOptions::alerts_not_listed).
  std::vector<AlertFired> alerts;
  uint64_t alerts_not_listed = 0;
  uint64_t AlertCount() const { return alerts.size() + alerts_not_listed; }
  // obsmon's own gaps: maximal UNKNOWN spans of the evaluated window (nobody was looking); the
  // longest ReportOptions::max_listed of them, by start, and how many more there were.
  std::vector<TimeInterval> gaps;
  uint64_t gaps_not_listed = 0;
  uint64_t GapCount() const { return gaps.size() + gaps_not_listed; }
  // The combined state over [from, evaluated_to) (for the HTML availability strip). When
  // `timeline_per_stretch`, it holds the time of each state per stretch of TimelineStretches
  // (report/report_uptime_fold.h: every hour of each day and every column of the strip), not the
  // spans as they were: set when the window had more than kTimelineSpansExact spans.
  std::vector<StateSpan> timeline;
  bool timeline_per_stretch = false;
  std::vector<LatencyPoint> latency_hourly;  // hours with a successful run of the SLA's probes
  // Set when latency, latency_by_probe, latency_hourly and each day's latency were carried over
  // from an earlier build of the same window (ReportOptions::latency_from): the instant they
  // were computed at. The daemon's live figures read every duration of the window again only
  // as often as that costs at most uptime_refresh_max_cpu_percent of a core (docs/uptime.md,
  // "How often the live figures move"); nullopt when computed with the rest.
  std::optional<TimestampMs> latency_as_of_ms;
  double degradation_tolerance = 0.25;       // see ReportOptions
  std::optional<BurnProjection> projection;  // set while in progress with known time
  // What the component reported of itself: codecarbon emissions and process resource usage
  // (set by BuildReport from stored samples; empty when those probes are not configured).
  ComponentUsage usage;

  Verdict verdict = Verdict::kInsufficientData;
  std::vector<Criterion> criteria;
  // Why the verdict is what it is, most important first (failed criteria by name and figure).
  std::vector<std::string> verdict_reasons;
};

struct ReportOptions {
  std::vector<TimeInterval> excluded;      // maintenance windows (without reasons)
  std::vector<std::string> health_probes;  // see UptimeOptions::health_probes
  // The components, to tell which alerts of the history are this one's
  // (PeriodReportRequest::alert_components).
  AlertComponents alert_components;
  // Maintenance windows with reasons; excluded like `excluded` (both may be given).
  std::vector<MaintenanceWindow> maintenance;
  // Matched log lines of the component (any window; those in [from, evaluated_to) count).
  std::vector<LogEvent> log_events;
  bool log_events_truncated = false;
  // Not empty: there is no log evidence, for this reason (LogLineSummary::unavailable).
  std::string log_evidence_unavailable;
  std::vector<std::string> critical_severities = {"critical", "fatal"};
  std::vector<std::string> error_severities = {"error"};
  // The window's matched lines by the log probes' own counters (obsmon_log_matches_total), which
  // storage never caps, unlike the lines it keeps (`log_events`: 1,000 a component a UTC day,
  // `max_events_per_run` a run). Where they count more than the kept lines, the counts are
  // theirs and `truncated` is set: a critical line over the caps still fails critical_lines.
  // BuildReport sets it (report/log_match_counts.h); nullopt: the kept lines alone.
  struct LogMatchCounts {
    uint64_t critical = 0;
    uint64_t error = 0;
    // Per stretch of ReadLogMatchCounts' `day_starts` (the report's days), by the time of the
    // sample that counted them: where a day's kept lines are fewer, the day takes these.
    std::vector<uint64_t> critical_by_day;
    std::vector<uint64_t> error_by_day;
  };
  std::optional<LogMatchCounts> log_match_counts;
  // Alert history of the component, as firing events with optional resolution, and how many
  // more fired that are not listed (report/alert_pairing.h keeps the longest max_listed).
  std::vector<AlertFired> alerts;
  uint64_t alerts_not_listed = 0;
  // "No degradation": p95 of the last day with latency data may exceed the first day's p95 by
  // at most this ratio (0.25 = 25 %). Needs two days with data, else the criterion is left out.
  double degradation_tolerance = 0.25;
  std::optional<int64_t> period_id;
  // Days are this zone's calendar days; nullopt: 24 h days from the window's start.
  std::optional<TimeZone> time_zone;
  // BuildReport only: the report is for the overview page and the badge (the daemon's live
  // figures, report/overview_report.h): its figures, criteria, days and latency are exact, but
  // incidents are counted, not listed (Report::IncidentCount; the last one may be listed without
  // details), the timeline is kept per hour of each day and gaps are left empty. What it holds
  // while built is then bounded by 6 hours of the window's spans, not by the whole window's.
  bool for_overview = false;
  // At most this many incidents and this many monitoring gaps are listed, the longest of each
  // (ties: the earlier); the rest are counted (Report::incidents_not_listed, gaps_not_listed,
  // each day's incidents). 0 lists all. What a report holds while built is then bounded by this
  // and by the window's days, not by its state changes (docs/report.md, "How the report reads").
  size_t max_listed = 1'000;
  // BuildReport only: asked between the window's chunks of spans; once it says true the build
  // stops with Status::Cancelled (the daemon's: the client that asked has gone).
  std::function<bool()> cancelled;
  // BuildReport only: read log lines through the Reader (at most this many; 0 = do not read).
  size_t max_log_events = 20'000;
  // BuildReport only: when set and LatencyCarriesOver(*latency_from, the new report), the latency
  // figures are taken from this earlier report instead of reading every duration again.
  const Report* latency_from = nullptr;
};

// Whether `earlier`'s latency figures may stand in `later`'s: the same component, health probes,
// latency SLA, days and kind of window (the same observation period, or both the objective
// window ending at their build: the same length, a later end). Not across a reload that changed
// any of these, nor from a report built later than `later`.
bool LatencyCarriesOver(const Report& earlier, const Report& later);

// What a report is computed from, in the compact form storage keeps, so that a week of
// 1-second runs is a few hundred rows to read instead of 600,000 (docs/report.md, "How the
// report reads"). Everything else (maintenance, log lines, alerts) comes with ReportOptions.
struct ReportInput {
  // State spans of the component's probes (core/run_span.h), as storage::Reader::RunSpans
  // returns them: those starting in the window plus each probe's last one before it. Health
  // probes' spans decide uptime.
  std::vector<RunSpan> spans;
  // Runs of integration probes started in [from, evaluated_to).
  std::vector<ProbeRun> check_runs;
  // Durations of successful health runs started in [from, evaluated_to) outside maintenance,
  // per probe and UTC hour, each ascending, ordered by probe then hour
  // (storage::Reader::SuccessDurations). BuildReport leaves this empty: it streams them from the
  // reader instead (Reader::StreamSuccessDurations), never holding them all.
  std::vector<storage::HourDurations> health_durations;
};

// max(from, min(to, now)): where evaluation stops.
TimestampMs EvaluatedEnd(TimestampMs from_ms, TimestampMs to_ms, TimestampMs now_ms);

// Every excluded interval of `options` (maintenance with or without reasons), normalized and
// clipped to [from_ms, to_ms).
std::vector<TimeInterval> ExcludedIntervals(const ReportOptions& options, TimestampMs from_ms,
                                            TimestampMs to_ms);

// The input storage would give for `runs` (all of one component, any order; for exact spans,
// the whole history of each probe up to the window): what ComputeReport computes from.
// `excluded` as ExcludedIntervals returns it.
ReportInput InputFromRuns(std::span<const ProbeRun> runs, TimestampMs from_ms,
                          TimestampMs evaluated_to_ms, std::span<const TimeInterval> excluded);

// Computes the report from its input. `from_ms < to_ms` is the caller's business here.
Report ComputeReportFromInput(const ReportInput& input, const std::string& component,
                              const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                              TimestampMs now_ms, const ReportOptions& options = {});

// Computes the report from a component's runs held in memory: InputFromRuns, then
// ComputeReportFromInput. Runs of other components are ignored.
Report ComputeReport(std::span<const ProbeRun> runs, const std::string& component,
                     const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                     TimestampMs now_ms, const ReportOptions& options = {});

// Reads the component's spans, integration runs and per-hour durations and computes its report.
// InvalidArgument for an empty window or an objective outside (0, 100]; NotFound when the
// component has no stored run at all; the reader's Status when reading fails.
Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms);
Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms, const ReportOptions& options);

}  // namespace obsmon
