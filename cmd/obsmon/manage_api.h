// The daemon's answers to /api/v1/periods and /api/v1/maintenance: a request's JSON read into the
// actions' arguments (cmd/obsmon/period_json.h), run by a PeriodManager (the local one: the
// daemon writes its own database), the outcome as JSON or as an HTTP status with the action's
// message.
#pragma once

#include "cmd/obsmon/period_actions.h"
#include "web/manage_request.h"

namespace obsmon {

// InvalidArgument -> 400, NotFound -> 404, anything else -> 500. A new period or window: 201.
ManageReply RunManage(const ManageRequest& request, PeriodManager& manager, TimestampMs now_ms);

// What a change that succeeded did, for the daemon's log ("maintenance window #3 of shop deleted
// over HTTP by 127.0.0.1"); `data` is its reply's.
std::string DescribeChange(const ManageRequest& request, const nlohmann::json& data);
// The log line of a change that failed for want of the database (a status of 500 or more): what
// was asked, by whom, and why it was not done.
std::string DescribeFailedChange(const ManageRequest& request, const ManageReply& reply);

}  // namespace obsmon
