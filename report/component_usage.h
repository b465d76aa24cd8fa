// What the component itself reported over a report window, beside uptime: its carbon emissions
// and energy (codecarbon probe) and its resource usage (process probe). Read from the stored
// samples of those probes (labels component=<name>).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/storage.h"

namespace obsmon {

// Emissions and energy of one codecarbon project over the window: the increase of the
// cumulative totals (carbon_emissions_kg, carbon_energy_consumed_kwh) from their first to their
// last stored value in the window. Totals that went down (a reset) count from the reset.
struct EmissionsTotal {
  std::string project;
  double emissions_kg = 0;
  double energy_kwh = 0;
};

struct ResourceUsage {
  uint64_t cpu_samples = 0;
  std::optional<double> cpu_p50_percent;  // nearest rank of process_cpu_percent
  std::optional<double> cpu_p95_percent;
  uint64_t memory_samples = 0;
  std::optional<double> memory_p50_mb;  // process_resident_memory_bytes / 2^20
  std::optional<double> memory_max_mb;
  double restarts = 0;  // increase of process_restarts_total over the window
};

struct ComponentUsage {
  std::vector<EmissionsTotal> emissions;  // by project name
  std::optional<ResourceUsage> resources;  // absent when no process probe stored anything
  bool empty() const { return emissions.empty() && !resources; }
};

// Reads the window [from_ms, to_ms) of `component`'s stored samples.
Result<ComponentUsage> ReadComponentUsage(storage::Reader& reader, const std::string& component,
                                          TimestampMs from_ms, TimestampMs to_ms);

// The increase of a cumulative series: the sum of its non-negative steps, so that a reset (the
// value going down) restarts counting instead of subtracting. `values` in time order.
double IncreaseOf(const std::vector<double>& values);

// Nearest-rank percentile (`permille` of 1000) of `values`, which it reorders; nullopt if empty.
std::optional<double> NearestRankPercentile(std::vector<double>& values, uint32_t permille);

}  // namespace obsmon
