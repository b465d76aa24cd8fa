#include "render/index_page.h"

#include "core/html_escape.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

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

// Rounded down, as the reports do, so a figure below a threshold never reads as meeting it.
std::string Percent(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  const double v = std::floor(*ratio * 100'000.0 + 1e-9) / 1000.0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f %%", v);
  return buf;
}

std::string Minutes(int64_t ms) {
  const int64_t abs = ms < 0 ? -ms : ms;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%lldm %02llds", ms < 0 ? "-" : "",
                static_cast<long long>(abs / 60'000), static_cast<long long>(abs / 1000 % 60));
  return buf;
}

const char* StateClass(const std::string& state) {
  if (state == "up") return "up";
  if (state == "down") return "down";
  return "unknown";
}

}  // namespace

std::string ComponentReportUrl(const IndexComponent& c) {
  std::string url = "/api/v1/components/" + PercentEncode(c.name) + "/report?format=html";
  if (c.period) url += "&period=" + std::to_string(c.period->id);
  return url;
}

std::string RenderIndexPage(const IndexPage& page) {
  std::string o;
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width\">\n";
  o += "<title>" + EscapeHtml(page.title) +
       "</title>\n<style>"
       "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;"
       "color:#222}table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;"
       "padding:5px 8px;text-align:left}th{background:#f6f6f6}.num{text-align:right}"
       ".state{font-weight:700;padding:2px 8px;border-radius:4px;color:#fff}.up{background:#2e9d57}"
       ".down{background:#d93f3f}.unknown{background:#888}.muted{color:#666}"
       ".neg{color:#d93f3f;font-weight:700}</style></head>\n<body>\n";
  o += "<h1>" + EscapeHtml(page.title) + "</h1>\n<p class=\"muted\">" +
       std::to_string(page.components.size()) + " component" +
       (page.components.size() == 1 ? "" : "s") + " · " + Utc(page.now_ms) + " UTC" +
       (page.version.empty() ? "" : " · obsmon " + EscapeHtml(page.version)) +
       " · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/components\">API</a></p>\n";
  if (page.components.empty()) {
    o += "<p>No component configured.</p>\n";
  } else {
    o += "<table id=\"components\"><tr><th>Component</th><th>State</th><th>Uptime</th>"
         "<th>Coverage</th><th>Objective</th><th>Budget left</th><th>Observation period</th>"
         "<th>Report</th></tr>\n";
    for (const auto& c : page.components) {
      std::string period = "<span class=\"muted\">none</span>";
      if (c.period) {
        const auto& p = *c.period;
        period = "#" + std::to_string(p.id) + " " + EscapeHtml(p.state) + ", " + Utc(p.start_ms) +
                 " → " + Utc(p.end_ms) +
                 (p.verdict.empty() ? "" : ": <b>" + EscapeHtml(p.verdict) + "</b>");
      }
      std::string budget = "n/a";
      if (c.budget_left_ms) {
        budget = *c.budget_left_ms < 0
                     ? "<span class=\"neg\">" + Minutes(*c.budget_left_ms) + "</span>"
                     : Minutes(*c.budget_left_ms);
      }
      char objective[48];
      std::snprintf(objective, sizeof objective, "%g %% / %lldd", c.objective_percent,
                    static_cast<long long>(c.window_ms / 86'400'000));
      o += "<tr><td>" + EscapeHtml(c.name) + "</td><td><span class=\"state " + StateClass(c.state) +
           "\">" + EscapeHtml(c.state) + "</span></td><td class=\"num\">" + Percent(c.uptime_ratio) +
           "</td><td class=\"num\">" + Percent(c.coverage_ratio) + "</td><td class=\"num\">" +
           objective + "</td><td class=\"num\">" + budget + "</td><td>" + period +
           "</td><td><a href=\"" + EscapeHtml(ComponentReportUrl(c)) + "\">HTML report</a></td></tr>\n";
    }
    o += "</table>\n";
  }
  o += "</body></html>\n";
  return o;
}

}  // namespace obsmon
