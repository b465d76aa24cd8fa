// obsmon's configuration, as loaded from YAML and fully validated (config/config_loader).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/alert_component.h"
#include "core/labels.h"
#include "core/objective.h"
#include "probes/probe.h"
#include "core/digest_records.h"
#include "core/period_records.h"

namespace obsmon {

struct ProbeConfig {
  ProbeSpec spec;
  // Built and validated at load. Shared so that a reload may keep an unchanged probe's instance.
  std::shared_ptr<Probe> probe;
  // Canonical text of the probe's YAML mapping: equal fingerprints mean unchanged settings.
  std::string fingerprint;
};

// A component's `source:`: its report is read from a Prometheus-compatible store instead of
// obsmon's database (docs/report-from-store.md). Checked when read: url is http(s)://.
struct ComponentSource {
  std::string url;
  std::string selector;             // label matchers; empty: component="<name>"
  std::string probe_label = "probe";  // the label naming the probe
};

struct ComponentConfig {
  std::string name;
  Labels labels;  // always has `job` (default: the component name)
  Objective objective;
  std::vector<ProbeConfig> probes;
  // Observation periods and maintenance windows declared under `observation:` and
  // `maintenance:` (config/period_config.h); stored at start when not stored yet.
  std::vector<PeriodRecord> declared_periods;
  std::vector<MaintenanceRecord> declared_maintenance;
  // Where the periods' Day N comments and final assessments go (config/digest_config.h).
  std::vector<DigestDestination> digest;
  // Set: `obsmon report` (and the daemon's report API) read this component's runs from a store.
  // Its probes, when listed, give their role and interval; they may be omitted.
  std::optional<ComponentSource> source;
};

// The `web:` section (config/web_config.cc): TLS and access to obsmon's HTTP server. The
// secrets were read from files or environment variables; never log or serialize this struct.
struct WebConfig {
  std::string tls_cert_file;  // both set: HTTPS only
  std::string tls_key_file;
  std::string bearer_token;    // secret; empty: bearer auth off
  std::string basic_username;  // empty: basic auth off
  std::string basic_password;  // secret
  bool protect_metrics = true;   // when auth is on, /metrics needs it too
  bool protect_health = false;   // /healthz, /-/healthy, /-/ready stay open for probes by default
  bool enable_lifecycle = true;  // POST /-/reload
  // The HTTP server's connection gate (web/gate_options.h has the same defaults).
  size_t max_connections = 512;
  size_t max_connections_per_client = 64;
  size_t max_workers_per_client = 4;  // of the 8 workers, at once (behind a proxy: 8)
  int64_t request_timeout_ms = 10'000;  // first byte to whole request
  int64_t idle_timeout_ms = 30'000;     // a kept-alive connection between requests
  // Answers held for clients slower to read them than a worker to write them (a quarter of it
  // for one client address); 0: a worker waits for its client to read, as before stop 64.
  int64_t output_buffer_bytes = 64 << 20;
};

struct StorageConfig {
  std::string path = "obsmon.db";
  int64_t retention_ms = 35LL * 86'400'000;
  int64_t rollup_retention_ms = 400LL * 86'400'000;
  // How long the writer's statements wait for a lock another connection holds (SQLite's busy
  // timeout) before they fail and are retried.
  int64_t busy_timeout_ms = 5'000;
  // Group commit: how long the writer holds a probe run so that others share its transaction
  // (storage::StorageOptions::commit_interval_ms); a run with counter increments (a log probe's
  // that read lines) never waits. 1 s: each commit rewrites the pages its rows share (the heads'
  // last leaves, every probe's rollup of the hour), so 200 ms wrote 2.3 times the WAL pages and
  // cost the writer 55 us a run at 100 probes against 22 (docs/benchmarks.md, "Group commit").
  int64_t commit_interval_ms = 1'000;
  // How often the writer moves the head's rows into the tables by series and by probe
  // (storage::StorageOptions::head_move_interval_ms).
  int64_t head_move_interval_ms = 60'000;
  // The cap of the writer's SQLite page cache (storage::StorageOptions::cache_bytes).
  int64_t cache_bytes = 64LL << 20;
  // Samples not yet acknowledged by a remote_write destination outlive retention by at most
  // this much (0: no limit). docs/remote-write.md.
  int64_t remote_write_hold_max_ms = 0;
};

struct Config {
  std::string file;                        // the file it was loaded from
  std::string listen = "127.0.0.1:9950";  // host:port of the HTTP server
  StorageConfig storage;
  WebConfig web;
  // A health sample counts for interval x coverage_tolerance; beyond that time is unknown.
  double coverage_tolerance = 1.5;
  int workers = 8;  // probe worker threads
  // A worker that wakes for a due run also takes the runs of Startable probes (plain http)
  // due within this window and runs them together (runtime/scheduler.h); 0: one run per
  // wake-up.
  int64_t batch_window_ms = 250;
  // At most this many of a batch's runs to one server (address and port) are in flight at
  // once; 0: no limit (runtime/probe_runner.h, RunBatch).
  int batch_in_flight_per_server = 4;
  // How often the objective-window uptime behind /metrics and the API is recomputed.
  int64_t uptime_refresh_ms = 15'000;
  // At most this share of one core (percent) goes to reading the latency figures again: each
  // read goes over every successful run's duration of the window, so its cost grows with the
  // observation (a week of 100 probes at 1 s: 2 s; of 1,000: longer than uptime_refresh). Each
  // component gets an equal part of the share: after a read that added C seconds of CPU to its
  // refresh, its next waits at least C x (100 x components / share - 1); the refreshes in
  // between carry the latency over (and are paced at 0.5 % of a core at least). 0.1: a week into 100 probes, a read every
  // ~37 minutes, ~10 us of CPU per probe run; 0.5 (the default before) cost ~50 us a run there,
  // half of the whole run's aim (docs/benchmarks.md, "A week in").
  double uptime_refresh_max_cpu_percent = 0.1;
  std::vector<std::string> rule_files;
  // The `alerting:` section as written; validated by alerts/ (ParseAlertingConfig).
  YAML::Node alerting;
  // The `remote_write:` list as written; validated by remote/ (ParseRemoteWriteConfigs).
  YAML::Node remote_write;
  // Top-level `external_labels:`, added to every series sent by remote_write.
  Labels external_labels;
  std::vector<ComponentConfig> components;

  const ComponentConfig* FindComponent(const std::string& name) const {
    for (const auto& c : components) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
};

// Every component with its configured job, for telling an alert's component
// (core/alert_component.h): what reports and the maintenance suppression both go by.
inline AlertComponents AlertComponentsOf(const std::vector<ComponentConfig>& components) {
  std::vector<AlertComponents::Component> named;
  for (const auto& c : components) named.push_back({c.name, c.labels.Get("job")});
  return AlertComponents(named);
}

}  // namespace obsmon
