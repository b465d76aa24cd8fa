#include "config/period_config.h"

#include "core/time_format.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// One `observation` mapping.
std::optional<PeriodRecord> ParseOnePeriod(ConfigNode& node, const std::string& name,
                                                    const Objective& objective) {
  PeriodRecord p;
  p.component = name;
  p.source = "config";
  p.objective_percent = objective.uptime_percent;
  p.min_coverage_percent = objective.min_coverage_percent;
  p.latency_p95_ms = objective.latency_p95_ms;
  bool ok = true;
  auto start_text = node.String("start", /*required=*/true);
  if (start_text) {
    auto start = ParseTimestamp(*start_text);
    if (!start) {
      node.ErrorAt("start", "bad timestamp '" + *start_text + "' (RFC 3339, date or Unix time)");
      ok = false;
    } else {
      p.start_ms = *start;
    }
  } else {
    ok = false;
  }
  int64_t days = 7;
  if (auto d = node.Int("days")) {
    if (*d < 1 || *d > 366) {
      node.ErrorAt("days", "days must be between 1 and 366");
      ok = false;
    }
    days = *d;
  }
  p.end_ms = p.start_ms + days * kDayMs;
  if (auto v = node.Number("objective")) {
    if (!(*v > 0 && *v <= 100)) {
      node.ErrorAt("objective", "objective must be a percentage in (0, 100]");
      ok = false;
    }
    p.objective_percent = *v;
  }
  if (auto v = node.Number("min_coverage")) {
    if (!(*v >= 0 && *v <= 100)) {
      node.ErrorAt("min_coverage", "min_coverage must be a percentage in [0, 100]");
      ok = false;
    }
    p.min_coverage_percent = *v;
  }
  if (auto v = node.DurationInRange("latency_p95", 1, 3'600'000)) {
    p.latency_p95_ms = static_cast<double>(*v);
  }
  if (auto v = node.Number("degradation_tolerance")) {
    if (!(*v >= 0)) {
      node.ErrorAt("degradation_tolerance", "degradation_tolerance must be >= 0 (0.25 = 25 %)");
      ok = false;
    }
    p.degradation_tolerance = *v;
  }
  if (auto v = node.String("note")) p.note = *v;
  node.CheckUnknownKeys();
  if (!ok) return std::nullopt;
  return p;
}

std::optional<MaintenanceRecord> ParseOneWindow(ConfigNode& node,
                                                         const std::string& name) {
  MaintenanceRecord m;
  m.component = name;
  m.source = "config";
  bool ok = true;
  for (const char* key : {"from", "to"}) {
    auto text = node.String(key, /*required=*/true);
    if (!text) {
      ok = false;
      continue;
    }
    auto t = ParseTimestamp(*text);
    if (!t) {
      node.ErrorAt(key, "bad timestamp '" + *text + "' (RFC 3339, date or Unix time)");
      ok = false;
      continue;
    }
    (std::string(key) == "from" ? m.start_ms : m.end_ms) = *t;
  }
  if (auto r = node.String("reason")) m.reason = *r;
  if (ok && m.end_ms <= m.start_ms) {
    node.ErrorAt("to", "maintenance `to` must be after `from`");
    ok = false;
  }
  node.CheckUnknownKeys();
  if (!ok) return std::nullopt;
  return m;
}

}  // namespace

PeriodDeclarations ParsePeriodDeclarations(ConfigNode& component, const std::string& name,
                                           const Objective& objective) {
  PeriodDeclarations out;
  if (component.Has("observation")) {
    const YAML::Node& raw = component.raw()["observation"];
    if (raw.IsSequence()) {
      if (auto list = component.MapList("observation")) {
        for (auto& node : *list) {
          if (auto p = ParseOnePeriod(node, name, objective)) out.periods.push_back(*p);
        }
      }
    } else if (auto node = component.Map("observation", /*required=*/false)) {
      if (auto p = ParseOnePeriod(*node, name, objective)) out.periods.push_back(*p);
    } else {
      component.ErrorAt("observation", "observation must be a mapping or a list of mappings");
    }
  }
  if (auto list = component.MapList("maintenance")) {
    for (auto& node : *list) {
      if (auto m = ParseOneWindow(node, name)) out.maintenance.push_back(*m);
    }
  }
  return out;
}

}  // namespace obsmon
