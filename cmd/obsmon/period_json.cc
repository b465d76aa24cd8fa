#include "cmd/obsmon/period_json.h"

#include <cmath>
#include <set>

#include "report/figure_format.h"
#include "report/periods.h"

namespace obsmon {
namespace {

using nlohmann::json;

// Refuses a body that is not an object or has a field not in `known`, naming it and the known.
Status CheckFields(const json& body, std::initializer_list<const char*> known) {
  if (!body.is_object()) return Status::InvalidArgument("body: must be a JSON object");
  const std::set<std::string> names(known.begin(), known.end());
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    if (names.count(key)) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return Status::InvalidArgument("unknown field '" + key.substr(0, 80) + "' (known: " + list +
                                   ")");
  }
  return Status::Ok();
}

// Reads string field `key` into `out` when present; false (and `why`) when it is not a string.
bool ReadString(const json& body, const char* key, std::optional<std::string>* out, Status* why) {
  auto it = body.find(key);
  if (it == body.end()) return true;
  if (!it->is_string()) {
    *why = Status::InvalidArgument(std::string("field '") + key + "': must be a string");
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool ReadString(const json& body, const char* key, std::string* out, Status* why) {
  std::optional<std::string> value;
  if (!ReadString(body, key, &value, why)) return false;
  if (value) *out = *value;
  return true;
}

bool ReadNumber(const json& body, const char* key, std::optional<double>* out, Status* why) {
  auto it = body.find(key);
  if (it == body.end()) return true;
  if (!it->is_number()) {
    *why = Status::InvalidArgument(std::string("field '") + key + "': must be a number");
    return false;
  }
  *out = it->get<double>();
  return true;
}

Status Required(const json& body, const char* key) {
  if (body.contains(key)) return Status::Ok();
  return Status::InvalidArgument(std::string("field '") + key + "': required");
}

// `days`: a whole number (the range is the action's to check, with the CLI's message).
bool ReadDays(const json& body, int* days, Status* why) {
  auto it = body.find("days");
  if (it == body.end()) return true;
  if (!it->is_number_integer() || it->get<int64_t>() < -1'000'000 ||
      it->get<int64_t>() > 1'000'000) {
    *why = Status::InvalidArgument("field 'days': must be a whole number of days");
    return false;
  }
  *days = static_cast<int>(it->get<int64_t>());
  return true;
}

}  // namespace

Result<ObserveStartArgs> StartArgsFromJson(const json& body) {
  if (Status s = CheckFields(body, {"component", "days", "objective", "min_coverage", "latency_p95",
                                    "degradation_tolerance", "start", "note", "timezone"});
      !s.ok()) {
    return s;
  }
  if (Status s = Required(body, "component"); !s.ok()) return s;
  ObserveStartArgs a;
  Status why;
  if (!ReadString(body, "component", &a.component, &why) || !ReadDays(body, &a.days, &why) ||
      !ReadNumber(body, "objective", &a.objective_percent, &why) ||
      !ReadNumber(body, "min_coverage", &a.min_coverage_percent, &why) ||
      !ReadString(body, "latency_p95", &a.latency_p95, &why) ||
      !ReadNumber(body, "degradation_tolerance", &a.degradation_tolerance, &why) ||
      !ReadString(body, "start", &a.start, &why) || !ReadString(body, "note", &a.note, &why) ||
      !ReadString(body, "timezone", &a.time_zone, &why)) {
    return why;
  }
  return a;
}

Result<std::string> StopComponentFromJson(const json& body) {
  if (Status s = CheckFields(body, {"component"}); !s.ok()) return s;
  if (Status s = Required(body, "component"); !s.ok()) return s;
  std::string component;
  Status why;
  if (!ReadString(body, "component", &component, &why)) return why;
  return component;
}

Result<MaintenanceAddArgs> AddArgsFromJson(const json& body) {
  if (Status s = CheckFields(body, {"component", "from", "to", "reason", "weekly", "daily",
                                    "duration", "timezone", "until"});
      !s.ok()) {
    return s;
  }
  for (const char* key : {"component", "reason"}) {
    if (Status s = Required(body, key); !s.ok()) return s;
  }
  MaintenanceAddArgs a;
  Status why;
  if (!ReadString(body, "component", &a.component, &why) ||
      !ReadString(body, "from", &a.from, &why) || !ReadString(body, "to", &a.to, &why) ||
      !ReadString(body, "reason", &a.reason, &why) ||
      !ReadString(body, "weekly", &a.weekly, &why) || !ReadString(body, "daily", &a.daily, &why) ||
      !ReadString(body, "duration", &a.duration, &why) ||
      !ReadString(body, "timezone", &a.time_zone, &why) ||
      !ReadString(body, "until", &a.until, &why)) {
    return why;
  }
  return a;
}

Result<MaintenanceEditArgs> EditArgsFromJson(int64_t id, const json& body) {
  if (Status s = CheckFields(
          body, {"from", "to", "until", "weekly", "daily", "duration", "timezone", "reason"});
      !s.ok()) {
    return s;
  }
  MaintenanceEditArgs a;
  a.id = id;
  Status why;
  if (!ReadString(body, "from", &a.from, &why) || !ReadString(body, "to", &a.to, &why) ||
      !ReadString(body, "until", &a.until, &why) || !ReadString(body, "weekly", &a.weekly, &why) ||
      !ReadString(body, "daily", &a.daily, &why) ||
      !ReadString(body, "duration", &a.duration, &why) ||
      !ReadString(body, "timezone", &a.time_zone, &why) ||
      !ReadString(body, "reason", &a.reason, &why)) {
    return why;
  }
  return a;
}

json StartArgsToJson(const ObserveStartArgs& a) {
  json body = {{"component", a.component}, {"days", a.days}};
  if (a.objective_percent) body["objective"] = *a.objective_percent;
  if (a.min_coverage_percent) body["min_coverage"] = *a.min_coverage_percent;
  if (!a.latency_p95.empty()) body["latency_p95"] = a.latency_p95;
  if (a.degradation_tolerance) body["degradation_tolerance"] = *a.degradation_tolerance;
  if (!a.start.empty()) body["start"] = a.start;
  if (!a.note.empty()) body["note"] = a.note;
  if (!a.time_zone.empty()) body["timezone"] = a.time_zone;
  return body;
}

json AddArgsToJson(const MaintenanceAddArgs& a) {
  json body = {{"component", a.component}, {"reason", a.reason}};
  for (const auto& [key, value] :
       {std::pair{"from", &a.from}, std::pair{"to", &a.to}, std::pair{"weekly", &a.weekly},
        std::pair{"daily", &a.daily}, std::pair{"duration", &a.duration},
        std::pair{"timezone", &a.time_zone}, std::pair{"until", &a.until}}) {
    if (!value->empty()) body[key] = *value;
  }
  return body;
}

json EditArgsToJson(const MaintenanceEditArgs& a) {
  json body = json::object();
  for (const auto& [key, value] :
       {std::pair{"from", &a.from}, std::pair{"to", &a.to}, std::pair{"until", &a.until},
        std::pair{"weekly", &a.weekly}, std::pair{"daily", &a.daily},
        std::pair{"duration", &a.duration}, std::pair{"timezone", &a.time_zone},
        std::pair{"reason", &a.reason}}) {
    if (*value) body[key] = **value;
  }
  return body;
}

json PeriodToJson(const PeriodRecord& p, TimestampMs now_ms) {
  json out = {{"id", p.id},
              {"component", p.component},
              {"state", PeriodStateName(StateOf(p, now_ms))},
              {"start", FormatRfc3339Ms(p.start_ms)},
              {"end", FormatRfc3339Ms(PeriodEnd(p))},
              {"start_ms", p.start_ms},
              {"planned_end_ms", p.end_ms},
              {"stopped_ms", p.stopped_ms ? json(p.stopped_ms) : json(nullptr)},
              {"objective_percent", p.objective_percent},
              {"min_coverage_percent", p.min_coverage_percent},
              {"latency_p95_ms", p.latency_p95_ms ? json(*p.latency_p95_ms) : json(nullptr)},
              {"degradation_tolerance", p.degradation_tolerance},
              {"source", p.source},
              {"created_ms", p.created_ms},
              {"note", p.note},
              {"timezone", p.time_zone.empty() ? json(nullptr) : json(p.time_zone)}};
  return out;
}

json WindowToJson(const MaintenanceRecord& m) {
  const bool forever = m.recurring() && m.end_ms >= kMaintenanceNoEndMs;
  json out = {
      {"id", m.id},
      {"component", m.component},
      {"from", FormatRfc3339Ms(m.start_ms)},
      {"to", forever ? json(nullptr) : json(FormatRfc3339Ms(m.end_ms))},
      {"from_ms", m.start_ms},
      {"to_ms", m.end_ms},
      {"reason", m.reason},
      {"source", m.source},
      {"created_ms", m.created_ms},
      {"recurrence", m.recurring() ? json(m.recurrence) : json(nullptr)},
      {"timezone", m.recurring() ? json(m.time_zone.empty() ? "UTC" : m.time_zone) : json(nullptr)},
      {"duration_ms", m.recurring() ? json(m.duration_ms) : json(nullptr)}};
  return out;
}

Result<PeriodRecord> PeriodFromJson(const json& j) {
  try {
    PeriodRecord p;
    p.id = j.at("id").get<int64_t>();
    p.component = j.at("component").get<std::string>();
    p.start_ms = j.at("start_ms").get<int64_t>();
    p.end_ms = j.at("planned_end_ms").get<int64_t>();
    if (!j.at("stopped_ms").is_null()) p.stopped_ms = j.at("stopped_ms").get<int64_t>();
    p.objective_percent = j.at("objective_percent").get<double>();
    p.min_coverage_percent = j.at("min_coverage_percent").get<double>();
    if (!j.at("latency_p95_ms").is_null()) p.latency_p95_ms = j.at("latency_p95_ms").get<double>();
    p.degradation_tolerance = j.at("degradation_tolerance").get<double>();
    p.source = j.at("source").get<std::string>();
    p.created_ms = j.at("created_ms").get<int64_t>();
    p.note = j.at("note").get<std::string>();
    if (auto tz = j.find("timezone"); tz != j.end() && tz->is_string()) p.time_zone = *tz;
    return p;
  } catch (const json::exception& e) {
    return Status::Internal(std::string("the daemon's period is not as expected: ") + e.what());
  }
}

Result<MaintenanceRecord> WindowFromJson(const json& j) {
  try {
    MaintenanceRecord m;
    m.id = j.at("id").get<int64_t>();
    m.component = j.at("component").get<std::string>();
    m.start_ms = j.at("from_ms").get<int64_t>();
    m.end_ms = j.at("to_ms").get<int64_t>();
    m.reason = j.at("reason").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.created_ms = j.at("created_ms").get<int64_t>();
    if (!j.at("recurrence").is_null()) {
      m.recurrence = j.at("recurrence").get<std::string>();
      m.time_zone = j.at("timezone").get<std::string>();
      if (m.time_zone == "UTC") m.time_zone.clear();
      m.duration_ms = j.at("duration_ms").get<int64_t>();
    }
    return m;
  } catch (const json::exception& e) {
    return Status::Internal(std::string("the daemon's window is not as expected: ") + e.what());
  }
}

}  // namespace obsmon
