// TEMPORARY (branch web only): the pre-snapshot MetricsCollector, kept to prove the new one
// writes the same bytes; deleted once metrics_collector_equivalence_test passed.
// obsmon's own /metrics families, built at scrape time from the current state (so a reload never
// leaves a stale series behind). Names follow Prometheus conventions: base units, `_total` for
// counters, `_seconds` for durations, `_ratio` for 0..1 ratios; the output passes
// `promtool check metrics`.
//
// Note: `up` is deliberately NOT exported: Prometheus owns `up` for its scrape of obsmon. Rules
// inside obsmon still see a health probe's verdict as `up{job,instance}`.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "core/storage_health.h"
#include "web/gate_options.h"
#include "runtime/monitor_state.h"
#include "runtime/scheduler.h"
#include "runtime/uptime_board.h"
#include "storage/storage.h"

namespace obsmon {

// The outcome of the last config (re)load, as Prometheus reports its own.
struct OldReloadStats {
  bool last_successful = true;
  double last_success_timestamp_seconds = 0;  // Unix time; 0: not reported
};

struct OldSelfStats {
  SchedulerStats scheduler;
  storage::WriterStats writer;
  OldReloadStats reload;
  // Reads and writes of storage by everything but the writer (whose figures are in `writer`).
  std::vector<StorageOperationHealth> storage;
  bool storage_healthy = true;  // what /healthz says of storage
  // Probe runs that threw (obsmon's bug; the time counts as unknown), by probe.
  std::map<ProbeKey, uint64_t> internal_errors;
  GateStats http;  // obsmon's HTTP server's connections
};

class OldMetricsCollector final : public prometheus::Collectable {
 public:
  // All references must outlive the collector. `self_stats` is called at each scrape.
  OldMetricsCollector(const MonitorState& state, const UptimeBoard& uptime,
                   std::function<OldSelfStats()> self_stats, std::string version,
                   TimestampMs start_ms);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const MonitorState& state_;
  const UptimeBoard& uptime_;
  std::function<OldSelfStats()> self_stats_;
  std::string version_;
  TimestampMs start_ms_;
};

// Serializes families from several collectables in the Prometheus text format 0.0.4.
std::string OldSerializeMetrics(const std::vector<const prometheus::Collectable*>& collectables);

}  // namespace obsmon
