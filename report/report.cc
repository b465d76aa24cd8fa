#include "report/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/duration.h"
#include "report/figure_format.h"
#include "report/log_match_counts.h"
#include "report/overview_report.h"
#include "report/period_days.h"
#include "report/report_uptime_fold.h"
#include "report/window_latency.h"

namespace obsmon {
namespace {

constexpr int64_t kHourMs = 3'600'000;
// BuildReport reads a window's spans this much at a time (storage::Reader::StreamRunSpans): a
// week of three probes flapping every 30 s peaked at 11.9 MB a day at a time, 4.8 MB at 6 hours,
// 4.3 MB at one hour (report_memory_bench --flap-every 30), where each chunk costs two statements
// a probe (a week of 100 probes: 5,600 at 6 hours, 33,600 at one).
constexpr int64_t kSpanChunkMs = 6 * kHourMs;

TimestampMs HourStart(TimestampMs ms) { return FloorMs(ms, kHourMs); }

bool OneOf(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Counts matched lines per severity class over [from, end) and per day; keeps first and last.
void SummarizeLogs(Report& r, const ReportOptions& o) {
  r.logs.truncated = o.log_events_truncated;
  r.logs.unavailable = o.log_evidence_unavailable;
  if (!r.logs.unavailable.empty()) return;
  for (const LogEvent& e : o.log_events) {
    if (e.ts_ms < r.from_ms || e.ts_ms >= r.evaluated_to_ms) continue;
    if (!e.key.component.empty() && e.key.component != r.component) continue;
    const bool critical = OneOf(o.critical_severities, e.severity);
    const bool error = !critical && OneOf(o.error_severities, e.severity);
    if (!critical && !error) continue;
    DaySummary* day = nullptr;
    for (auto& d : r.days) {
      if (e.ts_ms >= d.start_ms && e.ts_ms < d.end_ms) day = &d;
    }
    auto keep = [&e](std::optional<LogEvent>& first, std::optional<LogEvent>& last) {
      if (!first || e.ts_ms < first->ts_ms) first = e;
      if (!last || e.ts_ms >= last->ts_ms) last = e;
    };
    if (critical) {
      ++r.logs.critical;
      if (day) ++day->criticals;
      keep(r.logs.first_critical, r.logs.last_critical);
    } else {
      ++r.logs.error;
      if (day) ++day->errors;
      keep(r.logs.first_error, r.logs.last_error);
    }
  }
  const auto& counted = o.log_match_counts;
  if (!counted) return;
  // Set only where a cap dropped lines (BuildReport): whatever the counters add, the counts are
  // lower bounds from here (a file's first read, a backlog, is not in its counter's increase:
  // fresh eyes, stop 62, saw "1000 critical lines" of 1,510 said as exact), and the last kept
  // line need not be the last one.
  r.logs.truncated = true;
  if (counted->critical_by_day.size() >= r.days.size() && !r.days.empty()) {
    // Day by day, the larger of the kept lines and the counters (both lower bounds); the window
    // their sum, so that the days add up to it.
    uint64_t critical = 0, error = 0;
    for (size_t i = 0; i < r.days.size(); ++i) {
      DaySummary& d = r.days[i];
      d.criticals = std::max(d.criticals, counted->critical_by_day[i]);
      d.errors = std::max(d.errors, counted->error_by_day[i]);
      critical += d.criticals;
      error += d.errors;
    }
    r.logs.truncated = r.logs.truncated || critical > r.logs.critical || error > r.logs.error;
    r.logs.critical = critical;
    r.logs.error = error;
    return;
  }
  if (counted->critical > r.logs.critical) {
    r.logs.critical = counted->critical;
    r.logs.truncated = true;
  }
  if (counted->error > r.logs.error) {
    r.logs.error = counted->error;
    r.logs.truncated = true;
  }
}

// See BurnProjection.
void Project(Report& r, const std::vector<TimeInterval>& excluded_all) {
  const auto& t = r.totals;
  const int64_t known = t.up_ms + t.down_ms;
  if (!r.in_progress() || known <= 0) return;
  BurnProjection p;
  const double f = static_cast<double>(t.down_ms) / static_cast<double>(known);
  const double allowed_share = 1.0 - r.objective.uptime_percent / 100.0;
  if (allowed_share > 0) p.burn_rate = f / allowed_share;
  p.remaining_ms =
      (r.to_ms - r.evaluated_to_ms) - OverlapMs(excluded_all, r.evaluated_to_ms, r.to_ms);
  p.projected_down_ms = t.down_ms + std::llround(f * static_cast<double>(p.remaining_ms));
  const int64_t base = (r.to_ms - r.from_ms) - OverlapMs(excluded_all, r.from_ms, r.to_ms);
  if (base > 0) {
    p.projected_uptime = 1.0 - static_cast<double>(p.projected_down_ms) / static_cast<double>(base);
  }
  p.projected_verdict =
      p.projected_down_ms <= r.budget.allowed_ms ? Verdict::kPass : Verdict::kFail;
  if (f > 0 && r.budget.left_ms >= 0) {
    // Future maintenance is ignored here: an upper bound on how soon the budget runs out.
    const int64_t at = r.evaluated_to_ms + std::llround(static_cast<double>(r.budget.left_ms) / f);
    if (at < r.to_ms) p.budget_exhausted_at_ms = at;
  }
  r.projection = p;
}

constexpr size_t kNoDay = static_cast<size_t>(-1);

// Index of the day holding ts among `days` (ordered, contiguous), kNoDay when none does.
size_t DayAt(const std::vector<DaySummary>& days, TimestampMs ts) {
  auto it = std::upper_bound(days.begin(), days.end(), ts,
                             [](TimestampMs t, const DaySummary& d) { return t < d.start_ms; });
  if (it == days.begin()) return kNoDay;
  --it;
  return ts < it->end_ms ? static_cast<size_t>(it - days.begin()) : kNoDay;
}

void AddOverlap(UptimeTotals& totals, const StateSpan& span, TimestampMs from, TimestampMs to) {
  TimestampMs s = std::max(span.start_ms, from);
  TimestampMs e = std::min(span.end_ms, to);
  if (s < e) AddToTotals(totals, span.state, e - s);
}

// The days (report/period_days.h) begun in [from, evaluated_to) with their share of the timeline
// and of the incidents. Checks and latency are filled in by ComputeReport's pass over the runs.
// Sets r.period_days and r.time_zone too.
std::vector<DaySummary> BuildDays(Report& r, const std::vector<StateSpan>& timeline,
                                  const std::optional<TimeZone>& zone) {
  r.period_days = PeriodDays(r.from_ms, r.to_ms, zone);
  if (zone) r.time_zone = zone->name();
  std::vector<DaySummary> days;
  for (const PeriodDay& pd : r.period_days) {
    if (pd.start_ms >= r.evaluated_to_ms) break;
    DaySummary day;
    day.number = pd.number;
    day.date = DayDate(pd.start_ms, zone);
    day.label = DayLabel(pd, zone);
    day.start_ms = pd.start_ms;
    day.planned_end_ms = pd.end_ms;
    day.end_ms = std::min(pd.end_ms, r.evaluated_to_ms);
    day.totals.window_ms = day.end_ms - day.start_ms;
    days.push_back(std::move(day));
  }
  // Spans are ordered; a span may cross several days.
  for (const StateSpan& span : timeline) {
    size_t i = DayAt(days, std::max(span.start_ms, r.from_ms));
    for (; i < days.size() && days[i].start_ms < span.end_ms; ++i) {
      AddOverlap(days[i].totals, span, days[i].start_ms, days[i].end_ms);
    }
  }
  for (const Incident& inc : r.incidents) {
    if (size_t i = DayAt(days, inc.start_ms); i != kNoDay) ++days[i].incidents;
  }
  return days;
}

Criterion CoverageCriterion(const Report& r) {
  const double min_coverage = r.objective.min_coverage_percent / 100.0;
  const auto coverage = r.totals.coverage();
  Criterion c{"coverage", coverage, min_coverage, coverage && *coverage >= min_coverage, ""};
  c.detail = fmt::format("coverage {} {} {}", FormatPercent(coverage), c.met ? ">=" : "<",
                         FormatPercent(min_coverage));
  return c;
}

Criterion UptimeCriterion(const Report& r) {
  const double objective = r.objective.uptime_percent / 100.0;
  const auto uptime = r.totals.uptime();
  Criterion c{"uptime", uptime, objective, uptime && *uptime >= objective, ""};
  c.detail = fmt::format("uptime {} {} objective {}", FormatPercent(uptime), c.met ? ">=" : "<",
                         FormatPercent(objective));
  return c;
}

// Every probe the SLA names must meet it; the value is the slowest one's p95. Without named
// probes (Objective::latency_probes empty) the pooled figure of all health probes, labelled so.
Criterion LatencyCriterion(const Report& r, double sla_ms) {
  Criterion c{"latency_p95", std::nullopt, sla_ms / 1000.0, false, ""};
  std::vector<std::string> figures;
  if (r.objective.latency_probes.empty()) {
    if (r.latency.count > 0) {
      c.value = r.latency.p95_seconds;
      figures.push_back(FormatLatency(*c.value) + " (all health probes, pooled)");
    }
  } else {
    // A named probe without a successful run in the window has no figure to meet the SLA with:
    // the criterion is not met, whatever the others show (fresh eyes, stop 66: a probe failing
    // every run was left out, and the SLA read "met" on the one that answered).
    std::vector<std::string> without;
    for (const std::string& name : r.objective.latency_probes) {
      auto p = std::find_if(r.latency_by_probe.begin(), r.latency_by_probe.end(),
                            [&](const ProbeLatency& l) { return l.probe == name; });
      if (p == r.latency_by_probe.end() || p->latency.count == 0) {
        without.push_back(name);
        continue;
      }
      c.value = std::max(c.value.value_or(0.0), p->latency.p95_seconds);
      figures.push_back(fmt::format("{} {}", p->probe, FormatLatency(p->latency.p95_seconds)));
    }
    if (c.value && !without.empty()) {
      c.detail = fmt::format("latency p95 {}, n/a for {} (no successful run): SLA {} not met",
                             fmt::join(figures, ", "), fmt::join(without, ", "),
                             FormatLatency(c.threshold));
      return c;
    }
  }
  if (!c.value) {
    c.detail = r.objective.latency_probes.empty()
                   ? std::string("latency p95 n/a: no successful health run")
                   : fmt::format("latency p95 n/a: no successful run of {}",
                                 fmt::join(r.objective.latency_probes, ", "));
    return c;
  }
  c.met = *c.value <= c.threshold;
  c.detail = fmt::format("latency p95 {} {} SLA {}", fmt::join(figures, ", "),
                         c.met ? "<=" : ">", FormatLatency(c.threshold));
  return c;
}

Criterion CriticalLinesCriterion(const Report& r) {
  Criterion c{"critical_lines", static_cast<double>(r.logs.critical), 0, r.logs.critical == 0, ""};
  c.detail = r.logs.critical == 0
                 ? std::string("no critical log line")
                 : fmt::format("{}{} critical log line{}", r.logs.truncated ? "at least " : "",
                               r.logs.critical, r.logs.critical == 1 ? "" : "s");
  return c;
}

// The last day with successful health runs may not be slower (p95) than the first by more than
// the tolerance. None with fewer than two such days.
std::optional<Criterion> DegradationCriterion(const Report& r) {
  const DaySummary* first = nullptr;
  const DaySummary* last = nullptr;
  for (const auto& d : r.days) {
    if (d.latency.count == 0) continue;
    if (!first) first = &d;
    last = &d;
  }
  if (!first || first == last || first->latency.p95_seconds <= 0) return std::nullopt;
  const double change = last->latency.p95_seconds / first->latency.p95_seconds - 1.0;
  Criterion c{"no_degradation", change, r.degradation_tolerance, change <= r.degradation_tolerance,
              ""};
  c.detail = fmt::format("latency p95 {} on {} vs {} on {} ({:+.1f} %, tolerance +{:.1f} %)",
                         FormatLatency(last->latency.p95_seconds), last->date,
                         FormatLatency(first->latency.p95_seconds), first->date, change * 100.0,
                         r.degradation_tolerance * 100.0);
  return c;
}

struct CheckTotals {
  uint64_t runs = 0, failed = 0;
  std::string Summary() const {
    return fmt::format("integration checks {}/{} passed", runs - failed, runs);
  }
};

CheckTotals SumChecks(const Report& r) {
  CheckTotals t;
  for (const auto& c : r.checks) {
    t.runs += c.runs;
    t.failed += c.failed;
  }
  return t;
}

// None when the report has no integration check run.
std::optional<Criterion> ChecksCriterion(const CheckTotals& t) {
  if (t.runs == 0) return std::nullopt;
  return Criterion{"integration_checks",
                   static_cast<double>(t.runs - t.failed) / static_cast<double>(t.runs), 1.0,
                   t.failed == 0, t.Summary()};
}

// The window is over: PASS when every criterion is met, INSUFFICIENT DATA without enough
// coverage (whatever else), FAIL otherwise.
void DecideFinal(Report& r, const Criterion& coverage) {
  if (!coverage.met) {
    r.verdict = Verdict::kInsufficientData;
    r.verdict_reasons.push_back(coverage.detail);
    return;
  }
  for (const auto& c : r.criteria) {
    if (!c.met) r.verdict_reasons.push_back(c.detail);
  }
  r.verdict = r.verdict_reasons.empty() ? Verdict::kPass : Verdict::kFail;
  if (r.verdict == Verdict::kPass) {
    for (const auto& c : r.criteria) r.verdict_reasons.push_back(c.detail);
  }
}

// What the rest of an unfinished window cannot undo: the budget spent, a failed check, a
// critical line.
std::vector<std::string> IrrecoverableFailures(const Report& r, const CheckTotals& checks) {
  std::vector<std::string> reasons;
  if (r.budget.used_ms > r.budget.allowed_ms) {
    reasons.push_back(fmt::format("error budget exhausted: {} down > {} allowed",
                                  HumanDurationMs(r.budget.used_ms),
                                  HumanDurationMs(r.budget.allowed_ms)));
  }
  if (checks.failed > 0) reasons.push_back(checks.Summary());
  if (r.logs.critical > 0) {
    for (const auto& c : r.criteria) {
      if (c.name == "critical_lines") reasons.push_back(c.detail);
    }
  }
  return reasons;
}

std::string ProjectionLine(const Report& r, const BurnProjection& p) {
  std::string line = fmt::format(
      "at the current burn rate ({}) the window ends with {} down of {} allowed: projected {}",
      p.burn_rate ? fmt::format("{:.2f}x", *p.burn_rate) : std::string("n/a"),
      HumanDurationMs(p.projected_down_ms), HumanDurationMs(r.budget.allowed_ms),
      VerdictName(p.projected_verdict));
  if (p.budget_exhausted_at_ms) {
    line += fmt::format("; budget exhausted at {} UTC", FormatUtcSeconds(*p.budget_exhausted_at_ms));
  }
  return line;
}

// The window is still running: FAIL only for what the rest of it cannot undo, INSUFFICIENT DATA
// while coverage so far is short, else IN PROGRESS with where it stands and where it heads.
void DecideInProgress(Report& r, const Criterion& coverage, const CheckTotals& checks) {
  r.verdict_reasons = IrrecoverableFailures(r, checks);
  if (!r.verdict_reasons.empty()) {
    r.verdict = Verdict::kFail;
    return;
  }
  if (coverage.value && !coverage.met) {
    r.verdict = Verdict::kInsufficientData;
    r.verdict_reasons.push_back(coverage.detail + " so far");
    return;
  }
  r.verdict = Verdict::kInProgress;
  r.verdict_reasons.push_back(fmt::format(
      "{} of {} elapsed; uptime so far {}; error budget left {}",
      HumanDurationMs(r.evaluated_to_ms - r.from_ms), HumanDurationMs(r.to_ms - r.from_ms),
      FormatPercent(r.totals.uptime()), FormatSignedDuration(r.budget.left_ms)));
  if (r.projection) r.verdict_reasons.push_back(ProjectionLine(r, *r.projection));
  for (const auto& c : r.criteria) {
    if (!c.met && (c.name == "latency_p95" || c.name == "no_degradation")) {
      r.verdict_reasons.push_back(c.detail + " so far");
    }
  }
}

// Met, failed for good, or not yet (see CriterionState): a running window fails a criterion only
// for what its rest cannot undo, the same things that make the running verdict FAIL.
CriterionState StateOf(const Report& r, const Criterion& c) {
  if (c.met) return CriterionState::kMet;
  if (!r.in_progress()) return CriterionState::kFailed;
  const bool irrecoverable = (c.name == "uptime" && r.budget.used_ms > r.budget.allowed_ms) ||
                             c.name == "critical_lines" || c.name == "integration_checks";
  return irrecoverable ? CriterionState::kFailed : CriterionState::kNotYet;
}

void Decide(Report& r) {
  const Criterion coverage = CoverageCriterion(r);
  r.criteria = {UptimeCriterion(r), coverage};
  if (r.objective.latency_p95_ms) r.criteria.push_back(LatencyCriterion(r, *r.objective.latency_p95_ms));
  // Without log evidence the criterion cannot be measured: left out, as a criterion with nothing
  // to measure is, and said among the reasons whatever the verdict.
  if (r.logs.unavailable.empty()) r.criteria.push_back(CriticalLinesCriterion(r));
  if (auto c = DegradationCriterion(r)) r.criteria.push_back(*c);
  const CheckTotals checks = SumChecks(r);
  if (auto c = ChecksCriterion(checks)) r.criteria.push_back(*c);
  for (auto& c : r.criteria) {
    c.state = StateOf(r, c);
    if (r.latency_as_of_ms && (c.name == "latency_p95" || c.name == "no_degradation")) {
      c.detail += " (latency as of " + FormatRfc3339Ms(*r.latency_as_of_ms) + ")";
    }
  }
  r.verdict_reasons.clear();
  if (r.in_progress()) {
    DecideInProgress(r, coverage, checks);
  } else {
    DecideFinal(r, coverage);
  }
  if (!r.logs.unavailable.empty()) {
    r.verdict_reasons.push_back("critical log lines not evaluated: " + r.logs.unavailable);
  }
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

const char* CriterionStateName(CriterionState state) {
  switch (state) {
    case CriterionState::kMet:
      return "met";
    case CriterionState::kNotYet:
      return "not yet";
    case CriterionState::kFailed:
      return "failed";
  }
  return "not yet";
}

TimestampMs EvaluatedEnd(TimestampMs from_ms, TimestampMs to_ms, TimestampMs now_ms) {
  return std::max(from_ms, std::min(to_ms, now_ms));
}

std::vector<TimeInterval> ExcludedIntervals(const ReportOptions& options, TimestampMs from_ms,
                                            TimestampMs to_ms) {
  std::vector<TimeInterval> all = options.excluded;
  for (const auto& m : options.maintenance) all.push_back({m.start_ms, m.end_ms});
  return NormalizeIntervals(std::move(all), from_ms, to_ms);
}

ReportInput InputFromRuns(std::span<const ProbeRun> runs, TimestampMs from_ms,
                          TimestampMs evaluated_to_ms, std::span<const TimeInterval> excluded) {
  ReportInput in;
  const std::vector<const ProbeRun*> ordered = RunsInStorageOrder(runs);
  in.spans = CompressOrderedRuns(ordered);
  // Runs of one probe are consecutive and in time order here, so each (probe, hour) group is
  // one run of consecutive entries.
  for (const ProbeRun* run : ordered) {
    if (run->ts_ms < from_ms || run->ts_ms >= evaluated_to_ms) continue;
    if (run->role == ProbeRole::kIntegration) in.check_runs.push_back(*run);
    if (run->role != ProbeRole::kHealth || !run->success ||
        ContainsInstant(excluded, run->ts_ms)) {
      continue;
    }
    const TimestampMs hour = HourStart(run->ts_ms);
    if (in.health_durations.empty() || in.health_durations.back().hour_ms != hour ||
        in.health_durations.back().key != run->key) {
      storage::HourDurations& g = in.health_durations.emplace_back();
      g.key = run->key;
      g.role = run->role;
      g.hour_ms = hour;
    }
    in.health_durations.back().seconds.push_back(run->duration_seconds);
  }
  for (auto& g : in.health_durations) std::sort(g.seconds.begin(), g.seconds.end());
  return in;
}

namespace {

// Integration checks of the evaluated window outside exclusions, overall and per day.
void SummarizeChecks(Report& r, std::span<const ProbeRun> check_runs,
                     std::span<const TimeInterval> excluded_eval) {
  std::map<std::string, CheckSummary> checks;
  for (const ProbeRun& run : check_runs) {
    if (run.role != ProbeRole::kIntegration) continue;
    if (run.ts_ms < r.from_ms || run.ts_ms >= r.evaluated_to_ms) continue;
    if (ContainsInstant(excluded_eval, run.ts_ms)) continue;
    CheckSummary& c = checks[run.key.probe];
    c.probe = run.key.probe;
    ++c.runs;
    if (size_t i = DayAt(r.days, run.ts_ms); i != kNoDay) {
      ++(run.success ? r.days[i].checks_passed : r.days[i].checks_failed);
    }
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
  for (auto& [name, c] : checks) r.checks.push_back(std::move(c));
}

}  // namespace

namespace {

// What uptime is computed with over [from_ms, to_ms) at now_ms.
UptimeOptions UptimeOptionsOf(const ReportOptions& options, TimestampMs from_ms, TimestampMs to_ms,
                              TimestampMs now_ms) {
  UptimeOptions uo;
  uo.from_ms = from_ms;
  uo.to_ms = to_ms;
  uo.now_ms = now_ms;
  uo.excluded = ExcludedIntervals(options, from_ms, to_ms);
  uo.health_probes = options.health_probes;
  uo.incident_details = !options.for_overview;
  return uo;
}

// Every figure of the report but latency, and no verdict yet (Decide needs the latency): the
// latency is read in passes (WindowLatency) from memory or from storage. `up` is the window's
// uptime (UptimeOptionsOf), folded by `fold` when it is a report for the overview, else by
// `listed` (finished).
Report ReportWithoutLatency(UptimeResult up, std::span<const ProbeRun> check_runs,
                            const std::string& component, const Objective& objective,
                            TimestampMs from_ms, TimestampMs to_ms, TimestampMs now_ms,
                            const ReportOptions& options, const OverviewUptimeFold* fold,
                            ReportUptimeFold* listed) {
  Report r;
  r.component = component;
  r.objective = objective;
  r.from_ms = from_ms;
  r.to_ms = to_ms;
  r.now_ms = now_ms;

  r.degradation_tolerance = options.degradation_tolerance;
  r.period_id = options.period_id;
  for (const auto& m : options.maintenance) {
    if (m.start_ms < to_ms && m.end_ms > from_ms && m.start_ms < m.end_ms) {
      r.maintenance.push_back({std::max(m.start_ms, from_ms), std::min(m.end_ms, to_ms), m.reason});
    }
  }
  std::stable_sort(r.maintenance.begin(), r.maintenance.end(),
                   [](const MaintenanceWindow& a, const MaintenanceWindow& b) {
                     return a.start_ms < b.start_ms;
                   });

  r.evaluated_to_ms = up.evaluated_to_ms;
  r.totals = up.totals;
  r.incidents = std::move(up.incidents);
  r.health_probes = std::move(up.health_probes);
  r.excluded = ExcludedIntervals(options, from_ms, to_ms);
  const std::vector<TimeInterval> excluded_eval =
      NormalizeIntervals(r.excluded, from_ms, r.evaluated_to_ms);

  r.days = BuildDays(r, up.timeline, options.time_zone);
  const std::vector<uint64_t>* not_listed_by_day = nullptr;
  if (fold != nullptr) {
    r.incidents_not_listed = fold->folded();
    not_listed_by_day = &fold->folded_by_day();
  } else if (listed != nullptr) {
    r.incidents_not_listed = listed->incidents_not_listed();
    not_listed_by_day = &listed->not_listed_by_day();
    r.gaps = listed->TakeListedGaps();
    r.gaps_not_listed = listed->gaps_not_listed();
    r.timeline_per_stretch = listed->timeline_per_stretch();
    for (size_t i = 0; i < r.days.size(); ++i) {
      r.days[i].longest_incidents = listed->TakeDayLongest(i);
    }
  }
  for (size_t i = 0; not_listed_by_day && i < r.days.size() && i < not_listed_by_day->size();
       ++i) {
    r.days[i].incidents += (*not_listed_by_day)[i];
  }
  r.timeline = std::move(up.timeline);
  SummarizeLogs(r, options);
  for (const AlertFired& a : options.alerts) {
    if (a.fired_ms >= from_ms && a.fired_ms < r.evaluated_to_ms) r.alerts.push_back(a);
  }
  std::stable_sort(r.alerts.begin(), r.alerts.end(), [](const AlertFired& a, const AlertFired& b) {
    return a.fired_ms < b.fired_ms;
  });
  r.alerts_not_listed = options.alerts_not_listed;
  // An alert that fired in maintenance says so, as the maintenance window's reason explains
  // it (left open at stop 67: the list read as if each had paged someone).
  for (AlertFired& a : r.alerts) {
    for (const MaintenanceWindow& m : r.maintenance) {
      if (m.start_ms <= a.fired_ms && a.fired_ms < m.end_ms) {
        a.maintenance = m;
        break;
      }
    }
  }
  SummarizeChecks(r, check_runs, excluded_eval);

  const int64_t budget_base = (to_ms - from_ms) - OverlapMs(r.excluded, from_ms, to_ms);
  r.budget.allowed_ms = std::llround((1.0 - objective.uptime_percent / 100.0) *
                                     static_cast<double>(std::max<int64_t>(0, budget_base)));
  r.budget.used_ms = r.totals.down_ms;
  r.budget.left_ms = r.budget.allowed_ms - r.budget.used_ms;

  Project(r, r.excluded);
  return r;
}

// `earlier`'s latency figures in `r` (LatencyCarriesOver said they may stand), as of when they
// were computed. Hours before `r`'s window are left out; a day takes the latency of the day of
// the same number (a window ending now moves its days with it, by the minutes since `earlier`).
void CarryLatencyOver(const Report& earlier, Report& r) {
  r.latency = earlier.latency;
  r.latency_by_probe = earlier.latency_by_probe;
  r.latency_hourly.clear();
  for (const LatencyPoint& p : earlier.latency_hourly) {
    if (p.start_ms + kHourMs > r.from_ms) r.latency_hourly.push_back(p);
  }
  for (DaySummary& d : r.days) {
    d.latency = LatencySummary{};
    for (const DaySummary& e : earlier.days) {
      if (e.number == d.number) d.latency = e.latency;
    }
  }
  r.latency_as_of_ms = earlier.latency_as_of_ms.value_or(earlier.now_ms);
}

}  // namespace

namespace {

// The excluded intervals of `r` (maintenance) within [from, to).
std::vector<TimeInterval> ExcludedWithin(const Report& r, TimestampMs from, TimestampMs to) {
  std::vector<TimeInterval> out;
  for (const TimeInterval& t : r.excluded) {
    const TimestampMs start = std::max(t.start_ms, from);
    const TimestampMs end = std::min(t.end_ms, to);
    if (start < end) out.push_back({start, end});
  }
  return out;
}

}  // namespace

bool LatencyCarriesOver(const Report& earlier, const Report& later) {
  const Objective& a = earlier.objective;
  const Objective& b = later.objective;
  const TimestampMs earlier_as_of = earlier.latency_as_of_ms.value_or(earlier.now_ms);
  // The maintenance windows over the time both windows cover, up to where the earlier one was
  // read: one added there since (`obsmon maintenance add --db` straight into the file, which the
  // daemon is not told of) changes which durations count (fresh eyes found it carried over).
  const TimestampMs shared_end = std::min(earlier.evaluated_to_ms, later.evaluated_to_ms);
  return earlier.component == later.component && earlier.period_id == later.period_id &&
         earlier.from_ms <= later.from_ms &&
         earlier.to_ms - earlier.from_ms == later.to_ms - later.from_ms &&
         earlier_as_of <= later.now_ms && earlier.health_probes == later.health_probes &&
         a.latency_p95_ms == b.latency_p95_ms && a.latency_probes == b.latency_probes &&
         earlier.time_zone == later.time_zone &&
         ExcludedWithin(earlier, later.from_ms, shared_end) ==
             ExcludedWithin(later, later.from_ms, shared_end);
}

Report ComputeReportFromInput(const ReportInput& input, const std::string& component,
                              const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                              TimestampMs now_ms, const ReportOptions& options) {
  // Uptime over the spans, each standing for its runs (covering exactly what they do), read in
  // place. Copied only when another component's must go.
  std::vector<RunSpan> own;
  std::span<const RunSpan> spans = input.spans;
  auto mine = [&](const RunSpan& span) { return span.key.component == component; };
  if (!std::all_of(spans.begin(), spans.end(), mine)) {
    std::copy_if(spans.begin(), spans.end(), std::back_inserter(own), mine);
    spans = own;
  }
  UptimeResult up = ComputeUptime(spans, UptimeOptionsOf(options, from_ms, to_ms, now_ms));
  ReportUptimeFold listed(PeriodDays(from_ms, to_ms, options.time_zone), from_ms, to_ms,
                          up.evaluated_to_ms, options.max_listed);
  listed.TakeGaps(up);
  listed.Finish(up);
  Report r = ReportWithoutLatency(std::move(up), input.check_runs, component, objective, from_ms,
                                  to_ms, now_ms, options, nullptr, &listed);
  WindowLatency latency(r, options.health_probes);
  do {
    for (const storage::HourDurations& g : input.health_durations) latency.Visit(g);
  } while (latency.AnotherPass());
  // The groups are the same in every pass here: the passes always agree.
  (void)latency.Fill(r);
  Decide(r);
  return r;
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
  const TimestampMs evaluated_to = EvaluatedEnd(from_ms, to_ms, now_ms);
  const ReportInput input = InputFromRuns(runs, from_ms, evaluated_to,
                                          ExcludedIntervals(options, from_ms, evaluated_to));
  return ComputeReportFromInput(input, component, objective, from_ms, to_ms, now_ms, options);
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
    return Status::InvalidArgument(
        fmt::format("report window is empty: from {} is not before to {}", FormatRfc3339Ms(from_ms),
                    FormatRfc3339Ms(to_ms)));
  }
  if (!(objective.uptime_percent > 0 && objective.uptime_percent <= 100)) {
    return Status::InvalidArgument(
        fmt::format("uptime objective {} % is not in (0, 100]", objective.uptime_percent));
  }
  const TimestampMs evaluated_to = EvaluatedEnd(from_ms, to_ms, now_ms);
  // Uptime 6 hours of spans at a time: a flapping component's week is 100,000s of spans (~170 B
  // each), read whole every refresh they were the largest part of the daemon's memory.
  UptimeResult up;
  bool any_span = false;
  const UptimeOptions uptime_options = UptimeOptionsOf(options, from_ms, to_ms, now_ms);
  std::optional<OverviewUptimeFold> fold;
  std::optional<ReportUptimeFold> listed;
  if (options.for_overview) {
    fold.emplace(PeriodDays(from_ms, to_ms, options.time_zone));
  } else {
    listed.emplace(PeriodDays(from_ms, to_ms, options.time_zone), from_ms, to_ms, evaluated_to,
                   options.max_listed);
  }
  // Asked within the spans' reading and between the parts of the build (fresh eyes, stop 63: a
  // client that left after 80 ms still had its 0.2 s report built).
  auto given_up = [&]() -> Status {
    if (options.cancelled && options.cancelled()) {
      return Status::Cancelled("the report was given up while it was built");
    }
    return Status::Ok();
  };
  Status read = reader.StreamRunSpans(
      component, from_ms, evaluated_to, kSpanChunkMs,
      [&](std::vector<RunSpan>& spans, TimestampMs c0, TimestampMs c1) {
        any_span = any_span || !spans.empty();
        UptimeOptions chunk = uptime_options;
        chunk.from_ms = c0;
        chunk.to_ms = c1;
        UptimeResult part = ComputeUptime(std::span<const RunSpan>(spans), chunk);
        if (listed) listed->TakeGaps(part);
        if (c0 == from_ms) {
          up = std::move(part);
        } else {
          AppendUptime(up, std::move(part));
        }
        if (fold) fold->Fold(up);
        if (listed) listed->Fold(up);
        return given_up();
      });
  if (!read.ok()) return read;
  if (listed) listed->Finish(up);
  if (!any_span) {
    auto components = reader.Components();
    if (!components.ok()) return components.status();
    if (std::find(components->begin(), components->end(), component) == components->end()) {
      return Status::NotFound(fmt::format("no probe run stored for component '{}'", component));
    }
  }
  auto checks = reader.RunsOfRole(component, ProbeRole::kIntegration, from_ms, evaluated_to);
  if (!checks.ok()) return checks.status();
  if (Status s = given_up(); !s.ok()) return s;
  ReportOptions with_logs = options;
  if (options.max_log_events > 0) {
    auto events = reader.LogEvents(component, from_ms, evaluated_to, options.max_log_events);
    if (!events.ok()) return events.status();
    with_logs.log_events_truncated =
        options.log_events_truncated || events->size() >= options.max_log_events;
    with_logs.log_events.insert(with_logs.log_events.end(), events->begin(), events->end());
    // The counters' samples (a week of them, every refresh) only where the kept lines may be
    // short of them.
    auto dropped = with_logs.log_evidence_unavailable.empty()
                       ? LogLinesWereDropped(reader, component)
                       : Result<bool>(false);
    if (!dropped.ok()) return dropped.status();
    if (*dropped) {
      std::vector<TimestampMs> day_starts;
      for (const PeriodDay& d : PeriodDays(from_ms, to_ms, options.time_zone)) {
        day_starts.push_back(d.start_ms);
      }
      auto counted = ReadLogMatchCounts(reader, component, from_ms, evaluated_to,
                                        options.critical_severities, options.error_severities,
                                        day_starts);
      if (!counted.ok()) return counted.status();
      with_logs.log_match_counts = *counted;
    }
  }
  if (Status s = given_up(); !s.ok()) return s;
  Report report = ReportWithoutLatency(std::move(up), *checks, component, objective, from_ms, to_ms,
                                       now_ms, with_logs, fold ? &*fold : nullptr,
                                       listed ? &*listed : nullptr);
  if (Status s = given_up(); !s.ok()) return s;
  // The durations are streamed, an hour of a probe at a time, never all held (docs/report.md,
  // "How the report reads").
  std::vector<std::pair<TimestampMs, TimestampMs>> excluded;
  for (const TimeInterval& t : ExcludedIntervals(options, from_ms, evaluated_to)) {
    excluded.emplace_back(t.start_ms, t.end_ms);
  }
  if (options.latency_from != nullptr && LatencyCarriesOver(*options.latency_from, report)) {
    CarryLatencyOver(*options.latency_from, report);
  } else {
    WindowLatency latency(report, options.health_probes);
    if (Status s = reader.StreamSuccessDurations(component, ProbeRole::kHealth, from_ms,
                                                 evaluated_to, excluded, latency);
        !s.ok()) {
      return s;
    }
    if (Status s = latency.Fill(report); !s.ok()) return s;
  }
  if (Status s = given_up(); !s.ok()) return s;
  Decide(report);
  auto usage = ReadComponentUsage(reader, component, from_ms, report.evaluated_to_ms);
  if (!usage.ok()) return usage.status();
  report.usage = std::move(*usage);
  return report;
}

}  // namespace obsmon
