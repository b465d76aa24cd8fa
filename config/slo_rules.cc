#include "config/slo_rules.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>

#include "core/labels.h"

namespace obsmon {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// A burn-rate pair is judged once its long window is three quarters covered (docs/report.md).
constexpr double kCoverage = 0.75;

// "5m", "6h", "3d": one unit, as record-name suffixes and PromQL ranges both read well.
std::string Range(int64_t ms) {
  if (ms % kDay == 0) return fmt::format("{}d", ms / kDay);
  if (ms % kHour == 0) return fmt::format("{}h", ms / kHour);
  if (ms % kMinute == 0) return fmt::format("{}m", ms / kMinute);
  return fmt::format("{}s", ms / 1000);
}

// Shortest decimal form of a ratio (fmt prints the shortest round-tripping representation).
std::string Num(double v) { return fmt::format("{}", v); }

struct CatalogEntry {
  int64_t long_ms, short_ms;
  double budget_percent;
  const char* severity;
};

// Sloth's examples/windows/7d.yaml.
constexpr CatalogEntry k7d[] = {{kHour, 5 * kMinute, 8, "page"},
                                {6 * kHour, 30 * kMinute, 12.5, "page"},
                                {kDay, 2 * kHour, 20, "ticket"},
                                {3 * kDay, 6 * kHour, 42, "ticket"}};
// Sloth's default 30d catalog (the SRE workbook's table).
constexpr CatalogEntry k30d[] = {{kHour, 5 * kMinute, 2, "page"},
                                 {6 * kHour, 30 * kMinute, 5, "page"},
                                 {kDay, 2 * kHour, 10, "ticket"},
                                 {3 * kDay, 6 * kHour, 10, "ticket"}};

void Record(YAML::Emitter& y, const std::string& name, const std::string& expr,
            const std::vector<std::pair<std::string, std::string>>& labels) {
  y << YAML::BeginMap << YAML::Key << "record" << YAML::Value << name;
  y << YAML::Key << "expr" << YAML::Value << expr;
  if (!labels.empty()) {
    y << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : labels) y << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
    y << YAML::EndMap;
  }
  y << YAML::EndMap;
}

}  // namespace

std::vector<BurnRateWindow> BurnRateWindows(int64_t period_ms) {
  std::vector<BurnRateWindow> out;
  const bool short_period = period_ms <= 14 * kDay;
  for (const CatalogEntry& e : short_period ? k7d : k30d) {
    if (e.long_ms > period_ms) continue;
    BurnRateWindow w;
    w.long_ms = e.long_ms;
    w.short_ms = e.short_ms;
    w.budget_percent = e.budget_percent;
    w.factor = std::round(e.budget_percent / 100.0 * static_cast<double>(period_ms) /
                          static_cast<double>(e.long_ms) * 1e6) /
               1e6;
    w.severity = e.severity;
    out.push_back(w);
  }
  return out;
}

std::vector<SloSpec> SloSpecsOf(const std::vector<ComponentConfig>& components) {
  std::vector<SloSpec> out;
  for (const auto& c : components) {
    out.push_back({c.name, c.labels.Get("job"), c.objective.uptime_percent, c.objective.window_ms});
  }
  return out;
}

std::string RenderSloRules(const std::vector<SloSpec>& slos) {
  YAML::Emitter y;
  y << YAML::BeginMap << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  for (const SloSpec& slo : slos) {
    const std::string job = slo.job.empty() ? slo.component : slo.job;
    const std::string sel = fmt::format("{{job=\"{}\"}}", EscapeLabelValue(job));
    const double budget = std::round((1.0 - slo.objective_percent / 100.0) * 1e9) / 1e9;
    const std::vector<std::pair<std::string, std::string>> slo_labels = {
        {"component", slo.component}, {"slo", "availability"}};
    const auto windows = BurnRateWindows(slo.period_ms);

    y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "obsmon-slo-" + slo.component;
    y << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    Record(y, "obsmon:slo_component_up:min", fmt::format("min by (job) (up{})", sel), slo_labels);
    // Every window any alert needs, plus the period itself (for the budget left).
    std::vector<int64_t> ranges;
    auto add = [&ranges](int64_t ms) {
      if (std::find(ranges.begin(), ranges.end(), ms) == ranges.end()) ranges.push_back(ms);
    };
    for (const auto& w : windows) {
      add(w.short_ms);
      add(w.long_ms);
    }
    add(kHour);
    add(slo.period_ms);
    std::sort(ranges.begin(), ranges.end());
    for (int64_t ms : ranges) {
      Record(y, "obsmon:slo_errors:ratio_rate" + Range(ms),
             fmt::format("1 - avg_over_time(obsmon:slo_component_up:min{}[{}])", sel, Range(ms)),
             slo_labels);
    }
    if (budget > 0) {
      Record(y, "obsmon:slo_burn_rate:ratio",
             fmt::format("obsmon:slo_errors:ratio_rate1h{} / {}", sel, Num(budget)), slo_labels);
      Record(y, "obsmon:slo_error_budget_remaining:ratio",
             fmt::format("1 - obsmon:slo_errors:ratio_rate{}{} / {}", Range(slo.period_ms), sel,
                         Num(budget)),
             slo_labels);
    }
    for (const char* severity : {"page", "ticket"}) {
      std::string expr;
      std::string windows_text;
      for (const auto& w : windows) {
        if (w.severity != severity) continue;
        if (!expr.empty()) {
          expr += "\nor\n";
          windows_text += ", ";
        }
        const std::string threshold = fmt::format("({} * {})", Num(w.factor), Num(budget));
        // The coverage guard: the long window must hold at least kCoverage of the samples the
        // short one's rate implies, or a 14-second outage three minutes after start is a 1h
        // error ratio of 8 % and pages (issue 14, item 8). Counting against the short window
        // needs no evaluation interval, so the rules read the same in Prometheus.
        const double coverage = kCoverage * static_cast<double>(w.long_ms) /
                                static_cast<double>(w.short_ms);
        expr += fmt::format(
            "(\n  obsmon:slo_errors:ratio_rate{0}{1} > {3}\nand\n  "
            "obsmon:slo_errors:ratio_rate{2}{1} > {3}\nand\n  "
            "count_over_time(obsmon:slo_component_up:min{1}[{0}])\n    >= {4} * "
            "count_over_time(obsmon:slo_component_up:min{1}[{2}])\n)",
            Range(w.long_ms), sel, Range(w.short_ms), threshold, Num(coverage));
        windows_text +=
            fmt::format("{}/{} x {}", Range(w.long_ms), Range(w.short_ms), Num(w.factor));
      }
      if (expr.empty()) continue;
      const bool page = std::string(severity) == "page";
      y << YAML::BeginMap << YAML::Key << "alert" << YAML::Value
        << (page ? "ObsmonSLOBurnRatePage" : "ObsmonSLOBurnRateTicket");
      y << YAML::Key << "expr" << YAML::Value << YAML::Literal << expr;
      y << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
      y << YAML::Key << "severity" << YAML::Value << severity;
      y << YAML::Key << "component" << YAML::Value << YAML::DoubleQuoted << slo.component;
      y << YAML::Key << "slo" << YAML::Value << "availability";
      y << YAML::EndMap;
      y << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
      y << YAML::Key << "summary" << YAML::Value << YAML::DoubleQuoted
        << fmt::format("{} is burning its {} % / {} error budget {}", slo.component,
                       Num(slo.objective_percent), Range(slo.period_ms),
                       page ? "fast" : "steadily");
      y << YAML::Key << "description" << YAML::Value << YAML::DoubleQuoted
        << fmt::format("Error ratio above burn factor x {} over both windows ({}).", Num(budget),
                       windows_text);
      y << YAML::EndMap << YAML::EndMap;
    }
    y << YAML::EndSeq << YAML::EndMap;
  }
  y << YAML::EndSeq << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

}  // namespace obsmon
