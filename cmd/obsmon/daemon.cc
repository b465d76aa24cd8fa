#include "cmd/obsmon/daemon.h"

#include <malloc.h>
#include <signal.h>

#include <cmath>
#include <condition_variable>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/config_node.h"
#include "core/mutex.h"
#include "core/storage_health.h"
#include "core/thread_cpu.h"
#include "core/thread_name.h"
#include "probes/deadline_watchdog.h"
#include "probes/probe_registry.h"
#include "web/http_server.h"
#include "web/metrics_collector.h"
#include "web/probe_samples_collector.h"
#include "web/process_collector.h"
#include "cmd/obsmon/alerting_runtime.h"
#include "cmd/obsmon/allocator_settings.h"
#include "config/period_config.h"
#include "report/periods.h"
#include "runtime/period_declarations.h"
#include "cmd/obsmon/api_backend.h"
#include "cmd/obsmon/live_figures.h"
#include "cmd/obsmon/lost_lines_log.h"
#include "cmd/obsmon/metrics_snapshot_source.h"
#include "cmd/obsmon/remote_write_runtime.h"
#include "config/config_loader.h"
#include "runtime/maintenance_calendar.h"
#include "runtime/monitor_state.h"
#include "runtime/probe_runner.h"
#include "runtime/probe_state_ledger.h"
#include "report/report.h"
#include "runtime/scheduler.h"
#include "runtime/storage_sink.h"
#include "runtime/uptime_board.h"
#include "storage/storage.h"

namespace obsmon {
namespace {

// SIGTERM or SIGINT sent to obsmon and not yet taken by main's sigwait (every thread blocks
// both): a stop on its way (ProbeRunner::SetStopPending). False in a process that never
// blocked them (tests running a Daemon in-process).
bool TerminationSignalPending() {
  sigset_t pending;
  if (::sigpending(&pending) != 0) return false;
  return ::sigismember(&pending, SIGTERM) == 1 || ::sigismember(&pending, SIGINT) == 1;
}

std::vector<ProbeKey> ProbeKeysOf(const Config& config) {
  std::vector<ProbeKey> keys;
  for (const auto& c : config.components) {
    for (const auto& p : c.probes) keys.push_back(p.spec.key);
  }
  return keys;
}


// Families already collected, served as a Collectable.
class FamiliesCollectable final : public prometheus::Collectable {
 public:
  explicit FamiliesCollectable(std::vector<prometheus::MetricFamily> families)
      : families_(std::move(families)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return families_; }

 private:
  std::vector<prometheus::MetricFamily> families_;
};

std::vector<ScheduledProbe> ToScheduled(const Config& config) {
  std::vector<ScheduledProbe> out;
  for (const auto& c : config.components) {
    for (const auto& p : c.probes) out.push_back({p.spec, p.probe, p.fingerprint, nullptr});
  }
  return out;
}

}  // namespace

class Daemon::Impl {
 public:
  Impl(DaemonOptions options, Config config, std::unique_ptr<storage::Writer> writer,
       std::unique_ptr<AlertingRuntime> alerting, std::shared_ptr<ProbeStateLedger> ledger,
       std::shared_ptr<StorageHealth> health,
       std::shared_ptr<probes::DeadlineWatchdog> watchdog,
       std::shared_ptr<MaintenanceCalendar> maintenance)
      : options_(std::move(options)),
        clock_(*options_.clock),
        watchdog_(std::move(watchdog)),
        log_(options_.logger ? options_.logger : spdlog::default_logger()),
        config_(std::move(config)),
        writer_(std::move(writer)),
        ledger_(std::move(ledger)),
        health_(std::move(health)),
        maintenance_(std::move(maintenance)),
        alerting_(std::move(alerting)),
        state_(clock_),
        storage_sink_(*writer_),
        runner_(clock_, config_.coverage_tolerance,
                // The storage sink last: it takes the samples, the others read them first.
                {&state_, &probe_samples_, &lost_lines_, alerting_.get(), &storage_sink_},
                [this](const ProbeKey& key, const std::string& what) {
                  OnInternalError(key, what);
                }),
        scheduler_(clock_, config_.workers,
                   [this](const ScheduledProbe& p, TimestampMs due) { RunProbe(p, due); },
                   Scheduler::Batching{std::chrono::milliseconds(config_.batch_window_ms), 64,
                                       [this](const std::vector<Scheduler::BatchItem>& items,
                                              const std::function<void(size_t)>& finished) {
                                         RunBatch(items, finished);
                                       }}),
        collector_([this] { return CollectMetricsSnapshot(); }, options_.version, clock_.NowMs()),
        backend_(state_, uptime_, config_.storage.path, clock_,
                 [this] { return MetricsText(); },
                 [this] { return alerting_->ActiveAlertsJson(); }) {
    backend_.SetHealth(health_.get(), [this] { return HealthFailure(); });
    runner_.set_batch_in_flight_per_server(
        static_cast<size_t>(config_.batch_in_flight_per_server));
    // A reload whose rules read a metric the head did not keep reads its history back from
    // storage: first every run that reached the head before is to be committed.
    {
      MutexLock lock(internal_errors_mu_);
      configured_probes_ = ProbeKeysOf(config_);
    }
    alerting_->SetReadBackBarrier([this] {
      runner_.AwaitDeliveriesUnderWay();
      return writer_->Flush();
    });
  }

  std::string MetricsText() {
    const FamiliesCollectable alerting(alerting_->CollectMetrics());  // safe across a reload
    return SerializeMetrics({&collector_, &process_collector_, &probe_samples_, &alerting});
  }

  // Stores the periods and maintenance windows the config declares (idempotent).
  Status ApplyPeriodDeclarations(const Config& config) {
    auto store = storage::PeriodStore::Open(config.storage.path,
                                            static_cast<int>(config.storage.busy_timeout_ms));
    health_->Record("periods", store.status());
    if (!store.ok()) {
      log_->error("cannot store declared periods: {}", store.status().message());
      return Status::IoError("cannot store declared periods: " + store.status().message());
    }
    std::set<int64_t> declared_windows;
    for (const auto& c : config.components) {
      PeriodDeclarations declared{c.declared_periods, c.declared_maintenance};
      Status s = ApplyDeclarations(**store, declared, clock_.NowMs(), &declared_windows);
      health_->Record("periods", s);
      if (!s.ok()) {
        log_->error("declared periods of {}: {}", c.name, s.message());
        return Status::IoError("declared periods of " + c.name + ": " + s.message());
      }
    }
    auto retired = RetireUndeclaredWindows(**store, declared_windows);
    health_->Record("periods", retired.status());
    if (!retired.ok()) {
      log_->error("maintenance windows taken out of the config: {}", retired.status().message());
      return Status::IoError("maintenance windows taken out of the config: " +
                             retired.status().message());
    }
    for (const auto& w : *retired) {
      log_->info("maintenance window #{} of {} ({}) is no longer in the config: deleted", w.id,
                 w.component, w.reason);
    }
    return Status::Ok();
  }

  Status Start() {
    backend_.SetVersion(options_.version);
    runner_.SetStopPending(TerminationSignalPending);
    // Changes over HTTP are logged (who hid what behind a window), and a window changed there
    // holds back alerts at once, not at the next refresh.
    backend_.SetManagement(
        options_.config_path,
        [this](const std::string& what, bool moved) {
          log_->info("{}", what);
          // The answer to the change is seen on every view, not one refresh later. A window's
          // reason edited moves no duration: its latency is not read again for it (fresh eyes: a
          // PATCH of the reason alone cost 0.44-0.57 s of CPU a week into 50 probes).
          Refresh(/*read_latency=*/moved);
        },
        [this](const std::string& what) { log_->warn("{}", what); },
        static_cast<int>(config_.storage.busy_timeout_ms));
    // Not fatal at start (a sqlite3 shell may hold the lock for a moment): logged, counted in
    // storage health, and applied again at the next reload.
    (void)ApplyPeriodDeclarations(config_);
    // Every probe reads its stored state now: one that cannot must not start (it would count
    // its log files from the start again), so obsmon refuses to start instead.
    for (const auto& c : config_.components) {
      for (const auto& p : c.probes) {
        if (Status s = RestoreState(p.spec.key, *p.probe); !s.ok()) return s;
      }
    }
    state_.SetConfig(config_);
    backend_.SetComponents(config_.components, config_.coverage_tolerance);
    if (auto reader = storage::Reader::Open(config_.storage.path); reader.ok()) {
      auto latest = (*reader)->LatestRuns();
      health_->Record("read", latest.status());
      if (latest.ok()) state_.Seed(*latest);
    }
    HttpServerOptions http;
    http.listen = options_.listen_override.empty() ? config_.listen : options_.listen_override;
    ApplyWebConfig(config_.web, &http);
    {
      MutexLock lock(reload_stats_mu_);
      reload_stats_ = {true, clock_.NowMs() / 1000.0};  // the initial load counts, as in Prometheus
    }
    server_ = std::make_unique<HttpServer>(http, backend_, clock_);
    if (Status s = server_->Start(); !s.ok()) return s;
    log_->info("listening on {} (port {})", http.listen, server_->port());
    scheduler_.SetProbes(ToScheduled(config_));
    scheduler_.Start();
    {
      auto rw = StartRemoteWrite(config_, clock_, log_, options_.version,
                                 [this] { return UnsentSamplesFrom(); });
      if (!rw.ok()) return rw.status();
      MutexLock lock(remote_mu_);
      remote_write_ = std::move(rw).value();
    }
    maintenance_refresher_ = std::thread([this] {
      NameThisThread("obsmon-maint");
      MaintenanceLoop();
    });
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
    Status s;
    {
      MutexLock serial(reload_serial_mu_);
      // A stop has begun: no reload after it (fresh eyes 2: reloads queued by POST /-/reload
      // ran one after the other after SIGTERM, each framed for the manager after STOPPING=1).
      if (reloads_ended_.load()) return Status::Unavailable("obsmon is stopping; not reloaded");
      if (options_.before_reload) options_.before_reload();
      s = DoReload();
      {
        MutexLock lock(reload_stats_mu_);
        reload_stats_.last_successful = s.ok();
        if (s.ok()) reload_stats_.last_success_timestamp_seconds = clock_.NowMs() / 1000.0;
      }
      if (options_.after_reload) options_.after_reload(s);
    }
    // The overview, /api/v1/components and /metrics follow the new config now, not a refresh
    // later (fresh eyes: a probe removed by SIGHUP stayed in the figures for the 13 s the paced
    // refresher waited). The latency is read again only where the reload changed what it counts
    // (LatencyCarriesOver): a thousand unchanged reloads read none.
    if (s.ok()) Refresh(/*read_latency=*/false);
    return s;
  }

  // One audited step: build and check everything new first (config, rules, storage readable),
  // and only then swap. A failure anywhere before the swap leaves the running config, probes and
  // rules untouched and is reported as a failed reload.
  Status DoReload() {
    ConfigErrors errors;
    auto next =
        LoadConfig(options_.config_path, probes::ProbeContext(clock_, watchdog_), &errors);
    if (!next) {
      log_->error("reload refused, keeping the running config:\n{}", errors.ToString());
      return Status::InvalidArgument(errors.ToString());
    }
    if (Status valid = ValidateAlerting(*next); !valid.ok()) {
      log_->error("reload refused, keeping the running config and rules:\n{}", valid.message());
      return Status::InvalidArgument(valid.message());
    }
    {
      ConfigErrors rw_errors;
      (void)RemoteWriteConfigsOf(*next, &rw_errors);
      if (!rw_errors.empty()) {
        log_->error("reload refused, keeping the running config:\n{}", rw_errors.ToString());
        return Status::InvalidArgument(rw_errors.ToString());
      }
    }
    if (next->storage.path != config_.storage.path) {
      log_->warn("storage.path changes take effect at the next restart; still writing {}",
                 config_.storage.path);
      next->storage = config_.storage;
    }
    if (next->uptime_refresh_ms != config_.uptime_refresh_ms ||
        next->uptime_refresh_max_cpu_percent != config_.uptime_refresh_max_cpu_percent) {
      log_->warn("uptime_refresh and uptime_refresh_max_cpu_percent changes take effect at the "
                 "next restart");
    }
    if (next->workers != config_.workers || next->batch_window_ms != config_.batch_window_ms ||
        next->batch_in_flight_per_server != config_.batch_in_flight_per_server) {
      log_->warn("workers, batch_window and batch_in_flight_per_server changes take effect at "
                 "the next restart");
    }
    if (next->storage.cache_bytes != config_.storage.cache_bytes) {
      log_->warn("storage.cache_size changes take effect at the next restart");
      next->storage.cache_bytes = config_.storage.cache_bytes;
    }
    if (next->storage.commit_interval_ms != config_.storage.commit_interval_ms) {
      // Kept as running: remote_write's default settle delay follows the writer's actual wait.
      log_->warn("storage.commit_interval changes take effect at the next restart");
      next->storage.commit_interval_ms = config_.storage.commit_interval_ms;
    }
    if (next->storage.head_move_interval_ms != config_.storage.head_move_interval_ms) {
      log_->warn("storage.head_move_interval changes take effect at the next restart");
      next->storage.head_move_interval_ms = config_.storage.head_move_interval_ms;
    }
    if (next->storage.busy_timeout_ms != config_.storage.busy_timeout_ms) {
      // Kept as running, for the reload's own writes too: the writer, the alert store and the
      // changes over HTTP wait what they were started with (it was silently half applied).
      log_->warn("storage.busy_timeout changes take effect at the next restart");
      next->storage.busy_timeout_ms = config_.storage.busy_timeout_ms;
    }
    // New probe instances read their stored state before their first run (RunProbe); storage
    // must be readable for that, so an unreadable database refuses the reload now.
    if (auto reader = storage::Reader::Open(config_.storage.path); !reader.ok()) {
      health_->Record("read", reader.status());
      log_->error("reload refused: cannot read stored probe state: {}", reader.status().message());
      return Status::IoError("cannot read stored probe state: " + reader.status().message());
    }
    MutexLock lock(reload_mu_);
    // Keep the instance (and so the in-memory state) of every probe whose settings did not change.
    std::vector<const Probe*> fresh;
    std::set<const Probe*> live;
    for (auto& c : next->components) {
      for (auto& p : c.probes) {
        for (const auto& old_c : config_.components) {
          for (const auto& old_p : old_c.probes) {
            if (old_p.spec.key == p.spec.key && old_p.fingerprint == p.fingerprint) {
              p.probe = old_p.probe;
            }
          }
        }
        live.insert(p.probe.get());
        bool kept = false;
        for (const auto& old_c : config_.components) {
          for (const auto& old_p : old_c.probes) kept |= (old_p.probe == p.probe);
        }
        if (!kept) fresh.push_back(p.probe.get());
      }
    }
    // Declared periods are stored before the swap (idempotent): a reload that cannot store them
    // (the database locked by a sqlite3 shell ...) fails as a whole and can simply be retried.
    if (Status st = ApplyPeriodDeclarations(*next); !st.ok()) {
      log_->error("reload refused, keeping the running config: {}", st.message());
      return st;
    }
    // Rules last before the swap: AlertingRuntime::Reload keeps the running rules on failure.
    if (Status st = alerting_->Reload(*next); !st.ok()) {
      log_->error("reload refused, keeping the running config and rules: {}", st.message());
      return st;
    }
    for (const Probe* p : fresh) ledger_->MarkStale(p);
    const std::string remote_write_before = RemoteWriteFingerprint(config_);
    config_.components = next->components;
    config_.rule_files = next->rule_files;
    // reset(), not `=`: yaml-cpp's assignment to a node that holds one merges the two documents'
    // memory for good, so every reload kept the whole config's YAML alive (fresh eyes 2, stop 59:
    // ~18 KB of heap a reload, 18.9 -> 37.2 MB of RSS over 1,000 unchanged SIGHUPs).
    config_.alerting.reset(next->alerting);
    config_.remote_write.reset(next->remote_write);
    config_.external_labels = next->external_labels;
    // Senders whose settings changed are started anew: their cursors are in SQLite, so a
    // window in flight is sent again at most, and nothing acknowledged twice. Unchanged, they
    // keep running (and their counters keep counting).
    if (RemoteWriteFingerprint(config_) != remote_write_before) {
      // Stopped outside the lock: a request in flight may take up to its remote_timeout, and
      // /metrics must not wait for it.
      std::unique_ptr<remote::RemoteWrite> old;
      {
        MutexLock rw_lock(remote_mu_);
        old = std::move(remote_write_);
      }
      old.reset();  // stops and joins the old senders before the new ones read the cursors
      auto rw = StartRemoteWrite(config_, clock_, log_, options_.version,
                                 [this] { return UnsentSamplesFrom(); });
      if (!rw.ok()) log_->error("remote_write not restarted: {}", rw.status().message());
      MutexLock rw_lock(remote_mu_);
      if (rw.ok()) remote_write_ = std::move(rw).value();
    }
    state_.SetConfig(config_);
    backend_.SetComponents(config_.components, config_.coverage_tolerance);
    scheduler_.SetProbes(ToScheduled(config_));
    alerting_->EndRemovedProbes(config_);
    ledger_->Retain(live);
    // No stale series: what /metrics shows of removed probes and components goes now.
    std::set<std::string> kept;
    std::map<std::string, bool> components;
    for (const auto& c : config_.components) {
      components[c.name] = true;
      for (const auto& p : c.probes) kept.insert(p.spec.key.component + "/" + p.spec.key.probe);
    }
    probe_samples_.Retain(kept);
    uptime_.Retain(components);
    {
      MutexLock errors_lock(internal_errors_mu_);
      std::erase_if(internal_errors_, [&](const auto& kv) {
        return !kept.count(kv.first.component + "/" + kv.first.probe);
      });
      configured_probes_ = ProbeKeysOf(config_);
    }
    if (server_) {
      // Credentials change at once; TLS files, connection limits and the listen address
      // need a restart.
      HttpServerOptions web;
      ApplyWebConfig(next->web, &web);
      server_->SetAuth(web.auth);
      const WebConfig& a = next->web;
      const WebConfig& b = config_.web;
      if (a.tls_cert_file != b.tls_cert_file || a.tls_key_file != b.tls_key_file ||
          next->listen != config_.listen || a.max_connections != b.max_connections ||
          a.max_connections_per_client != b.max_connections_per_client ||
          a.max_workers_per_client != b.max_workers_per_client ||
          a.request_timeout_ms != b.request_timeout_ms || a.idle_timeout_ms != b.idle_timeout_ms ||
          a.output_buffer_bytes != b.output_buffer_bytes) {
        log_->warn("listen, web.tls_* and web connection limits take effect at the next restart");
      }
    }
    config_.web.bearer_token = next->web.bearer_token;
    config_.web.basic_username = next->web.basic_username;
    config_.web.basic_password = next->web.basic_password;
    config_.web.protect_metrics = next->web.protect_metrics;
    config_.web.protect_health = next->web.protect_health;
    log_->info("config reloaded from {} ({} probes rebuilt)", options_.config_path, fresh.size());
    return Status::Ok();
  }

  void Shutdown() {
    {
      MutexLock lock(stop_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    stop_cv_.notify_all();
    // Runs in flight are abandoned at once, not waited for up to their timeouts (an exec check
    // of minutes, a target that never answers): their time stays unknown, as the time obsmon
    // is down does. What runs have finished is in the writer's queue, drained below.
    runner_.Cancel();
    if (refresher_.joinable()) refresher_.join();
    if (maintenance_refresher_.joinable()) maintenance_refresher_.join();
    scheduler_.Stop();  // joins the workers, which return from the cancelled runs
    if (server_) server_->Stop();
    {
      std::unique_ptr<remote::RemoteWrite> rw;
      {
        MutexLock lock(remote_mu_);
        rw = std::move(remote_write_);
      }
      rw.reset();  // stops the senders; a window in flight is sent again at the next start
    }
    // Rule evaluation and the outbox stop (storing what the rules could not yet) while the
    // writer drains its queue: both may wait for a `sqlite3` write lock, at the same time, not
    // one after the other (fresh eyes 2, stop 69: 23 s, then 26 s more).
    std::thread alerting_stop([this] { alerting_.reset(); });
    writer_->Stop();  // drains the queue and commits
    alerting_stop.join();
    const auto stats = writer_->Stats();  // after the drain: what it could not write is counted
    const uint64_t lost = stats.lost_batches + stats.rejected_batches;
    const uint64_t abandoned = runner_.AbandonedRuns();
    if (lost > 0 || stats.dropped_batches > 0) {
      log_->error(
          "stopped; {} batches committed, {} dropped (queue full), {} lost ({}); {} runs in "
          "flight abandoned",
          stats.committed_batches, stats.dropped_batches, lost, stats.last_error, abandoned);
    } else {
      log_->info("stopped; {} batches committed, 0 dropped; {} runs in flight abandoned",
                 stats.committed_batches, abandoned);
    }
  }

  int port() const { return server_ ? server_->port() : 0; }

  void AbandonRuns() { runner_.Cancel(); }

  // After the reload under way, if any: none starts after this; `then` runs first.
  void EndReloads(const std::function<void()>& then) {
    reloads_ended_ = true;  // before the lock: reloads waiting for it must not go first
    MutexLock serial(reload_serial_mu_);
    if (then) then();
  }

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
    http->gate.max_connections = web.max_connections;
    http->gate.max_connections_per_client = web.max_connections_per_client;
    http->gate.max_workers_per_client = web.max_workers_per_client;
    http->gate.request_timeout = std::chrono::milliseconds(web.request_timeout_ms);
    http->gate.idle_timeout = std::chrono::milliseconds(web.idle_timeout_ms);
    http->gate.output_buffer_bytes = static_cast<size_t>(web.output_buffer_bytes);
    http->gate.output_buffer_per_client_bytes = static_cast<size_t>(web.output_buffer_bytes / 4);
    if (web.enable_lifecycle) http->reload = [this] { return Reload(); };
  }

  // Where remote_write's windows end at the latest: the earliest sample not committed yet,
  // whether its run is still going (stamped with its start) or its batch waits in the writer.
  // The runs first: one that ends between the two reads is then in the writer's answer.
  TimestampMs UnsentSamplesFrom() const {
    const TimestampMs running = runner_.EarliestRunningStart();
    return std::min(running, writer_->UncommittedSamplesFrom());
  }

  ReloadStats ReloadSnapshot() {
    MutexLock lock(reload_stats_mu_);
    return reload_stats_;
  }

  // Reads what storage remembers of a probe (log cursors, counters) into `probe`, at a fresh
  // epoch fenced in the writer first: older batches of the key still queued then either commit
  // before the read or lose their state part, so no line is counted twice or lost.
  Status RestoreState(const ProbeKey& key, Probe& probe) {
    const uint64_t epoch = ledger_->NextEpoch();
    if (Status s = writer_->Fence(key, epoch); !s.ok()) {
      return Status::Unavailable("cannot fence the stored state of probe " + key.component + "/" +
                                 key.probe + ": " + s.message());
    }
    auto reader = storage::Reader::Open(config_path_db_);
    health_->Record("read", reader.status());
    if (!reader.ok()) {
      return Status::IoError("cannot read stored probe state: " + reader.status().message());
    }
    probe.Restore(**reader);
    Status e = (*reader)->TakeStateError();
    health_->Record("read", e);
    if (!e.ok()) {
      return Status::IoError("cannot read stored state of probe " + key.component + "/" +
                             key.probe + ": " + e.message());
    }
    ledger_->SetEpoch(&probe, epoch);
    return Status::Ok();
  }

  // Runs one probe; first re-reads its stored state when it is stale (new, or storage lost one
  // of its batches after accepting it, or it threw). Worker threads; a probe never runs twice at
  // once, so its Restore() cannot race its Run(). A probe that cannot read its state does not run:
  // that time stays unknown rather than counted from a wrong cursor.
  void RunProbe(const ScheduledProbe& p, TimestampMs due) {
    const ProbeKey& key = p.spec.key;
    if (ledger_->TakeStale(key, p.probe.get())) {
      if (Status s = RestoreState(key, *p.probe); !s.ok()) {
        ledger_->MarkStale(p.probe.get());  // try again at the next run
        if (ShouldLog(key, &restore_log_)) {
          log_->error("probe {}/{} not run: {}", key.component, key.probe, s.message());
        }
        return;
      }
    }
    runner_.Run(p, due, ledger_->Epoch(p.probe.get()));
  }

  // Runs a batch of Startable probes (runtime/scheduler.h) as RunProbe() runs one: a probe
  // whose state cannot be read does not run.
  void RunBatch(const std::vector<Scheduler::BatchItem>& items,
                const std::function<void(size_t)>& finished) {
    std::vector<ProbeRunner::BatchRun> runs;
    std::vector<size_t> index;  // runs[k] is items[index[k]]
    runs.reserve(items.size());
    index.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const ScheduledProbe& p = *items[i].probe;
      const ProbeKey& key = p.spec.key;
      if (ledger_->TakeStale(key, p.probe.get())) {
        if (Status s = RestoreState(key, *p.probe); !s.ok()) {
          ledger_->MarkStale(p.probe.get());
          if (ShouldLog(key, &restore_log_)) {
            log_->error("probe {}/{} not run: {}", key.component, key.probe, s.message());
          }
          finished(i);
          continue;
        }
      }
      runs.push_back({&p, ledger_->Epoch(p.probe.get())});
      index.push_back(i);
    }
    runner_.RunBatch(runs, [&](size_t k) { finished(index[k]); });
  }

  // A probe threw: obsmon's bug, or obsmon out of descriptors (probe_helpers.h,
  // ThrowIfOutOfResources). Counted for /metrics, logged at most once a minute per probe, and
  // the probe re-reads its state before its next run (it may have moved its cursors).
  void OnInternalError(const ProbeKey& key, const std::string& what) {
    ledger_->MarkStale(key);
    uint64_t count = 0;
    {
      MutexLock lock(internal_errors_mu_);
      count = ++internal_errors_[key];
    }
    if (ShouldLog(key, &internal_error_log_)) {
      log_->error("probe {}/{} failed inside obsmon, not at its target (the run counts as "
                  "unknown, {} so far): {}",
                  key.component, key.probe, count, what);
    }
  }

  // At most one line a minute per probe for a repeating error.
  bool ShouldLog(const ProbeKey& key, std::map<ProbeKey, SteadyTime>* last) {
    MutexLock lock(log_limit_mu_);
    const SteadyTime now = clock_.SteadyNow();
    auto it = last->find(key);
    if (it != last->end() && now - it->second < std::chrono::minutes(1)) return false;
    (*last)[key] = now;
    return true;
  }

  // Empty while obsmon can keep its evidence; otherwise why not, for /healthz.
  std::string HealthFailure() {
    std::string failure = health_->FailureSummary();
    const std::string write_error = writer_->Stats().last_error;
    if (!write_error.empty()) failure = "write: " + write_error + (failure.empty() ? "" : "; " + failure);
    return failure.empty() ? "" : "storage: " + failure;
  }

  MetricsSnapshot CollectMetricsSnapshot() {
    MetricsSnapshot s;
    s.components = ComponentMetricsOf(state_.Snapshot());
    s.uptime = UptimeMetricsOf(uptime_.All());
    s.scheduler = SchedulerMetricsOf(scheduler_.Stats());
    s.writer = WriterMetricsOf(writer_->Stats());
    s.reload = ReloadSnapshot();
    {
      MutexLock lock(refresh_stats_mu_);
      s.refresh = refresh_stats_;
    }
    s.refresh.live_report_bytes = backend_.LiveReportBytes();
    s.storage = health_->Snapshot();
    s.storage_healthy = HealthFailure().empty();
    if (server_) s.http = server_->ConnectionStats();
    {
      MutexLock lock(remote_mu_);
      if (remote_write_) s.remote_write = RemoteWriteMetricsOf(remote_write_->Stats());
    }
    // Every configured probe has a series from the start (0), so rate() and alerts on it work.
    // Its own list, not config_ under reload_mu_: a reload holds that while it waits for the
    // database (a `sqlite3` write lock: /metrics waited 5 s, fresh eyes, stop 69).
    MutexLock lock(internal_errors_mu_);
    for (const ProbeKey& key : configured_probes_) s.internal_errors[key] = 0;
    for (const auto& [key, n] : internal_errors_) s.internal_errors[key] = n;
    return s;
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

  // Waits `ms`, or less when stopped; true when stopped.
  bool WaitOrStop(int64_t ms) {
    MutexLock lock(stop_mu_);
    return clock_.WaitFor(lock.native(), stop_cv_, std::chrono::milliseconds(ms), [this] {
      stop_mu_.AssertHeld();  // the predicate runs with the lock held
      return stopped_;
    });
  }

  // The maintenance windows every uptime_refresh, on a thread of their own: they hold back
  // alerts, so a long refresh of the figures (seconds a week into 1,000 probes) must not
  // delay a window added by `obsmon maintenance add` from another process.
  void MaintenanceLoop() {
    do {
      MutexLock lock(maintenance_mu_);
      RefreshMaintenance();
    } while (!WaitOrStop(config_.uptime_refresh_ms));
  }

  // Every uptime_refresh: storage health, and the live figures when due, each part paced by its
  // cost (RecordRefresh): the figures but latency every uptime_refresh, which costs little (the
  // runs' state spans: a few rows per probe), and the latency, which reads every successful
  // run's duration of the window again, only as often as that takes at most
  // uptime_refresh_max_cpu_percent of a core; in between, the last latency figures are carried
  // over, marked with the instant they are of (Report::latency_as_of_ms).
  void RefreshLoop() {
    SteadyTime figures_due = clock_.SteadyNow();
    do {
      ReportStorageHealth();
      if (clock_.SteadyNow() < figures_due) continue;
      MutexLock lock(refresh_mu_);
      const double cpu_before = ThreadCpuSeconds();
      const SteadyTime wall_before = clock_.SteadyNow();
      // Each component's latency is read when its own pace says so, or when it could not be
      // carried over (the first refresh, a reload, a period started).
      const LiveRefresh done = RefreshUptime(/*read_all=*/false);
      // A refresh builds each component's window report; its latency selection holds a
      // bounded few MB whatever the window (report/latency_selection.h), freed as soon as it
      // is done. glibc keeps freed memory for reuse, fragmented: with 1,000 probes at 1 s the
      // kept part grew from 25 to 77 MB in an hour while the heap in use stayed at 47 MB
      // (bench/soak_bench, when a report still held 8 bytes a successful run of the window).
      // Handing it back keeps RSS near what is in use. After every refresh, not only those that
      // read the latency (paced to minutes at 1,000 probes): the workers' and the writer's
      // churn re-dirties freed pages in between, 4 MB more at the peak of a loaded 1,000-probe
      // soak. It costs a walk of the two arenas: 8.5 ms of CPU on average there, every 15 s
      // (docs/benchmarks.md, "malloc_trim after every refresh").
      ReturnFreedMemory();
      const SteadyTime end = clock_.SteadyNow();
      const int64_t wait_ms =
          RecordRefresh(ThreadCpuSeconds() - cpu_before, end - wall_before, done);
      figures_due = end + std::chrono::milliseconds(wait_ms);
    } while (!WaitOrStop(config_.uptime_refresh_ms));
  }

  static constexpr int64_t kMaxRefreshWaitMs = 3'600'000;
  // The refreshes that carry the latency over are what uptime, budget and incidents move with;
  // they cost milliseconds (spans, checks, the allocator's trim: 4 ms a week into 100 probes,
  // more with more), so they are paced at this share of a core at least, however low the
  // latency's share is set: at 0.01 % a 1.3 ms refresh left the budget 13 s old (fresh eyes).
  static constexpr double kMinFiguresShare = 0.005;

  // How long to wait after work that took `cpu_seconds` so that such work takes at most `share`
  // of a core: uptime_refresh at least, an hour at most.
  int64_t PacedWaitMs(double cpu_seconds, double share) const {
    const double paced_ms =
        std::min(cpu_seconds * 1000.0 * (1.0 / share - 1.0), double{kMaxRefreshWaitMs});
    return std::max<int64_t>(config_.uptime_refresh_ms, static_cast<int64_t>(std::ceil(paced_ms)));
  }

  // What one refresh of the live figures did to the latency.
  struct LiveRefresh {
    bool read_latency = false;  // some component's latency was read afresh
    double latency_cpu_seconds = 0;  // what those reads added to their components' refreshes
    int64_t latency_wait_ms = 0;     // the longest wait they set (LatencyPace::due)
  };

  // Counts a refresh that took `cpu_seconds` of CPU and `wall` of real time, and says how long
  // to wait before the next: uptime_refresh, or long enough that the part of it that carried
  // the latency over (or computed what is not latency) takes at most
  // uptime_refresh_max_cpu_percent of a core, kMinFiguresShare at least. The latency reads are
  // paced per component (RefreshUptime). A refresh's CPU grows with the stored window (the
  // latency of a week of 1,000 probes takes longer than the default 15 s); without the bound
  // the refresher would run back to back and hold a whole core for a week's figures, which a
  // minute moves by at most 0.01 %.
  int64_t RecordRefresh(double cpu_seconds, std::chrono::nanoseconds wall,
                        const LiveRefresh& done) REQUIRES(refresh_mu_) {
    const double share =
        std::max(config_.uptime_refresh_max_cpu_percent / 100.0, kMinFiguresShare);
    const int64_t wait_ms =
        PacedWaitMs(std::max(0.0, cpu_seconds - done.latency_cpu_seconds), share);
    MutexLock lock(refresh_stats_mu_);
    ++refresh_stats_.refreshes;
    refresh_stats_.cpu_seconds += cpu_seconds;
    refresh_stats_.last_duration_seconds = std::chrono::duration<double>(wall).count();
    refresh_stats_.interval_seconds = static_cast<double>(wait_ms) / 1000.0;
    if (done.read_latency) {
      ++refresh_stats_.latency_refreshes;
      refresh_stats_.latency_cpu_seconds += cpu_seconds;
      refresh_stats_.latency_interval_seconds =
          static_cast<double>(done.latency_wait_ms) / 1000.0;
    }
    return wait_ms;
  }

  // By an HTTP thread after a change over the API. Each part one at a time, so that a refresh
  // begun before the change cannot overwrite the figures of one begun after it.
  void Refresh(bool read_latency) {
    {
      MutexLock lock(maintenance_mu_);
      RefreshMaintenance();
    }
    MutexLock lock(refresh_mu_);
    const double cpu_before = ThreadCpuSeconds();
    const SteadyTime wall_before = clock_.SteadyNow();
    // A window added changes which durations count. Counted and paced as the refresher's own
    // (on this HTTP thread): each component's next read of the latency waits for this one's.
    // Without `read_latency`, each component's latency is read only when its pace says so.
    const LiveRefresh done = RefreshUptime(/*read_all=*/read_latency);
    RecordRefresh(ThreadCpuSeconds() - cpu_before, clock_.SteadyNow() - wall_before, done);
  }

  // The windows that hold back alerts (runtime/maintenance_calendar.h).
  void RefreshMaintenance() {
    std::vector<ComponentConfig> components;
    {
      MutexLock lock(reload_mu_);
      components = config_.components;
    }
    Status s = maintenance_->Refresh(config_.storage.path, components, clock_.NowMs());
    health_->Record("periods", s);
    if (!s.ok() && !s.IsNotFound()) log_->warn("maintenance windows: {}", s.message());
  }

  // The live figures of every component (cmd/obsmon/live_figures.h): the same computation as
  // its reports, maintenance windows and periods read afresh each time, so a window added by
  // `obsmon maintenance add` (another process) counts on every view within one refresh.
  // Unless `read_all`, a component whose latency read is not due yet (LatencyPace) carries its
  // latency figures over from its last live report where they may be (LatencyCarriesOver).
  //
  // Each component's reads are paced by their own cost, so a young window's latency moves
  // every uptime_refresh beside a component a week in (fresh eyes: a new period's latency
  // stayed "n/a" for 8 minutes, paced by another component's read). Each gets an equal part of
  // the share, so together they keep to it. A read is paced by what it added to the
  // component's last refresh without one: in a window's first minutes that is little, a week
  // in nearly all of it.
  LiveRefresh RefreshUptime(bool read_all) REQUIRES(refresh_mu_) {
    LiveRefresh done;
    std::vector<ComponentConfig> components;
    {
      MutexLock lock(reload_mu_);
      components = config_.components;
    }
    const double share = config_.uptime_refresh_max_cpu_percent / 100.0 /
                         static_cast<double>(std::max<size_t>(1, components.size()));
    const TimestampMs now = clock_.NowMs();
    std::map<std::string, LatencyPace> paces;  // the configured components' only
    // One pair of read connections for every component of this refresh, closed after it: a
    // connection kept between refreshes would hold its cache's pages in RSS meanwhile.
    ReportConnections connections;
    for (const auto& c : components) {
      LatencyPace pace = latency_paces_[c.name];
      std::optional<Report> report;
      std::shared_ptr<const Report> last;
      if (!read_all && clock_.SteadyNow() < pace.due) last = backend_.LastLiveReport(c.name);
      const double cpu_before = ThreadCpuSeconds();
      auto figures =
          ComputeLiveFigures(config_.storage.path, c, now, &report, last.get(), &connections);
      const double cpu = ThreadCpuSeconds() - cpu_before;
      if (report && !report->latency_as_of_ms) {
        // All of it until a refresh without a read was measured, or when one cost more.
        const double added =
            pace.carry_cpu_seconds && cpu > *pace.carry_cpu_seconds ? cpu - *pace.carry_cpu_seconds
                                                                     : cpu;
        const int64_t wait_ms = PacedWaitMs(added, share);
        pace.due = clock_.SteadyNow() + std::chrono::milliseconds(wait_ms);
        done.read_latency = true;
        done.latency_cpu_seconds += added;
        done.latency_wait_ms = std::max(done.latency_wait_ms, wait_ms);
      } else if (figures.ok()) {
        pace.carry_cpu_seconds = cpu;
      }
      paces[c.name] = pace;
      health_->Record("read", figures.status());
      if (!figures.ok()) {
        log_->warn("uptime of {}: {}", c.name, figures.status().message());
        continue;
      }
      uptime_.Set(*figures);
      backend_.SetLiveReport(c.name, std::move(report));
    }
    latency_paces_ = std::move(paces);
    return done;
  }

  DaemonOptions options_;
  const Clock& clock_;
  // Shared with the probes that need one (http) through the config loader; they hold it too.
  std::shared_ptr<probes::DeadlineWatchdog> watchdog_;
  std::shared_ptr<spdlog::logger> log_;
  Mutex reload_mu_;
  Mutex maintenance_mu_;  // one RefreshMaintenance() at a time
  Mutex refresh_mu_;      // one RefreshUptime() at a time
  // Per component: when its latency is next read, and what its last refresh without a read
  // of the latency cost.
  struct LatencyPace {
    SteadyTime due{};
    std::optional<double> carry_cpu_seconds;
  };
  std::map<std::string, LatencyPace> latency_paces_ GUARDED_BY(refresh_mu_);
  // Written only by DoReload, under reload_mu_. Other threads read `components` under it, and
  // `storage` and `uptime_refresh_ms` without: a reload never changes those two. Not annotated
  // GUARDED_BY, which would guard the whole struct, start-up and DoReload's own reads included.
  Config config_;
  std::unique_ptr<storage::Writer> writer_;
  const std::string config_path_db_ = config_.storage.path;
  std::shared_ptr<ProbeStateLedger> ledger_;  // also held by the writer's on_state_lost
  std::shared_ptr<StorageHealth> health_;     // also held by the alert store's recorder
  std::shared_ptr<MaintenanceCalendar> maintenance_;  // also held by the rules' suppressor
  Mutex internal_errors_mu_;
  std::map<ProbeKey, uint64_t> internal_errors_ GUARDED_BY(internal_errors_mu_);
  // Every configured probe (config_'s, set at start and by each reload's swap).
  std::vector<ProbeKey> configured_probes_ GUARDED_BY(internal_errors_mu_);
  Mutex log_limit_mu_;
  std::map<ProbeKey, SteadyTime> internal_error_log_ GUARDED_BY(log_limit_mu_);
  std::map<ProbeKey, SteadyTime> restore_log_ GUARDED_BY(log_limit_mu_);
  std::unique_ptr<AlertingRuntime> alerting_;  // before runner_: the runner feeds it
  MonitorState state_;
  UptimeBoard uptime_;
  StorageSink storage_sink_;
  ProbeSamplesCollector probe_samples_;  // probes' own series (log matches ...) for /metrics
  LostLinesLog lost_lines_{log_};         // warns when a log probe cannot count rotated lines
  ProbeRunner runner_;
  Scheduler scheduler_;
  MetricsCollector collector_;
  ProcessCollector process_collector_;
  ApiBackendImpl backend_;
  std::unique_ptr<HttpServer> server_;
  std::string last_storage_error_;  // refresher thread only
  Mutex reload_serial_mu_;  // one reload at a time
  std::atomic<bool> reloads_ended_{false};  // EndReloads: a stop has begun
  Mutex reload_stats_mu_;
  ReloadStats reload_stats_ GUARDED_BY(reload_stats_mu_);
  Mutex refresh_stats_mu_;
  RefreshStats refresh_stats_ GUARDED_BY(refresh_stats_mu_);
  std::thread refresher_;
  std::thread maintenance_refresher_;
  Mutex remote_mu_;  // a reload replaces the senders while /metrics reads them
  std::unique_ptr<remote::RemoteWrite> remote_write_ GUARDED_BY(remote_mu_);
  Mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ GUARDED_BY(stop_mu_) = false;
};

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  ConfigErrors errors;
  // The one watchdog of the process: every probe that needs one (http) shares it, across reloads.
  auto watchdog = std::make_shared<probes::DeadlineWatchdog>(*options.clock);
  auto config = LoadConfig(options.config_path, probes::ProbeContext(*options.clock, watchdog),
                           &errors);
  if (!config) return Status::InvalidConfig(errors.ToString());
  // Checked before anything starts (the senders start last), as `obsmon check` and a reload do.
  (void)RemoteWriteConfigsOf(*config, &errors);
  if (!errors.empty()) return Status::InvalidConfig(errors.ToString());
  const std::string listen =
      options.listen_override.empty() ? config->listen : options.listen_override;
  if (Status s = CheckListenAddress(listen); !s.ok()) return s;
  // Made before the writer: the writer tells the ledger of lost probe state.
  auto ledger = std::make_shared<ProbeStateLedger>();
  auto health = std::make_shared<StorageHealth>(*options.clock);
  storage::StorageOptions so;
  so.on_state_lost = [ledger](const ProbeKey& key) { ledger->MarkStale(key); };
  so.path = config->storage.path;
  so.retention_ms = config->storage.retention_ms;
  so.rollup_retention_ms = config->storage.rollup_retention_ms;
  so.busy_timeout_ms = config->storage.busy_timeout_ms;
  so.commit_interval_ms = config->storage.commit_interval_ms;
  so.head_move_interval_ms = config->storage.head_move_interval_ms;
  so.cache_bytes = config->storage.cache_bytes;
  so.remote_write_hold_max_ms = config->storage.remote_write_hold_max_ms;
  so.clock = options.clock;
  auto writer = storage::Writer::Start(so);
  if (!writer.ok()) return writer.status();
  // Read before the rules start, so that their first evaluation (restored or backfilled alerts
  // may fire at once) already knows a window in force.
  auto maintenance = std::make_shared<MaintenanceCalendar>();
  health->Record("periods",
                 maintenance->Refresh(config->storage.path, config->components,
                                      options.clock->NowMs()));
  auto alerting = AlertingRuntime::Start(
      *config, *options.clock, options.logger ? options.logger : spdlog::default_logger(), health,
      [maintenance](const Labels& labels, int64_t ts_ms) {
        return maintenance->SuppressedBy(labels, ts_ms);
      });
  if (!alerting.ok()) return alerting.status();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*config), std::move(*writer),
                                     std::move(*alerting), std::move(ledger), std::move(health),
                                     std::move(watchdog), std::move(maintenance));
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

void Daemon::AbandonRuns() { impl_->AbandonRuns(); }
void Daemon::EndReloads(const std::function<void()>& then) { impl_->EndReloads(then); }
int Daemon::http_port() const { return impl_->port(); }

}  // namespace obsmon
