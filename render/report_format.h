// Renderers of a Report, and the small formatting helpers they share.
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
#include "report/report.h"

namespace obsmon {

std::string RenderReportText(const Report& report);
std::string RenderReportMarkdown(const Report& report);
// Pretty-printed with two-space indentation and a trailing newline.
std::string RenderReportJson(const Report& report);
// One self-contained HTML page (no script, no external asset; a Content-Security-Policy forbids
// both) with inline SVG: availability strip, daily uptime bars, hourly latency percentiles.
// Every text from outside is escaped with EscapeHtml. Prints on A4/Letter.
std::string RenderReportHtml(const Report& report);

// "2025-10-14T00:00:00.000Z" (RFC 3339, UTC, milliseconds). Negative times are fine.
std::string FormatRfc3339Ms(TimestampMs ms);
// "2025-10-14 10:05:00" (UTC, whole seconds): shorter, for tables.
std::string FormatUtcSeconds(TimestampMs ms);
// "2025-10-14": the UTC date of `ms`.
std::string FormatUtcDate(TimestampMs ms);
// A ratio as a percentage with three decimals, rounded DOWN so a figure below a threshold never
// prints as meeting it: 0.99949 -> "99.949 %", 1 -> "100.000 %"; nullopt -> "n/a".
std::string FormatPercent(std::optional<double> ratio);
// Seconds as milliseconds with one decimal: 0.0123 -> "12.3 ms".
std::string FormatLatency(double seconds);
// HumanDurationMs with a sign for negative values: -90000 -> "-1m 30s".
std::string FormatSignedDuration(int64_t ms);
// Makes text safe inside a markdown table cell or list item: escapes | ` * _ < > & [ ] \ and
// replaces control characters (newlines included) by a space; trailing spaces are dropped.
std::string EscapeMarkdown(std::string_view text);
// Makes probe text safe for a terminal line: control characters (newlines, ESC sequences) become
// a space; trailing spaces are dropped.
std::string OneLine(std::string_view text);

}  // namespace obsmon
