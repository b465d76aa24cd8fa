// The demo component's HTTP routes. Each feature registers its own routes on the one server, so
// adding /metrics or more later is one more Register...() call in main.cc.
#pragma once

#include <httplib.h>

#include "core/clock.h"
#include "examples/demo_component/failure_schedule.h"

namespace obsmon::demo {

// GET /health: 200 {"status":"OK",...} normally, 503 {"status":"FAILING",...} in a failure
// window or on a random failure. `clock` and `schedule` must outlive the server.
void RegisterHealthRoutes(httplib::Server& server, const Clock& clock, FailureSchedule& schedule);

}  // namespace obsmon::demo
