#include "config/period_config.h"

#include "core/recurrence.h"
#include "core/time_format.h"
#include "core/time_zone.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// `timezone:` of an `observation` mapping: the zone whose calendar days are the period's days.
bool ParsePeriodTimeZone(ConfigNode& node, PeriodRecord& p) {
  auto z = node.String("timezone");
  if (!z) return true;
  if (auto zone = TimeZone::Load(*z); !zone.ok()) {
    node.ErrorAt("timezone", zone.status().message());
    return false;
  }
  p.time_zone = *z;
  return true;
}

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
  ok = ParsePeriodTimeZone(node, p) && ok;
  node.CheckUnknownKeys();
  if (!ok) return std::nullopt;
  return p;
}

std::string HumanDays(int64_t ms) {
  return ms % kDayMs == 0 ? std::to_string(ms / kDayMs) + " days"
                          : std::to_string(ms / 3'600'000) + " hours";
}

// A timestamp key; nullopt after an error (or when absent and not required).
std::optional<TimestampMs> Timestamp(ConfigNode& node, const char* key, bool required, bool* ok) {
  auto text = node.String(key, required);
  if (!text) {
    if (required) *ok = false;
    return std::nullopt;
  }
  auto t = ParseTimestamp(*text);
  if (!t) {
    node.ErrorAt(key, "bad timestamp '" + *text + "' (RFC 3339, date or Unix time)");
    *ok = false;
  }
  return t;
}

// One `maintenance` mapping: {from, to, reason} or, recurring, {weekly | daily, duration,
// timezone, from, until, reason}. `longest`: the bound on its length (or on each occurrence's).
std::optional<MaintenanceRecord> ParseOneWindow(ConfigNode& node, const std::string& name,
                                                int64_t longest, const std::string& what) {
  MaintenanceRecord m;
  m.component = name;
  m.source = "config";
  bool ok = true;
  const bool recurring = node.Has("weekly") || node.Has("daily");
  if (auto r = node.String("reason")) m.reason = *r;
  if (!recurring) {
    auto from = Timestamp(node, "from", true, &ok);
    auto to = Timestamp(node, "to", true, &ok);
    if (ok && from && to) {
      m.start_ms = *from;
      m.end_ms = *to;
      if (m.end_ms <= m.start_ms) {
        node.ErrorAt("to", "maintenance `to` must be after `from`");
        ok = false;
      } else if (m.end_ms - m.start_ms > longest) {
        node.ErrorAt("to", "maintenance window of " + HumanDays(m.end_ms - m.start_ms) +
                               " is longer than " + what + " (" + HumanDays(longest) + ")");
        ok = false;
      }
    }
    node.CheckUnknownKeys();
    if (!ok) return std::nullopt;
    return m;
  }
  std::optional<Recurrence> rec;
  if (node.Has("weekly") && node.Has("daily")) {
    node.ErrorAt("daily", "give one of `weekly` and `daily`");
    ok = false;
  } else if (auto w = node.String("weekly")) {
    rec = ParseWeekly(*w);
    if (!rec) node.ErrorAt("weekly", "'" + *w + "' is not a day and time such as \"sun 02:00\"");
  } else if (auto d = node.String("daily")) {
    rec = ParseDaily(*d);
    if (!rec) node.ErrorAt("daily", "'" + *d + "' is not a time such as 02:00");
  }
  if (!rec) ok = false;
  if (auto d = node.DurationMs("duration", /*required=*/true)) {
    m.duration_ms = *d;
    if (rec && (*d <= 0 || *d >= rec->IntervalMs())) {
      node.ErrorAt("duration",
                   std::string("a ") + (rec->every == Recurrence::Every::kDay
                                            ? "daily window must last less than a day"
                                            : "weekly window must last less than a week"));
      ok = false;
    } else if (*d > longest) {
      node.ErrorAt("duration", "maintenance window of " + HumanDays(*d) + " is longer than " +
                                   what + " (" + HumanDays(longest) + ")");
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto z = node.String("timezone")) {
    if (auto zone = TimeZone::Load(*z); !zone.ok()) {
      node.ErrorAt("timezone", zone.status().message());
      ok = false;
    } else if (*z != "UTC" && *z != "Etc/UTC") {
      m.time_zone = *z;
    }
  }
  // Without `from` a declared window holds from the start of time: the config is the record.
  m.start_ms = Timestamp(node, "from", false, &ok).value_or(0);
  m.end_ms = Timestamp(node, "until", false, &ok).value_or(kMaintenanceNoEndMs);
  if (ok && m.end_ms <= m.start_ms) {
    node.ErrorAt("until", "maintenance `until` must be after `from`");
    ok = false;
  }
  if (rec) m.recurrence = FormatRecurrence(*rec);
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
  // A window may be no longer than the component's (latest) declared period, else 31 days;
  // periods stored by `obsmon observe start` are not known here (the CLI checks those).
  int64_t longest = kMaxMaintenanceWithoutPeriodMs;
  std::string what = "the longest window of a component without a declared period";
  if (!out.periods.empty()) {
    const PeriodRecord* latest = &out.periods.front();
    for (const auto& p : out.periods) {
      if (p.start_ms > latest->start_ms) latest = &p;
    }
    longest = latest->end_ms - latest->start_ms;
    what = "its observation period";
  }
  if (auto list = component.MapList("maintenance")) {
    for (auto& node : *list) {
      if (auto m = ParseOneWindow(node, name, longest, what)) out.maintenance.push_back(*m);
    }
  }
  return out;
}

}  // namespace obsmon
