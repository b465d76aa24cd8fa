#include "report/periods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/duration.h"
#include "core/time_format.h"
#include "report/figure_format.h"
#include "storage/storage.h"

namespace obsmon {
const char* PeriodStateName(PeriodState state) {
  switch (state) {
    case PeriodState::kScheduled:
      return "scheduled";
    case PeriodState::kActive:
      return "active";
    case PeriodState::kFinished:
      return "finished";
    case PeriodState::kStopped:
      return "stopped";
  }
  return "finished";
}

TimestampMs PeriodEnd(const PeriodRecord& p) {
  return p.stopped_ms > 0 ? std::min(p.stopped_ms, p.end_ms) : p.end_ms;
}

PeriodState StateOf(const PeriodRecord& p, TimestampMs now_ms) {
  if (p.stopped_ms > 0 && p.stopped_ms < p.end_ms) return PeriodState::kStopped;
  if (now_ms < p.start_ms) return PeriodState::kScheduled;
  if (now_ms < p.end_ms) return PeriodState::kActive;
  return PeriodState::kFinished;
}

Objective PeriodObjective(const PeriodRecord& p, const Objective& base) {
  Objective o = base;
  o.uptime_percent = p.objective_percent;
  o.min_coverage_percent = p.min_coverage_percent;
  o.window_ms = p.end_ms - p.start_ms;
  if (p.latency_p95_ms) o.latency_p95_ms = p.latency_p95_ms;
  return o;
}

std::optional<PeriodRecord> CurrentPeriod(
    const std::vector<PeriodRecord>& periods, TimestampMs now_ms) {
  const PeriodRecord* active = nullptr;
  const PeriodRecord* latest_started = nullptr;
  const PeriodRecord* next = nullptr;
  for (const auto& p : periods) {
    const PeriodState s = StateOf(p, now_ms);
    if (s == PeriodState::kActive && (!active || p.start_ms > active->start_ms)) active = &p;
    if (p.start_ms <= now_ms && (!latest_started || p.start_ms > latest_started->start_ms)) {
      latest_started = &p;
    }
    if (s == PeriodState::kScheduled && (!next || p.start_ms < next->start_ms)) next = &p;
  }
  if (active) return *active;
  if (latest_started) return *latest_started;
  if (next) return *next;
  return std::nullopt;
}

Status ApplyDeclarations(storage::PeriodStore& store, const PeriodDeclarations& d,
                         TimestampMs now_ms) {
  for (auto p : d.periods) {
    if (p.created_ms == 0) p.created_ms = now_ms;
    auto id = store.EnsureDeclaredPeriod(p);
    if (!id.ok()) return id.status();
  }
  for (auto m : d.maintenance) {
    if (m.created_ms == 0) m.created_ms = now_ms;
    auto id = store.EnsureDeclaredMaintenance(m);
    if (!id.ok()) return id.status();
  }
  return Status::Ok();
}

Result<std::map<std::string, PeriodRecord>> CurrentPeriods(const std::string& db_path,
                                                                    TimestampMs now_ms) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return Status::NotFound(fmt::format("no obsmon database at '{}'", db_path));
  }
  auto store = storage::PeriodStore::OpenReadOnly(db_path);
  if (!store.ok()) return store.status();
  auto all = (*store)->Periods();
  if (!all.ok()) return all.status();
  std::map<std::string, std::vector<PeriodRecord>> by_component;
  for (auto& p : *all) by_component[p.component].push_back(std::move(p));
  std::map<std::string, PeriodRecord> out;
  for (const auto& [component, periods] : by_component) {
    if (auto p = CurrentPeriod(periods, now_ms)) out[component] = *p;
  }
  return out;
}

std::vector<AlertFired> PairAlertHistory(const std::vector<storage::AlertHistoryRow>& rows) {
  std::vector<AlertFired> out;
  std::map<std::pair<std::string, std::string>, size_t> open;  // (rule, labels) -> index in out
  for (const auto& row : rows) {
    const auto key = std::make_pair(row.rule, row.labels);
    if (row.event == "firing") {
      if (open.count(key)) continue;  // a resend of an alert already firing
      open[key] = out.size();
      out.push_back({row.ts_ms, std::nullopt, row.rule, row.labels, row.summary});
    } else if (row.event == "resolved") {
      auto it = open.find(key);
      if (it == open.end()) continue;  // fired before the window: not "fired in" it
      out[it->second].resolved_ms = row.ts_ms;
      open.erase(it);
    }
  }
  return out;
}

Result<Report> BuildPeriodReport(const PeriodReportRequest& req) {
  // A report only reads: it works on a file the user may not write, and never creates one.
  std::error_code ec;
  if (!std::filesystem::exists(req.db_path, ec)) {
    return Status::NotFound(fmt::format("no obsmon database at '{}'", req.db_path));
  }
  auto store = storage::PeriodStore::OpenReadOnly(req.db_path);
  if (!store.ok()) return store.status();
  Objective objective = req.objective;
  ReportOptions options;
  options.health_probes = req.health_probes;
  TimestampMs from = 0, to = 0;
  std::optional<PeriodRecord> period;
  if (req.period_id) {
    auto p = (*store)->Period(*req.period_id);
    if (!p.ok()) return p.status();
    if (p->component != req.component) {
      return Status::NotFound(fmt::format("observation period #{} is not one of component '{}'",
                                          *req.period_id, req.component));
    }
    period = *p;
  } else if (!req.window) {
    auto all = (*store)->Periods(req.component);
    if (!all.ok()) return all.status();
    period = CurrentPeriod(*all, req.now_ms);
  }
  if (period) {
    from = period->start_ms;
    to = PeriodEnd(*period);
    objective = PeriodObjective(*period, req.objective);
    options.degradation_tolerance = period->degradation_tolerance;
    options.period_id = period->id;
    if (to <= from) {
      return Status::InvalidArgument(
          fmt::format("observation period #{} was stopped before it began", period->id));
    }
  } else if (req.window) {
    from = req.window->start_ms;
    to = req.window->end_ms;
  } else {
    to = req.now_ms;
    from = to - objective.window_ms;
  }
  if (from >= to) {
    return Status::InvalidArgument(
        fmt::format("report window is empty: from {} is not before to {}", FormatRfc3339(from),
                    FormatRfc3339(to)));
  }
  auto windows = (*store)->Maintenance(req.component, from, to);
  if (!windows.ok()) return windows.status();
  for (const auto& w : *windows) options.maintenance.push_back({w.start_ms, w.end_ms, w.reason});
  auto history = (*store)->AlertHistory(req.component, from, to);
  if (!history.ok()) return history.status();
  options.alerts = PairAlertHistory(*history);
  store->reset();  // one connection at a time

  auto reader = storage::Reader::Open(req.db_path);
  if (!reader.ok()) return reader.status();
  return BuildReport(**reader, req.component, objective, from, to, req.now_ms, options);
}

}  // namespace obsmon
