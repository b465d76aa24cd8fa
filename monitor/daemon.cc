#include "monitor/daemon.h"

#include <condition_variable>
#include <set>

#include <spdlog/spdlog.h>

#include "core/config_node.h"
#include "core/thread_name.h"
#include "exporters/http_server.h"
#include "exporters/metrics_collector.h"
#include "exporters/probe_samples_collector.h"
#include "monitor/alerting_runtime.h"
#include "monitor/period_config.h"
#include "monitor/periods.h"
#include "monitor/api_backend.h"
#include "monitor/config_loader.h"
#include "monitor/monitor_state.h"
#include "monitor/probe_runner.h"
#include "monitor/report.h"
#include "monitor/scheduler.h"
#include "monitor/storage_sink.h"
#include "monitor/uptime_board.h"
#include "storage/storage.h"

namespace obsmon {

namespace {

std::vector<ScheduledProbe> ToScheduled(const Config& config) {
  std::vector<ScheduledProbe> out;
  for (const auto& c : config.components) {
    for (const auto& p : c.probes) out.push_back({p.spec, p.probe, p.fingerprint});
  }
  return out;
}

}  // namespace

class Daemon::Impl {
 public:
  Impl(DaemonOptions options, Config config, std::unique_ptr<storage::Writer> writer,
       std::unique_ptr<AlertingRuntime> alerting)
      : options_(std::move(options)),
        clock_(*options_.clock),
        log_(options_.logger ? options_.logger : spdlog::default_logger()),
        config_(std::move(config)),
        writer_(std::move(writer)),
        alerting_(std::move(alerting)),
        state_(clock_),
        storage_sink_(*writer_, [this](const ProbeKey& key) { MarkRefused(key); }),
        runner_(clock_, config_.coverage_tolerance,
                {&storage_sink_, &state_, &probe_samples_, alerting_.get()}),
        scheduler_(clock_, config_.workers,
                   [this](const ScheduledProbe& p, TimestampMs due) { RunProbe(p, due); }),
        collector_(state_, uptime_, [this] { return SelfStats{scheduler_.Stats(), writer_->Stats(), ReloadSnapshot()}; },
                   options_.version, clock_.NowMs()),
        backend_(state_, uptime_, config_.storage.path, clock_,
                 [this] { return MetricsText(); },
                 [this] { return alerting_->ActiveAlertsJson(); }) {}

  std::string MetricsText() {
    auto alerting = alerting_->Collectables();  // shared: safe across a concurrent reload
    std::vector<const prometheus::Collectable*> all = {&collector_, &probe_samples_};
    for (const auto& c : alerting) all.push_back(c.get());
    return SerializeMetrics(all);
  }

  // Stores the periods and maintenance windows the config declares (idempotent).
  void ApplyPeriodDeclarations(const Config& config) {
    auto store = storage::PeriodStore::Open(config.storage.path);
    if (!store.ok()) {
      log_->error("cannot store declared periods: {}", store.status().message());
      return;
    }
    for (const auto& c : config.components) {
      PeriodDeclarations declared{c.declared_periods, c.declared_maintenance};
      if (Status s = ApplyDeclarations(**store, declared, clock_.NowMs()); !s.ok()) {
        log_->error("declared periods of {}: {}", c.name, s.message());
      }
    }
  }

  Status Start() {
    backend_.SetVersion(options_.version);
    ApplyPeriodDeclarations(config_);
    if (Status s = RestoreProbes(config_); !s.ok()) return s;
    state_.SetConfig(config_);
    backend_.SetComponents(config_.components);
    if (auto reader = storage::Reader::Open(config_.storage.path); reader.ok()) {
      if (auto latest = (*reader)->LatestRuns(); latest.ok()) state_.Seed(*latest);
    }
    HttpServerOptions http;
    http.listen = options_.listen_override.empty() ? config_.listen : options_.listen_override;
    ApplyWebConfig(config_.web, &http);
    {
      std::lock_guard<std::mutex> lock(reload_stats_mu_);
      reload_stats_ = {true, clock_.NowMs() / 1000.0};  // the initial load counts, as in Prometheus
    }
    server_ = std::make_unique<HttpServer>(http, backend_, clock_);
    if (Status s = server_->Start(); !s.ok()) return s;
    log_->info("listening on {} (port {})", http.listen, server_->port());
    scheduler_.SetProbes(ToScheduled(config_));
    scheduler_.Start();
    refresher_ = std::thread([this] {
      NameThisThread("obsmon-uptime");
      RefreshLoop();
    });
    size_t probes = 0;
    for (const auto& c : config_.components) probes += c.probes.size();
    log_->info("watching {} components with {} probes; database {}", config_.components.size(),
               probes, config_.storage.path);
    return Status::Ok();
  }

  // Serialized (SIGHUP and POST /-/reload may race); records the outcome for /metrics.
  Status Reload() {
    std::lock_guard<std::mutex> serial(reload_serial_mu_);
    Status s = DoReload();
    std::lock_guard<std::mutex> lock(reload_stats_mu_);
    reload_stats_.last_successful = s.ok();
    if (s.ok()) reload_stats_.last_success_timestamp_seconds = clock_.NowMs() / 1000.0;
    return s;
  }

  Status DoReload() {
    ConfigErrors errors;
    auto next = LoadConfig(options_.config_path, clock_, &errors);
    if (!next) {
      log_->error("reload refused, keeping the running config:\n{}", errors.ToString());
      return Status::InvalidArgument(errors.ToString());
    }
    if (!ValidateAlerting(*next, &errors)) {
      log_->error("reload refused, keeping the running config and rules:\n{}", errors.ToString());
      return Status::InvalidArgument(errors.ToString());
    }
    std::lock_guard<std::mutex> lock(reload_mu_);
    // Keep the instance (and so the in-memory state) of every probe whose settings did not change.
    for (auto& c : next->components) {
      for (auto& p : c.probes) {
        for (const auto& old_c : config_.components) {
          for (const auto& old_p : old_c.probes) {
            if (old_p.spec.key == p.spec.key && old_p.fingerprint == p.fingerprint) {
              p.probe = old_p.probe;
            }
          }
        }
      }
    }
    if (Status s = RestoreProbes(*next, /*only_new=*/&config_); !s.ok()) {
      log_->error("reload refused: {}", s.message());
      return s;
    }
    config_.components = next->components;
    config_.rule_files = next->rule_files;
    config_.alerting = next->alerting;
    ApplyPeriodDeclarations(config_);
    if (Status st = alerting_->Reload(config_); !st.ok()) {
      log_->error("rules not reloaded: {}", st.message());  // validated above: should not happen
    }
    state_.SetConfig(config_);
    backend_.SetComponents(config_.components);
    scheduler_.SetProbes(ToScheduled(config_));
    std::set<std::string> kept;
    for (const auto& c : config_.components) {
      for (const auto& p : c.probes) kept.insert(p.spec.key.component + "/" + p.spec.key.probe);
    }
    probe_samples_.Retain(kept);
    if (server_) {
      // Credentials change at once; TLS files and the listen address need a restart.
      HttpServerOptions web;
      ApplyWebConfig(next->web, &web);
      server_->SetAuth(web.auth);
      if (next->web.tls_cert_file != config_.web.tls_cert_file ||
          next->web.tls_key_file != config_.web.tls_key_file || next->listen != config_.listen) {
        log_->warn("listen and web.tls_* changes take effect at the next restart");
      }
    }
    config_.web.bearer_token = next->web.bearer_token;
    config_.web.basic_username = next->web.basic_username;
    config_.web.basic_password = next->web.basic_password;
    config_.web.protect_metrics = next->web.protect_metrics;
    config_.web.protect_health = next->web.protect_health;
    log_->info("config reloaded from {}", options_.config_path);
    return Status::Ok();
  }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    stop_cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
    scheduler_.Stop();  // waits for running probes; their results reach the writer queue
    if (server_) server_->Stop();
    alerting_.reset();  // stops rule evaluation and the outbox (their state is persisted)
    const auto stats = writer_->Stats();
    writer_->Stop();  // drains the queue and commits
    log_->info("stopped; {} batches committed, {} dropped", stats.committed_batches,
               stats.dropped_batches);
  }

  int port() const { return server_ ? server_->port() : 0; }

 private:
  // The `web:` section as the HTTP server wants it. The reload hook is installed only when the
  // lifecycle API is enabled.
  void ApplyWebConfig(const WebConfig& web, HttpServerOptions* http) {
    http->tls_cert_file = web.tls_cert_file;
    http->tls_key_file = web.tls_key_file;
    http->auth.bearer_token = web.bearer_token;
    http->auth.basic_username = web.basic_username;
    http->auth.basic_password = web.basic_password;
    http->auth.protect_metrics = web.protect_metrics;
    http->auth.protect_health = web.protect_health;
    if (web.enable_lifecycle) http->reload = [this] { return Reload(); };
  }

  ReloadStats ReloadSnapshot() {
    std::lock_guard<std::mutex> lock(reload_stats_mu_);
    return reload_stats_;
  }

  // Hands each probe what storage remembers of it (log cursors, counters). With `old`, only
  // probes that are new instances.
  // A probe that cannot get its stored state (log cursors, counters) must not run: it would
  // count from the start of its files again. So a failed read is an error, not a warning.
  Status RestoreProbes(const Config& config, const Config* old = nullptr) {
    auto reader = storage::Reader::Open(config.storage.path);
    if (!reader.ok()) {
      return Status::IoError("cannot read stored probe state: " + reader.status().message());
    }
    for (const auto& c : config.components) {
      for (const auto& p : c.probes) {
        bool existing = false;
        if (old) {
          for (const auto& oc : old->components) {
            for (const auto& op : oc.probes) existing |= (op.probe == p.probe);
          }
        }
        if (existing) continue;
        p.probe->Restore(**reader);
        if (Status e = (*reader)->TakeStateError(); !e.ok()) {
          return Status::IoError("cannot read stored state of probe " + p.spec.key.component +
                                 "/" + p.spec.key.probe + ": " + e.message());
        }
      }
    }
    return Status::Ok();
  }

  // Runs one probe; first re-reads its stored state when storage refused its last batch (its
  // in-memory cursor moved past lines that were never committed). Worker threads; a probe never
  // runs twice at once, so its Restore() cannot race its Run().
  void RunProbe(const ScheduledProbe& p, TimestampMs due) {
    bool restore = false;
    {
      std::lock_guard<std::mutex> lock(refused_mu_);
      restore = refused_.erase(p.spec.key) > 0;
    }
    if (restore) {
      auto reader = storage::Reader::Open(config_path_db_);
      if (!reader.ok()) {
        MarkRefused(p.spec.key);  // try again at the next run; do not run from a stale cursor
        return;
      }
      p.probe->Restore(**reader);
      if (!(*reader)->TakeStateError().ok()) {
        MarkRefused(p.spec.key);
        return;
      }
      log_->warn("probe {}/{} re-read its stored state after storage refused a batch",
                 p.spec.key.component, p.spec.key.probe);
    }
    runner_.Run(p, due);
  }

  void MarkRefused(const ProbeKey& key) {
    std::lock_guard<std::mutex> lock(refused_mu_);
    refused_.insert(key);
  }

  // Logs when storage writes start or stop failing (disk full ...), once per change rather than
  // per failed transaction. Refresher thread only.
  void ReportStorageHealth() {
    const std::string error = writer_->Stats().last_error;
    if (error == last_storage_error_) return;
    if (!error.empty()) {
      log_->error("storage writes failing, results kept in memory and retried: {}", error);
    } else {
      log_->info("storage writes succeed again");
    }
    last_storage_error_ = error;
  }

  void RefreshLoop() {
    for (;;) {
      ReportStorageHealth();
      RefreshUptime();
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_for(lock, std::chrono::milliseconds(config_.uptime_refresh_ms),
                            [this] { return stopped_; })) {
        return;
      }
    }
  }

  void RefreshUptime() {
    auto reader = storage::Reader::Open(config_.storage.path);
    if (!reader.ok()) return;
    std::vector<ComponentConfig> components;
    {
      std::lock_guard<std::mutex> lock(reload_mu_);
      components = config_.components;
    }
    const TimestampMs now = clock_.NowMs();
    for (const auto& c : components) {
      // Only the uptime figures are used here: skip reading the window's log lines.
      ReportOptions options = ReportOptionsFor(c);
      options.max_log_events = 0;
      auto report = BuildReport(**reader, c.name, c.objective, now - c.objective.window_ms, now, now,
                                options);
      UptimeFigures f;
      f.component = c.name;
      f.job = c.labels.Get("job");
      f.window_ms = c.objective.window_ms;
      f.objective_ratio = c.objective.uptime_percent / 100.0;
      f.computed_at_ms = now;
      if (report.ok()) {
        f.uptime_ratio = report->totals.uptime();
        f.coverage_ratio = report->totals.coverage().value_or(0);
        f.down_seconds = report->totals.down_ms / 1000.0;
        f.budget_remaining_seconds = (report->budget.allowed_ms - report->budget.used_ms) / 1000.0;
      } else if (!report.status().IsNotFound()) {
        log_->warn("uptime of {}: {}", c.name, report.status().message());
        continue;
      }
      uptime_.Set(f);
    }
  }

  DaemonOptions options_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex reload_mu_;
  Config config_;  // GUARDED_BY(reload_mu_) for components
  std::unique_ptr<storage::Writer> writer_;
  const std::string config_path_db_ = config_.storage.path;
  std::mutex refused_mu_;
  std::set<ProbeKey> refused_;  // GUARDED_BY(refused_mu_): probes to Restore() before running
  std::unique_ptr<AlertingRuntime> alerting_;  // before runner_: the runner feeds it
  MonitorState state_;
  UptimeBoard uptime_;
  StorageSink storage_sink_;
  ProbeSamplesCollector probe_samples_;  // probes' own series (log matches ...) for /metrics
  ProbeRunner runner_;
  Scheduler scheduler_;
  MetricsCollector collector_;
  ApiBackendImpl backend_;
  std::unique_ptr<HttpServer> server_;
  std::string last_storage_error_;  // refresher thread only
  std::mutex reload_serial_mu_;  // one reload at a time
  std::mutex reload_stats_mu_;
  ReloadStats reload_stats_;  // GUARDED_BY(reload_stats_mu_)
  std::thread refresher_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)
};

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  ConfigErrors errors;
  auto config = LoadConfig(options.config_path, *options.clock, &errors);
  if (!config) throw ConfigException(std::move(errors));
  storage::StorageOptions so;
  so.path = config->storage.path;
  so.retention_ms = config->storage.retention_ms;
  so.rollup_retention_ms = config->storage.rollup_retention_ms;
  so.clock = options.clock;
  auto writer = storage::Writer::Start(so);
  if (!writer.ok()) return writer.status();
  auto alerting = AlertingRuntime::Start(*config, *options.clock,
                                         options.logger ? options.logger : spdlog::default_logger());
  if (!alerting.ok()) return alerting.status();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*config), std::move(*writer),
                                     std::move(*alerting));
  if (Status s = impl->Start(); !s.ok()) {
    impl->Shutdown();
    return s;
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Shutdown(); }
Status Daemon::Reload() { return impl_->Reload(); }
void Daemon::Shutdown() { impl_->Shutdown(); }
int Daemon::http_port() const { return impl_->port(); }

}  // namespace obsmon
