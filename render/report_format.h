// Renderers of a Report (by name too: RenderReportAs), and the text cleaning they share.
//
// - Text: for the terminal (`obsmon report`), core figures first.
// - Markdown: shaped to paste into a promotion issue (verdict, criteria table, figures, incidents,
//   "### Day N (date)" sections and a "### Final Assessment"). Text from probes is escaped.
// - JSON: the stable format documented in docs/report-json.md ("schema": "obsmon.report/v1").
// - HTML: a self-contained page with inline SVG charts (docs/report.md).
//
// Pure functions: thread-safe.
#pragma once

#include "core/html_escape.h"  // EscapeHtml, used by every HTML renderer

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "report/figure_format.h"  // the renderers' figures, for their callers too
#include "report/periods.h"
#include "report/report.h"

namespace obsmon {

std::string RenderReportText(const Report& report);
std::string RenderReportMarkdown(const Report& report);
// The comment of one day of `report` (one of report.days), as the promotion issue has it:
// "### Day N (date)", its label, uptime, incidents with their first reason, log lines,
// integration checks, latency, and "Status: on track / at risk / failed" (StatusOf `report`,
// which should be evaluated to the day's end: BuildDayReport).
std::string RenderDayMarkdown(const Report& report, const DaySummary& day);
// The closing comment of a period: "### Final Assessment (date)" (or "Assessment so far"), the
// verdict with its reasons, and the criteria table.
std::string RenderAssessmentMarkdown(const Report& report);
// Pretty-printed with two-space indentation and a trailing newline.
std::string RenderReportJson(const Report& report);
// One self-contained HTML page (no script, no external asset; a Content-Security-Policy forbids
// both) with inline SVG: availability strip, daily uptime bars, hourly latency percentiles.
// Every text from outside is escaped with EscapeHtml. Prints on A4/Letter.
std::string RenderReportHtml(const Report& report);

// The title a criterion has in every renderer's table ("Uptime", "Coverage (known time)", ...).
const char* CriterionTitle(const std::string& name);
// Makes text safe inside a markdown table cell or list item: escapes | ` * _ < > & [ ] \ and
// replaces control characters (newlines included) by a space; trailing spaces are dropped.
std::string EscapeMarkdown(std::string_view text);
// Makes probe text safe for a terminal line: control characters (newlines, ESC sequences) become
// a space; trailing spaces are dropped.
std::string OneLine(std::string_view text);
// How many of a list a report has: "12", or "60396, the 1000 longest listed" when it lists only
// some of them (ReportOptions::max_listed).
std::string ListedCount(size_t listed, uint64_t not_listed);
// A maintenance window's reason as a report shows it ("(no reason given)" when empty).
std::string MaintenanceReason(const MaintenanceWindow& m);
// Incident i's number in its window (Incident::number; its place in the list for a report made
// by hand, which leaves the numbers 0).
uint64_t IncidentNumber(const Report& report, size_t i);

struct RenderedReport {
  std::string content_type;  // "application/json", "text/markdown; charset=utf-8", ...
  std::string body;
};

// BuildPeriodReport rendered in request.format; InvalidArgument for an unknown format. With
// request.day, the Day N comment (RenderDayMarkdown of BuildDayReport): markdown only.
Result<RenderedReport> RenderPeriodReport(const PeriodReportRequest& request);
// Renders an already built report (format as above).
Result<RenderedReport> RenderReportAs(const Report& report, const std::string& format);


}  // namespace obsmon
