#include "report/component_usage.h"

#include <algorithm>
#include <map>

#include "report/percentiles.h"

namespace obsmon {

double IncreaseOf(const std::vector<double>& values) {
  double total = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    const double step = values[i] - values[i - 1];
    total += step >= 0 ? step : values[i];  // after a reset the new value is all increase
  }
  return total;
}

std::optional<double> NearestRankPercentile(std::vector<double>& values, uint32_t permille) {
  if (values.empty()) return std::nullopt;
  const uint64_t rank = NearestRank(values.size(), permille);
  auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

namespace {

// Values of every series named `name` of the component, grouped by `group_label` (or one group).
Result<std::map<std::string, std::vector<double>>> ReadSeries(storage::Reader& reader,
                                                              const std::string& name,
                                                              const std::string& component,
                                                              const std::string& group_label,
                                                              TimestampMs from_ms,
                                                              TimestampMs to_ms) {
  auto samples = reader.Samples(name, Labels{{"component", component}}, from_ms, to_ms);
  if (!samples.ok()) return samples.status();
  std::map<std::string, std::vector<double>> out;
  // Samples come ordered by series, then time: consecutive values of one series stay in order.
  for (const Sample& s : *samples) {
    out[group_label.empty() ? "" : s.labels.Get(group_label)].push_back(s.value);
  }
  return out;
}

}  // namespace

Result<ComponentUsage> ReadComponentUsage(storage::Reader& reader, const std::string& component,
                                          TimestampMs from_ms, TimestampMs to_ms) {
  ComponentUsage usage;
  if (to_ms <= from_ms) return usage;
  auto emissions = ReadSeries(reader, "carbon_emissions_kg", component, "project", from_ms, to_ms);
  if (!emissions.ok()) return emissions.status();
  auto energy =
      ReadSeries(reader, "carbon_energy_consumed_kwh", component, "project", from_ms, to_ms);
  if (!energy.ok()) return energy.status();
  std::map<std::string, EmissionsTotal> by_project;
  for (const auto& [project, values] : *emissions) {
    by_project[project].project = project;
    by_project[project].emissions_kg = IncreaseOf(values);
  }
  for (const auto& [project, values] : *energy) {
    by_project[project].project = project;
    by_project[project].energy_kwh = IncreaseOf(values);
  }
  for (auto& [project, total] : by_project) usage.emissions.push_back(total);

  auto cpu = ReadSeries(reader, "process_cpu_percent", component, "", from_ms, to_ms);
  if (!cpu.ok()) return cpu.status();
  auto memory = ReadSeries(reader, "process_resident_memory_bytes", component, "", from_ms, to_ms);
  if (!memory.ok()) return memory.status();
  auto restarts = ReadSeries(reader, "process_restarts_total", component, "", from_ms, to_ms);
  if (!restarts.ok()) return restarts.status();
  if (!cpu->empty() || !memory->empty() || !restarts->empty()) {
    ResourceUsage r;
    if (auto it = cpu->find(""); it != cpu->end()) {
      std::vector<double>& v = it->second;
      r.cpu_samples = v.size();
      r.cpu_p95_percent = NearestRankPercentile(v, 950);
      r.cpu_p50_percent = NearestRankPercentile(v, 500);
    }
    if (auto it = memory->find(""); it != memory->end()) {
      std::vector<double>& v = it->second;
      r.memory_samples = v.size();
      if (!v.empty()) r.memory_max_mb = *std::max_element(v.begin(), v.end()) / (1024.0 * 1024.0);
      if (auto p50 = NearestRankPercentile(v, 500)) r.memory_p50_mb = *p50 / (1024.0 * 1024.0);
    }
    if (auto it = restarts->find(""); it != restarts->end()) r.restarts = IncreaseOf(it->second);
    usage.resources = r;
  }
  return usage;
}

}  // namespace obsmon
