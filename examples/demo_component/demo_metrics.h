// GET /metrics for the demo component: the Prometheus text format (0.0.4) with the series the
// Carbon component exposes (carbon_emissions_kg, carbon_energy_consumed_kwh,
// carbon_emissions_rate_kg_per_second by project) plus the process's start time and the number
// of scrapes served. `emissions` must outlive the server.
#pragma once

#include <httplib.h>

#include "examples/demo_component/demo_emissions.h"

namespace obsmon::demo {

void RegisterMetricsRoutes(httplib::Server& server, const DemoEmissions& emissions);

// The exposition text for one snapshot (separate for tests).
std::string RenderMetrics(const EmissionsSnapshot& s, double start_time_seconds, uint64_t scrapes);

}  // namespace obsmon::demo
