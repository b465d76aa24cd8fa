// Observation periods: what a stored period means (its state, its objective, its report window),
// and the period report as a plain
// function the CLI and the HTTP API both call.
//
// Periods and maintenance windows live in SQLite (storage/period_store.h), so they survive
// restarts; a component may have several periods over time, one running at a time.
// Pure functions unless they take a db path; those open their own connections (thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "core/objective.h"
#include "report/report.h"
#include "storage/period_store.h"
#include "storage/storage.h"

namespace obsmon {

enum class PeriodState { kScheduled, kActive, kFinished, kStopped };
// "scheduled", "active", "finished", "stopped".
const char* PeriodStateName(PeriodState state);

// stopped_ms when stopped early, else the planned end.
TimestampMs PeriodEnd(const PeriodRecord& period);
PeriodState StateOf(const PeriodRecord& period, TimestampMs now_ms);
// The component's objective with the period's own figures (uptime, coverage, latency SLA) and
// its length as the window.
Objective PeriodObjective(const PeriodRecord& period, const Objective& base);
// The period running at now_ms; else the latest that started; else the next scheduled one.
// `periods` in any order.
std::optional<PeriodRecord> CurrentPeriod(
    const std::vector<PeriodRecord>& periods, TimestampMs now_ms);

// The period running at now_ms (state kActive; the latest started if several), else nullopt.
// Unlike CurrentPeriod, never a finished, stopped or scheduled one: the live figures
// (PeriodReportRequest::live) follow only a period that is still being evaluated.
std::optional<PeriodRecord> ActivePeriod(const std::vector<PeriodRecord>& periods,
                                         TimestampMs now_ms);

// The current period (CurrentPeriod) of every component that has one, by component name: for the
// `GET /` page. Opens the database read-only through the store; NotFound when it does not exist.
Result<std::map<std::string, PeriodRecord>> CurrentPeriods(const std::string& db_path,
                                                                    TimestampMs now_ms);

// The read connections of several reports of one database, one after the other (the daemon's
// refresh of every component's figures): each is opened at its first use and kept for the next
// report. Opening them was half of a refresh's CPU with 50 components of 2 probes (each
// connection parses the schema and opens the WAL), 48 us a probe run against 7 with one
// component of 100 (docs/benchmarks.md, "Stop 72"). Not thread-safe; closed when destroyed.
struct ReportConnections {
  std::unique_ptr<storage::PeriodStore> store;
  std::unique_ptr<storage::Reader> reader;
};

struct PeriodReportRequest {
  std::string db_path;
  std::string component;
  // A stored period by id; else `window` when set; else the component's current period
  // (CurrentPeriod) and, when it has none, the objective window ending now.
  std::optional<int64_t> period_id;
  std::optional<TimeInterval> window;
  Objective objective;                     // the component's (config) objective
  std::vector<std::string> health_probes;  // configured health probes; empty: all stored
  // Every component with its configured job: the alerts of the history that are this one's are
  // told as the maintenance suppression tells them (core/alert_component.h). Before stop 67 a
  // job matched only the component's name, so a component `carbon` of job `tta-staging-carbon`
  // listed none of its alerts. Left empty (`obsmon report --db`, no config): the component alone,
  // with no job, so its name in the `component` or `job` label.
  AlertComponents alert_components;
  std::string format = "json";             // text | markdown | json | html
  TimestampMs now_ms = 0;
  // The live figures (uptime board: overview, /api/v1/components, obsmon_component_* on
  // /metrics): without period_id and window, the ACTIVE period (ActivePeriod), else the objective
  // window ending now. A finished period is left to explicit reports, so live series keep moving.
  bool live = false;
  // Uptime, coverage and budget only: no log lines, no alert history (read every refresh).
  bool figures_only = false;
  // The report is kept for the overview page and the badge only (report/overview_report.h):
  // ReportOptions::for_overview, and no alert history.
  bool for_overview = false;
  // Day N of the period or window (1-based; report/period_days.h): see BuildDayReport.
  std::optional<int> day;
  // What the read connection may hold while the report is built (the daemon's refresh:
  // storage::kLiveRead, no map of the file).
  storage::ReadMemory read_memory;
  // Connections kept by the caller for this and its next reports of db_path, opened here with
  // read_memory when missing; null: this report opens its own, one at a time, and closes them.
  ReportConnections* connections = nullptr;
  // ReportOptions::latency_from: an earlier report whose latency figures may stand in this one.
  const Report* latency_from = nullptr;
  // ReportOptions::max_listed: the longest this many incidents, gaps and alerts are listed (0:
  // all).
  size_t max_listed = ReportOptions{}.max_listed;
  // ReportOptions::cancelled.
  std::function<bool()> cancelled;
};

// Builds the report of a period or window: runs, log lines, maintenance (stored windows of the
// component, plus the period's) and alert history from the database. NotFound for an unknown
// period id or a period of another component; InvalidArgument for a bad window.
Result<Report> BuildPeriodReport(const PeriodReportRequest& request);

// Day N's report: the period's report evaluated to the end of Day N (to now while Day N runs),
// so that its status is where the period stood when the day ended, and the index of Day N in its
// `days`. That day's figures are those of the full report's day row (docs/report.md, "Days").
// InvalidArgument when the window has no Day N (out of range) or Day N has not begun.
struct DayReport {
  Report report;
  size_t index = 0;  // report.days[index] is Day N
};
Result<DayReport> BuildDayReport(const PeriodReportRequest& request, int day);

}  // namespace obsmon
