#include "render/index_page.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "core/duration.h"
#include "render/html_template.h"
#include "render/status_bar.h"
#include "report/figure_format.h"
#include "render/templates/index_page.mustache.h"

namespace obsmon {
namespace {

// RFC 3986 unreserved characters stay, everything else is %XX.
std::string PercentEncode(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string Utc(TimestampMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

const char* StateClass(const std::string& state) {
  if (state == "up") return "up";
  if (state == "down") return "down";
  return "unknown";
}

render_detail::View PeriodView(const IndexPeriod& p) {
  render_detail::View v;
  v.set("id", std::to_string(p.id));
  v.set("state", p.state);
  v.set("start", Utc(p.start_ms));
  v.set("end", Utc(p.end_ms));
  return v;
}

const char* CriterionMark(CriterionState state) {
  switch (state) {
    case CriterionState::kMet:
      return "✔";
    case CriterionState::kNotYet:
      return "…";
    case CriterionState::kFailed:
      return "✘";
  }
  return "…";
}

render_detail::View CellsView(const std::vector<StatusCell>& cells) {
  render_detail::View list = render_detail::ViewList();
  for (const auto& c : cells) {
    render_detail::View v;
    v.set("state", c.state);
    v.set("title", c.title);
    list.push_back(v);
  }
  return list;
}

}  // namespace

std::string ComponentReportUrl(const IndexComponent& c) {
  std::string url = "/api/v1/components/" + PercentEncode(c.name) + "/report?format=html";
  if (c.report && c.report->period_id) {
    url += "&period=" + std::to_string(*c.report->period_id);
  } else if (!c.report && c.period) {
    url += "&period=" + std::to_string(c.period->id);
  }
  return url;
}

std::string ComponentBadgeUrl(const IndexComponent& c) {
  return "/api/v1/components/" + PercentEncode(c.name) + "/badge.svg";
}

std::string DayOfWindow(const Report& r) {
  const int64_t days = r.period_days.empty()
                           ? (r.to_ms - r.from_ms + 86'400'000 - 1) / 86'400'000
                           : static_cast<int64_t>(r.period_days.size());
  // Without an active period the window is the objective's, ending now: it never "ends". A
  // window that is not whole days says its length as configured ("last 1h"), not "last 1 day".
  if (!r.period_id) {
    const int64_t window_ms = r.to_ms - r.from_ms;
    const std::string length = window_ms % 86'400'000 == 0
                                   ? std::to_string(days) + (days == 1 ? " day" : " days")
                                   : FormatDurationMs(window_ms);
    return "last " + length + " (no active period)";
  }
  if (!r.in_progress()) return std::to_string(days) + (days == 1 ? " day, ended" : " days, ended");
  const int64_t day = std::clamp<int64_t>(static_cast<int64_t>(r.days.size()), 1, days);
  return "Day " + std::to_string(day) + " of " + std::to_string(days);
}

namespace {

// The report's figures, verdict, criteria and status bars.
void AddReportView(const Report& r, render_detail::View& v) {
  v.set("has_report", true);
  v.set("verdict", VerdictName(r.verdict));
  v.set("verdict_class", render_detail::VerdictClass(r.verdict));
  v.set("day_of_window", DayOfWindow(r));
  v.set("from", Utc(r.from_ms));
  v.set("to", Utc(r.to_ms));
  v.set("uptime", FormatPercent(r.totals.uptime()));
  v.set("coverage", FormatPercent(r.totals.coverage()));
  v.set("budget_negative", r.budget.left_ms < 0);
  v.set("budget", FormatSignedDuration(r.budget.left_ms));
  v.set("incidents", std::to_string(r.IncidentCount()));
  v.set("critical_lines", (r.logs.truncated ? "≥ " : "") + std::to_string(r.logs.critical));
  render_detail::View criteria = render_detail::ViewList();
  for (const auto& c : r.criteria) {
    render_detail::View row;
    row.set("name", c.name);
    row.set("state", CriterionStateName(c.state));
    row.set("state_class", c.state == CriterionState::kMet      ? "met"
                           : c.state == CriterionState::kNotYet ? "notyet"
                                                                : "failed");
    row.set("mark", CriterionMark(c.state));
    row.set("detail", c.detail);
    criteria.push_back(row);
  }
  v.set("criteria", criteria);
  v.set("day_cells", CellsView(DayCells(r)));
  v.set("hour_cells", CellsView(HourCells(r)));
  v.set("today", r.days.empty() ? std::string() : r.days.back().date);
  v.set("in_progress", r.in_progress());
}

render_detail::View ComponentView(const IndexComponent& c) {
  char objective[48];
  const double percent = c.report ? c.report->objective.uptime_percent : c.objective_percent;
  std::snprintf(objective, sizeof objective, "%g %%", percent);
  render_detail::View v;
  v.set("name", c.name);
  v.set("state_class", StateClass(c.state));
  v.set("state", c.state);
  v.set("objective", objective);
  if (c.report) AddReportView(*c.report, v);
  if (!c.report) v.set("has_report", false);
  if (c.period) v.set("period", PeriodView(*c.period));
  v.set("report_url", ComponentReportUrl(c));
  v.set("badge_url", ComponentBadgeUrl(c));
  return v;
}

}  // namespace

std::string RenderIndexPage(const IndexPage& page) {
  using render_detail::View;
  View components = render_detail::ViewList();
  for (const auto& c : page.components) components.push_back(ComponentView(c));
  View view;
  view.set("title", page.title);
  view.set("component_count", std::to_string(page.components.size()));
  view.set("one_component", page.components.size() == 1);
  view.set("now", Utc(page.now_ms));
  view.set("has_version", !page.version.empty());
  view.set("version", page.version);
  view.set("has_components", !page.components.empty());
  view.set("components", components);
  return render_detail::RenderHtmlTemplate(render_detail::kIndexPageTemplate, view);
}

}  // namespace obsmon
