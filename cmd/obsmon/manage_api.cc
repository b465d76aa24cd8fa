#include "cmd/obsmon/manage_api.h"

#include "cmd/obsmon/period_json.h"

namespace obsmon {
namespace {

using nlohmann::json;

// Unavailable is the database's write lock held by another connection past
// storage.busy_timeout: the server cannot do it now and may later, HTTP's 503.
ManageReply Failed(const Status& s) {
  const int status = s.IsInvalidArgument() ? 400
                     : s.IsNotFound()      ? 404
                     : s.IsUnavailable()   ? 503
                                           : 500;
  return {status, nullptr, s.message()};
}

ManageReply PeriodsReply(PeriodManager& manager, const ManageRequest& r, TimestampMs now) {
  if (r.op == ManageOp::kListPeriods) {
    auto periods = manager.Periods(r.component);
    if (!periods.ok()) return Failed(periods.status());
    json list = json::array();
    for (const auto& p : *periods) list.push_back(PeriodToJson(p, now));
    return {200, list, ""};
  }
  if (r.op == ManageOp::kStartPeriod) {
    auto args = StartArgsFromJson(r.body);
    if (!args.ok()) return Failed(args.status());
    auto p = manager.StartPeriod(*args);
    if (!p.ok()) return Failed(p.status());
    return {201, PeriodToJson(*p, now), ""};
  }
  auto component = StopComponentFromJson(r.body);
  if (!component.ok()) return Failed(component.status());
  auto p = manager.StopPeriod(*component);
  if (!p.ok()) return Failed(p.status());
  return {200, PeriodToJson(*p, now), ""};
}

// Whether two versions of a window hide the same time (they may differ in their reason).
bool SameSpans(const MaintenanceRecord& a, const MaintenanceRecord& b) {
  return a.component == b.component && a.start_ms == b.start_ms && a.end_ms == b.end_ms &&
         a.recurrence == b.recurrence && a.time_zone == b.time_zone &&
         a.duration_ms == b.duration_ms;
}

ManageReply WindowsReply(PeriodManager& manager, const ManageRequest& r) {
  switch (r.op) {
    case ManageOp::kListWindows: {
      auto windows = manager.Windows(r.component);
      if (!windows.ok()) return Failed(windows.status());
      json list = json::array();
      for (const auto& m : *windows) list.push_back(WindowToJson(m));
      return {200, list, ""};
    }
    case ManageOp::kAddWindow: {
      auto args = AddArgsFromJson(r.body);
      if (!args.ok()) return Failed(args.status());
      auto m = manager.AddWindow(*args);
      if (!m.ok()) return Failed(m.status());
      return {201, WindowToJson(*m), ""};
    }
    case ManageOp::kEditWindow: {
      auto args = EditArgsFromJson(r.id, r.body);
      if (!args.ok()) return Failed(args.status());
      auto edit = manager.EditWindow(*args);
      if (!edit.ok()) return Failed(edit.status());
      json data = WindowToJson(edit->window);
      data["was"] = WindowToJson(edit->was);
      ManageReply reply{200, data, ""};
      reply.durations_changed = !SameSpans(edit->window, edit->was);
      return reply;
    }
    default: {
      auto m = manager.DeleteWindow(r.id);
      if (!m.ok()) return Failed(m.status());
      return {200, WindowToJson(*m), ""};
    }
  }
}

const char* ChangeVerb(ManageOp op) {
  switch (op) {
    case ManageOp::kStartPeriod:
      return "started";
    case ManageOp::kStopPeriod:
      return "stopped";
    case ManageOp::kAddWindow:
      return "added";
    case ManageOp::kEditWindow:
      return "changed";
    case ManageOp::kDeleteWindow:
      return "deleted";
    default:
      return "read";
  }
}

// What a change is about, for the daemon's log.
const char* Subject(ManageOp op) {
  const bool period = op == ManageOp::kStartPeriod || op == ManageOp::kStopPeriod;
  return period ? "observation period" : "maintenance window";
}

}  // namespace

std::string DescribeChange(const ManageRequest& request, const json& data) {
  return std::string(Subject(request.op)) + " #" +
         std::to_string(data.value("id", int64_t{0})) + " of " + data.value("component", "?") +
         " " + ChangeVerb(request.op) + " over HTTP by " + request.client;
}

std::string DescribeFailedChange(const ManageRequest& request, const ManageReply& reply) {
  const std::string component =
      !request.component.empty() ? request.component
      : request.body.is_object()  ? request.body.value("component", std::string("?"))
                                  : std::string("?");
  // PATCH and DELETE name the window by its id, in the path (fresh eyes, stop 72: "maintenance
  // window of ? not changed" said nothing of which).
  const std::string which = request.id != 0 ? " #" + std::to_string(request.id) : "";
  const std::string of = component == "?" && !which.empty() ? "" : " of " + component;
  return std::string(Subject(request.op)) + which + of +
         " not " + ChangeVerb(request.op) + " over HTTP by " + request.client + " (" +
         std::to_string(reply.status) + "): " + reply.error;
}

ManageReply RunManage(const ManageRequest& request, PeriodManager& manager, TimestampMs now_ms) {
  switch (request.op) {
    case ManageOp::kListPeriods:
    case ManageOp::kStartPeriod:
    case ManageOp::kStopPeriod:
      return PeriodsReply(manager, request, now_ms);
    default:
      return WindowsReply(manager, request);
  }
}

}  // namespace obsmon
