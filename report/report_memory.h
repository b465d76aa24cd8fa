// What a Report holds on the heap, estimated from its parts' sizes (vectors' capacities, strings
// past their own inline buffer), for /metrics (`obsmon_uptime_live_report_bytes`): the daemon
// keeps each component's live report between refreshes (compacted: report/overview_report.h); a
// whole report's incidents, gaps and timeline grow with the state changes in its window.
#pragma once

#include <cstddef>

#include "report/report.h"

namespace obsmon {

// The heap bytes `report` owns, sizeof(Report) included.
size_t HeapBytesOf(const Report& report);

}  // namespace obsmon
