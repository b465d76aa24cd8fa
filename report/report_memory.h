// What a Report holds on the heap, estimated from its parts' sizes (vectors' capacities, strings
// past their own inline buffer), for /metrics (`obsmon_live_report_bytes`): the daemon keeps each
// component's live report between refreshes, and a report's incidents, gaps and timeline grow
// with the state changes in its window (a week of a flapping component), not with time alone.
#pragma once

#include <cstddef>

#include "report/report.h"

namespace obsmon {

// The heap bytes `report` owns, sizeof(Report) included.
size_t HeapBytesOf(const Report& report);

}  // namespace obsmon
