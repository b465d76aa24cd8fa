#include "web/metrics_collector.h"

#include <limits>
#include <map>
#include <prometheus/text_serializer.h>

namespace obsmon {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

std::vector<ClientMetric::Label> ToLabels(const Labels& labels) {
  std::vector<ClientMetric::Label> out;
  for (const auto& [k, v] : labels.pairs()) out.push_back({k, v});
  return out;
}

void AddGauge(MetricFamily* f, const Labels& labels, double value) {
  ClientMetric m;
  m.label = ToLabels(labels);
  m.gauge.value = value;
  f->metric.push_back(std::move(m));
}

void AddCounter(MetricFamily* f, const Labels& labels, double value) {
  ClientMetric m;
  m.label = ToLabels(labels);
  m.counter.value = value;
  f->metric.push_back(std::move(m));
}

// What the HTTP connection gate has refused, dropped and holds (web/gated_server.h).
void AppendHttpFamilies(const GateStats& g, std::vector<MetricFamily>* out) {
  auto accepted = Family("obsmon_http_connections_accepted_total",
                         "Connections to obsmon's HTTP server accepted.", MetricType::Counter);
  AddCounter(&accepted, {}, static_cast<double>(g.accepted));
  auto refused = Family("obsmon_http_connections_refused_total",
                        "Connections closed at once: a client (per_client) or all clients "
                        "(total) were at their limit with every connection busy.",
                        MetricType::Counter);
  AddCounter(&refused, Labels{{"reason", "per_client"}}, static_cast<double>(g.refused_per_client));
  AddCounter(&refused, Labels{{"reason", "total"}}, static_cast<double>(g.refused_total));
  auto dropped = Family("obsmon_http_connections_dropped_total",
                        "Connections obsmon closed: evicted (idle between requests, or with a "
                        "request incomplete, to make room), request_timeout (408), head_too_large "
                        "(431), body_too_large (413), bad_framing (400, ambiguous length), write_timeout (the client "
                        "stopped reading), tls_handshake, client_gone (the client closed it "
                        "while its request waited for a worker or a report slot).",
                        MetricType::Counter);
  AddCounter(&dropped, Labels{{"reason", "evicted"}}, static_cast<double>(g.evicted));
  AddCounter(&dropped, Labels{{"reason", "request_timeout"}},
             static_cast<double>(g.request_timeouts));
  AddCounter(&dropped, Labels{{"reason", "head_too_large"}}, static_cast<double>(g.head_too_large));
  AddCounter(&dropped, Labels{{"reason", "body_too_large"}}, static_cast<double>(g.body_too_large));
  AddCounter(&dropped, Labels{{"reason", "bad_framing"}}, static_cast<double>(g.bad_framing));
  AddCounter(&dropped, Labels{{"reason", "write_timeout"}}, static_cast<double>(g.write_timeouts));
  AddCounter(&dropped, Labels{{"reason", "tls_handshake"}},
             static_cast<double>(g.tls_handshake_failures));
  AddCounter(&dropped, Labels{{"reason", "client_gone"}}, static_cast<double>(g.client_gone));
  auto open = Family("obsmon_http_connections",
                     "Open connections to obsmon's HTTP server: all (open), or being answered "
                     "by a worker (busy).",
                     MetricType::Gauge);
  AddGauge(&open, Labels{{"state", "open"}}, static_cast<double>(g.open));
  AddGauge(&open, Labels{{"state", "busy"}}, static_cast<double>(g.busy));
  auto held = Family("obsmon_http_output_held_bytes",
                     "Bytes of answers held for clients reading them slower than they were "
                     "written, sent as they read (bounded by web.output_buffer).",
                     MetricType::Gauge);
  AddGauge(&held, {}, static_cast<double>(g.output_held_bytes));
  auto reports = Family("obsmon_http_reports_refused_total",
                        "Report requests answered 503 with Retry-After: the client address had "
                        "its share of the report places (per_client), every place was taken "
                        "(total), or no slot came within the wait (wait).",
                        MetricType::Counter);
  AddCounter(&reports, Labels{{"reason", "per_client"}},
             static_cast<double>(g.reports_refused_per_client));
  AddCounter(&reports, Labels{{"reason", "total"}}, static_cast<double>(g.reports_refused_total));
  AddCounter(&reports, Labels{{"reason", "wait"}}, static_cast<double>(g.reports_refused_wait));
  for (auto* f : {&accepted, &refused, &dropped, &open, &held, &reports}) {
    out->push_back(std::move(*f));
  }
}

// remote_write's figures per destination (docs/remote-write.md, "Metrics"). Every reason and
// the usual codes have a series from the start, so rate() and alerts on them work.
void AppendRemoteWriteFamilies(const std::vector<RemoteWriteMetrics>& remotes,
                               std::vector<MetricFamily>* out) {
  if (remotes.empty()) return;
  auto sent = Family("obsmon_remote_write_samples_sent_total",
                     "Samples a remote_write destination answered 2xx.", MetricType::Counter);
  auto failed = Family("obsmon_remote_write_samples_failed_total",
                       "Samples of remote_write requests that failed and were retried (each "
                       "failed attempt counts them).",
                       MetricType::Counter);
  auto dropped = Family("obsmon_remote_write_samples_dropped_total",
                        "Samples given up: rejected (a 4xx answer), retry_cap (5xx/429 too "
                        "often), too_old (sample_age_limit), retention (deleted unsent; "
                        "persisted).",
                        MetricType::Counter);
  auto pending = Family("obsmon_remote_write_samples_pending",
                        "Stored samples at or after the destination's cursor (not yet "
                        "acknowledged).",
                        MetricType::Gauge);
  auto highest = Family("obsmon_remote_write_highest_sent_timestamp_seconds",
                        "Timestamp of the newest sample the destination answered 2xx (0 before "
                        "any since start).",
                        MetricType::Gauge);
  auto requests = Family("obsmon_remote_write_requests_total",
                         "remote_write requests by HTTP status (none: no answer).",
                         MetricType::Counter);
  for (const auto& r : remotes) {
    const Labels l{{"remote", r.remote}};
    AddCounter(&sent, l, static_cast<double>(r.samples_sent));
    AddCounter(&failed, l, static_cast<double>(r.samples_failed));
    std::map<std::string, uint64_t> reasons = {
        {"rejected", 0}, {"retry_cap", 0}, {"too_old", 0}, {"retention", 0}};
    for (const auto& [reason, n] : r.samples_dropped) reasons[reason] = n;
    for (const auto& [reason, n] : reasons) {
      AddCounter(&dropped, Labels{{"remote", r.remote}, {"reason", reason}},
                 static_cast<double>(n));
    }
    if (r.samples_pending >= 0) AddGauge(&pending, l, static_cast<double>(r.samples_pending));
    AddGauge(&highest, l, static_cast<double>(r.highest_sent_ms) / 1000.0);
    for (const auto& [code, n] : r.requests) {
      AddCounter(&requests, Labels{{"remote", r.remote}, {"code", code}},
                 static_cast<double>(n));
    }
  }
  for (auto* f : {&sent, &failed, &dropped, &pending, &highest, &requests}) {
    if (!f->metric.empty()) out->push_back(std::move(*f));
  }
}

// probe_success, probe_duration_seconds, obsmon_probe_last_run_timestamp_seconds,
// obsmon_probe_runs_total, obsmon_component_up and obsmon_component_state, in that order.
std::vector<MetricFamily> ComponentFamilies(const std::vector<ComponentMetrics>& components) {
  auto success = Family("probe_success", "Whether the last run of the probe succeeded (1) or not (0).",
                        MetricType::Gauge);
  auto duration = Family("probe_duration_seconds", "How long the last run of the probe took.",
                         MetricType::Gauge);
  auto last_run = Family("obsmon_probe_last_run_timestamp_seconds",
                         "Unix time the last run of the probe started.", MetricType::Gauge);
  auto runs = Family("obsmon_probe_runs_total",
                     "Probe runs since obsmon started, by result (success or failure).",
                     MetricType::Counter);
  auto comp_up = Family("obsmon_component_up",
                        "1 when every health probe of the component is up, 0 when one is down; "
                        "absent while the state is unknown.",
                        MetricType::Gauge);
  auto comp_state = Family("obsmon_component_state",
                           "The component's current state: 1 for the state it is in (up, down "
                           "or unknown), 0 for the others.",
                           MetricType::Gauge);
  for (const auto& c : components) {
    Labels cl{{"component", c.name}, {"job", c.job}};
    if (c.up) AddGauge(&comp_up, cl, *c.up ? 1 : 0);
    const std::string current = !c.up ? "unknown" : *c.up ? "up" : "down";
    for (const char* state : {"up", "down", "unknown"}) {
      Labels sl = cl;
      sl.Set("state", state);
      AddGauge(&comp_state, sl, current == state ? 1 : 0);
    }
    for (const auto& p : c.probes) {
      Labels pl = p.labels;
      pl.Set("component", p.key.component);
      pl.Set("probe", p.key.probe);
      pl.Set("instance", p.instance);
      if (p.last_run) {
        AddGauge(&success, pl, p.last_run->success ? 1 : 0);
        AddGauge(&duration, pl, p.last_run->duration_seconds);
        AddGauge(&last_run, pl, p.last_run->started_ms / 1000.0);
      }
      Labels rl{{"component", p.key.component}, {"probe", p.key.probe}};
      rl.Set("result", "success");
      AddCounter(&runs, rl, static_cast<double>(p.runs_success));
      rl.Set("result", "failure");
      AddCounter(&runs, rl, static_cast<double>(p.runs_failure));
    }
  }
  std::vector<MetricFamily> out;
  for (auto* f : {&success, &duration, &last_run, &runs, &comp_up, &comp_state}) {
    out.push_back(std::move(*f));
  }
  return out;
}

// The live figures (over the active observation period, else the objective window ending now;
// maintenance excluded): uptime, coverage, objective, budget and window, in that order.
std::vector<MetricFamily> UptimeFamilies(const std::vector<ComponentUptimeMetrics>& rows) {
  auto uptime = Family("obsmon_component_uptime_ratio",
                       "up / (up + down) over the active observation period, else the objective window; unknown "
                       "time and maintenance excluded.",
                       MetricType::Gauge);
  auto coverage = Family("obsmon_component_coverage_ratio",
                         "Share of the evaluated window, maintenance excluded, with a known state (up or down).",
                         MetricType::Gauge);
  auto objective = Family("obsmon_component_objective_ratio", "The uptime objective (the active period's, else the component's).",
                          MetricType::Gauge);
  auto budget = Family("obsmon_component_error_budget_remaining_seconds",
                       "Downtime still allowed in the window, maintenance excluded (negative when overspent).",
                       MetricType::Gauge);
  auto window = Family("obsmon_component_objective_window_seconds",
                       "Length of the window: the active period's, else the objective window.", MetricType::Gauge);
  for (const auto& f : rows) {
    Labels l{{"component", f.component}, {"job", f.job}};
    if (f.uptime_ratio) AddGauge(&uptime, l, *f.uptime_ratio);
    if (f.coverage_ratio) AddGauge(&coverage, l, *f.coverage_ratio);
    AddGauge(&objective, l, f.objective_ratio);
    if (f.budget_remaining_seconds) AddGauge(&budget, l, *f.budget_remaining_seconds);
    AddGauge(&window, l, f.window_ms / 1000.0);
  }
  std::vector<MetricFamily> out;
  for (auto* f : {&uptime, &coverage, &objective, &budget, &window}) out.push_back(std::move(*f));
  return out;
}

std::vector<MetricFamily> SchedulerFamilies(const SchedulerMetrics& s) {
  auto lag = Family("obsmon_scheduler_lag_seconds",
                    "How late probe runs started after their due time.", MetricType::Summary);
  {
    ClientMetric m;
    m.summary.sample_count = s.lag_count;
    m.summary.sample_sum = s.lag_seconds_sum;
    lag.metric.push_back(std::move(m));
  }
  auto last_lag = Family("obsmon_scheduler_last_lag_seconds",
                         "How late the most recent probe run started.", MetricType::Gauge);
  AddGauge(&last_lag, {}, s.last_lag_seconds);
  auto skipped = Family("obsmon_scheduler_skipped_runs_total",
                        "Runs not started because the previous run of the probe was still busy "
                        "or obsmon fell behind.",
                        MetricType::Counter);
  AddCounter(&skipped, {}, static_cast<double>(s.skipped));
  auto sched_queue = Family("obsmon_scheduler_queue_depth", "Probe runs waiting for a worker.",
                            MetricType::Gauge);
  AddGauge(&sched_queue, {}, static_cast<double>(s.queue_depth));
  auto busy = Family("obsmon_scheduler_busy_workers", "Workers running a probe now.",
                     MetricType::Gauge);
  AddGauge(&busy, {}, static_cast<double>(s.busy_workers));
  auto threads = Family("obsmon_scheduler_worker_threads",
                        "Probe worker threads now: `workers`, plus those started for runs "
                        "that waited 10ms while every worker thread was busy.",
                        MetricType::Gauge);
  AddGauge(&threads, {}, static_cast<double>(s.worker_threads));
  auto extra = Family("obsmon_scheduler_extra_workers_started_total",
                      "Worker threads started beyond `workers` for runs that waited while "
                      "every worker thread was busy.",
                      MetricType::Counter);
  AddCounter(&extra, {}, static_cast<double>(s.extra_workers_started));
  auto kept = Family("obsmon_http_kept_connections",
                     "Connections the http probes' keep_alive holds open between runs.",
                     MetricType::Gauge);
  AddGauge(&kept, {}, static_cast<double>(s.kept_connections));
  auto kept_limit = Family("obsmon_http_kept_connections_limit",
                           "How many connections keep_alive may hold open: half the soft "
                           "open-files limit less 64; beyond, runs connect afresh.",
                           MetricType::Gauge);
  AddGauge(&kept_limit, {}, static_cast<double>(s.kept_connections_limit));
  std::vector<MetricFamily> out;
  for (auto* f :
       {&lag, &last_lag, &skipped, &sched_queue, &busy, &threads, &extra, &kept, &kept_limit}) {
    out.push_back(std::move(*f));
  }
  return out;
}

// The writer's figures and the health of every other use of the database.
std::vector<MetricFamily> StorageFamilies(const WriterMetrics& w,
                                          const std::vector<StorageOperationHealth>& operations,
                                          bool storage_healthy) {
  auto wq = Family("obsmon_storage_queue_depth", "Write batches waiting for the storage writer.",
                   MetricType::Gauge);
  AddGauge(&wq, {}, static_cast<double>(w.queue_depth));
  auto dropped = Family("obsmon_storage_dropped_batches_total",
                        "Write batches refused because the writer queue was full: their runs "
                        "and samples are lost; a log probe's lines and counters wait for its "
                        "next batch.",
                        MetricType::Counter);
  AddCounter(&dropped, {}, static_cast<double>(w.dropped_batches));
  auto dropped_samples =
      Family("obsmon_storage_dropped_samples_total",
             "Samples left out of write batches when the writer queue held its maximum rows; "
             "the batches' probe runs were kept.",
             MetricType::Counter);
  AddCounter(&dropped_samples, {}, static_cast<double>(w.dropped_samples));
  auto late = Family("obsmon_storage_dropped_late_runs_total",
                     "Probe runs refused because they arrived after retention had deleted part of "
                     "the state span they belong to (their time could not be placed exactly).",
                     MetricType::Counter);
  AddCounter(&late, {}, static_cast<double>(w.dropped_late_runs));
  auto werr = Family("obsmon_storage_write_errors_total",
                     "Failed storage transactions (their batches are retried).",
                     MetricType::Counter);
  AddCounter(&werr, {}, static_cast<double>(w.write_errors));
  auto committed = Family("obsmon_storage_committed_rows_total",
                          "Rows (runs, samples, events) committed to the database.",
                          MetricType::Counter);
  AddCounter(&committed, {}, static_cast<double>(w.committed_rows));
  auto wlat = Family("obsmon_storage_commit_duration_seconds",
                     "Duration of storage transactions.", MetricType::Summary);
  {
    ClientMetric m;
    m.summary.sample_count = w.commits;
    m.summary.sample_sum = w.commit_seconds_sum;
    wlat.metric.push_back(std::move(m));
  }
  auto healthy = Family("obsmon_storage_last_write_successful",
                        "1 when the last storage transaction succeeded.", MetricType::Gauge);
  AddGauge(&healthy, {}, w.last_write_ok ? 1 : 0);
  auto storage_ok = Family("obsmon_storage_healthy",
                           "1 while every read and write of the database succeeds; 0 while one "
                           "is failing (GET /healthz says which).",
                           MetricType::Gauge);
  AddGauge(&storage_ok, {}, storage_healthy ? 1 : 0);
  auto storage_errors = Family("obsmon_storage_errors_total",
                               "Failed reads and writes of the database, by operation (write: "
                               "the writer's transactions; read: reports, uptime, probe state; "
                               "periods; alerts).",
                               MetricType::Counter);
  AddCounter(&storage_errors, Labels{{"operation", "write"}},
             static_cast<double>(w.write_errors));
  for (const auto& op : operations) {
    if (op.operation == "write") continue;
    AddCounter(&storage_errors, Labels{{"operation", op.operation}},
               static_cast<double>(op.errors_total));
  }
  auto lost = Family("obsmon_storage_lost_batches_total",
                     "Write batches accepted but never written: refused for their data or "
                     "dropped while retrying a failing disk. Probe state in them is re-read.",
                     MetricType::Counter);
  AddCounter(&lost, Labels{{"reason", "refused"}}, static_cast<double>(w.rejected_batches));
  AddCounter(&lost, Labels{{"reason", "retry_overflow"}}, static_cast<double>(w.lost_batches));
  auto superseded = Family("obsmon_storage_superseded_state_batches_total",
                           "Batches whose log lines and counters were dropped because their probe "
                           "re-read its state meanwhile (the lines are counted by the re-read).",
                           MetricType::Counter);
  AddCounter(&superseded, {}, static_cast<double>(w.superseded_batches));
  auto wal = Family("obsmon_storage_wal_bytes", "Size of the database's write-ahead log now.",
                    MetricType::Gauge);
  AddGauge(&wal, {}, static_cast<double>(w.wal_bytes));
  auto checkpoints = Family("obsmon_storage_wal_checkpoints_total",
                            "Idle WAL checkpoints (TRUNCATE), by result (ok, or busy: readers "
                            "held WAL frames; retried when next idle).",
                            MetricType::Counter);
  AddCounter(&checkpoints, Labels{{"result", "ok"}}, static_cast<double>(w.checkpoints));
  AddCounter(&checkpoints, Labels{{"result", "busy"}}, static_cast<double>(w.checkpoints_busy));
  auto head_moved = Family("obsmon_storage_head_rows_moved_total",
                           "Samples and probe runs moved from the time-ordered heads "
                           "(samples_head, probe_runs_head) into samples_by_series and "
                           "probe_runs_by_probe every storage.head_move_interval; the heads keep the "
                           "last 15 s plus that interval.",
                           MetricType::Counter);
  AddCounter(&head_moved, {}, static_cast<double>(w.head_rows_moved));
  auto floor_repairs = Family("obsmon_storage_head_floor_repairs_total",
                              "Times samples_head_floor was found wrong (missing, in the future, "
                              "or not between the two tables) and set again from the data.",
                              MetricType::Counter);
  AddCounter(&floor_repairs, {}, static_cast<double>(w.head_floor_repairs));
  auto queue_rows = Family("obsmon_storage_queue_rows",
                           "Rows (runs, samples, log lines) waiting for the writer now; bounded "
                           "by the queue's row capacity (about 100-200 bytes a row).",
                           MetricType::Gauge);
  AddGauge(&queue_rows, {}, static_cast<double>(w.queue_rows));
  auto queue_bytes = Family("obsmon_storage_queue_bytes",
                            "Heap the batches waiting for the writer hold now (their vectors and "
                            "long strings; label sets are shared with the probes).",
                            MetricType::Gauge);
  AddGauge(&queue_bytes, {}, static_cast<double>(w.queue_bytes));
  std::vector<MetricFamily> out;
  for (auto* f : {&wq, &queue_rows, &queue_bytes, &dropped, &dropped_samples, &late, &werr,
                  &committed, &wlat, &healthy, &storage_ok, &storage_errors, &lost, &superseded,
                  &wal, &checkpoints, &head_moved, &floor_repairs}) {
    out.push_back(std::move(*f));
  }
  return out;
}

// What storage holds in memory now: the writer's page cache and series ids, all of SQLite.
std::vector<MetricFamily> StorageMemoryFamilies(const WriterMetrics& w) {
  auto cache = Family("obsmon_storage_cache_bytes",
                      "Memory held by the writer's SQLite page cache now (storage.cache_size "
                      "bounds it).",
                      MetricType::Gauge);
  AddGauge(&cache, {}, static_cast<double>(w.cache_bytes));
  auto series_ids = Family("obsmon_storage_series_id_cache_entries",
                           "Series whose database ids the writer keeps in memory now (at most "
                           "50,000, about 400 bytes each; started over when full).",
                           MetricType::Gauge);
  AddGauge(&series_ids, {}, static_cast<double>(w.series_id_cache_entries));
  auto sqlite_memory = Family("obsmon_sqlite_memory_bytes",
                              "Memory SQLite holds now, all of obsmon's connections together "
                              "(page caches, statements, schemas; part of the C heap's in_use).",
                              MetricType::Gauge);
  AddGauge(&sqlite_memory, {}, static_cast<double>(w.sqlite_memory_bytes));
  std::vector<MetricFamily> out;
  for (auto* f : {&cache, &series_ids, &sqlite_memory}) out.push_back(std::move(*f));
  return out;
}

MetricFamily InternalErrorsFamily(const std::map<ProbeKey, uint64_t>& internal_errors) {
  auto internal = Family("obsmon_probe_internal_errors_total",
                         "Probe runs that failed inside obsmon (an exception: obsmon's bug). "
                         "Their time counts as unknown, never as down.",
                         MetricType::Counter);
  for (const auto& [key, n] : internal_errors) {
    AddCounter(&internal, Labels{{"component", key.component}, {"probe", key.probe}},
               static_cast<double>(n));
  }
  return internal;
}

// obsmon_build_info and obsmon_start_time_seconds.
std::vector<MetricFamily> BuildFamilies(const std::string& version, TimestampMs start_ms) {
  auto build = Family("obsmon_build_info", "obsmon's version; the value is always 1.",
                      MetricType::Gauge);
  AddGauge(&build, Labels{{"version", version}}, 1);
  auto start = Family("obsmon_start_time_seconds", "Unix time obsmon started.", MetricType::Gauge);
  AddGauge(&start, {}, start_ms / 1000.0);
  std::vector<MetricFamily> out;
  out.push_back(std::move(build));
  out.push_back(std::move(start));
  return out;
}

// Both empty until a reload's outcome is known (the timestamp is 0 before).
std::vector<MetricFamily> ReloadFamilies(const ReloadStats& reload) {
  auto reload_ok = Family("obsmon_config_last_reload_successful",
                          "Whether the last configuration reload attempt was successful.",
                          MetricType::Gauge);
  auto reload_ts = Family("obsmon_config_last_reload_success_timestamp_seconds",
                          "Timestamp of the last successful configuration reload.",
                          MetricType::Gauge);
  if (reload.last_success_timestamp_seconds > 0) {
    AddGauge(&reload_ok, {}, reload.last_successful ? 1 : 0);
    AddGauge(&reload_ts, {}, reload.last_success_timestamp_seconds);
  }
  std::vector<MetricFamily> out;
  out.push_back(std::move(reload_ok));
  out.push_back(std::move(reload_ts));
  return out;
}

// Empty before the first refresh ends.
std::vector<MetricFamily> RefreshFamilies(const RefreshStats& r) {
  auto count =
      Family("obsmon_uptime_refreshes_total",
             "Refreshes of every component's live figures (uptime board, obsmon_component_*), "
             "the refresher's and those made at once for a change over the HTTP API.",
             MetricType::Counter);
  auto cpu = Family("obsmon_uptime_refresh_cpu_seconds_total",
                    "CPU time the refreshes of the live figures took.", MetricType::Counter);
  auto last =
      Family("obsmon_uptime_refresh_last_duration_seconds",
             "Wall-clock duration of the last refresh of the live figures.", MetricType::Gauge);
  auto interval = Family("obsmon_uptime_refresh_interval_seconds",
                         "The wait after the last refresh: uptime_refresh, or longer when even the "
                         "refreshes that carry the latency over would take more than "
                         "uptime_refresh_max_cpu_percent of a core (0.5 % at least).",
                         MetricType::Gauge);
  auto latency_count = Family("obsmon_uptime_latency_refreshes_total",
                              "Refreshes that read every successful run's duration of the window "
                              "again (the latency figures); the others carry them over.",
                              MetricType::Counter);
  auto latency_cpu = Family("obsmon_uptime_latency_refresh_cpu_seconds_total",
                            "CPU time the refreshes that read the latency figures took.",
                            MetricType::Counter);
  auto latency_interval =
      Family("obsmon_uptime_latency_refresh_interval_seconds",
             "The longest wait the last refresh that read the latency figures set for a "
             "component's next read: uptime_refresh, or longer when reading them would take more "
             "than that component's part of uptime_refresh_max_cpu_percent of a core.",
             MetricType::Gauge);
  auto report_bytes =
      Family("obsmon_uptime_live_report_bytes",
             "Heap bytes held by the live reports kept between refreshes (every component's): "
             "what the overview page and the badge show, incidents counted, not listed; grows "
             "with the window's days and hours, not with its state changes.",
             MetricType::Gauge);
  if (r.refreshes > 0) {
    AddGauge(&report_bytes, {}, static_cast<double>(r.live_report_bytes));
    AddCounter(&count, {}, static_cast<double>(r.refreshes));
    AddCounter(&cpu, {}, r.cpu_seconds);
    AddGauge(&last, {}, r.last_duration_seconds);
    AddGauge(&interval, {}, r.interval_seconds);
    AddCounter(&latency_count, {}, static_cast<double>(r.latency_refreshes));
    AddCounter(&latency_cpu, {}, r.latency_cpu_seconds);
    AddGauge(&latency_interval, {}, r.latency_interval_seconds);
  }
  std::vector<MetricFamily> out;
  out.push_back(std::move(count));
  out.push_back(std::move(cpu));
  out.push_back(std::move(last));
  out.push_back(std::move(interval));
  out.push_back(std::move(latency_count));
  out.push_back(std::move(latency_cpu));
  out.push_back(std::move(latency_interval));
  out.push_back(std::move(report_bytes));
  return out;
}

// Appends the families that have at least one series (an empty family is not exposed).
void AppendNonEmpty(std::vector<MetricFamily> families, std::vector<MetricFamily>* out) {
  for (auto& f : families) {
    if (!f.metric.empty()) out->push_back(std::move(f));
  }
}

}  // namespace

MetricsCollector::MetricsCollector(std::function<MetricsSnapshot()> snapshot, std::string version,
                                   TimestampMs start_ms)
    : snapshot_(std::move(snapshot)), version_(std::move(version)), start_ms_(start_ms) {}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const MetricsSnapshot s = snapshot_ ? snapshot_() : MetricsSnapshot{};
  std::vector<MetricFamily> out;
  AppendNonEmpty(ComponentFamilies(s.components), &out);
  AppendNonEmpty(UptimeFamilies(s.uptime), &out);
  AppendNonEmpty(SchedulerFamilies(s.scheduler), &out);
  AppendNonEmpty(StorageFamilies(s.writer, s.storage, s.storage_healthy), &out);
  AppendNonEmpty(StorageMemoryFamilies(s.writer), &out);
  AppendNonEmpty({InternalErrorsFamily(s.internal_errors)}, &out);
  AppendNonEmpty(BuildFamilies(version_, start_ms_), &out);
  AppendNonEmpty(ReloadFamilies(s.reload), &out);
  AppendNonEmpty(RefreshFamilies(s.refresh), &out);
  AppendHttpFamilies(s.http, &out);
  AppendRemoteWriteFamilies(s.remote_write, &out);
  return out;
}

std::string SerializeMetrics(const std::vector<const prometheus::Collectable*>& collectables) {
  std::vector<MetricFamily> families;
  for (const auto* c : collectables) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace obsmon
