#include "render/index_page.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "render/html_template.h"
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

render_detail::View PeriodView(const IndexPeriod& p) {
  render_detail::View v;
  v.set("id", std::to_string(p.id));
  v.set("state", p.state);
  v.set("start", Utc(p.start_ms));
  v.set("end", Utc(p.end_ms));
  v.set("has_verdict", !p.verdict.empty());
  v.set("verdict", p.verdict);
  return v;
}

}  // namespace

std::string ComponentReportUrl(const IndexComponent& c) {
  std::string url = "/api/v1/components/" + PercentEncode(c.name) + "/report?format=html";
  if (c.period) url += "&period=" + std::to_string(c.period->id);
  return url;
}

namespace {

render_detail::View ComponentView(const IndexComponent& c) {
  char objective[48];
  std::snprintf(objective, sizeof objective, "%g %% / %lldd", c.objective_percent,
                static_cast<long long>(c.window_ms / 86'400'000));
  render_detail::View v;
  v.set("name", c.name);
  v.set("state_class", StateClass(c.state));
  v.set("state", c.state);
  v.set("uptime", Percent(c.uptime_ratio));
  v.set("coverage", Percent(c.coverage_ratio));
  v.set("objective", objective);
  v.set("budget_negative", c.budget_left_ms && *c.budget_left_ms < 0);
  v.set("budget", c.budget_left_ms ? Minutes(*c.budget_left_ms) : std::string("n/a"));
  if (c.period) v.set("period", PeriodView(*c.period));
  v.set("report_url", ComponentReportUrl(c));
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
