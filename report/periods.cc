#include "report/periods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/duration.h"
#include "core/time_format.h"
#include "report/alert_pairing.h"
#include "report/figure_format.h"
#include "report/period_days.h"
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

std::optional<PeriodRecord> ActivePeriod(const std::vector<PeriodRecord>& periods,
                                         TimestampMs now_ms) {
  std::optional<PeriodRecord> out;
  for (const auto& p : periods) {
    if (StateOf(p, now_ms) != PeriodState::kActive) continue;
    if (!out || p.start_ms > out->start_ms) out = p;
  }
  return out;
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

namespace {

// The period a request is about: by id, else (no explicit window) the current one, or the active
// one for live figures; nullopt when the report is of a plain window.
Result<std::optional<PeriodRecord>> RequestedPeriod(storage::PeriodStore& store,
                                                    const PeriodReportRequest& req) {
  if (req.period_id) {
    auto p = store.Period(*req.period_id);
    if (!p.ok()) return p.status();
    if (p->component != req.component) {
      return Status::NotFound(fmt::format("observation period #{} is not one of component '{}'",
                                          *req.period_id, req.component));
    }
    return std::optional<PeriodRecord>(*p);
  }
  if (req.window) return std::optional<PeriodRecord>();
  auto all = store.Periods(req.component);
  if (!all.ok()) return all.status();
  return req.live ? ActivePeriod(*all, req.now_ms) : CurrentPeriod(*all, req.now_ms);
}

struct ReportWindow {
  TimestampMs from = 0, to = 0;
  Objective objective;
  ReportOptions options;
};

// The window, objective and period options of a request (see PeriodReportRequest).
Result<ReportWindow> ResolveWindow(storage::PeriodStore& store, const PeriodReportRequest& req) {
  auto period = RequestedPeriod(store, req);
  if (!period.ok()) return period.status();
  ReportWindow w;
  w.objective = req.objective;
  w.options.health_probes = req.health_probes;
  if (const auto& p = *period) {
    w.from = p->start_ms;
    w.to = PeriodEnd(*p);
    w.objective = PeriodObjective(*p, req.objective);
    w.options.degradation_tolerance = p->degradation_tolerance;
    w.options.period_id = p->id;
    if (!p->time_zone.empty()) {
      auto zone = TimeZone::Load(p->time_zone);
      if (!zone.ok()) {
        return Status::InvalidArgument(fmt::format("observation period #{}: time zone: {}", p->id,
                                                   zone.status().message()));
      }
      w.options.time_zone = std::move(*zone);
    }
    if (w.to <= w.from) {
      return Status::InvalidArgument(
          fmt::format("observation period #{} was stopped before it began", p->id));
    }
  } else if (req.window) {
    w.from = req.window->start_ms;
    w.to = req.window->end_ms;
  } else {
    w.to = req.now_ms;
    w.from = w.to - w.objective.window_ms;
  }
  if (w.from >= w.to) {
    return Status::InvalidArgument(
        fmt::format("report window is empty: from {} is not before to {}",
                    FormatRfc3339(w.from), FormatRfc3339(w.to)));
  }
  return w;
}

// Opens `connection` with `open` unless it is open already (kept by the caller for several
// reports: ReportConnections).
template <typename Connection, typename Open>
Status OpenIfMissing(std::unique_ptr<Connection>& connection, const Open& open) {
  if (connection) return Status::Ok();
  auto opened = open();
  if (!opened.ok()) return opened.status();
  connection = std::move(*opened);
  return Status::Ok();
}

}  // namespace

Result<Report> BuildPeriodReport(const PeriodReportRequest& req) {
  // A report only reads: it works on a file the user may not write, and never creates one.
  std::error_code ec;
  if (!std::filesystem::exists(req.db_path, ec)) {
    return Status::NotFound(fmt::format("no obsmon database at '{}'", req.db_path));
  }
  std::unique_ptr<storage::PeriodStore> own_store;
  std::unique_ptr<storage::PeriodStore>& store =
      req.connections ? req.connections->store : own_store;
  if (Status s = OpenIfMissing(store, [&] {
        return storage::PeriodStore::OpenReadOnly(req.db_path, req.read_memory);
      });
      !s.ok()) {
    return s;
  }
  auto w = ResolveWindow(*store, req);
  if (!w.ok()) return w.status();
  auto windows = store->Maintenance(req.component, w->from, w->to);
  if (!windows.ok()) return windows.status();
  for (const auto& m : *windows) w->options.maintenance.push_back({m.start_ms, m.end_ms, m.reason});
  w->options.for_overview = req.for_overview;
  if (req.figures_only) {
    w->options.max_log_events = 0;
  } else if (!req.for_overview) {
    // Without the config (`obsmon report --db`), the component alone.
    const AlertComponents alone(std::vector<AlertComponents::Component>{{req.component, ""}});
    // Up to where the report evaluates (Report::evaluated_to_ms), so that the alerts counted
    // and not listed are the listed ones' kind.
    const TimestampMs until = std::max(w->from, std::min(w->to, req.now_ms));
    AlertPairing pairing(req.max_listed, until);
    // An alert that fired in the window and resolved after it says when (it read "(open)",
    // fresh eyes, stop 69).
    Status read = store->ForEachAlertHistory(
        req.component, req.alert_components.empty() ? alone : req.alert_components, w->from,
        until, std::max(until, req.now_ms), [&](storage::AlertHistoryRow&& row) {
          pairing.Add(std::move(row));
          return true;
        });
    if (!read.ok()) return read;
    auto listed = std::move(pairing).Finish();
    w->options.alerts = std::move(listed.alerts);
    w->options.alerts_not_listed = listed.not_listed;
  }
  own_store.reset();  // one connection at a time, unless the caller keeps them
  w->options.latency_from = req.latency_from;
  w->options.max_listed = req.max_listed;
  w->options.cancelled = req.cancelled;

  std::unique_ptr<storage::Reader> own_reader;
  std::unique_ptr<storage::Reader>& reader =
      req.connections ? req.connections->reader : own_reader;
  if (Status s = OpenIfMissing(
          reader, [&] { return storage::Reader::Open(req.db_path, req.read_memory); });
      !s.ok()) {
    return s;
  }
  return BuildReport(*reader, req.component, w->objective, w->from, w->to, req.now_ms,
                     w->options);
}

Result<DayReport> BuildDayReport(const PeriodReportRequest& request, int day) {
  auto full = BuildPeriodReport(request);
  if (!full.ok()) return full.status();
  const Report& r = *full;
  if (day < 1 || static_cast<size_t>(day) > r.period_days.size()) {
    return Status::InvalidArgument(
        fmt::format("day {} is out of range: the {} has days 1 to {}", day,
                    r.period_id ? fmt::format("observation period #{}", *r.period_id)
                                : std::string("window"),
                    r.period_days.size()));
  }
  const size_t index = static_cast<size_t>(day - 1);
  if (index >= r.days.size()) {
    return Status::InvalidArgument(
        fmt::format("day {} has not begun: it starts at {} UTC", day,
                    FormatUtcSeconds(r.period_days[index].start_ms)));
  }
  if (!r.days[index].complete() || r.days[index].planned_end_ms >= request.now_ms) {
    return DayReport{std::move(*full), index};
  }
  PeriodReportRequest at_end = request;
  at_end.now_ms = r.days[index].planned_end_ms;
  auto report = BuildPeriodReport(at_end);
  if (!report.ok()) return report.status();
  if (report->days.size() <= index) return Status::Internal("day vanished at its end");
  return DayReport{std::move(*report), index};
}

}  // namespace obsmon
