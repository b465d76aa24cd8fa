// RenderReportText: the terminal form of a Report, core figures first.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/duration.h"
#include "core/text_escape.h"
#include "render/report_format.h"

namespace obsmon {
namespace {

std::string OrNone(const std::string& s) { return s.empty() ? "(no reason recorded)" : OneLine(s); }

std::string LatencyLine(const LatencySummary& l) {
  if (l.count == 0) return "n/a (no successful health run)";
  return fmt::format("p50 {}  p95 {}  p99 {}  (n={}, min {}, mean {}, max {})",
                     FormatLatency(l.p50_seconds), FormatLatency(l.p95_seconds),
                     FormatLatency(l.p99_seconds), l.count, FormatLatency(l.min_seconds),
                     FormatLatency(l.mean_seconds), FormatLatency(l.max_seconds));
}

std::string Joined(const std::vector<std::string>& items) {
  return items.empty() ? "-" : fmt::format("{}", fmt::join(items, ", "));
}

void Line(std::string& out, const std::string& s) {
  out += s;
  out += '\n';
}

// Component, window, verdict, the core figures, budget and projection.
void AddSummary(const Report& r, std::string& out) {
  const auto& t = r.totals;
  Line(out,
       fmt::format("Component     {}{}", OneLine(r.component),
                   r.period_id ? fmt::format("  (observation period #{})", *r.period_id) : ""));
  Line(out, fmt::format("Window        {} .. {} UTC{}", FormatUtcSeconds(r.from_ms),
                        FormatUtcSeconds(r.to_ms),
                        r.in_progress()
                            ? fmt::format(" (evaluated to {})", FormatUtcSeconds(r.evaluated_to_ms))
                            : ""));
  Line(out, fmt::format("Verdict       {}", VerdictName(r.verdict)));
  for (const auto& reason : r.verdict_reasons) Line(out, fmt::format("              - {}", reason));
  Line(out, fmt::format("Uptime        {}  (objective {})", FormatPercent(t.uptime()),
                        FormatPercent(r.objective.uptime_percent / 100.0)));
  Line(out, fmt::format("Coverage      {}  (minimum {})", FormatPercent(t.coverage()),
                        FormatPercent(r.objective.min_coverage_percent / 100.0)));
  Line(out, fmt::format("Conservative  {}  (up / (window - excluded))",
                        FormatPercent(t.conservative())));
  Line(out, fmt::format("Time          up {}, down {}, unknown {}, excluded {} (of {})",
                        HumanDurationMs(t.up_ms), HumanDurationMs(t.down_ms),
                        HumanDurationMs(t.unknown_ms), HumanDurationMs(t.excluded_ms),
                        HumanDurationMs(t.window_ms)));
  Line(out,
       fmt::format("Error budget  allowed {}, used {}, left {} ({} used)",
                   HumanDurationMs(r.budget.allowed_ms), HumanDurationMs(r.budget.used_ms),
                   FormatSignedDuration(r.budget.left_ms), FormatPercent(r.budget.used_ratio())));
  if (r.projection) {
    const auto& p = *r.projection;
    Line(out,
         fmt::format("Projection    {} down at the end ({}), projected {}{}",
                     HumanDurationMs(p.projected_down_ms),
                     p.burn_rate ? fmt::format("burn rate {:.2f}x", *p.burn_rate) : "burn rate n/a",
                     VerdictName(p.projected_verdict),
                     p.budget_exhausted_at_ms
                         ? "; budget exhausted at " + FormatUtcSeconds(*p.budget_exhausted_at_ms)
                         : std::string()));
  }
}

// Latency, matched log lines, emissions and resources, gaps, health probes.
void AddEvidence(const Report& r, std::string& out) {
  const auto& t = r.totals;
  for (const auto& p : r.latency_by_probe) {
    Line(out, fmt::format("Latency       {}{}: {}", OneLine(p.probe), p.sla ? " (SLA)" : "",
                          LatencyLine(p.latency)));
  }
  Line(out, fmt::format("Latency       all health probes, pooled: {}", LatencyLine(r.latency)));
  if (!r.logs.unavailable.empty()) {
    Line(out, fmt::format("Log lines     not known: {}", OneLine(r.logs.unavailable)));
  } else {
    Line(out, fmt::format("Log lines     {}{} critical, {}{} error", r.logs.truncated ? ">= " : "",
                          r.logs.critical, r.logs.truncated ? ">= " : "", r.logs.error));
  }
  auto log_line = [&](const char* what, const std::optional<LogEvent>& e) {
    if (e) {
      Line(out,
           fmt::format("  {} {} [{}] {}", what, FormatUtcSeconds(e->ts_ms), OneLine(e->key.probe),
                       EscapeControlAndInvalidUtf8(e->line)));  // NUL shows as \x00
    }
  };
  log_line("first critical", r.logs.first_critical);
  // With lines dropped by a cap, the last kept one need not be the last one written.
  log_line(r.logs.truncated ? "last kept crit" : "last critical ", r.logs.last_critical);
  log_line("first error   ", r.logs.first_error);
  log_line(r.logs.truncated ? "last kept err " : "last error    ", r.logs.last_error);
  for (const auto& e : r.usage.emissions) {
    Line(out, fmt::format("Emissions     {}: {:.6f} kg CO2eq, {:.6f} kWh", OneLine(e.project),
                          e.emissions_kg, e.energy_kwh));
  }
  if (const auto& res = r.usage.resources) {
    auto fig = [](const std::optional<double>& v, const char* unit) {
      return v ? fmt::format("{:.1f} {}", *v, unit) : std::string("n/a");
    };
    Line(out,
         fmt::format("Resources     CPU p50 {} p95 {}; memory p50 {} max {}; restarts {:.0f}",
                     fig(res->cpu_p50_percent, "%"), fig(res->cpu_p95_percent, "%"),
                     fig(res->memory_p50_mb, "MB"), fig(res->memory_max_mb, "MB"), res->restarts));
  }
  Line(out,
       fmt::format("Gaps          {} ({} unknown)", r.GapCount(), HumanDurationMs(t.unknown_ms)));
  Line(out, fmt::format("Health probes {}", OneLine(Joined(r.health_probes))));
}

// One line per incident.
void AddIncidents(const Report& r, std::string& out) {
  Line(out, "");
  Line(out, fmt::format("Incidents ({})", ListedCount(r.incidents.size(), r.incidents_not_listed)));
  for (size_t i = 0; i < r.incidents.size(); ++i) {
    const auto& inc = r.incidents[i];
    Line(out, fmt::format(
                  "  #{} {} .. {}  {}{}{}  [{}] {}: {}", IncidentNumber(r, i),
                  FormatUtcSeconds(inc.start_ms),
                  inc.ongoing ? std::string("now") : FormatUtcSeconds(inc.end_ms),
                  HumanDurationMs(inc.duration_ms()), inc.ongoing ? " ONGOING" : "",
                  inc.began_before_window ? " (began before window)" : "",
                  OneLine(Joined(inc.probes)), OneLine(inc.first_probe), OrNone(inc.first_reason)));
  }
}

// Integration checks, when there are any.
void AddChecks(const Report& r, std::string& out) {
  if (!r.checks.empty()) {
    Line(out, "");
    Line(out, "Integration checks");
    for (const auto& c : r.checks) {
      std::string first;
      if (c.first_failure_ms) {
        first = fmt::format("; first failure {}: {}", FormatUtcSeconds(*c.first_failure_ms),
                            OrNone(c.first_failure_reason));
      }
      Line(out, fmt::format("  {}  {} runs, {} passed, {} failed ({}){}", OneLine(c.probe), c.runs,
                            c.passed, c.failed, FormatPercent(c.pass_rate()), first));
    }
  }
}

// Alerts fired, when there are any.
void AddAlerts(const Report& r, std::string& out) {
  if (!r.alerts.empty()) {
    Line(out, "");
    Line(out, fmt::format("Alerts fired ({})",
                          ListedCount(r.alerts.size(), r.alerts_not_listed)));
    for (const auto& a : r.alerts) {
      Line(out,
           fmt::format("  {} .. {}  {}  {}{}", FormatUtcSeconds(a.fired_ms),
                       a.resolved_ms ? FormatUtcSeconds(*a.resolved_ms) : std::string("(open)"),
                       OneLine(a.rule), OneLine(a.summary),
                       a.maintenance ? "  [fired in maintenance: " +
                                           OneLine(MaintenanceReason(*a.maintenance)) + "]"
                                     : std::string()));
    }
  }
}

// Excluded intervals with the maintenance reasons that overlap them.
void AddExcluded(const Report& r, std::string& out) {
  if (!r.excluded.empty()) {
    Line(out, "");
    Line(out, "Excluded (maintenance)");
    for (const auto& iv : r.excluded) {
      std::string reason;
      for (const auto& m : r.maintenance) {
        if (m.start_ms < iv.end_ms && m.end_ms > iv.start_ms && !m.reason.empty()) {
          reason += (reason.empty() ? "  " : "; ") + OneLine(m.reason);
        }
      }
      Line(out, fmt::format("  {} .. {}  {}{}", FormatUtcSeconds(iv.start_ms),
                            FormatUtcSeconds(iv.end_ms), HumanDurationMs(iv.length_ms()), reason));
    }
  }
}

// The day-by-day table.
void AddDays(const Report& r, std::string& out) {
  if (!r.days.empty()) {
    Line(out, "");
    Line(out, fmt::format(
                  "{:<10}  {:>9}  {:>8}  {:>8}  {:>9}  {:>6}  {:>10}  {:>10}  {:>10}  {:>6}  {:>5}",
                  r.time_zone.empty() ? "Day (UTC)" : "Day", "Uptime", "Down", "Unknown",
                  "Incidents", "Checks", "p50", "p95",
                  "p99", "Errors", "Crit"));
    for (const auto& d : r.days) {
      bool lat = d.latency.count > 0;
      Line(out,
           fmt::format(
               "{:<10}  {:>9}  {:>8}  {:>8}  {:>9}  {:>6}  {:>10}  {:>10}  {:>10}  {:>6}  {:>5}",
               d.date, FormatPercent(d.totals.uptime()), HumanDurationMs(d.totals.down_ms),
               HumanDurationMs(d.totals.unknown_ms), d.incidents,
               fmt::format("{}/{}", d.checks_passed, d.checks_passed + d.checks_failed),
               lat ? FormatLatency(d.latency.p50_seconds) : "n/a",
               lat ? FormatLatency(d.latency.p95_seconds) : "n/a",
               lat ? FormatLatency(d.latency.p99_seconds) : "n/a", d.errors, d.criticals));
    }
  }
}

// One row per criterion: its state (met / not yet / failed) and what was measured.
void AddCriteria(const Report& r, std::string& out) {
  Line(out, "");
  Line(out, "Criteria");
  Line(out, fmt::format("  {:<20} {:<8} {}", "criterion", "state", "measured"));
  for (const auto& c : r.criteria) {
    Line(out, fmt::format("  {:<20} {:<8} {}", c.name, CriterionStateName(c.state),
                          OneLine(c.detail)));
  }
}

}  // namespace

std::string RenderReportText(const Report& r) {
  std::string out;
  AddSummary(r, out);
  AddEvidence(r, out);
  AddCriteria(r, out);
  AddIncidents(r, out);
  AddChecks(r, out);
  AddAlerts(r, out);
  AddExcluded(r, out);
  AddDays(r, out);
  return out;
}

}  // namespace obsmon
