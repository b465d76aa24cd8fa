// web/metrics_collector: each family's values and labels from a snapshot built here, with the
// expectations computed by hand from that snapshot.
#include "web/metrics_collector.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <map>
#include <tuple>

namespace obsmon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const MetricFamily* Find(const std::vector<MetricFamily>& fams, const std::string& name) {
  for (const auto& f : fams) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::map<std::string, std::string> LabelsOf(const ClientMetric& m) {
  std::map<std::string, std::string> out;
  for (const auto& l : m.label) out[l.name] = l.value;
  return out;
}

// The value of the one series of `name` with exactly `labels`; fails when there is none.
double Value(const std::vector<MetricFamily>& fams, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  const MetricFamily* f = Find(fams, name);
  if (!f) {
    ADD_FAILURE() << "no family " << name;
    return -1;
  }
  for (const auto& m : f->metric) {
    if (LabelsOf(m) != labels) continue;
    return f->type == MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  ADD_FAILURE() << "no series of " << name << " with those labels";
  return -1;
}

size_t Series(const std::vector<MetricFamily>& fams, const std::string& name) {
  const MetricFamily* f = Find(fams, name);
  return f ? f->metric.size() : 0;
}

ComponentMetrics Api() {
  ComponentMetrics c;
  c.name = "api";
  c.job = "api-job";
  c.up = false;
  ProbeMetrics http;
  http.key = {"api", "http"};
  http.labels = Labels{{"job", "api-job"}, {"env", "prod"}};
  http.instance = "https://api.example";
  http.last_run = ProbeLastRunMetrics{false, 0.25, 1'760'400'000'500};
  http.runs_success = 7;
  http.runs_failure = 2;
  ProbeMetrics never;  // configured, not run yet
  never.key = {"api", "never"};
  never.labels = Labels{{"job", "api-job"}};
  c.probes = {http, never};
  return c;
}

MetricsSnapshot Snapshot() {
  MetricsSnapshot s;
  ComponentMetrics idle;
  idle.name = "idle";
  idle.job = "idle";
  s.components = {Api(), idle};
  ComponentUptimeMetrics u;
  u.component = "api";
  u.job = "api-job";
  u.uptime_ratio = 0.998;
  u.coverage_ratio = 0.5;
  u.objective_ratio = 0.995;
  u.budget_remaining_seconds = -30;
  u.window_ms = 604'800'000;
  ComponentUptimeMetrics unknown = u;
  unknown.component = "idle";
  unknown.job = "idle";
  unknown.uptime_ratio.reset();
  ComponentUptimeMetrics no_run = unknown;  // no run stored yet: nothing known at all
  no_run.component = "new";
  no_run.job = "new";
  no_run.coverage_ratio.reset();
  no_run.budget_remaining_seconds.reset();
  s.uptime = {u, unknown, no_run};
  s.scheduler = {3, 0.02, 1.5, 10, 4, 2, 7, 512, 11, 13};
  s.writer.queue_depth = 5;
  s.writer.write_errors = 6;
  s.writer.commits = 20;
  s.writer.commit_seconds_sum = 0.75;
  s.writer.last_write_ok = false;
  s.writer.rejected_batches = 1;
  s.writer.lost_batches = 2;
  s.writer.checkpoints = 8;
  s.writer.checkpoints_busy = 9;
  s.writer.head_rows_moved = 4567;
  s.writer.head_floor_repairs = 3;
  s.writer.queue_rows = 1234;
  s.writer.cache_bytes = 4 << 20;
  s.writer.series_id_cache_entries = 5000;
  s.writer.sqlite_memory_bytes = 41 << 20;
  s.storage = {{"read", 4, false, "", 0}, {"write", 100, false, "", 0}, {"alerts", 0, false, "", 0}};
  s.storage_healthy = false;
  s.internal_errors[{"api", "http"}] = 3;
  s.http.refused_per_client = 11;
  s.http.open = 12;
  s.http.output_held_bytes = 3 << 20;
  s.http.reports_refused_per_client = 5;
  s.http.reports_refused_wait = 2;
  return s;
}

TEST(MetricsCollectorTest, ProbeFamiliesCarryConfiguredLabelsAndOnlyRunProbesHaveLastRun) {
  MetricsCollector c([] { return Snapshot(); }, "1.0", 0);
  const auto fams = c.Collect();
  const std::map<std::string, std::string> pl{{"component", "api"}, {"probe", "http"},
                                              {"instance", "https://api.example"},
                                              {"job", "api-job"}, {"env", "prod"}};
  EXPECT_EQ(Value(fams, "probe_success", pl), 0);
  EXPECT_EQ(Value(fams, "probe_duration_seconds", pl), 0.25);
  EXPECT_EQ(Value(fams, "obsmon_probe_last_run_timestamp_seconds", pl), 1'760'400'000.5);
  EXPECT_EQ(Series(fams, "probe_success"), 1u);  // "never" has no run yet
  EXPECT_EQ(Find(fams, "probe_success")->type, MetricType::Gauge);
  // Run counters: both results for every configured probe, labelled by component and probe only.
  EXPECT_EQ(Series(fams, "obsmon_probe_runs_total"), 4u);
  EXPECT_EQ(Value(fams, "obsmon_probe_runs_total",
                  {{"component", "api"}, {"probe", "http"}, {"result", "success"}}), 7);
  EXPECT_EQ(Value(fams, "obsmon_probe_runs_total",
                  {{"component", "api"}, {"probe", "http"}, {"result", "failure"}}), 2);
  EXPECT_EQ(Value(fams, "obsmon_probe_runs_total",
                  {{"component", "api"}, {"probe", "never"}, {"result", "success"}}), 0);
  EXPECT_EQ(Find(fams, "obsmon_probe_runs_total")->type, MetricType::Counter);
}

TEST(MetricsCollectorTest, ComponentStateIsOneHotAndUpIsAbsentWhileUnknown) {
  MetricsCollector c([] { return Snapshot(); }, "1.0", 0);
  const auto fams = c.Collect();
  EXPECT_EQ(Value(fams, "obsmon_component_up", {{"component", "api"}, {"job", "api-job"}}), 0);
  EXPECT_EQ(Series(fams, "obsmon_component_up"), 1u);  // idle is unknown: no series
  for (const auto& [component, job, current] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"api", "api-job", "down"}, {"idle", "idle", "unknown"}}) {
    for (const char* state : {"up", "down", "unknown"}) {
      EXPECT_EQ(Value(fams, "obsmon_component_state",
                      {{"component", component}, {"job", job}, {"state", state}}),
                current == state ? 1 : 0)
          << component << " " << state;
    }
  }
  EXPECT_EQ(Series(fams, "obsmon_component_state"), 6u);
}

TEST(MetricsCollectorTest, UptimeFiguresInBaseUnitsAndNoRatioWhenNothingIsKnown) {
  MetricsCollector c([] { return Snapshot(); }, "1.0", 0);
  const auto fams = c.Collect();
  const std::map<std::string, std::string> api{{"component", "api"}, {"job", "api-job"}};
  const std::map<std::string, std::string> idle{{"component", "idle"}, {"job", "idle"}};
  EXPECT_EQ(Value(fams, "obsmon_component_uptime_ratio", api), 0.998);
  EXPECT_EQ(Series(fams, "obsmon_component_uptime_ratio"), 1u);
  EXPECT_EQ(Value(fams, "obsmon_component_coverage_ratio", idle), 0.5);
  EXPECT_EQ(Value(fams, "obsmon_component_objective_ratio", api), 0.995);
  EXPECT_EQ(Value(fams, "obsmon_component_error_budget_remaining_seconds", api), -30);
  // A component with no run has no budget series (a 0 would read as spent), as no ratio.
  EXPECT_EQ(Series(fams, "obsmon_component_error_budget_remaining_seconds"), 2u);
  EXPECT_EQ(Series(fams, "obsmon_component_coverage_ratio"), 2u);
  EXPECT_EQ(Value(fams, "obsmon_component_objective_window_seconds", api), 604'800);
}

TEST(MetricsCollectorTest, SchedulerAndStorageFigures) {
  MetricsCollector c([] { return Snapshot(); }, "1.0", 0);
  const auto fams = c.Collect();
  const auto* lag = Find(fams, "obsmon_scheduler_lag_seconds");
  ASSERT_NE(lag, nullptr);
  EXPECT_EQ(lag->type, MetricType::Summary);
  EXPECT_EQ(lag->metric.at(0).summary.sample_count, 10u);
  EXPECT_EQ(lag->metric.at(0).summary.sample_sum, 1.5);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_skipped_runs_total", {}), 3);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_last_lag_seconds", {}), 0.02);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_queue_depth", {}), 4);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_busy_workers", {}), 2);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_worker_threads", {}), 11);
  EXPECT_EQ(Value(fams, "obsmon_scheduler_extra_workers_started_total", {}), 13);
  EXPECT_EQ(Value(fams, "obsmon_http_kept_connections", {}), 7);
  EXPECT_EQ(Value(fams, "obsmon_http_kept_connections_limit", {}), 512);
  EXPECT_EQ(Value(fams, "obsmon_storage_queue_depth", {}), 5);
  EXPECT_EQ(Value(fams, "obsmon_storage_write_errors_total", {}), 6);
  EXPECT_EQ(Value(fams, "obsmon_storage_last_write_successful", {}), 0);
  EXPECT_EQ(Value(fams, "obsmon_storage_healthy", {}), 0);
  const auto* commit = Find(fams, "obsmon_storage_commit_duration_seconds");
  ASSERT_NE(commit, nullptr);
  EXPECT_EQ(commit->metric.at(0).summary.sample_count, 20u);
  EXPECT_EQ(commit->metric.at(0).summary.sample_sum, 0.75);
  // write errors come from the writer; the health registry's own "write" entry is not repeated.
  EXPECT_EQ(Series(fams, "obsmon_storage_errors_total"), 3u);
  EXPECT_EQ(Value(fams, "obsmon_storage_errors_total", {{"operation", "write"}}), 6);
  EXPECT_EQ(Value(fams, "obsmon_storage_errors_total", {{"operation", "read"}}), 4);
  EXPECT_EQ(Value(fams, "obsmon_storage_errors_total", {{"operation", "alerts"}}), 0);
  EXPECT_EQ(Value(fams, "obsmon_storage_lost_batches_total", {{"reason", "refused"}}), 1);
  EXPECT_EQ(Value(fams, "obsmon_storage_lost_batches_total", {{"reason", "retry_overflow"}}), 2);
  EXPECT_EQ(Value(fams, "obsmon_storage_wal_checkpoints_total", {{"result", "ok"}}), 8);
  EXPECT_EQ(Value(fams, "obsmon_storage_wal_checkpoints_total", {{"result", "busy"}}), 9);
  EXPECT_EQ(Value(fams, "obsmon_storage_head_rows_moved_total", {}), 4567);
  EXPECT_EQ(Value(fams, "obsmon_storage_head_floor_repairs_total", {}), 3);
  // What storage holds in memory, each from its own field of the snapshot.
  EXPECT_EQ(Value(fams, "obsmon_storage_queue_rows", {}), 1234);
  EXPECT_EQ(Value(fams, "obsmon_storage_cache_bytes", {}), 4 << 20);
  EXPECT_EQ(Value(fams, "obsmon_storage_series_id_cache_entries", {}), 5000);
  EXPECT_EQ(Value(fams, "obsmon_sqlite_memory_bytes", {}), 41 << 20);
  EXPECT_EQ(Value(fams, "obsmon_probe_internal_errors_total",
                  {{"component", "api"}, {"probe", "http"}}), 3);
  EXPECT_EQ(Value(fams, "obsmon_http_connections_refused_total", {{"reason", "per_client"}}), 11);
  EXPECT_EQ(Value(fams, "obsmon_http_connections", {{"state", "open"}}), 12);
  EXPECT_EQ(Value(fams, "obsmon_http_output_held_bytes", {}), 3 << 20);
  EXPECT_EQ(Value(fams, "obsmon_http_reports_refused_total", {{"reason", "per_client"}}), 5);
  EXPECT_EQ(Value(fams, "obsmon_http_reports_refused_total", {{"reason", "total"}}), 0);
  EXPECT_EQ(Value(fams, "obsmon_http_reports_refused_total", {{"reason", "wait"}}), 2);
}

TEST(MetricsCollectorTest, BuildInfoStartTimeAndReloadOnlyOnceReported) {
  MetricsSnapshot s;
  MetricsCollector c([&] { return s; }, "9.8.7", 1'760'000'000'250);
  auto fams = c.Collect();
  EXPECT_EQ(Value(fams, "obsmon_build_info", {{"version", "9.8.7"}}), 1);
  EXPECT_EQ(Value(fams, "obsmon_start_time_seconds", {}), 1'760'000'000.25);
  EXPECT_EQ(Find(fams, "obsmon_config_last_reload_successful"), nullptr);
  EXPECT_EQ(Find(fams, "obsmon_config_last_reload_success_timestamp_seconds"), nullptr);
  s.reload = {false, 1'760'000'100.5};
  fams = c.Collect();
  EXPECT_EQ(Value(fams, "obsmon_config_last_reload_successful", {}), 0);
  EXPECT_EQ(Value(fams, "obsmon_config_last_reload_success_timestamp_seconds", {}),
            1'760'000'100.5);
}

TEST(MetricsCollectorTest, AReloadThatRemovesAProbeLeavesNoStaleSeries) {
  MetricsSnapshot s = Snapshot();
  MetricsCollector c([&] { return s; }, "1.0", 0);
  std::string before = SerializeMetrics({&c});
  EXPECT_NE(before.find("probe=\"http\""), std::string::npos);
  // The reload removed api/http (and its internal-error series with it, as the daemon does).
  s.components[0].probes.erase(s.components[0].probes.begin());
  s.internal_errors.clear();
  const std::string after = SerializeMetrics({&c});
  EXPECT_EQ(after.find("probe=\"http\""), std::string::npos) << after;
  EXPECT_NE(after.find("probe=\"never\""), std::string::npos);
  // Families that lose their last series are left out rather than exposed empty.
  EXPECT_EQ(after.find("# TYPE probe_success"), std::string::npos);
}

TEST(MetricsCollectorTest, SerializesInTheTextFormat) {
  MetricsSnapshot s;
  s.components = {Api()};
  MetricsCollector c([&] { return s; }, "1.0", 0);
  const std::string text = SerializeMetrics({&c});
  EXPECT_NE(text.find("# TYPE obsmon_probe_runs_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon_probe_runs_total{component=\"api\",probe=\"http\","
                      "result=\"success\"} 7\n"),
            std::string::npos)
      << text;
}

TEST(MetricsCollectorTest, RemoteWriteFamiliesPerRemoteWithEveryReason) {
  MetricsSnapshot s;
  RemoteWriteMetrics r;
  r.remote = "mimir";
  r.samples_sent = 100;
  r.samples_failed = 7;
  r.samples_dropped = {{"rejected", 3}, {"retention", 2}};
  r.requests = {{"204", 10}, {"none", 4}};
  r.samples_pending = 42;
  r.highest_sent_ms = 1'700'000'000'500;
  s.remote_write = {r};
  MetricsCollector c([&] { return s; }, "1.0", 0);
  const auto fams = c.Collect();
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_sent_total", {{"remote", "mimir"}}), 100);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_failed_total", {{"remote", "mimir"}}), 7);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_dropped_total",
                  {{"reason", "rejected"}, {"remote", "mimir"}}), 3);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_dropped_total",
                  {{"reason", "retention"}, {"remote", "mimir"}}), 2);
  // Every reason has a series from the start, so rate() and the shipped alert work.
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_dropped_total",
                  {{"reason", "too_old"}, {"remote", "mimir"}}), 0);
  EXPECT_EQ(Series(fams, "obsmon_remote_write_samples_dropped_total"), 4u);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_samples_pending", {{"remote", "mimir"}}), 42);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_highest_sent_timestamp_seconds",
                  {{"remote", "mimir"}}), 1'700'000'000.5);
  EXPECT_EQ(Value(fams, "obsmon_remote_write_requests_total",
                  {{"code", "none"}, {"remote", "mimir"}}), 4);
  // No remote_write configured: no family at all.
  s.remote_write.clear();
  EXPECT_EQ(Find(c.Collect(), "obsmon_remote_write_samples_sent_total"), nullptr);
}

TEST(MetricsCollectorTest, NoCallbackMeansAnEmptySnapshot) {
  MetricsCollector c(nullptr, "1.0", 0);
  const auto fams = c.Collect();
  EXPECT_EQ(Find(fams, "probe_success"), nullptr);
  EXPECT_EQ(Value(fams, "obsmon_storage_healthy", {}), 1);
  EXPECT_EQ(Value(fams, "obsmon_storage_errors_total", {{"operation", "write"}}), 0);
}

}  // namespace
}  // namespace obsmon
