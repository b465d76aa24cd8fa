// What obsmon's own /metrics families are built from: plain values, copied at scrape time by the
// wiring (cmd/obsmon/daemon.cc) from the runtime and storage parts, so that web/ depends on core
// only. Nothing here is shared or locked: a snapshot is a value the collector owns for one scrape.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/records.h"
#include "core/storage_health.h"
#include "web/gate_options.h"

namespace obsmon {

// The last run of one probe (runtime's ProbeRun, as far as /metrics reads it).
struct ProbeLastRunMetrics {
  bool success = false;
  double duration_seconds = 0;
  TimestampMs started_ms = 0;  // wall clock
};

// One configured probe: probe_success, probe_duration_seconds, last run time and run counters.
struct ProbeMetrics {
  ProbeKey key;
  Labels labels;          // the probe's configured labels (with `job`); component/probe/instance added
  std::string instance;
  std::optional<ProbeLastRunMetrics> last_run;  // none before the probe's first run
  uint64_t runs_success = 0;  // since obsmon started
  uint64_t runs_failure = 0;
};

// A component's current state and its probes, in configuration order.
struct ComponentMetrics {
  std::string name;
  std::string job;
  std::optional<bool> up;  // none while the state is unknown
  std::vector<ProbeMetrics> probes;
};

// A component's figures over its objective window (runtime's UptimeFigures).
struct ComponentUptimeMetrics {
  std::string component;
  std::string job;
  std::optional<double> uptime_ratio;  // none when nothing is known
  std::optional<double> coverage_ratio;  // none when the window is all maintenance (so far)
  double objective_ratio = 0;
  std::optional<double> budget_remaining_seconds;  // may be negative; none: no run stored
  int64_t window_ms = 0;
};

// The scheduler's counters (runtime's SchedulerStats).
struct SchedulerMetrics {
  uint64_t skipped = 0;
  double last_lag_seconds = 0;
  double lag_seconds_sum = 0;
  uint64_t lag_count = 0;
  uint64_t queue_depth = 0;
  uint64_t busy_workers = 0;
  // The http probes' connections kept open between runs (keep_alive), and how many may be.
  int64_t kept_connections = 0;
  int64_t kept_connections_limit = 0;
  uint64_t worker_threads = 0;         // `workers`, plus the extra ones
  uint64_t extra_workers_started = 0;  // total
};

// The storage writer's counters (storage's WriterStats); totals since start unless noted.
struct WriterMetrics {
  uint64_t queue_depth = 0;  // now
  uint64_t queue_rows = 0;   // now
  uint64_t queue_bytes = 0;  // now: what the queued batches hold on the heap (estimated)
  uint64_t cache_bytes = 0;  // now: the writer connection's SQLite page cache
  uint64_t series_id_cache_entries = 0;  // now: series ids the writer keeps
  uint64_t sqlite_memory_bytes = 0;      // now: SQLite's memory, every connection
  uint64_t dropped_batches = 0;
  uint64_t dropped_samples = 0;
  uint64_t dropped_late_runs = 0;
  uint64_t write_errors = 0;
  uint64_t committed_rows = 0;
  uint64_t commits = 0;
  double commit_seconds_sum = 0;
  bool last_write_ok = true;  // the last transaction succeeded
  uint64_t rejected_batches = 0;
  uint64_t lost_batches = 0;
  uint64_t superseded_batches = 0;
  uint64_t wal_bytes = 0;  // now
  uint64_t checkpoints = 0;
  uint64_t checkpoints_busy = 0;
  uint64_t head_rows_moved = 0;
  uint64_t head_floor_repairs = 0;
};

// The outcome of the last config (re)load, as Prometheus reports its own.
struct ReloadStats {
  bool last_successful = true;
  double last_success_timestamp_seconds = 0;  // Unix time; 0: not reported
};

// One remote_write destination (remote/'s RemoteWriteStats); totals since start unless noted.
struct RemoteWriteMetrics {
  std::string remote;
  uint64_t samples_sent = 0;
  uint64_t samples_failed = 0;                      // attempts that failed and were retried
  std::map<std::string, uint64_t> samples_dropped;  // by reason; `retention` is persisted
  std::map<std::string, uint64_t> requests;         // by HTTP status, "none" for no answer
  int64_t samples_pending = -1;                     // now; -1 before it is known
  TimestampMs highest_sent_ms = 0;                  // 0 before any
};

// The uptime refresher's work: every component's live report, each uptime_refresh or less often
// when they cost more than uptime_refresh_max_cpu_percent of a core.
struct RefreshStats {
  uint64_t refreshes = 0;
  double cpu_seconds = 0;            // all refreshes' CPU (the refresher's, and HTTP threads')
  double last_duration_seconds = 0;  // the last refresh, wall clock
  double interval_seconds = 0;       // the wait after the last refresh; 0 before the first
  // Of those, the refreshes that read every duration of the window (the latency figures).
  uint64_t latency_refreshes = 0;
  double latency_cpu_seconds = 0;
  double latency_interval_seconds = 0;  // the longest wait the last of them set; 0 before it
  // The heap the kept live reports hold (report/report_memory.h), compacted for the overview
  // (report/overview_report.h).
  uint64_t live_report_bytes = 0;
};

// Everything MetricsCollector::Collect reads, taken at one scrape.
struct MetricsSnapshot {
  std::vector<ComponentMetrics> components;    // configuration order
  std::vector<ComponentUptimeMetrics> uptime;  // by component name
  SchedulerMetrics scheduler;
  WriterMetrics writer;
  ReloadStats reload;
  RefreshStats refresh;
  // Reads and writes of storage by everything but the writer (whose figures are in `writer`).
  std::vector<StorageOperationHealth> storage;
  bool storage_healthy = true;  // what /healthz says of storage
  // Probe runs that threw (obsmon's bug; the time counts as unknown), by probe.
  std::map<ProbeKey, uint64_t> internal_errors;
  GateStats http;  // obsmon's HTTP server's connections
  std::vector<RemoteWriteMetrics> remote_write;  // configuration order
};

}  // namespace obsmon
