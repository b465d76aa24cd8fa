// What the HTTP API asks of periods and maintenance windows (/api/v1/periods, /api/v1/maintenance;
// web/manage_routes.h routes the requests, ApiBackend::Manage answers them). Plain data.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace obsmon {

enum class ManageOp {
  kListPeriods,   // GET /api/v1/periods[?component=C]
  kStartPeriod,   // POST /api/v1/periods
  kStopPeriod,    // POST /api/v1/periods/stop
  kListWindows,   // GET /api/v1/maintenance[?component=C]
  kAddWindow,     // POST /api/v1/maintenance
  kEditWindow,    // PATCH /api/v1/maintenance/{id}
  kDeleteWindow,  // DELETE /api/v1/maintenance/{id}
};

struct ManageRequest {
  ManageOp op = ManageOp::kListPeriods;
  int64_t id = 0;         // the window of kEditWindow and kDeleteWindow
  std::string component;  // the lists' filter; empty: all
  nlohmann::json body;    // the request's JSON (an object of the mutations); null for the rest
  std::string client;     // the client's address, for the daemon's log of changes
};

struct ManageReply {
  // HTTP status: 200, 201, 400, 404, 500; 503 when the database's write lock is held past
  // storage.busy_timeout or another change waits for it (a client retries)
  int status = 200;
  nlohmann::json data;  // on success: the `data` of the answer
  std::string error;    // otherwise: why, naming the field
  // False when a change cannot move any figure's durations (a window's reason edited, or an
  // edit that changed nothing): the latency need not be read again for it.
  bool durations_changed = true;
};

// Whether `op` changes anything (and so needs the rights of a change, web/manage_routes.h).
inline bool IsChange(ManageOp op) {
  return op != ManageOp::kListPeriods && op != ManageOp::kListWindows;
}

}  // namespace obsmon
