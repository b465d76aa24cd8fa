// RenderReportHtml: one self-contained page (inline CSS and SVG, no script, no external asset)
// that people would rather look at than read, and that prints. The page is a mustache template
// (render/templates/report_html.mustache.h) whose `{{x}}` goes through EscapeHtml, so every string
// from outside (component, probe names, reasons, log lines, alert text, maintenance reasons) is
// escaped by default; the steps below build its view. The charts are SVG drawn here from numbers
// and fixed words. The Content-Security-Policy forbids scripts as a second line of defence.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/duration.h"
#include "render/html_template.h"
#include "render/report_format.h"
#include "render/status_bar.h"
#include "render/templates/report_html.mustache.h"
#include "report/overview_report.h"
#include "report/report_uptime_fold.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

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

// The strip's columns when a window has more state spans than the strip has pixels (a week of a
// component flapping every 30 s: 40,000 of them, 9 MB of SVG and most of the page's memory):
// one rect a pixel of evaluated time, in the state of its totals as the overview's cells
// (CellState: any down time is down), titled with them.
// The columns are report/report_uptime_fold.h's StripBounds, which a timeline kept per stretch
// (Report::timeline_per_stretch) has for bounds: its columns are exact.
std::string StripColumns(const Report& r, double left, double width, double top, double height) {
  const double span = static_cast<double>(std::max<int64_t>(1, r.to_ms - r.from_ms));
  const std::vector<TimestampMs> bounds = StripBounds(r.from_ms, r.to_ms, r.evaluated_to_ms);
  const std::vector<UptimeTotals> totals = TotalsPerStretch(r.timeline, bounds);
  std::string svg;
  for (size_t b = 0; b < totals.size(); ++b) {
    const UptimeTotals& t = totals[b];
    const std::string cell = CellState(t);
    const HealthState state = cell == "down"          ? HealthState::kDown
                              : cell == "up"          ? HealthState::kUp
                              : cell == "maintenance" ? HealthState::kExcluded
                                                      : HealthState::kUnknown;
    const double x0 = left + width * static_cast<double>(bounds[b] - r.from_ms) / span;
    const double x1 = left + width * static_cast<double>(bounds[b + 1] - r.from_ms) / span;
    svg += fmt::format(
        "<rect class=\"{}\" x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\">"
        "<title>{} → {} UTC: up {}, down {}, unknown {}, maintenance {}</title></rect>",
        HealthStateName(state), x0, top, std::max(x1 - x0, 0.5), height, StateColor(state),
        FormatUtcSeconds(bounds[b]), FormatUtcSeconds(bounds[b + 1]), HumanDurationMs(t.up_ms),
        HumanDurationMs(t.down_ms), HumanDurationMs(t.unknown_ms),
        HumanDurationMs(t.excluded_ms));
  }
  return svg;
}

// The 7-day (or any window) availability strip: one rect per state span (per pixel of time when
// the spans outnumber the strip's pixels: StripColumns), incidents numbered above it, day ticks
// below. x is proportional to time over [from, to).
std::string AvailabilityStrip(const Report& r) {
  constexpr double kW = kStripColumns, kLeft = 20, kTop = 28, kH = 36;
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
  if (r.timeline_per_stretch || r.timeline.size() > static_cast<size_t>(kW)) {
    svg += StripColumns(r, kLeft, kW, kTop, kH);
  } else {
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
  }
  for (size_t i = 0; i < r.incidents.size(); ++i) {
    const double cx = x(r.incidents[i].start_ms);
    svg += fmt::format(
        "<g class=\"incident\"><path d=\"M{0:.2f},{1} l-5,-9 h10 z\" fill=\"#d93f3f\"/>"
        "<text x=\"{0:.2f}\" y=\"{2}\" text-anchor=\"middle\" font-size=\"10\">{3}</text></g>",
        cx, kTop - 1, kTop - 12, IncidentNumber(r, i));
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

// A dot at the one point of `points` ("x,y ").
std::string Marker(const char* name, const char* color, const std::string& points) {
  const size_t comma = points.find(',');
  const size_t end = points.find(' ');
  if (comma == std::string::npos || end == std::string::npos) return "";
  return fmt::format("<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"/>", name,
                     points.substr(0, comma), points.substr(comma + 1, end - comma - 1), color);
}

// Hourly p50 / p95 / p99 of successful runs of the SLA's probes, with the SLA when set.
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
    // One hour of data is one point, which a polyline does not draw: a marker shows it.
    if (r.latency_hourly.size() == 1) svg += Marker(s.name, s.color, points);
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

using render_detail::View;
using render_detail::ViewList;

std::string Str(uint64_t n) { return std::to_string(n); }

View LatencyRow(const LatencySummary& l) {
  View row;
  row.set("count", fmt::format("{}", l.count));
  row.set("p50", LatencyCell(l, &LatencySummary::p50_seconds));
  row.set("p95", LatencyCell(l, &LatencySummary::p95_seconds));
  row.set("p99", LatencyCell(l, &LatencySummary::p99_seconds));
  row.set("max", LatencyCell(l, &LatencySummary::max_seconds));
  return row;
}

// Each health probe's latency, then the pooled figure, labelled as such.
void AddLatencyView(const Report& r, View& v) {
  View rows = ViewList();
  for (const auto& p : r.latency_by_probe) {
    View row = LatencyRow(p.latency);
    row.set("probe", p.probe);
    row.set("sla", p.sla);
    rows.push_back(row);
  }
  v.set("latency_by_probe", rows);
  v.set("pooled", LatencyRow(r.latency));
  v.set("latency_chart_probes",
        r.objective.latency_probes.empty()
            ? std::string("all health probes, pooled")
            : fmt::format("{}", fmt::join(r.objective.latency_probes, ", ")));
}

// The page's head: title, window, verdict and its reasons, and the criteria.
void AddHeaderView(const Report& r, View& v) {
  v.set("title", r.period_id ? fmt::format("{}: observation period #{}", r.component, *r.period_id)
                             : fmt::format("{}: observation report", r.component));
  v.set("from", FormatUtcSeconds(r.from_ms));
  v.set("to", FormatUtcSeconds(r.to_ms));
  v.set("in_progress", r.in_progress());
  v.set("evaluated_to", FormatUtcSeconds(r.evaluated_to_ms));
  v.set("objective_percent", fmt::format("{}", r.objective.uptime_percent));
  v.set("now", FormatUtcSeconds(r.now_ms));
  v.set("verdict_class", render_detail::VerdictClass(r.verdict));
  v.set("verdict", VerdictName(r.verdict));
  View reasons = ViewList();
  for (const auto& reason : r.verdict_reasons) reasons.push_back(View("text", reason));
  v.set("reasons", reasons);
  View criteria = ViewList();
  for (const auto& c : r.criteria) {
    View row;
    row.set("title", CriterionTitle(c.name));
    row.set("detail", c.detail);
    // "not yet" is not a failure: a running window may still meet it (CriterionState).
    row.set("met_class", c.state == CriterionState::kMet      ? "met"
                         : c.state == CriterionState::kNotYet ? "notyet"
                                                              : "unmet");
    row.set("met_text", c.state == CriterionState::kMet      ? "✔ met"
                        : c.state == CriterionState::kNotYet ? "… not yet"
                                                             : "✘ failed");
    criteria.push_back(row);
  }
  v.set("criteria", criteria);
}

// Availability (strip and totals), error budget and projection, and the two other charts.
void AddFiguresView(const Report& r, View& v) {
  const auto& t = r.totals;
  v.set("availability_svg", AvailabilityStrip(r));
  View totals;
  totals.set("uptime", FormatPercent(t.uptime()));
  totals.set("coverage", FormatPercent(t.coverage()));
  totals.set("conservative", FormatPercent(t.conservative()));
  totals.set("up", HumanDurationMs(t.up_ms));
  totals.set("down", HumanDurationMs(t.down_ms));
  totals.set("unknown", HumanDurationMs(t.unknown_ms));
  totals.set("excluded", HumanDurationMs(t.excluded_ms));
  v.set("totals", totals);
  View budget;
  budget.set("allowed", HumanDurationMs(r.budget.allowed_ms));
  budget.set("allowed_percent", fmt::format("{:g}", 100.0 - r.objective.uptime_percent));
  budget.set("window", HumanDurationMs(r.to_ms - r.from_ms));
  budget.set("used", HumanDurationMs(r.budget.used_ms));
  budget.set("left", FormatSignedDuration(r.budget.left_ms));
  budget.set("used_ratio", FormatPercent(r.budget.used_ratio()));
  v.set("budget", budget);
  if (r.projection) {
    const auto& p = *r.projection;
    View projection;
    projection.set("burn_rate",
                   p.burn_rate ? fmt::format("{:.2f}×", *p.burn_rate) : std::string("n/a"));
    projection.set("projected_down", HumanDurationMs(p.projected_down_ms));
    projection.set("projected_verdict", VerdictName(p.projected_verdict));
    projection.set("projected_uptime", FormatPercent(p.projected_uptime));
    projection.set("exhausted", p.budget_exhausted_at_ms.has_value());
    if (p.budget_exhausted_at_ms) {
      projection.set("exhausted_at", FormatUtcSeconds(*p.budget_exhausted_at_ms));
    }
    v.set("projection", projection);
  }
  v.set("daily_svg", DailyBars(r));
  v.set("latency_svg", LatencyChart(r));
  AddLatencyView(r, v);
}

void AddDaysView(const Report& r, View& v) {
  View days = ViewList();
  for (size_t i = 0; i < r.days.size(); ++i) {
    const auto& d = r.days[i];
    View row;
    row.set("number", std::to_string(i + 1));
    row.set("date", d.date);
    row.set("uptime", FormatPercent(d.totals.uptime()));
    row.set("down", HumanDurationMs(d.totals.down_ms));
    row.set("unknown", HumanDurationMs(d.totals.unknown_ms));
    row.set("incidents", Str(d.incidents));
    row.set("errors", Str(d.errors));
    row.set("criticals", Str(d.criticals));
    row.set("checks_passed", Str(d.checks_passed));
    row.set("checks_failed", Str(d.checks_failed));
    row.set("p50", LatencyCell(d.latency, &LatencySummary::p50_seconds));
    row.set("p95", LatencyCell(d.latency, &LatencySummary::p95_seconds));
    row.set("p99", LatencyCell(d.latency, &LatencySummary::p99_seconds));
    days.push_back(row);
  }
  v.set("days", days);
}

void AddIncidentsView(const Report& r, View& v) {
  v.set("incident_count", ListedCount(r.incidents.size(), r.incidents_not_listed));
  v.set("has_incidents", !r.incidents.empty());
  View incidents = ViewList();
  for (size_t i = 0; i < r.incidents.size(); ++i) {
    const auto& inc = r.incidents[i];
    View row;
    row.set("number", std::to_string(IncidentNumber(r, i)));
    row.set("start", FormatUtcSeconds(inc.start_ms));
    row.set("end", inc.ongoing ? std::string("ongoing") : FormatUtcSeconds(inc.end_ms));
    row.set("duration", HumanDurationMs(inc.duration_ms()));
    row.set("probes", fmt::format("{}", fmt::join(inc.probes, ", ")));
    row.set("first_probe", inc.first_probe);
    row.set("first_reason",
            inc.first_reason.empty() ? std::string("(no reason recorded)") : inc.first_reason);
    incidents.push_back(row);
  }
  v.set("incidents", incidents);
}

void AddChecksView(const Report& r, View& v) {
  v.set("has_checks", !r.checks.empty());
  View checks = ViewList();
  for (const auto& c : r.checks) {
    View row;
    row.set("probe", c.probe);
    row.set("runs", Str(c.runs));
    row.set("passed", Str(c.passed));
    row.set("failed", Str(c.failed));
    row.set("pass_rate", FormatPercent(c.pass_rate()));
    row.set("failed_once", c.first_failure_ms.has_value());
    if (c.first_failure_ms) {
      row.set("first_failure", FormatUtcSeconds(*c.first_failure_ms));
      row.set("first_failure_reason", c.first_failure_reason);
    }
    checks.push_back(row);
  }
  v.set("checks", checks);
}

void AddLogLinesView(const Report& r, View& v) {
  v.set("logs_truncated", r.logs.truncated);
  // Without log evidence (a report from a store) the counts are not known, not zero.
  const bool known = r.logs.unavailable.empty();
  v.set("critical_lines", known ? Str(r.logs.critical) : std::string("(not known)"));
  v.set("error_lines", known ? Str(r.logs.error) : std::string("(not known)"));
  v.set("has_log_lines", r.logs.critical + r.logs.error > 0);
  View lines = ViewList();
  auto add = [&](const char* what, const std::optional<LogEvent>& e) {
    if (!e) return;
    View row;
    row.set("what", what);
    row.set("time", FormatUtcSeconds(e->ts_ms));
    row.set("probe", e->key.probe);
    row.set("line", e->line);
    lines.push_back(row);
  };
  add("First critical", r.logs.first_critical);
  // With lines dropped by a cap, the last kept one need not be the last one written.
  add(r.logs.truncated ? "Last critical kept" : "Last critical", r.logs.last_critical);
  add("First error", r.logs.first_error);
  add(r.logs.truncated ? "Last error kept" : "Last error", r.logs.last_error);
  v.set("log_lines", lines);
}

void AddAlertsView(const Report& r, View& v) {
  v.set("alert_count", ListedCount(r.alerts.size(), r.alerts_not_listed));
  v.set("has_alerts", !r.alerts.empty());
  View alerts = ViewList();
  for (const auto& a : r.alerts) {
    View row;
    row.set("rule", a.rule);
    row.set("fired", FormatUtcSeconds(a.fired_ms));
    row.set("resolved", a.resolved_ms ? FormatUtcSeconds(*a.resolved_ms) : std::string("-"));
    row.set("summary", a.summary);
    row.set("maintenance", a.maintenance ? MaintenanceReason(*a.maintenance) : std::string("-"));
    alerts.push_back(row);
  }
  v.set("alerts", alerts);
}

View IntervalView(TimestampMs start_ms, TimestampMs end_ms) {
  View row;
  row.set("start", FormatUtcSeconds(start_ms));
  row.set("end", FormatUtcSeconds(end_ms));
  row.set("length", HumanDurationMs(end_ms - start_ms));
  return row;
}

// Maintenance with its reasons when the report has them, else the bare excluded intervals; then
// obsmon's own gaps, the ten longest.
void AddExcludedAndGapsView(const Report& r, View& v) {
  v.set("has_excluded", !r.excluded.empty());
  View excluded = ViewList();
  if (!r.maintenance.empty()) {
    for (const auto& m : r.maintenance) {
      View row = IntervalView(m.start_ms, m.end_ms);
      row.set("has_reason", true);
      row.set("reason", MaintenanceReason(m));
      excluded.push_back(row);
    }
  } else {
    for (const auto& iv : r.excluded) {
      View row = IntervalView(iv.start_ms, iv.end_ms);
      row.set("has_reason", false);
      excluded.push_back(row);
    }
  }
  v.set("excluded", excluded);
  std::vector<TimeInterval> gaps = r.gaps;
  std::stable_sort(gaps.begin(), gaps.end(), [](const TimeInterval& a, const TimeInterval& b) {
    return a.length_ms() > b.length_ms();
  });
  v.set("gap_count", std::to_string(r.GapCount()));
  v.set("gaps_unknown", HumanDurationMs(r.totals.unknown_ms));
  v.set("has_gaps", !gaps.empty());
  View longest = ViewList();
  for (size_t i = 0; i < gaps.size() && i < 10; ++i) {
    longest.push_back(IntervalView(gaps[i].start_ms, gaps[i].end_ms));
  }
  v.set("gaps", longest);
  const size_t shown = std::min<size_t>(gaps.size(), 10);
  if (r.GapCount() > shown) v.set("more_gaps", std::to_string(r.GapCount() - shown));
  v.set("health_probes", fmt::format("{}", fmt::join(r.health_probes, ", ")));
}

}  // namespace

std::string RenderReportHtml(const Report& r) {
  View view;
  AddHeaderView(r, view);
  AddFiguresView(r, view);
  AddDaysView(r, view);
  AddIncidentsView(r, view);
  AddChecksView(r, view);
  AddLogLinesView(r, view);
  AddAlertsView(r, view);
  AddExcludedAndGapsView(r, view);
  return render_detail::RenderHtmlTemplate(render_detail::kReportHtmlTemplate, view);
}

}  // namespace obsmon
