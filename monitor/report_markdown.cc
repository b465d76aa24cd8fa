// RenderReportMarkdown: a Report shaped to paste into a promotion issue, whose template has
// "### Day N (date)" sections and a "### Final Assessment (date)" (see the seeds). Every text that
// comes from a probe goes through EscapeMarkdown.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/duration.h"
#include "monitor/report_format.h"

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
  uint64_t runs = 0, passed = 0;
  for (const auto& k : r.checks) {
    runs += k.runs;
    passed += k.passed;
  }
  return {"100 % pass", fmt::format("{}/{} passed", passed, runs)};
}

const char* CriterionTitle(const std::string& name) {
  if (name == "uptime") return "Uptime";
  if (name == "coverage") return "Coverage (known time)";
  if (name == "latency_p95") return "Latency p95";
  if (name == "integration_checks") return "Integration checks";
  return "?";
}

std::string Latency(const LatencySummary& l) {
  if (l.count == 0) return "n/a";
  return fmt::format("p50: {}, p95: {}, p99: {}", FormatLatency(l.p50_seconds),
                     FormatLatency(l.p95_seconds), FormatLatency(l.p99_seconds));
}

}  // namespace

std::string RenderReportMarkdown(const Report& r) {
  std::string out;
  auto line = [&out](const std::string& s) {
    out += s;
    out += '\n';
  };
  const auto& t = r.totals;
  line(fmt::format("## Observation report: {}", EscapeMarkdown(r.component)));
  line("");
  line(fmt::format("**Verdict: {} {}** ({} → {} UTC{})", VerdictMark(r.verdict),
                   VerdictName(r.verdict), FormatUtcSeconds(r.from_ms), FormatUtcSeconds(r.to_ms),
                   r.in_progress()
                       ? fmt::format(", evaluated to {}", FormatUtcSeconds(r.evaluated_to_ms))
                       : ""));
  line("");
  for (const auto& reason : r.verdict_reasons) line("- " + EscapeMarkdown(reason));
  line("");
  line("| Criterion | Target | Measured | Met |");
  line("|-----------|--------|----------|-----|");
  for (const auto& c : r.criteria) {
    auto [target, measured] = Cells(r, c);
    line(fmt::format("| {} | {} | {} | {} |", CriterionTitle(c.name), target, measured,
                     Mark(c.met)));
  }
  line("");
  line(fmt::format("**Uptime**: {} over {} (objective {})", FormatPercent(t.uptime()),
                   HumanDurationMs(t.window_ms), FormatPercent(r.objective.uptime_percent / 100.0)));
  line(fmt::format("**Response Time**: {}", Latency(r.latency)));
  line("");
  line("| Figure | Value |");
  line("|--------|-------|");
  line(fmt::format("| Up | {} |", HumanDurationMs(t.up_ms)));
  line(fmt::format("| Down | {} |", HumanDurationMs(t.down_ms)));
  line(fmt::format("| Unknown (not monitored) | {} |", HumanDurationMs(t.unknown_ms)));
  line(fmt::format("| Excluded (maintenance) | {} |", HumanDurationMs(t.excluded_ms)));
  line(fmt::format("| Coverage | {} |", FormatPercent(t.coverage())));
  line(fmt::format("| Conservative uptime | {} |", FormatPercent(t.conservative())));
  line(fmt::format("| Error budget | allowed {}, used {}, left {} |",
                   HumanDurationMs(r.budget.allowed_ms), HumanDurationMs(r.budget.used_ms),
                   FormatSignedDuration(r.budget.left_ms)));
  line(fmt::format("| Health probes | {} |",
                   r.health_probes.empty() ? std::string("-")
                                           : EscapeMarkdown(fmt::format(
                                                 "{}", fmt::join(r.health_probes, ", ")))));
  line("");

  line(fmt::format("### Incidents ({})", r.incidents.size()));
  line("");
  if (r.incidents.empty()) {
    line("No incidents.");
  } else {
    line("| # | Start (UTC) | End (UTC) | Duration | Failing probes | First reason |");
    line("|---|-------------|-----------|----------|----------------|--------------|");
    for (size_t i = 0; i < r.incidents.size(); ++i) {
      const auto& inc = r.incidents[i];
      line(fmt::format("| {} | {}{} | {} | {} | {} | {}: {} |", i + 1,
                       FormatUtcSeconds(inc.start_ms),
                       inc.began_before_window ? " (before window)" : "",
                       inc.ongoing ? std::string("ongoing") : FormatUtcSeconds(inc.end_ms),
                       HumanDurationMs(inc.duration_ms()),
                       EscapeMarkdown(fmt::format("{}", fmt::join(inc.probes, ", "))),
                       EscapeMarkdown(inc.first_probe), Reason(inc.first_reason)));
    }
  }
  line("");

  if (!r.checks.empty()) {
    line("### Integration checks");
    line("");
    line("| Check | Runs | Passed | Failed | Pass rate | First failure |");
    line("|-------|------|--------|--------|-----------|---------------|");
    for (const auto& c : r.checks) {
      line(fmt::format("| {} | {} | {} | {} | {} | {} |", EscapeMarkdown(c.probe), c.runs,
                       c.passed, c.failed, FormatPercent(c.pass_rate()),
                       c.first_failure_ms ? FormatUtcSeconds(*c.first_failure_ms) + ": " +
                                                Reason(c.first_failure_reason)
                                          : std::string("-")));
    }
    line("");
  }

  if (!r.excluded.empty()) {
    line("### Maintenance (excluded)");
    line("");
    for (const auto& iv : r.excluded) {
      line(fmt::format("- {} → {} UTC ({})", FormatUtcSeconds(iv.start_ms),
                       FormatUtcSeconds(iv.end_ms), HumanDurationMs(iv.length_ms())));
    }
    line("");
  }

  for (size_t i = 0; i < r.days.size(); ++i) {
    const auto& d = r.days[i];
    line(fmt::format("### Day {} ({})", i + 1, d.date));
    line(fmt::format("- Uptime: {} (down {}, unknown {}{})", FormatPercent(d.totals.uptime()),
                     HumanDurationMs(d.totals.down_ms), HumanDurationMs(d.totals.unknown_ms),
                     d.totals.excluded_ms > 0
                         ? ", excluded " + HumanDurationMs(d.totals.excluded_ms)
                         : std::string()));
    line(fmt::format("- Incidents: {}", d.incidents));
    line(fmt::format("- Integration checks: {} passed, {} failed", d.checks_passed,
                     d.checks_failed));
    line(fmt::format("- Latency: {}", Latency(d.latency)));
    line("");
  }

  line(fmt::format("### {} ({})", r.in_progress() ? "Assessment so far" : "Final Assessment",
                   FormatUtcDate(r.in_progress() ? r.evaluated_to_ms : r.to_ms)));
  line(fmt::format("{} **{}**", VerdictMark(r.verdict), VerdictName(r.verdict)));
  for (const auto& reason : r.verdict_reasons) line("- " + EscapeMarkdown(reason));
  return out;
}

}  // namespace obsmon
