// The report in a format by name, and the text cleaning every renderer shares.
#include "render/report_format.h"

#include <fmt/format.h>

namespace obsmon {

const char* CriterionTitle(const std::string& name) {
  if (name == "uptime") return "Uptime";
  if (name == "coverage") return "Coverage (known time)";
  if (name == "latency_p95") return "Latency p95";
  if (name == "integration_checks") return "Integration checks";
  if (name == "critical_lines") return "Critical log lines";
  if (name == "no_degradation") return "No degradation";
  return "Criterion";
}

std::string EscapeMarkdown(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '|':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '\\':
        out += '\\';
        out += ch;
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += (u < 0x20 || u == 0x7f) ? ' ' : ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char u = static_cast<unsigned char>(ch);
    out += (u < 0x20 || u == 0x7f) ? ' ' : ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string ListedCount(size_t listed, uint64_t not_listed) {
  if (not_listed == 0) return std::to_string(listed);
  return fmt::format("{}, the {} longest listed", listed + not_listed, listed);
}

std::string MaintenanceReason(const MaintenanceWindow& m) {
  return m.reason.empty() ? std::string("(no reason given)") : m.reason;
}

uint64_t IncidentNumber(const Report& report, size_t i) {
  const uint64_t number = report.incidents[i].number;
  return number != 0 ? number : i + 1;
}

Result<RenderedReport> RenderReportAs(const Report& report, const std::string& format) {
  if (format == "json") return RenderedReport{"application/json", RenderReportJson(report)};
  if (format == "markdown" || format == "md") {
    return RenderedReport{"text/markdown; charset=utf-8", RenderReportMarkdown(report)};
  }
  if (format == "text")
    return RenderedReport{"text/plain; charset=utf-8", RenderReportText(report)};
  if (format == "html") return RenderedReport{"text/html; charset=utf-8", RenderReportHtml(report)};
  return Status::InvalidArgument(
      fmt::format("unknown report format '{}' (text, markdown, json or html)", format));
}

Result<RenderedReport> RenderPeriodReport(const PeriodReportRequest& req) {
  if (req.format != "json" && req.format != "markdown" && req.format != "md" &&
      req.format != "text" && req.format != "html") {
    return RenderReportAs(Report{}, req.format);  // the InvalidArgument
  }
  if (req.day) {
    if (req.format != "markdown" && req.format != "md") {
      return Status::InvalidArgument("a day's comment (--day, ?day=) is markdown only");
    }
    auto day = BuildDayReport(req, *req.day);
    if (!day.ok()) return day.status();
    return RenderedReport{"text/markdown; charset=utf-8",
                          RenderDayMarkdown(day->report, day->report.days[day->index])};
  }
  auto report = BuildPeriodReport(req);
  if (!report.ok()) return report.status();
  // Rendering a long report is much of its cost (an HTML page of 10,000 incidents).
  if (req.cancelled && req.cancelled()) {
    return Status::Cancelled("the report was given up before it was rendered");
  }
  return RenderReportAs(*report, req.format);
}

}  // namespace obsmon
