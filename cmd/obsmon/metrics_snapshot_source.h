// Copies of the runtime's and storage's current figures into the plain structs /metrics is built
// from (web/metrics_snapshot.h), so that web/ never includes runtime/ or storage/. Pure
// functions of their arguments; the caller takes the arguments (each part's own thread-safe
// snapshot) at scrape time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/monitor_state.h"
#include "runtime/scheduler.h"
#include "runtime/uptime_board.h"
#include "storage/storage.h"
#include "web/metrics_snapshot.h"

namespace obsmon {

std::vector<ComponentMetrics> ComponentMetricsOf(const std::vector<ComponentState>& components);
std::vector<ComponentUptimeMetrics> UptimeMetricsOf(
    const std::map<std::string, UptimeFigures>& figures);
SchedulerMetrics SchedulerMetricsOf(const SchedulerStats& stats);
WriterMetrics WriterMetricsOf(const storage::WriterStats& stats);

}  // namespace obsmon
