// RenderReportJson: the stable JSON form of a Report, documented field by field in
// docs/report-json.md. Add fields freely; never rename or retype one (bump "schema" instead).
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "render/report_format.h"

namespace obsmon {
namespace {

// Ordered: keys stay in the documented order (core figures first) for human readers.
using json = nlohmann::ordered_json;

json Optional(std::optional<double> v) { return v ? json(*v) : json(nullptr); }

json Time(TimestampMs ms) { return json(FormatRfc3339Ms(ms)); }

json Totals(const UptimeTotals& t) {
  return json{
      {"window_ms", t.window_ms},
      {"window_seconds", t.window_ms / 1000.0},
      {"up_ms", t.up_ms},
      {"up_seconds", t.up_ms / 1000.0},
      {"down_ms", t.down_ms},
      {"down_seconds", t.down_ms / 1000.0},
      {"unknown_ms", t.unknown_ms},
      {"unknown_seconds", t.unknown_ms / 1000.0},
      {"excluded_ms", t.excluded_ms},
      {"excluded_seconds", t.excluded_ms / 1000.0},
      {"uptime_ratio", Optional(t.uptime())},
      {"coverage_ratio", Optional(t.coverage())},
      {"conservative_ratio", Optional(t.conservative())},
  };
}

json Latency(const LatencySummary& l) {
  auto v = [&](double x) { return l.count > 0 ? json(x) : json(nullptr); };
  return json{
      {"count", l.count},
      {"method", "nearest-rank"},
      {"min_seconds", v(l.min_seconds)},
      {"mean_seconds", v(l.mean_seconds)},
      {"p50_seconds", v(l.p50_seconds)},
      {"p95_seconds", v(l.p95_seconds)},
      {"p99_seconds", v(l.p99_seconds)},
      {"max_seconds", v(l.max_seconds)},
  };
}

json Event(const std::optional<LogEvent>& e) {
  if (!e) return nullptr;
  return json{{"ts", Time(e->ts_ms)}, {"ts_ms", e->ts_ms},       {"probe", e->key.probe},
              {"file", e->file},      {"severity", e->severity}, {"line", e->line}};
}

json Interval(TimestampMs start, TimestampMs end) {
  return json{{"start", Time(start)},
              {"start_ms", start},
              {"end", Time(end)},
              {"end_ms", end},
              {"duration_ms", end - start}};
}

json Window(const Report& r) {
  return json{
      {"from", Time(r.from_ms)},
      {"from_ms", r.from_ms},
      {"to", Time(r.to_ms)},
      {"to_ms", r.to_ms},
      {"now", Time(r.now_ms)},
      {"now_ms", r.now_ms},
      {"evaluated_to", Time(r.evaluated_to_ms)},
      {"evaluated_to_ms", r.evaluated_to_ms},
      {"in_progress", r.in_progress()},
  };
}

json ObjectiveJson(const Report& r) {
  return json{
      {"uptime_ratio", r.objective.uptime_percent / 100.0},
      {"min_coverage_ratio", r.objective.min_coverage_percent / 100.0},
      {"latency_p95_seconds",
       r.objective.latency_p95_ms ? json(*r.objective.latency_p95_ms / 1000.0) : json(nullptr)},
      {"latency_probes", r.objective.latency_probes},
      {"degradation_tolerance_ratio", r.degradation_tolerance},
  };
}

// Each health probe's latency on its own, marked when the SLA is about it.
json LatencyByProbe(const Report& r) {
  json out = json::array();
  for (const auto& p : r.latency_by_probe) {
    out.push_back({{"probe", p.probe}, {"sla", p.sla}, {"latency", Latency(p.latency)}});
  }
  return out;
}

// The verdict with its reasons and every criterion behind it.
json VerdictJson(const Report& r) {
  json criteria = json::array();
  for (const auto& c : r.criteria) {
    criteria.push_back({{"name", c.name},
                        {"value", Optional(c.value)},
                        {"threshold", c.threshold},
                        {"met", c.met},
                        {"state", CriterionStateName(c.state)},
                        {"detail", c.detail}});
  }
  return json{{"status", VerdictName(r.verdict)},
              {"reasons", r.verdict_reasons},
              {"criteria", std::move(criteria)}};
}

json ErrorBudgetJson(const Report& r) {
  return json{
      {"allowed_ms", r.budget.allowed_ms},
      {"allowed_seconds", r.budget.allowed_ms / 1000.0},
      {"used_ms", r.budget.used_ms},
      {"used_seconds", r.budget.used_ms / 1000.0},
      {"left_ms", r.budget.left_ms},
      {"left_seconds", r.budget.left_ms / 1000.0},
      {"used_ratio", Optional(r.budget.used_ratio())},
  };
}

// null when the report has no projection (finished, or no known time yet).
json ProjectionJson(const Report& r) {
  if (!r.projection) return nullptr;
  const auto& p = *r.projection;
  return json{
      {"burn_rate", Optional(p.burn_rate)},
      {"remaining_ms", p.remaining_ms},
      {"projected_down_ms", p.projected_down_ms},
      {"projected_uptime_ratio", Optional(p.projected_uptime)},
      {"projected_status", VerdictName(p.projected_verdict)},
      {"budget_exhausted_at",
       p.budget_exhausted_at_ms ? Time(*p.budget_exhausted_at_ms) : json(nullptr)},
      {"budget_exhausted_at_ms",
       p.budget_exhausted_at_ms ? json(*p.budget_exhausted_at_ms) : json(nullptr)},
  };
}

json IncidentJson(const Incident& inc, uint64_t number) {
  return {
      {"number", number},
      {"start", Time(inc.start_ms)},
      {"start_ms", inc.start_ms},
      {"end", Time(inc.end_ms)},
      {"end_ms", inc.end_ms},
      {"duration_ms", inc.duration_ms()},
      {"duration_seconds", inc.duration_ms() / 1000.0},
      {"ongoing", inc.ongoing},
      {"began_before_window", inc.began_before_window},
      {"probes", inc.probes},
      {"first_probe", inc.first_probe},
      {"first_reason", inc.first_reason},
      {"first_failure", Time(inc.first_failure_ms)},
      {"first_failure_ms", inc.first_failure_ms},
  };
}

json Checks(const Report& r) {
  json checks = json::array();
  for (const auto& c : r.checks) {
    json first = nullptr;
    if (c.first_failure_ms) {
      first = {{"ts", Time(*c.first_failure_ms)},
               {"ts_ms", *c.first_failure_ms},
               {"reason", c.first_failure_reason}};
    }
    checks.push_back({{"probe", c.probe},
                      {"runs", c.runs},
                      {"passed", c.passed},
                      {"failed", c.failed},
                      {"pass_rate", Optional(c.pass_rate())},
                      {"first_failure", std::move(first)}});
  }
  return checks;
}

json Days(const Report& r) {
  json days = json::array();
  for (const auto& d : r.days) {
    days.push_back({{"day", d.number},
                    {"date", d.date},
                    {"label", d.label},
                    {"complete", d.complete()},
                    {"planned_end_ms", d.planned_end_ms},
                    {"start", Time(d.start_ms)},
                    {"start_ms", d.start_ms},
                    {"end", Time(d.end_ms)},
                    {"end_ms", d.end_ms},
                    {"uptime", Totals(d.totals)},
                    {"incidents", d.incidents},
                    {"checks_passed", d.checks_passed},
                    {"checks_failed", d.checks_failed},
                    {"latency", Latency(d.latency)},
                    {"log_lines", {{"critical", d.criticals}, {"error", d.errors}}}});
  }
  return days;
}

json Excluded(const Report& r) {
  json excluded = json::array();
  for (const auto& iv : r.excluded) {
    excluded.push_back({{"start", Time(iv.start_ms)},
                        {"start_ms", iv.start_ms},
                        {"end", Time(iv.end_ms)},
                        {"end_ms", iv.end_ms}});
  }
  return excluded;
}

json MaintenanceWindowJson(const MaintenanceWindow& m) {
  json w = Interval(m.start_ms, m.end_ms);
  w["reason"] = m.reason;
  return w;
}

json Maintenance(const Report& r) {
  json maintenance = json::array();
  for (const auto& m : r.maintenance) maintenance.push_back(MaintenanceWindowJson(m));
  return maintenance;
}

json LogLines(const Report& r) {
  return json{
      {"available", r.logs.unavailable.empty()},
      {"unavailable_reason", r.logs.unavailable.empty() ? json(nullptr) : json(r.logs.unavailable)},
      {"critical", r.logs.critical},
      {"error", r.logs.error},
      {"truncated", r.logs.truncated},
      {"first_critical", Event(r.logs.first_critical)},
      {"last_critical", Event(r.logs.last_critical)},
      {"first_error", Event(r.logs.first_error)},
      {"last_error", Event(r.logs.last_error)},
  };
}

json AlertsFired(const Report& r) {
  json alerts = json::array();
  for (const auto& a : r.alerts) {
    alerts.push_back({{"rule", a.rule},
                      {"labels", a.labels},
                      {"summary", a.summary},
                      {"fired", Time(a.fired_ms)},
                      {"fired_ms", a.fired_ms},
                      {"resolved", a.resolved_ms ? Time(*a.resolved_ms) : json(nullptr)},
                      {"resolved_ms", a.resolved_ms ? json(*a.resolved_ms) : json(nullptr)},
                      {"in_maintenance", a.maintenance ? MaintenanceWindowJson(*a.maintenance)
                                                       : json(nullptr)}});
  }
  return alerts;
}

// What dump(2) prints for `v`, placed at a depth whose lines are indented by `indent` spaces.
// (A dumped string never holds a raw newline: JSON escapes it.)
void AppendIndented(std::string& out, const json& v, size_t indent) {
  const std::string text = v.dump(2, ' ', false, json::error_handler_t::replace);
  for (size_t start = 0;;) {
    const size_t newline = text.find('\n', start);
    if (newline == std::string::npos) {
      out.append(text, start);
      return;
    }
    out.append(text, start, newline + 1 - start);
    out.append(indent, ' ');
    start = newline + 1;
  }
}

// A top-level member's array of `n` elements, each made only when written, as dump(2) prints it:
// a flapping week's 60,396 incidents held as one document took 170 MB beside their 31 MB of text.
void AppendArray(std::string& out, size_t n, const std::function<json(size_t)>& element) {
  if (n == 0) {
    out += "[]";
    return;
  }
  out += "[\n";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ",\n";
    out.append(4, ' ');
    AppendIndented(out, element(i), 4);
  }
  out += "\n  ]";
}

// Emissions and resource usage (the caller leaves the key out when the report has neither).
json ComponentUsageJson(const Report& r) {
  json usage = json::object();
  json emissions = json::array();
  for (const auto& e : r.usage.emissions) {
    emissions.push_back(
        {{"project", e.project}, {"emissions_kg", e.emissions_kg}, {"energy_kwh", e.energy_kwh}});
  }
  usage["emissions"] = std::move(emissions);
  if (const auto& res = r.usage.resources) {
    usage["resources"] = {{"cpu_samples", res->cpu_samples},
                          {"cpu_p50_percent", Optional(res->cpu_p50_percent)},
                          {"cpu_p95_percent", Optional(res->cpu_p95_percent)},
                          {"memory_samples", res->memory_samples},
                          {"memory_p50_mb", Optional(res->memory_p50_mb)},
                          {"memory_max_mb", Optional(res->memory_max_mb)},
                          {"restarts", res->restarts}};
  } else {
    usage["resources"] = nullptr;
  }
  return usage;
}

}  // namespace

std::string RenderReportJson(const Report& r) {
  // Each key is set in its documented place: an ordered_json keeps insertion order.
  json out = json::object();
  out["schema"] = "obsmon.report/v1";
  out["component"] = r.component;
  out["period_id"] = r.period_id ? json(*r.period_id) : json(nullptr);
  out["day_count"] = r.period_days.size();
  out["time_zone"] = r.time_zone.empty() ? json(nullptr) : json(r.time_zone);
  out["window"] = Window(r);
  out["objective"] = ObjectiveJson(r);
  out["verdict"] = VerdictJson(r);
  out["uptime"] = Totals(r.totals);
  out["error_budget"] = ErrorBudgetJson(r);
  out["projection"] = ProjectionJson(r);
  out["latency"] = Latency(r.latency);  // all health probes, pooled
  out["latency"]["scope"] = "all health probes, pooled";
  if (r.latency_as_of_ms) {  // carried over from an earlier build (the daemon's live report)
    out["latency"]["as_of"] = Time(*r.latency_as_of_ms);
    out["latency"]["as_of_ms"] = *r.latency_as_of_ms;
  }
  out["latency_by_probe"] = LatencyByProbe(r);
  out["incidents"] = nullptr;  // written an element at a time, below
  out["incidents_not_listed"] = r.incidents_not_listed;
  out["checks"] = Checks(r);
  out["days"] = Days(r);
  out["health_probes"] = r.health_probes;
  out["excluded"] = Excluded(r);
  out["maintenance"] = Maintenance(r);
  out["log_lines"] = LogLines(r);
  out["alerts_fired"] = AlertsFired(r);
  out["alerts_fired_not_listed"] = r.alerts_not_listed;
  out["monitoring_gaps"] = nullptr;  // likewise
  out["monitoring_gaps_not_listed"] = r.gaps_not_listed;
  if (!r.usage.empty()) out["component_usage"] = ComponentUsageJson(r);
  // What out.dump(2) would print, but the lists that grow with the window's state changes
  // (incidents, gaps) made an element at a time. Probe reasons may hold invalid UTF-8: replaced
  // rather than thrown on.
  std::string text = "{\n";
  bool first = true;
  for (const auto& [key, value] : out.items()) {
    if (!first) text += ",\n";
    first = false;
    text += "  " + json(key).dump() + ": ";
    if (key == "incidents") {
      AppendArray(text, r.incidents.size(),
                  [&](size_t i) { return IncidentJson(r.incidents[i], IncidentNumber(r, i)); });
    } else if (key == "monitoring_gaps") {
      AppendArray(text, r.gaps.size(),
                  [&](size_t i) { return Interval(r.gaps[i].start_ms, r.gaps[i].end_ms); });
    } else {
      AppendIndented(text, value, 2);
    }
  }
  text += "\n}\n";
  return text;
}

}  // namespace obsmon
