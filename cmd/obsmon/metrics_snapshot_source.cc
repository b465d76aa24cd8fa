#include "cmd/obsmon/metrics_snapshot_source.h"

#include "probes/kept_connections.h"

namespace obsmon {

std::vector<ComponentMetrics> ComponentMetricsOf(const std::vector<ComponentState>& components) {
  std::vector<ComponentMetrics> out;
  for (const auto& c : components) {
    ComponentMetrics m;
    m.name = c.name;
    m.job = c.labels.Get("job");
    if (c.health != ComponentHealth::kUnknown) m.up = c.health == ComponentHealth::kUp;
    for (const auto& p : c.probes) {
      ProbeMetrics pm;
      pm.key = p.spec.key;
      pm.labels = p.spec.labels;
      pm.instance = p.instance;
      if (p.last_run) {
        pm.last_run = ProbeLastRunMetrics{p.last_run->success, p.last_run->duration_seconds,
                                          p.last_run->ts_ms};
      }
      pm.runs_success = p.runs_success;
      pm.runs_failure = p.runs_failure;
      m.probes.push_back(std::move(pm));
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<ComponentUptimeMetrics> UptimeMetricsOf(
    const std::map<std::string, UptimeFigures>& figures) {
  std::vector<ComponentUptimeMetrics> out;
  for (const auto& [name, f] : figures) {
    ComponentUptimeMetrics m;
    m.component = name;
    m.job = f.job;
    m.uptime_ratio = f.uptime_ratio;
    m.coverage_ratio = f.coverage_ratio;
    m.objective_ratio = f.objective_ratio;
    m.budget_remaining_seconds = f.budget_remaining_seconds;
    m.window_ms = f.window_ms;
    out.push_back(std::move(m));
  }
  return out;
}

SchedulerMetrics SchedulerMetricsOf(const SchedulerStats& stats) {
  SchedulerMetrics m;
  m.skipped = stats.skipped;
  m.last_lag_seconds = stats.last_lag_seconds;
  m.lag_seconds_sum = stats.lag_seconds_sum;
  m.lag_count = stats.lag_count;
  m.queue_depth = stats.queue_depth;
  m.busy_workers = stats.busy_workers;
  m.worker_threads = stats.worker_threads;
  m.extra_workers_started = stats.extra_workers_started;
  m.kept_connections = probes::KeptConnections::Instance().kept();
  m.kept_connections_limit = probes::KeptConnections::Instance().limit();
  return m;
}

WriterMetrics WriterMetricsOf(const storage::WriterStats& stats) {
  WriterMetrics m;
  m.queue_depth = stats.queue_depth;
  m.queue_rows = stats.queue_rows;
  m.queue_bytes = stats.queue_bytes;
  m.cache_bytes = stats.cache_bytes;
  m.series_id_cache_entries = stats.series_id_cache_entries;
  m.sqlite_memory_bytes = stats.sqlite_memory_bytes;
  m.dropped_batches = stats.dropped_batches;
  m.dropped_samples = stats.dropped_samples;
  m.dropped_late_runs = stats.dropped_late_runs;
  m.write_errors = stats.write_errors;
  m.committed_rows = stats.committed_rows;
  m.commits = stats.commits;
  m.commit_seconds_sum = stats.commit_seconds_sum;
  m.last_write_ok = stats.last_error.empty();
  m.rejected_batches = stats.rejected_batches;
  m.lost_batches = stats.lost_batches;
  m.superseded_batches = stats.superseded_batches;
  m.wal_bytes = stats.wal_bytes;
  m.checkpoints = stats.checkpoints;
  m.checkpoints_busy = stats.checkpoints_busy;
  m.head_rows_moved = stats.head_rows_moved;
  m.head_floor_repairs = stats.head_floor_repairs;
  return m;
}

}  // namespace obsmon
