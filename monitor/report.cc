#include "monitor/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/duration.h"
#include "monitor/report_format.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// Floor division for possibly negative timestamps.
TimestampMs DayStart(TimestampMs ms) {
  TimestampMs q = ms / kDayMs;
  if (ms % kDayMs < 0) --q;
  return q * kDayMs;
}

// Index of ts's UTC day among the days of a window starting at `from` (ts >= from).
size_t DayIndex(TimestampMs from, TimestampMs ts) {
  return static_cast<size_t>((DayStart(ts) - DayStart(from)) / kDayMs);
}

bool Wanted(const std::vector<std::string>& allow, const std::string& probe) {
  return allow.empty() || std::find(allow.begin(), allow.end(), probe) != allow.end();
}

void AddOverlap(UptimeTotals& totals, const StateSpan& span, TimestampMs from, TimestampMs to) {
  TimestampMs s = std::max(span.start_ms, from);
  TimestampMs e = std::min(span.end_ms, to);
  if (s >= e) return;
  switch (span.state) {
    case HealthState::kUp:
      totals.up_ms += e - s;
      break;
    case HealthState::kDown:
      totals.down_ms += e - s;
      break;
    case HealthState::kUnknown:
      totals.unknown_ms += e - s;
      break;
    case HealthState::kExcluded:
      totals.excluded_ms += e - s;
      break;
  }
}

// The UTC days of [from, evaluated_to) with their share of the timeline and of the incidents.
// Checks and latency are filled in by ComputeReport's pass over the runs.
std::vector<DaySummary> BuildDays(const Report& r, const std::vector<StateSpan>& timeline) {
  std::vector<DaySummary> days;
  const TimestampMs from = r.from_ms;
  const TimestampMs end = r.evaluated_to_ms;
  if (end <= from) return days;
  for (TimestampMs d = DayStart(from); d < end; d += kDayMs) {
    DaySummary day;
    day.date = FormatUtcDate(d);
    day.start_ms = std::max(d, from);
    day.end_ms = std::min(d + kDayMs, end);
    day.totals.window_ms = day.end_ms - day.start_ms;
    days.push_back(std::move(day));
  }
  // Spans are ordered; a span may cross several days.
  for (const StateSpan& span : timeline) {
    for (size_t i = DayIndex(from, span.start_ms); i < days.size() && days[i].start_ms < span.end_ms;
         ++i) {
      AddOverlap(days[i].totals, span, days[i].start_ms, days[i].end_ms);
    }
  }
  for (const Incident& inc : r.incidents) ++days[DayIndex(from, inc.start_ms)].incidents;
  return days;
}

void Decide(Report& r) {
  const double objective = r.objective.uptime_percent / 100.0;
  const double min_coverage = r.objective.min_coverage_percent / 100.0;
  const auto uptime = r.totals.uptime();
  const auto coverage = r.totals.coverage();

  Criterion cov{"coverage", coverage, min_coverage, coverage && *coverage >= min_coverage, ""};
  cov.detail = fmt::format("coverage {} {} {}", FormatPercent(coverage), cov.met ? ">=" : "<",
                           FormatPercent(min_coverage));
  Criterion up{"uptime", uptime, objective, uptime && *uptime >= objective, ""};
  up.detail = fmt::format("uptime {} {} objective {}", FormatPercent(uptime), up.met ? ">=" : "<",
                          FormatPercent(objective));
  r.criteria = {up, cov};
  if (r.objective.latency_p95_ms) {
    Criterion lat{"latency_p95", std::nullopt, *r.objective.latency_p95_ms / 1000.0, false, ""};
    if (r.latency.count > 0) {
      lat.value = r.latency.p95_seconds;
      lat.met = *lat.value <= lat.threshold;
      lat.detail = fmt::format("latency p95 {} {} SLA {}", FormatLatency(*lat.value),
                               lat.met ? "<=" : ">", FormatLatency(lat.threshold));
    } else {
      lat.detail = "latency p95 n/a: no successful health run";
    }
    r.criteria.push_back(lat);
  }
  uint64_t check_runs = 0, check_failed = 0;
  for (const auto& c : r.checks) {
    check_runs += c.runs;
    check_failed += c.failed;
  }
  if (check_runs > 0) {
    Criterion chk{"integration_checks",
                  static_cast<double>(check_runs - check_failed) / static_cast<double>(check_runs),
                  1.0, check_failed == 0, ""};
    chk.detail = fmt::format("integration checks {}/{} passed", check_runs - check_failed,
                             check_runs);
    r.criteria.push_back(chk);
  }

  r.verdict_reasons.clear();
  if (!r.in_progress()) {
    if (!cov.met) {
      r.verdict = Verdict::kInsufficientData;
      r.verdict_reasons.push_back(cov.detail);
      return;
    }
    for (const auto& c : r.criteria) {
      if (!c.met) r.verdict_reasons.push_back(c.detail);
    }
    r.verdict = r.verdict_reasons.empty() ? Verdict::kPass : Verdict::kFail;
    if (r.verdict == Verdict::kPass) {
      for (const auto& c : r.criteria) r.verdict_reasons.push_back(c.detail);
    }
    return;
  }
  // In progress: FAIL only for what the rest of the window cannot undo.
  if (r.budget.used_ms > r.budget.allowed_ms) {
    r.verdict_reasons.push_back(fmt::format("error budget exhausted: {} down > {} allowed",
                                            HumanDurationMs(r.budget.used_ms),
                                            HumanDurationMs(r.budget.allowed_ms)));
  }
  if (check_failed > 0) {
    r.verdict_reasons.push_back(fmt::format("integration checks {}/{} passed",
                                            check_runs - check_failed, check_runs));
  }
  if (!r.verdict_reasons.empty()) {
    r.verdict = Verdict::kFail;
    return;
  }
  if (coverage && !cov.met) {
    r.verdict = Verdict::kInsufficientData;
    r.verdict_reasons.push_back(cov.detail + " so far");
    return;
  }
  r.verdict = Verdict::kInProgress;
  r.verdict_reasons.push_back(fmt::format(
      "{} of {} elapsed; uptime so far {}; error budget left {}",
      HumanDurationMs(r.evaluated_to_ms - r.from_ms), HumanDurationMs(r.to_ms - r.from_ms),
      FormatPercent(uptime), FormatSignedDuration(r.budget.left_ms)));
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kInProgress:
      return "IN PROGRESS";
    case Verdict::kInsufficientData:
      return "INSUFFICIENT DATA";
  }
  return "INSUFFICIENT DATA";
}

Report ComputeReport(std::span<const ProbeRun> all_runs, const std::string& component,
                     const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                     TimestampMs now_ms, const ReportOptions& options) {
  // Keep only this component's runs (copy only when something must go).
  std::vector<ProbeRun> own;
  std::span<const ProbeRun> runs = all_runs;
  auto mine = [&](const ProbeRun& run) { return run.key.component == component; };
  if (!std::all_of(all_runs.begin(), all_runs.end(), mine)) {
    std::copy_if(all_runs.begin(), all_runs.end(), std::back_inserter(own), mine);
    runs = own;
  }

  Report r;
  r.component = component;
  r.objective = objective;
  r.from_ms = from_ms;
  r.to_ms = to_ms;
  r.now_ms = now_ms;

  UptimeOptions uo;
  uo.from_ms = from_ms;
  uo.to_ms = to_ms;
  uo.now_ms = now_ms;
  uo.excluded = options.excluded;
  uo.health_probes = options.health_probes;
  UptimeResult up = ComputeUptime(runs, uo);
  r.evaluated_to_ms = up.evaluated_to_ms;
  r.totals = up.totals;
  r.incidents = std::move(up.incidents);
  r.health_probes = std::move(up.health_probes);
  r.excluded = NormalizeIntervals(options.excluded, from_ms, to_ms);
  const std::vector<TimeInterval> excluded_eval =
      NormalizeIntervals(options.excluded, from_ms, r.evaluated_to_ms);

  r.days = BuildDays(r, up.timeline);

  // One pass over the runs started in the evaluated window, outside exclusions: integration
  // checks, and successful health runs' durations grouped by day (a counting sort, so that each
  // day's percentiles and then the whole window's are selected in place in one array).
  std::map<std::string, CheckSummary> checks;
  std::vector<double> durations;
  std::vector<uint32_t> day_of;
  durations.reserve(runs.size());
  day_of.reserve(runs.size());
  std::vector<size_t> per_day(r.days.size() + 1, 0);
  const std::string* last_probe = nullptr;
  bool last_wanted = false;
  for (const ProbeRun& run : runs) {
    if (run.ts_ms < from_ms || run.ts_ms >= r.evaluated_to_ms) continue;
    if (!excluded_eval.empty() && ContainsInstant(excluded_eval, run.ts_ms)) continue;
    const size_t day = DayIndex(from_ms, run.ts_ms);
    if (run.role == ProbeRole::kHealth) {
      if (last_probe == nullptr || *last_probe != run.key.probe) {
        last_probe = &run.key.probe;
        last_wanted = Wanted(options.health_probes, run.key.probe);
      }
      if (run.success && last_wanted) {
        durations.push_back(run.duration_seconds);
        day_of.push_back(static_cast<uint32_t>(day));
        ++per_day[day + 1];
      }
    } else if (run.role == ProbeRole::kIntegration) {
      CheckSummary& c = checks[run.key.probe];
      c.probe = run.key.probe;
      ++c.runs;
      ++(run.success ? r.days[day].checks_passed : r.days[day].checks_failed);
      if (run.success) {
        ++c.passed;
      } else {
        ++c.failed;
        if (!c.first_failure_ms || run.ts_ms < *c.first_failure_ms) {
          c.first_failure_ms = run.ts_ms;
          c.first_failure_reason = run.reason;
        }
      }
    }
  }
  for (auto& [name, c] : checks) r.checks.push_back(std::move(c));
  for (size_t d = 1; d < per_day.size(); ++d) per_day[d] += per_day[d - 1];
  std::vector<double> grouped(durations.size());
  {
    std::vector<size_t> fill(per_day.begin(), per_day.end() - 1);
    for (size_t i = 0; i < durations.size(); ++i) grouped[fill[day_of[i]]++] = durations[i];
  }
  for (size_t d = 0; d < r.days.size(); ++d) {
    r.days[d].latency = SummarizeLatency(
        std::span<double>(grouped.data() + per_day[d], per_day[d + 1] - per_day[d]));
  }
  r.latency = SummarizeLatency(grouped);

  const int64_t budget_base = (to_ms - from_ms) - OverlapMs(r.excluded, from_ms, to_ms);
  r.budget.allowed_ms = std::llround((1.0 - objective.uptime_percent / 100.0) *
                                     static_cast<double>(std::max<int64_t>(0, budget_base)));
  r.budget.used_ms = r.totals.down_ms;
  r.budget.left_ms = r.budget.allowed_ms - r.budget.used_ms;

  Decide(r);
  return r;
}

Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms) {
  return BuildReport(reader, component, objective, from_ms, to_ms, now_ms, ReportOptions{});
}

Result<Report> BuildReport(storage::Reader& reader, const std::string& component,
                           const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                           TimestampMs now_ms, const ReportOptions& options) {
  if (from_ms >= to_ms) {
    return Status::InvalidArgument(fmt::format("report window is empty: from {} is not before to {}",
                                               FormatRfc3339Ms(from_ms), FormatRfc3339Ms(to_ms)));
  }
  if (!(objective.uptime_percent > 0 && objective.uptime_percent <= 100)) {
    return Status::InvalidArgument(
        fmt::format("uptime objective {} % is not in (0, 100]", objective.uptime_percent));
  }
  auto runs = reader.ProbeRuns(component, from_ms, to_ms);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) {
    auto components = reader.Components();
    if (!components.ok()) return components.status();
    if (std::find(components->begin(), components->end(), component) == components->end()) {
      return Status::NotFound(fmt::format("no probe run stored for component '{}'", component));
    }
  }
  return ComputeReport(*runs, component, objective, from_ms, to_ms, now_ms, options);
}

}  // namespace obsmon
