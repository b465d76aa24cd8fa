// TEMPORARY (branch web only): the snapshot-based MetricsCollector, fed through the daemon's
// conversion (cmd/obsmon/metrics_snapshot_source), writes the same bytes as the old collector
// that read MonitorState and UptimeBoard directly.
#include <gtest/gtest.h>

#include "cmd/obsmon/metrics_snapshot_source.h"
#include "tests/web/old_metrics_collector.h"
#include "web/metrics_collector.h"

namespace obsmon {
TEST(MetricsCollectorEquivalenceTest, SameBytesAsBeforeTheSnapshot) {
  FakeClock clock(1'760'400'010'000);
  MonitorState state(clock);
  Config config;
  ComponentConfig api;
  api.name = "api";
  api.labels = Labels{{"job", "api-job"}, {"team", "core"}};
  ProbeConfig http;
  http.spec.key = {"api", "http"};
  http.spec.role = ProbeRole::kHealth;
  http.spec.labels = Labels{{"job", "api-job"}, {"team", "core"}, {"env", "prod"}};
  ProbeConfig lat;
  lat.spec.key = {"api", "latency"};
  lat.spec.role = ProbeRole::kNone;
  lat.spec.labels = Labels{{"job", "api-job"}, {"team", "core"}};
  api.probes = {http, lat};
  ComponentConfig db;
  db.name = "db";
  db.labels = Labels{{"job", "db"}};
  ProbeConfig tcp;
  tcp.spec.key = {"db", "tcp"};
  tcp.spec.labels = Labels{{"job", "db"}};
  db.probes = {tcp};
  ComponentConfig idle;
  idle.name = "idle";
  idle.labels = Labels{{"job", "idle"}};
  config.components = {api, db, idle};
  state.SetConfig(config);
  auto run = [&](const ProbeKey& key, bool ok, TimestampMs ts, double dur, std::string inst) {
    RunOutcome o;
    o.instance = inst;
    o.run.key = key;
    o.run.ts_ms = ts;
    o.run.success = ok;
    o.run.duration_seconds = dur;
    o.run.valid_for_ms = 30'000;
    o.run.reason = ok ? "" : "connection refused";
    state.OnRun(o);
  };
  run({"api", "http"}, false, 1'760'400'000'000, 0.5, "https://api.example:443");
  run({"api", "http"}, true, 1'760'400'001'000, 0.125, "https://api.example:443");
  run({"api", "http"}, true, 1'760'400'002'000, 0.25, "https://api.example:443");
  run({"api", "http"}, true, 1'760'400'005'500, 0.375, "https://api.example:443");
  run({"db", "tcp"}, false, 1'760'400'009'250, 1.5, "db.example:5432");
  UptimeBoard board;
  UptimeFigures a;
  a.component = "api"; a.job = "api-job"; a.window_ms = 7 * 86'400'000LL; a.objective_ratio = 0.995;
  a.uptime_ratio = 0.999; a.coverage_ratio = 0.95; a.budget_remaining_seconds = 300.5;
  board.Set(a);
  UptimeFigures d;
  d.component = "db"; d.job = "db"; d.window_ms = 86'400'000; d.objective_ratio = 0.99;
  d.coverage_ratio = 0; d.budget_remaining_seconds = -12.25;
  board.Set(d);
  OldSelfStats s;
  s.scheduler.skipped = 2; s.scheduler.last_lag_seconds = 0.005; s.scheduler.lag_seconds_sum = 1.25;
  s.scheduler.lag_count = 40; s.scheduler.queue_depth = 1; s.scheduler.busy_workers = 3;
  s.writer.queue_depth = 4; s.writer.dropped_batches = 5; s.writer.dropped_samples = 6;
  s.writer.dropped_late_runs = 7; s.writer.write_errors = 8; s.writer.committed_rows = 9000;
  s.writer.commits = 120; s.writer.commit_seconds_sum = 2.5; s.writer.last_error = "disk full";
  s.writer.rejected_batches = 11; s.writer.lost_batches = 12; s.writer.superseded_batches = 13;
  s.writer.wal_bytes = 4096; s.writer.checkpoints = 14; s.writer.checkpoints_busy = 15;
  s.reload.last_successful = false; s.reload.last_success_timestamp_seconds = 1'760'399'999.5;
  s.storage = {{"alerts", 0}, {"read", 3}, {"write", 99}, {"periods", 1}};
  s.storage_healthy = false;
  s.internal_errors[{"api", "http"}] = 0;
  s.internal_errors[{"db", "tcp"}] = 2;
  s.http = {21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
  OldMetricsCollector old(state, board, [&] { return s; }, "1.2.3", 1'760'399'000'123);
  auto snapshot = [&] {
    MetricsSnapshot m;
    m.components = ComponentMetricsOf(state.Snapshot());
    m.uptime = UptimeMetricsOf(board.All());
    m.scheduler = SchedulerMetricsOf(s.scheduler);
    m.writer = WriterMetricsOf(s.writer);
    m.reload = {s.reload.last_successful, s.reload.last_success_timestamp_seconds};
    m.storage = s.storage;
    m.storage_healthy = s.storage_healthy;
    m.internal_errors = s.internal_errors;
    m.http = s.http;
    return m;
  };
  MetricsCollector now(snapshot, "1.2.3", 1'760'399'000'123);
  const std::string before = OldSerializeMetrics({&old});
  EXPECT_EQ(SerializeMetrics({&now}), before);
  EXPECT_NE(before.find("probe_success{component=\"api\""), std::string::npos) << before;
  // Empty state, no callback.
  MonitorState empty(clock);
  UptimeBoard eb;
  OldMetricsCollector old_empty(empty, eb, nullptr, "0.0.0", 0);
  MetricsCollector now_empty(nullptr, "0.0.0", 0);
  EXPECT_EQ(SerializeMetrics({&now_empty}), OldSerializeMetrics({&old_empty}));
  // After a reload that removes a component.
  Config smaller = config;
  smaller.components.erase(smaller.components.begin() + 1);
  state.SetConfig(smaller);
  EXPECT_EQ(SerializeMetrics({&now}), OldSerializeMetrics({&old}));
}
}  // namespace obsmon
