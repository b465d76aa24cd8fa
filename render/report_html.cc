// RenderReportHtml: one self-contained page (inline CSS and SVG, no script, no external asset)
// that people would rather look at than read, and that prints. Every string that comes from
// outside (component, probe names, reasons, log lines, alert text, maintenance reasons) goes
// through EscapeHtml; the Content-Security-Policy forbids scripts as a second line of defence.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/duration.h"
#include "render/report_format.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

const char* VerdictClass(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInProgress:
      return "progress";
    case Verdict::kInsufficientData:
      return "insufficient";
  }
  return "insufficient";
}

const char* StateColor(HealthState s) {
  switch (s) {
    case HealthState::kUp:
      return "#2e9d57";
    case HealthState::kDown:
      return "#d93f3f";
    case HealthState::kUnknown:
      return "url(#unknown)";
    case HealthState::kExcluded:
      return "#5b8dd9";
  }
  return "#999";
}

std::string H(std::string_view s) { return EscapeHtml(s); }

const char* CriterionTitle(const std::string& name) {
  if (name == "uptime") return "Uptime";
  if (name == "coverage") return "Coverage (known time)";
  if (name == "latency_p95") return "Latency p95";
  if (name == "integration_checks") return "Integration checks";
  if (name == "critical_lines") return "Critical log lines";
  if (name == "no_degradation") return "No degradation";
  return "Criterion";
}

// The 7-day (or any window) availability strip: one rect per state span, incidents numbered
// above it, day ticks below. x is proportional to time over [from, to).
std::string AvailabilityStrip(const Report& r) {
  constexpr double kW = 960, kLeft = 20, kTop = 28, kH = 36;
  const double span = static_cast<double>(std::max<int64_t>(1, r.to_ms - r.from_ms));
  auto x = [&](TimestampMs t) {
    return kLeft + kW * static_cast<double>(std::clamp(t, r.from_ms, r.to_ms) - r.from_ms) / span;
  };
  std::string svg = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 1000 100\" role=\"img\" "
      "aria-label=\"availability over the window\">"
      "<defs><pattern id=\"unknown\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
      "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#d5d5d5\"/>"
      "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8a8a8a\" stroke-width=\"3\"/>"
      "</pattern></defs>"
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f2f2f2\" stroke=\"#bbb\"/>",
      kLeft, kTop, kW, kH);
  for (const StateSpan& s : r.timeline) {
    // Keep very short outages visible: at least half a pixel wide.
    const double x0 = x(s.start_ms), w = std::max(x(s.end_ms) - x0, 0.5);
    svg += fmt::format(
        "<rect class=\"{}\" x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\">"
        "<title>{} {} → {} UTC ({})</title></rect>",
        HealthStateName(s.state), x0, kTop, w, kH, StateColor(s.state), HealthStateName(s.state),
        FormatUtcSeconds(s.start_ms), FormatUtcSeconds(s.end_ms),
        HumanDurationMs(s.end_ms - s.start_ms));
  }
  for (size_t i = 0; i < r.incidents.size(); ++i) {
    const double cx = x(r.incidents[i].start_ms);
    svg += fmt::format(
        "<g class=\"incident\"><path d=\"M{0:.2f},{1} l-5,-9 h10 z\" fill=\"#d93f3f\"/>"
        "<text x=\"{0:.2f}\" y=\"{2}\" text-anchor=\"middle\" font-size=\"10\">{3}</text></g>",
        cx, kTop - 1, kTop - 12, i + 1);
  }
  // Day ticks at UTC midnights.
  for (TimestampMs d = (r.from_ms / kDayMs) * kDayMs; d <= r.to_ms; d += kDayMs) {
    if (d < r.from_ms) continue;
    svg += fmt::format(
        "<line x1=\"{0:.2f}\" x2=\"{0:.2f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#555\"/>"
        "<text x=\"{0:.2f}\" y=\"{3}\" font-size=\"10\" text-anchor=\"middle\">{4}</text>",
        x(d), kTop, kTop + kH + 5, kTop + kH + 17, FormatUtcDate(d).substr(5));
  }
  if (r.evaluated_to_ms < r.to_ms) {
    svg += fmt::format(
        "<text x=\"{:.2f}\" y=\"{}\" font-size=\"10\" fill=\"#777\">not yet evaluated</text>",
        x(r.evaluated_to_ms) + 4, kTop + kH / 2 + 4);
  }
  svg += "</svg>";
  return svg;
}

// Daily uptime bars. The y axis starts just below the lowest day (or the objective) so that
// 99.5 % and 100 % look different; the objective is a dashed line.
std::string DailyBars(const Report& r) {
  constexpr double kLeft = 50, kTop = 15, kH = 150, kW = 930;
  const double objective = r.objective.uptime_percent;
  double floor_pct = objective;
  for (const auto& d : r.days) {
    if (auto u = d.totals.uptime()) floor_pct = std::min(floor_pct, *u * 100.0);
  }
  floor_pct = std::max(0.0, std::floor((floor_pct - 0.5) * 2.0) / 2.0);
  auto y = [&](double pct) {
    return kTop +
           kH * (1.0 - (std::clamp(pct, floor_pct, 100.0) - floor_pct) / (100.0 - floor_pct));
  };
  std::string svg =
      "<svg class=\"chart\" viewBox=\"0 0 1000 200\" role=\"img\" aria-label=\"daily uptime\">";
  for (double g : {floor_pct, (floor_pct + 100.0) / 2.0, 100.0}) {
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.2f}\" y2=\"{2:.2f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.2f}\" font-size=\"10\" text-anchor=\"end\">{5:.2f} %</text>",
        kLeft, kLeft + kW, y(g), kLeft - 4, y(g) + 3, g);
  }
  const size_t n = std::max<size_t>(1, r.days.size());
  const double slot = kW / static_cast<double>(n);
  for (size_t i = 0; i < r.days.size(); ++i) {
    const auto& d = r.days[i];
    const double bx = kLeft + slot * static_cast<double>(i) + slot * 0.15;
    const double bw = slot * 0.7;
    const auto u = d.totals.uptime();
    if (u) {
      const double pct = *u * 100.0;
      svg += fmt::format(
          "<rect class=\"day\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
          "fill=\"{}\"><title>{}: {}</title></rect>"
          "<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
          bx, y(pct), bw, kTop + kH - y(pct), pct >= objective ? "#2e9d57" : "#d93f3f", d.date,
          FormatPercent(u), bx + bw / 2, std::max(y(pct) - 3, 11.0), FormatPercent(u));
    } else {
      svg += fmt::format(
          "<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"11\" text-anchor=\"middle\">no data</text>",
          bx + bw / 2, kTop + kH - 4);
    }
    svg += fmt::format(
        "<text x=\"{:.2f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">Day {} ({})</text>",
        bx + bw / 2, kTop + kH + 16, i + 1, d.date.substr(5));
  }
  svg += fmt::format(
      "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.2f}\" y2=\"{2:.2f}\" stroke=\"#333\" "
      "stroke-dasharray=\"6 4\"/><text x=\"{1}\" y=\"{3:.2f}\" font-size=\"10\" "
      "text-anchor=\"end\">objective {4} %</text></svg>",
      kLeft, kLeft + kW, y(objective), y(objective) - 3, objective);
  return svg;
}

// Hourly p50 / p95 / p99 of successful health runs, with the SLA when set.
std::string LatencyChart(const Report& r) {
  constexpr double kLeft = 60, kTop = 15, kH = 170, kW = 920;
  if (r.latency_hourly.empty()) return "<p class=\"muted\">No successful health run.</p>";
  double top = 0;
  for (const auto& p : r.latency_hourly) top = std::max(top, p.latency.p99_seconds);
  if (r.objective.latency_p95_ms) top = std::max(top, *r.objective.latency_p95_ms / 1000.0);
  top = top > 0 ? top * 1.1 : 0.001;
  const double span = static_cast<double>(std::max<int64_t>(1, r.to_ms - r.from_ms));
  auto x = [&](TimestampMs t) {
    return kLeft +
           kW * static_cast<double>(std::clamp(t + 1'800'000, r.from_ms, r.to_ms) - r.from_ms) /
               span;
  };
  auto y = [&](double s) { return kTop + kH * (1.0 - s / top); };
  std::string svg =
      "<svg class=\"chart\" viewBox=\"0 0 1000 210\" role=\"img\" "
      "aria-label=\"latency percentiles per hour\">";
  for (int i = 0; i <= 4; ++i) {
    const double v = top * i / 4.0;
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.2f}\" y2=\"{2:.2f}\" stroke=\"#eee\"/>"
        "<text x=\"{3}\" y=\"{4:.2f}\" font-size=\"10\" text-anchor=\"end\">{5}</text>",
        kLeft, kLeft + kW, y(v), kLeft - 4, y(v) + 3, FormatLatency(v));
  }
  struct Series {
    const char* name;
    const char* color;
    double LatencySummary::*field;
  };
  const Series series[] = {{"p50", "#2e6fd9", &LatencySummary::p50_seconds},
                           {"p95", "#e08a1e", &LatencySummary::p95_seconds},
                           {"p99", "#b02a6a", &LatencySummary::p99_seconds}};
  int legend = 0;
  for (const auto& s : series) {
    std::string points;
    for (const auto& p : r.latency_hourly) {
      points += fmt::format("{:.2f},{:.2f} ", x(p.start_ms), y(p.latency.*(s.field)));
    }
    svg += fmt::format(
        "<polyline class=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.4\" points=\"{}\"/>"
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">{}</text>",
        s.name, s.color, points, kLeft + 10 + 50 * legend, kTop + 10, s.color, s.name);
    ++legend;
  }
  if (r.objective.latency_p95_ms) {
    const double sla = *r.objective.latency_p95_ms / 1000.0;
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.2f}\" y2=\"{2:.2f}\" stroke=\"#d93f3f\" "
        "stroke-dasharray=\"6 4\"/><text x=\"{1}\" y=\"{3:.2f}\" font-size=\"10\" "
        "text-anchor=\"end\" fill=\"#d93f3f\">p95 SLA {4}</text>",
        kLeft, kLeft + kW, y(sla), y(sla) - 3, FormatLatency(sla));
  }
  for (TimestampMs d = (r.from_ms / kDayMs) * kDayMs; d <= r.to_ms; d += kDayMs) {
    if (d < r.from_ms) continue;
    const double dx = kLeft + kW * static_cast<double>(d - r.from_ms) / span;
    svg += fmt::format(
        "<line x1=\"{0:.2f}\" x2=\"{0:.2f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#ccc\"/>"
        "<text x=\"{0:.2f}\" y=\"{3}\" font-size=\"10\" text-anchor=\"middle\">{4}</text>",
        dx, kTop, kTop + kH, kTop + kH + 14, FormatUtcDate(d).substr(5));
  }
  svg += "</svg>";
  return svg;
}

std::string LatencyCell(const LatencySummary& l, double LatencySummary::*f) {
  return l.count > 0 ? FormatLatency(l.*f) : "n/a";
}

std::string LogRow(const char* what, const std::optional<LogEvent>& e) {
  if (!e) return "";
  return fmt::format(
      "<tr><th>{}</th><td>{}</td><td>{}</td><td><code class=\"logline\">{}</code></td></tr>\n",
      what, FormatUtcSeconds(e->ts_ms), H(e->key.probe), H(e->line));
}

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
.muted{color:#666}.verdict{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px;color:#fff}
.pass{background:#2e9d57}.fail{background:#d93f3f}.progress{background:#2e6fd9}.insufficient{background:#8a6d1e}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}#days td{white-space:nowrap}.met{color:#2e9d57;font-weight:700}.unmet{color:#d93f3f;font-weight:700}
svg.chart{width:100%;height:auto;display:block}code.logline{white-space:pre-wrap;word-break:break-all;font-size:12px}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px}
section{break-inside:avoid;page-break-inside:avoid}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}a{color:inherit;text-decoration:none}@page{size:A4 landscape;margin:12mm}}
)css";

}  // namespace


std::string RenderReportHtml(const Report& r) {
  const auto& t = r.totals;
  std::string o;
  o.reserve(64 * 1024);
  const std::string title =
      r.period_id ? fmt::format("{}: observation period #{}", r.component, *r.period_id)
                  : fmt::format("{}: observation report", r.component);
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  o += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; img-src data:\">\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += fmt::format("<title>{}</title>\n<style>{}</style></head>\n<body>\n", H(title), kStyle);

  o += fmt::format(
      "<header><h1>{}</h1>\n<p class=\"muted\">{} → {} UTC{} · objective {} % · "
      "generated {} UTC</p>\n",
      H(title), FormatUtcSeconds(r.from_ms), FormatUtcSeconds(r.to_ms),
      r.in_progress() ? " · evaluated to " + FormatUtcSeconds(r.evaluated_to_ms) : std::string(),
      r.objective.uptime_percent, FormatUtcSeconds(r.now_ms));
  o +=
      fmt::format("<p><span id=\"verdict\" class=\"verdict {}\">{}</span></p>\n<ul id=\"reasons\">",
                  VerdictClass(r.verdict), VerdictName(r.verdict));
  for (const auto& reason : r.verdict_reasons) o += "<li>" + H(reason) + "</li>";
  o += "</ul></header>\n";

  o += "<section><h2>Criteria</h2><table id=\"criteria\"><tr><th>Criterion</th><th>Measured"
       "</th><th>Met</th></tr>\n";
  for (const auto& c : r.criteria) {
    o += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>\n",
                     CriterionTitle(c.name), H(c.detail), c.met ? "met" : "unmet",
                     c.met ? "✔ met" : "✘ not met");
  }
  o += "</table></section>\n";

  o += "<section><h2>Availability</h2>\n<p class=\"legend\">"
       "<span><i class=\"sw\" style=\"background:#2e9d57\"></i>up</span>"
       "<span><i class=\"sw\" style=\"background:#d93f3f\"></i>down (▼ incident)</span>"
       "<span><i class=\"sw\" style=\"background:#aaa\"></i>unknown (not monitored)</span>"
       "<span><i class=\"sw\" style=\"background:#5b8dd9\"></i>maintenance</span></p>\n";
  o += AvailabilityStrip(r);
  o += fmt::format(
      "<table><tr><th>Uptime</th><th>Coverage</th><th>Conservative</th><th>Up</th><th>Down</th>"
      "<th>Unknown</th><th>Excluded</th></tr><tr><td class=\"num\">{}</td><td class=\"num\">{}"
      "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
      "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr></table></section>\n",
      FormatPercent(t.uptime()), FormatPercent(t.coverage()), FormatPercent(t.conservative()),
      HumanDurationMs(t.up_ms), HumanDurationMs(t.down_ms), HumanDurationMs(t.unknown_ms),
      HumanDurationMs(t.excluded_ms));

  o += fmt::format(
      "<section><h2>Error budget</h2><p>Allowed <b>{}</b> ({} % of {} less maintenance), used "
      "<b>{}</b>, left <b>{}</b> ({} used).</p>\n",
      HumanDurationMs(r.budget.allowed_ms), fmt::format("{:g}", 100.0 - r.objective.uptime_percent),
      HumanDurationMs(r.to_ms - r.from_ms), HumanDurationMs(r.budget.used_ms),
      FormatSignedDuration(r.budget.left_ms), FormatPercent(r.budget.used_ratio()));
  if (r.projection) {
    const auto& p = *r.projection;
    o += fmt::format(
        "<p id=\"projection\">At the current burn rate ({}), the window ends with {} down: "
        "projected <b>{}</b> (uptime {}){}.</p>\n",
        p.burn_rate ? fmt::format("{:.2f}×", *p.burn_rate) : std::string("n/a"),
        HumanDurationMs(p.projected_down_ms), VerdictName(p.projected_verdict),
        FormatPercent(p.projected_uptime),
        p.budget_exhausted_at_ms
            ? "; the budget runs out at " + FormatUtcSeconds(*p.budget_exhausted_at_ms) + " UTC"
            : std::string());
  }
  o += "</section>\n";

  o += "<section><h2>Daily uptime</h2>\n" + DailyBars(r) + "</section>\n";
  o += "<section><h2>Latency percentiles per hour</h2>\n" + LatencyChart(r) + "</section>\n";

  o += "<section><h2>Day by day</h2><table id=\"days\"><tr><th>Day</th><th>Uptime</th>"
       "<th>Down</th><th>Unknown</th><th>Incidents</th><th>Errors</th><th>Criticals</th>"
       "<th>Checks passed/failed</th><th>p50</th><th>p95</th><th>p99</th></tr>\n";
  for (size_t i = 0; i < r.days.size(); ++i) {
    const auto& d = r.days[i];
    o += fmt::format(
        "<tr><td>Day {} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        i + 1, d.date, FormatPercent(d.totals.uptime()), HumanDurationMs(d.totals.down_ms),
        HumanDurationMs(d.totals.unknown_ms), d.incidents, d.errors, d.criticals, d.checks_passed,
        d.checks_failed, LatencyCell(d.latency, &LatencySummary::p50_seconds),
        LatencyCell(d.latency, &LatencySummary::p95_seconds),
        LatencyCell(d.latency, &LatencySummary::p99_seconds));
  }
  o += "</table></section>\n";

  o += fmt::format("<section><h2>Incidents ({})</h2>\n", r.incidents.size());
  if (r.incidents.empty()) {
    o += "<p>No incidents.</p>";
  } else {
    o += "<table id=\"incidents\"><tr><th>#</th><th>Start (UTC)</th><th>End (UTC)</th>"
         "<th>Duration</th><th>Failing probes</th><th>First reason</th></tr>\n";
    for (size_t i = 0; i < r.incidents.size(); ++i) {
      const auto& inc = r.incidents[i];
      o += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>"
          "<td>{}: {}</td></tr>\n",
          i + 1, FormatUtcSeconds(inc.start_ms),
          inc.ongoing ? std::string("ongoing") : FormatUtcSeconds(inc.end_ms),
          HumanDurationMs(inc.duration_ms()), H(fmt::format("{}", fmt::join(inc.probes, ", "))),
          H(inc.first_probe),
          inc.first_reason.empty() ? "(no reason recorded)" : H(inc.first_reason));
    }
    o += "</table>";
  }
  o += "</section>\n";

  if (!r.checks.empty()) {
    o += "<section><h2>Integration checks</h2><table id=\"checks\"><tr><th>Check</th><th>Runs"
         "</th><th>Passed</th><th>Failed</th><th>Pass rate</th><th>First failure</th></tr>\n";
    for (const auto& c : r.checks) {
      o += fmt::format(
          "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}"
          "</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
          H(c.probe), c.runs, c.passed, c.failed, FormatPercent(c.pass_rate()),
          c.first_failure_ms
              ? FormatUtcSeconds(*c.first_failure_ms) + ": " + H(c.first_failure_reason)
              : std::string("-"));
    }
    o += "</table></section>\n";
  }

  o += fmt::format("<section><h2>Log lines</h2><p>{}{} critical, {}{} error lines matched.</p>\n",
                   r.logs.truncated ? "at least " : "", r.logs.critical,
                   r.logs.truncated ? "at least " : "", r.logs.error);
  if (r.logs.critical + r.logs.error > 0) {
    o +=
        "<table id=\"loglines\"><tr><th></th><th>Time (UTC)</th><th>Probe</th><th>Line</th></tr>\n";
    o += LogRow("First critical", r.logs.first_critical);
    o += LogRow("Last critical", r.logs.last_critical);
    o += LogRow("First error", r.logs.first_error);
    o += LogRow("Last error", r.logs.last_error);
    o += "</table>";
  }
  o += "</section>\n";

  o += fmt::format("<section><h2>Alerts fired ({})</h2>\n", r.alerts.size());
  if (!r.alerts.empty()) {
    o += "<table id=\"alerts\"><tr><th>Alert</th><th>Fired (UTC)</th><th>Resolved (UTC)</th>"
         "<th>Summary</th></tr>\n";
    for (const auto& a : r.alerts) {
      o += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", H(a.rule),
                       FormatUtcSeconds(a.fired_ms),
                       a.resolved_ms ? FormatUtcSeconds(*a.resolved_ms) : std::string("-"),
                       H(a.summary));
    }
    o += "</table>";
  }
  o += "</section>\n";

  if (!r.excluded.empty()) {
    o += "<section><h2>Maintenance (excluded)</h2><ul id=\"maintenance\">";
    if (!r.maintenance.empty()) {
      for (const auto& m : r.maintenance) {
        o += fmt::format("<li>{} → {} UTC ({}): {}</li>", FormatUtcSeconds(m.start_ms),
                         FormatUtcSeconds(m.end_ms), HumanDurationMs(m.end_ms - m.start_ms),
                         m.reason.empty() ? "(no reason given)" : H(m.reason));
      }
    } else {
      for (const auto& iv : r.excluded) {
        o += fmt::format("<li>{} → {} UTC ({})</li>", FormatUtcSeconds(iv.start_ms),
                         FormatUtcSeconds(iv.end_ms), HumanDurationMs(iv.length_ms()));
      }
    }
    o += "</ul></section>\n";
  }

  o += fmt::format("<section><h2>obsmon's own gaps ({}, {} unknown)</h2>\n", r.gaps.size(),
                   HumanDurationMs(t.unknown_ms));
  if (!r.gaps.empty()) {
    std::vector<TimeInterval> gaps = r.gaps;
    std::stable_sort(gaps.begin(), gaps.end(), [](const TimeInterval& a, const TimeInterval& b) {
      return a.length_ms() > b.length_ms();
    });
    o += "<ul id=\"gaps\">";
    for (size_t i = 0; i < gaps.size() && i < 10; ++i) {
      o += fmt::format("<li>{} → {} UTC ({})</li>", FormatUtcSeconds(gaps[i].start_ms),
                       FormatUtcSeconds(gaps[i].end_ms), HumanDurationMs(gaps[i].length_ms()));
    }
    if (gaps.size() > 10) o += fmt::format("<li>… and {} shorter</li>", gaps.size() - 10);
    o += "</ul>";
  }
  o += fmt::format(
      "</section>\n<footer class=\"muted\"><p>Health probes: {}. Uptime = up / (up + "
      "down); coverage = known / (window − maintenance); unknown time is never "
      "counted as up.</p></footer>\n</body></html>\n",
      H(fmt::format("{}", fmt::join(r.health_probes, ", "))));
  return o;
}

}  // namespace obsmon
