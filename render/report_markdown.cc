// RenderReportMarkdown: a Report shaped to paste into a promotion issue, whose template has
// "### Day N (date)" sections and a "### Final Assessment (date)" (see the seeds). Every text that
// comes from a probe goes through EscapeMarkdown.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/duration.h"
#include "core/text_escape.h"
#include "render/report_format.h"
#include "report/period_days.h"

namespace obsmon {
namespace {

const char* Mark(bool met) { return met ? "✅" : "❌"; }

const char* VerdictMark(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "✅";
    case Verdict::kFail:
      return "❌";
    case Verdict::kInProgress:
      return "⏳";
    case Verdict::kInsufficientData:
      return "⚠️";
  }
  return "";
}

std::string Reason(const std::string& s) {
  return s.empty() ? "(no reason recorded)" : EscapeMarkdown(s);
}

// Target and measured cells of a criterion row.
std::pair<std::string, std::string> Cells(const Report& r, const Criterion& c) {
  if (c.name == "uptime" || c.name == "coverage") {
    return {"≥ " + FormatPercent(c.threshold), FormatPercent(c.value)};
  }
  if (c.name == "latency_p95") {
    return {"≤ " + FormatLatency(c.threshold), c.value ? FormatLatency(*c.value) : "n/a"};
  }
  if (c.name == "critical_lines") {
    return {"0", fmt::format("{}{}", r.logs.truncated ? "≥ " : "", r.logs.critical)};
  }
  if (c.name == "no_degradation") {
    return {fmt::format("p95 last/first day ≤ +{:.1f} %", c.threshold * 100.0),
            c.value ? fmt::format("{:+.1f} %", *c.value * 100.0) : "n/a"};
  }
  uint64_t runs = 0, passed = 0;
  for (const auto& k : r.checks) {
    runs += k.runs;
    passed += k.passed;
  }
  return {"100 % pass", fmt::format("{}/{} passed", passed, runs)};
}

std::string Latency(const LatencySummary& l) {
  if (l.count == 0) return "n/a";
  return fmt::format("p50: {}, p95: {}, p99: {}", FormatLatency(l.p50_seconds),
                     FormatLatency(l.p95_seconds), FormatLatency(l.p99_seconds));
}

std::string LogLine(const char* what, const std::optional<LogEvent>& e) {
  if (!e) return "";
  return fmt::format("- {}: {} UTC ({}): {}\n", what, FormatUtcSeconds(e->ts_ms),
                     EscapeMarkdown(e->key.probe),
                     EscapeMarkdown(EscapeControlAndInvalidUtf8(e->line)));  // NUL: \x00
}

void Line(std::string& out, const std::string& s) {
  out += s;
  out += '\n';
}

void AddCriteriaTable(const Report& r, std::string& out) {
  Line(out, "| Criterion | Target | Measured | Met |");
  Line(out, "|-----------|--------|----------|-----|");
  for (const auto& c : r.criteria) {
    auto [target, measured] = Cells(r, c);
    Line(out, fmt::format("| {} | {} | {} | {} |", CriterionTitle(c.name), target, measured,
                          Mark(c.met)));
  }
  Line(out, "");
}

// The title, the verdict with its reasons, and the criteria table.
void AddVerdict(const Report& r, std::string& out) {
  if (r.period_id) {
    Line(out,
         fmt::format("## Observation period #{}: {}", *r.period_id, EscapeMarkdown(r.component)));
  } else {
    Line(out, fmt::format("## Observation report: {}", EscapeMarkdown(r.component)));
  }
  Line(out, "");
  Line(out,
       fmt::format("**Verdict: {} {}** ({} → {} UTC{})", VerdictMark(r.verdict),
                   VerdictName(r.verdict), FormatUtcSeconds(r.from_ms), FormatUtcSeconds(r.to_ms),
                   r.in_progress()
                       ? fmt::format(", evaluated to {}", FormatUtcSeconds(r.evaluated_to_ms))
                       : ""));
  Line(out, "");
  for (const auto& reason : r.verdict_reasons) Line(out, "- " + EscapeMarkdown(reason));
  Line(out, "");
  AddCriteriaTable(r, out);
}

// The projection's row of the figures table (the caller checks there is one).
std::string ProjectionRow(const BurnProjection& p) {
  return fmt::format("| Projection (current burn rate{}) | {} down at the end, uptime {}: {}{} |",
                     p.burn_rate ? fmt::format(" {:.2f}x", *p.burn_rate) : std::string(),
                     HumanDurationMs(p.projected_down_ms), FormatPercent(p.projected_uptime),
                     VerdictName(p.projected_verdict),
                     p.budget_exhausted_at_ms
                         ? ", budget exhausted at " + FormatUtcSeconds(*p.budget_exhausted_at_ms)
                         : std::string());
}

// Uptime and response time, then the table of figures.
void AddFigures(const Report& r, std::string& out) {
  const auto& t = r.totals;
  Line(out, fmt::format("**Uptime**: {} over {} (objective {})", FormatPercent(t.uptime()),
                        HumanDurationMs(t.window_ms),
                        FormatPercent(r.objective.uptime_percent / 100.0)));
  for (const auto& p : r.latency_by_probe) {
    Line(out, fmt::format("**Response Time** ({}{}): {}  ", EscapeMarkdown(p.probe),
                          p.sla ? ", SLA" : "", Latency(p.latency)));
  }
  Line(out, fmt::format("**Response Time** (all health probes, pooled): {}", Latency(r.latency)));
  Line(out, "");
  Line(out, "| Figure | Value |");
  Line(out, "|--------|-------|");
  Line(out, fmt::format("| Up | {} |", HumanDurationMs(t.up_ms)));
  Line(out, fmt::format("| Down | {} |", HumanDurationMs(t.down_ms)));
  Line(out, fmt::format("| Unknown (not monitored) | {} |", HumanDurationMs(t.unknown_ms)));
  Line(out, fmt::format("| Excluded (maintenance) | {} |", HumanDurationMs(t.excluded_ms)));
  Line(out, fmt::format("| Coverage | {} |", FormatPercent(t.coverage())));
  Line(out, fmt::format("| Conservative uptime | {} |", FormatPercent(t.conservative())));
  Line(out, fmt::format("| Error budget | allowed {}, used {}, left {} |",
                        HumanDurationMs(r.budget.allowed_ms), HumanDurationMs(r.budget.used_ms),
                        FormatSignedDuration(r.budget.left_ms)));
  if (r.projection) Line(out, ProjectionRow(*r.projection));
  if (!r.logs.unavailable.empty()) {
    Line(out, fmt::format("| Critical / error log lines | not known: {} |",
                          EscapeMarkdown(r.logs.unavailable)));
  } else {
    Line(out,
         fmt::format("| Critical / error log lines | {}{} / {}{} |", r.logs.truncated ? "≥ " : "",
                     r.logs.critical, r.logs.truncated ? "≥ " : "", r.logs.error));
  }
  Line(out, fmt::format("| Alerts fired | {} |", r.AlertCount()));
  Line(out,
       fmt::format("| Monitoring gaps | {} ({}) |", r.GapCount(), HumanDurationMs(t.unknown_ms)));
  Line(out, fmt::format("| Health probes | {} |",
                        r.health_probes.empty()
                            ? std::string("-")
                            : EscapeMarkdown(fmt::format("{}", fmt::join(r.health_probes, ", ")))));
  Line(out, "");
}

void AddIncidents(const Report& r, std::string& out) {
  Line(out, fmt::format("### Incidents ({})",
                        ListedCount(r.incidents.size(), r.incidents_not_listed)));
  Line(out, "");
  if (r.incidents.empty()) {
    Line(out, "No incidents.");
  } else {
    Line(out, "| # | Start (UTC) | End (UTC) | Duration | Failing probes | First reason |");
    Line(out, "|---|-------------|-----------|----------|----------------|--------------|");
    for (size_t i = 0; i < r.incidents.size(); ++i) {
      const auto& inc = r.incidents[i];
      Line(out, fmt::format("| {} | {}{} | {} | {} | {} | {}: {} |", IncidentNumber(r, i),
                            FormatUtcSeconds(inc.start_ms),
                            inc.began_before_window ? " (before window)" : "",
                            inc.ongoing ? std::string("ongoing") : FormatUtcSeconds(inc.end_ms),
                            HumanDurationMs(inc.duration_ms()),
                            EscapeMarkdown(fmt::format("{}", fmt::join(inc.probes, ", "))),
                            EscapeMarkdown(inc.first_probe), Reason(inc.first_reason)));
    }
  }
  Line(out, "");
}

void AddChecks(const Report& r, std::string& out) {
  if (r.checks.empty()) return;
  Line(out, "### Integration checks");
  Line(out, "");
  Line(out, "| Check | Runs | Passed | Failed | Pass rate | First failure |");
  Line(out, "|-------|------|--------|--------|-----------|---------------|");
  for (const auto& c : r.checks) {
    Line(out, fmt::format("| {} | {} | {} | {} | {} | {} |", EscapeMarkdown(c.probe), c.runs,
                          c.passed, c.failed, FormatPercent(c.pass_rate()),
                          c.first_failure_ms ? FormatUtcSeconds(*c.first_failure_ms) + ": " +
                                                   Reason(c.first_failure_reason)
                                             : std::string("-")));
  }
  Line(out, "");
}

void AddLogLines(const Report& r, std::string& out) {
  if (r.logs.critical + r.logs.error == 0) return;
  Line(out, "### Log lines");
  Line(out, "");
  out += LogLine("First critical", r.logs.first_critical);
  // With lines dropped by a cap, the last kept one need not be the last one written.
  out += LogLine(r.logs.truncated ? "Last critical kept" : "Last critical", r.logs.last_critical);
  out += LogLine("First error", r.logs.first_error);
  out += LogLine(r.logs.truncated ? "Last error kept" : "Last error", r.logs.last_error);
  Line(out, "");
}

// Carbon emissions and resource usage, each when the report has them.
void AddUsage(const Report& r, std::string& out) {
  if (!r.usage.emissions.empty()) {
    Line(out, "### Carbon emissions");
    Line(out, "");
    Line(out, "| Project | Emissions (kg CO2eq) | Energy (kWh) |");
    Line(out, "|---------|----------------------|--------------|");
    for (const auto& e : r.usage.emissions) {
      Line(out, fmt::format("| {} | {:.6f} | {:.6f} |", EscapeMarkdown(e.project), e.emissions_kg,
                            e.energy_kwh));
    }
    Line(out, "");
  }
  if (const auto& res = r.usage.resources) {
    auto fig = [](const std::optional<double>& v, const char* unit) {
      return v ? fmt::format("{:.1f} {}", *v, unit) : std::string("n/a");
    };
    Line(out, "### Resource usage");
    Line(out, "");
    Line(out, fmt::format("- CPU: p50 {}, p95 {} ({} samples)", fig(res->cpu_p50_percent, "%"),
                          fig(res->cpu_p95_percent, "%"), res->cpu_samples));
    Line(out, fmt::format("- Memory: p50 {}, max {} ({} samples)", fig(res->memory_p50_mb, "MB"),
                          fig(res->memory_max_mb, "MB"), res->memory_samples));
    Line(out, fmt::format("- Restarts: {:.0f}", res->restarts));
    Line(out, "");
  }
}

void AddAlerts(const Report& r, std::string& out) {
  if (r.alerts.empty()) return;
  Line(out,
       fmt::format("### Alerts fired ({})", ListedCount(r.alerts.size(), r.alerts_not_listed)));
  Line(out, "");
  Line(out, "| Alert | Fired (UTC) | Resolved (UTC) | Fired in maintenance | Summary |");
  Line(out, "|-------|-------------|----------------|----------------------|---------|");
  for (const auto& a : r.alerts) {
    Line(out,
         fmt::format("| {} | {} | {} | {} | {} |", EscapeMarkdown(a.rule),
                     FormatUtcSeconds(a.fired_ms),
                     a.resolved_ms ? FormatUtcSeconds(*a.resolved_ms) : std::string("-"),
                     a.maintenance ? EscapeMarkdown(MaintenanceReason(*a.maintenance))
                                   : std::string("-"),
                     a.summary.empty() ? std::string("-") : EscapeMarkdown(a.summary)));
  }
  Line(out, "");
}

// The maintenance windows with their reasons when known, else the bare excluded intervals.
void AddExcluded(const Report& r, std::string& out) {
  if (r.excluded.empty()) return;
  Line(out, "### Maintenance (excluded)");
  Line(out, "");
  if (!r.maintenance.empty()) {
    for (const auto& m : r.maintenance) {
      Line(out, fmt::format("- {} → {} UTC ({}): {}", FormatUtcSeconds(m.start_ms),
                            FormatUtcSeconds(m.end_ms), HumanDurationMs(m.end_ms - m.start_ms),
                            EscapeMarkdown(MaintenanceReason(m))));
    }
  } else {
    for (const auto& iv : r.excluded) {
      Line(out, fmt::format("- {} → {} UTC ({})", FormatUtcSeconds(iv.start_ms),
                            FormatUtcSeconds(iv.end_ms), HumanDurationMs(iv.length_ms())));
    }
  }
  Line(out, "");
}

void AddGaps(const Report& r, std::string& out) {
  if (r.gaps.empty()) return;
  // The longest gaps first: the ones worth explaining.
  constexpr size_t kListed = 10;
  std::vector<TimeInterval> gaps = r.gaps;
  std::stable_sort(gaps.begin(), gaps.end(), [](const TimeInterval& a, const TimeInterval& b) {
    return a.length_ms() > b.length_ms();
  });
  Line(out, fmt::format("### Monitoring gaps ({}, {} unknown)", r.GapCount(),
                        HumanDurationMs(r.totals.unknown_ms)));
  Line(out, "");
  for (size_t i = 0; i < gaps.size() && i < kListed; ++i) {
    Line(out, fmt::format("- {} → {} UTC ({})", FormatUtcSeconds(gaps[i].start_ms),
                          FormatUtcSeconds(gaps[i].end_ms), HumanDurationMs(gaps[i].length_ms())));
  }
  const size_t shown = std::min(gaps.size(), kListed);
  if (r.GapCount() > shown) Line(out, fmt::format("- … and {} shorter", r.GapCount() - shown));
  Line(out, "");
}

// The longest ten incidents that began in day `d` (ties: the earlier), by start, each with its
// first failing probe and reason: a day of a thousand one-second blips still shows its outage,
// whichever of the window's incidents the report lists (DaySummary::longest_incidents).
void AddDayIncidents(const DaySummary& d, std::string& out) {
  for (const Incident& inc : d.longest_incidents) {
    Line(out, fmt::format("  - {} UTC, {}{}: {}: {}", FormatUtcSeconds(inc.start_ms),
                          HumanDurationMs(inc.duration_ms()), inc.ongoing ? " (ongoing)" : "",
                          EscapeMarkdown(inc.first_probe), Reason(inc.first_reason)));
  }
  // The day counts the incidents the report does not list too (ReportOptions::max_listed).
  if (d.incidents > d.longest_incidents.size()) {
    Line(out, fmt::format("  - … and {} more, none longer",
                          d.incidents - d.longest_incidents.size()));
  }
}

// The figures of one day: the body of its "### Day N" section and of its comment.
void AddDayFigures(const Report& r, const DaySummary& d, std::string& out) {
  Line(out, fmt::format("- Uptime: {} (down {}, unknown {}{})", FormatPercent(d.totals.uptime()),
                        HumanDurationMs(d.totals.down_ms), HumanDurationMs(d.totals.unknown_ms),
                        d.totals.excluded_ms > 0
                            ? ", excluded " + HumanDurationMs(d.totals.excluded_ms)
                            : std::string()));
  Line(out, fmt::format("- Incidents: {}", d.incidents));
  AddDayIncidents(d, out);
  if (!r.logs.unavailable.empty()) {
    Line(out, "- Log lines: not known (no log evidence)");
  } else {
    Line(out, fmt::format("- Log lines: {}{} critical, {} error",
                          r.logs.truncated ? "at least " : "", d.criticals, d.errors));
  }
  Line(out, fmt::format("- Integration checks: {} passed, {} failed", d.checks_passed,
                        d.checks_failed));
  Line(out, fmt::format("- Latency: {}", Latency(d.latency)));
}

void AddDayHeading(const DaySummary& d, std::string& out) {
  Line(out, fmt::format("### Day {} ({})", d.number, d.date));
  Line(out, fmt::format("_{}{}_", EscapeMarkdown(d.label), d.complete() ? "" : " (so far)"));
  Line(out, "");
}

// One "### Day N (date)" section per day, as the promotion issue's template has them.
void AddDays(const Report& r, std::string& out) {
  for (const auto& d : r.days) {
    AddDayHeading(d, out);
    AddDayFigures(r, d, out);
    Line(out, "");
  }
}

// The closing "### Final Assessment (date)" (or "Assessment so far" while in progress).
void AddAssessment(const Report& r, std::string& out) {
  Line(out, fmt::format("### {} ({})", r.in_progress() ? "Assessment so far" : "Final Assessment",
                        FormatUtcDate(r.in_progress() ? r.evaluated_to_ms : r.to_ms)));
  Line(out, fmt::format("{} **{}**", VerdictMark(r.verdict), VerdictName(r.verdict)));
  for (const auto& reason : r.verdict_reasons) Line(out, "- " + EscapeMarkdown(reason));
}

}  // namespace

std::string RenderDayMarkdown(const Report& r, const DaySummary& d) {
  std::string out;
  AddDayHeading(d, out);
  AddDayFigures(r, d, out);
  const DayStatus status = StatusOf(r);
  const std::vector<std::string> reasons = StatusReasons(r);
  Line(out, fmt::format("- Status: **{}**{}", DayStatusName(status), reasons.empty() ? "" : ":"));
  for (const auto& reason : reasons) Line(out, "  - " + EscapeMarkdown(reason));
  return out;
}

std::string RenderAssessmentMarkdown(const Report& r) {
  std::string out;
  AddAssessment(r, out);
  Line(out, "");
  AddCriteriaTable(r, out);
  return out;
}

std::string RenderReportMarkdown(const Report& r) {
  std::string out;
  AddVerdict(r, out);
  AddFigures(r, out);
  AddIncidents(r, out);
  AddChecks(r, out);
  AddLogLines(r, out);
  AddUsage(r, out);
  AddAlerts(r, out);
  AddExcluded(r, out);
  AddGaps(r, out);
  AddDays(r, out);
  AddAssessment(r, out);
  return out;
}

}  // namespace obsmon
