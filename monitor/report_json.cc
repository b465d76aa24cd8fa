// RenderReportJson: the stable JSON form of a Report, documented field by field in
// docs/report-json.md. Add fields freely; never rename or retype one (bump "schema" instead).
#include <nlohmann/json.hpp>

#include "monitor/report_format.h"

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

}  // namespace

std::string RenderReportJson(const Report& r) {
  json out = json::object();
  out["schema"] = "obsmon.report/v1";
  out["component"] = r.component;
  out["window"] = {
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
  out["objective"] = {
      {"uptime_ratio", r.objective.uptime_percent / 100.0},
      {"min_coverage_ratio", r.objective.min_coverage_percent / 100.0},
      {"latency_p95_seconds",
       r.objective.latency_p95_ms ? json(*r.objective.latency_p95_ms / 1000.0) : json(nullptr)},
  };
  json criteria = json::array();
  for (const auto& c : r.criteria) {
    criteria.push_back({{"name", c.name},
                        {"value", Optional(c.value)},
                        {"threshold", c.threshold},
                        {"met", c.met},
                        {"detail", c.detail}});
  }
  out["verdict"] = {{"status", VerdictName(r.verdict)},
                    {"reasons", r.verdict_reasons},
                    {"criteria", std::move(criteria)}};
  out["uptime"] = Totals(r.totals);
  out["error_budget"] = {
      {"allowed_ms", r.budget.allowed_ms},
      {"allowed_seconds", r.budget.allowed_ms / 1000.0},
      {"used_ms", r.budget.used_ms},
      {"used_seconds", r.budget.used_ms / 1000.0},
      {"left_ms", r.budget.left_ms},
      {"left_seconds", r.budget.left_ms / 1000.0},
      {"used_ratio", Optional(r.budget.used_ratio())},
  };
  out["latency"] = Latency(r.latency);

  json incidents = json::array();
  for (const auto& inc : r.incidents) {
    incidents.push_back({
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
    });
  }
  out["incidents"] = std::move(incidents);

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
  out["checks"] = std::move(checks);

  json days = json::array();
  for (const auto& d : r.days) {
    days.push_back({{"date", d.date},
                    {"start", Time(d.start_ms)},
                    {"start_ms", d.start_ms},
                    {"end", Time(d.end_ms)},
                    {"end_ms", d.end_ms},
                    {"uptime", Totals(d.totals)},
                    {"incidents", d.incidents},
                    {"checks_passed", d.checks_passed},
                    {"checks_failed", d.checks_failed},
                    {"latency", Latency(d.latency)}});
  }
  out["days"] = std::move(days);
  out["health_probes"] = r.health_probes;
  json excluded = json::array();
  for (const auto& iv : r.excluded) {
    excluded.push_back({{"start", Time(iv.start_ms)},
                        {"start_ms", iv.start_ms},
                        {"end", Time(iv.end_ms)},
                        {"end_ms", iv.end_ms}});
  }
  out["excluded"] = std::move(excluded);
  // Probe reasons may hold invalid UTF-8: replace it rather than throw.
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace obsmon
