#include "cmd/obsmon/alerting_runtime.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <span>

#include "alerts/alerts_api.h"
#include "alerts/promql_value.h"
#include "alerts/rule_file.h"
#include "alerts/selected_metrics.h"
#include "core/byte_size.h"
#include "core/duration.h"
#include "core/time_format.h"
#include "config/slo_rules.h"
#include "storage/storage.h"

namespace obsmon {

namespace {

// Reads the `alerting:` section (absent: defaults, no receivers).
std::optional<alerts::AlertingConfig> ReadAlertingConfig(const Config& config,
                                                         ConfigErrors* errors) {
  if (!config.alerting.IsDefined() || config.alerting.IsNull()) {
    alerts::AlertingConfig defaults;
    defaults.external_url = "http://" + config.listen;
    return defaults;
  }
  if (!config.alerting.IsMap()) {
    errors->Add(config.file, config.alerting.Mark(), "'alerting' must be a mapping");
    return std::nullopt;
  }
  ConfigNode node(config.alerting, config.file, errors);
  auto parsed = alerts::ParseAlertingConfig(node);
  if (!parsed.ok()) return std::nullopt;
  if (!config.alerting["external_url"].IsDefined()) parsed->external_url = "http://" + config.listen;
  return *parsed;
}

}  // namespace

size_t CollectAlertingErrors(const Config& config, ConfigErrors* errors) {
  (void)ReadAlertingConfig(config, errors);  // only its errors are wanted here
  if (config.rule_files.empty()) return 0;
  auto groups = alerts::LoadRuleFiles(config.rule_files, errors);
  size_t rules = 0;
  if (groups.ok()) {
    for (const auto& g : *groups) rules += g.rules.size();
  }
  return rules;
}

Status ValidateAlerting(const Config& config) {
  ConfigErrors errors;
  CollectAlertingErrors(config, &errors);
  return errors.empty() ? Status::Ok() : Status::InvalidConfig(errors.ToString());
}

namespace {
// The file name the generated SLO rules carry (in messages, and to tell them apart).
constexpr const char* kSloRulesFile = "<slo rules>";

// Rules see at most the 5-minute lookback unless one asks for a longer range, which the rule
// manager then requires of the store; keeping an hour of every 1-second probe series by default
// would cost hundreds of MB with 1,000 probes.
alerts::SeriesStoreOptions SeriesOptions() {
  alerts::SeriesStoreOptions o;
  o.retention_ms = 5 * 60'000 + 60'000;
  return o;
}
}  // namespace

namespace {
// Every component's digest destinations, with what its reports need (notifiers made later).
std::vector<DigestTarget> DigestTargetsOf(const Config& config) {
  std::vector<DigestTarget> targets;
  for (const auto& c : config.components) {
    for (const auto& d : c.digest) {
      DigestTarget t;
      t.component = c.name;
      t.objective = c.objective;
      t.alert_components = AlertComponentsOf(config.components);
      for (const auto& p : c.probes) {
        if (p.spec.role == ProbeRole::kHealth) t.health_probes.push_back(p.spec.key.probe);
      }
      t.destination = d;
      targets.push_back(std::move(t));
    }
  }
  return targets;
}

// How often the digest poster looks for days that ended (a comment goes out within this).
constexpr int64_t kDigestPollMs = 60'000;
// How long the stop tries to store what the rules could not (the writer's drain: 10 s).
constexpr std::chrono::milliseconds kStopFlush{10'000};
}  // namespace

AlertingRuntime::AlertingRuntime(const Clock& clock, std::shared_ptr<spdlog::logger> log)
    : clock_(clock), log_(std::move(log)), series_(SeriesOptions()) {
  // The first time the byte bound drops points, then at most every 10 minutes with what it
  // dropped since: a head over its bound drops a little at every evaluation.
  series_.OnSizeRetention([this, last = std::optional<std::chrono::steady_clock::time_point>(),
                           dropped = uint64_t{0}](int64_t floor_ms, uint64_t bytes,
                                                  uint64_t now_dropped) mutable {
    dropped += now_dropped;
    const auto now = std::chrono::steady_clock::now();
    if (last && now - *last < std::chrono::minutes(10)) return;
    last = now;
    log_->warn("alerting: the rules' head reached alerting.head.max_point_bytes; {} points "
               "older than {} dropped (oldest first; {} of points held). Rules reading further "
               "back see only what is left (docs/alerts.md)",
               dropped, FormatRfc3339(floor_ms), FormatByteSize(static_cast<int64_t>(bytes)));
    dropped = 0;
  });
}

Result<std::unique_ptr<AlertingRuntime>> AlertingRuntime::Start(
    const Config& config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
    std::shared_ptr<StorageHealth> health, alerts::Suppressor suppressor) {
  if (Status valid = ValidateAlerting(config); !valid.ok()) return valid;
  auto prepared = Prepare(config);
  if (!prepared.ok()) return prepared.status();
  std::unique_ptr<AlertingRuntime> rt(new AlertingRuntime(clock, std::move(log)));
  auto store = storage::AlertStore::Open(config.storage.path,
                                         static_cast<int>(config.storage.busy_timeout_ms));
  if (health) health->Record("alerts", store.status());
  if (!store.ok()) return store.status();
  rt->store_ = std::make_unique<RecordingAlertStore>(std::move(*store), std::move(health));
  rt->db_path_ = config.storage.path;
  rt->suppressor_ = std::move(suppressor);
  MutexLock lock(rt->mu_);
  rt->StartRules(std::move(*prepared));
  return rt;
}

AlertingRuntime::~AlertingRuntime() {
  MutexLock lock(mu_);
  if (rules_) {
    // From the stop's start: a delivery under way when it came may wait out the busy timeout
    // (twice: its notifications, then its writes) before Stop() returns (fresh eyes 2, stop
    // 69: 35.7 s to exit under a long lock with the flush's time counted after it).
    const auto deadline = std::chrono::steady_clock::now() + kStopFlush;
    rules_->Stop();
    // What a `sqlite3` write lock kept from the alert store is stored before the stop, within
    // the time the writer's drain allows itself (docs/storage.md); the outbox still takes the
    // notifications handed on with it.
    if (const auto left = rules_->FlushUnsaved(deadline); left.total() > 0) {
      log_->error("alerting: the database stayed locked {} s into the stop; lost: the state of "
                  "{} alerting rules, {} alert history rows and {} series ends",
                  std::chrono::duration_cast<std::chrono::seconds>(kStopFlush).count(),
                  left.alert_states, left.history_rows, left.series_ends);
    }
  }
  StopRules();
}

Result<AlertingRuntime::Prepared> AlertingRuntime::Prepare(const Config& config) {
  ConfigErrors errors;
  auto delivery = ReadAlertingConfig(config, &errors);
  std::vector<alerts::RuleGroupSpec> groups;
  if (!config.rule_files.empty()) {
    auto loaded = alerts::LoadRuleFiles(config.rule_files, &errors);
    if (loaded.ok()) groups = std::move(*loaded);
  }
  // Multi-window, multi-burn-rate alerts generated from every objective (`obsmon rules slo`
  // prints the same rules for teams who run Prometheus themselves).
  for (auto& g : alerts::ParseRuleFileText(RenderSloRules(SloSpecsOf(config.components)),
                                           kSloRulesFile, &errors)) {
    if (delivery && !delivery->slo_alerts) {
      std::erase_if(g.rules, [](const alerts::RuleSpec& r) {
        return r.kind == alerts::RuleSpec::Kind::kAlert;
      });
    }
    groups.push_back(std::move(g));
  }
  if (!delivery || !errors.empty()) return Status::InvalidArgument(errors.ToString());
  return Prepared{std::move(*delivery), std::move(groups), config.rule_files.size(),
                  DigestTargetsOf(config), AlertComponentsOf(config.components)};
}

void AlertingRuntime::StartRules(Prepared prepared, alerts::RuleManager* replaced) {
  const alerts::AlertingConfig& delivery = prepared.delivery;
  notifiers_ = alerts::MakeNotifiers(delivery);
  for (auto& t : prepared.digests) {
    notifiers_.push_back(std::make_unique<alerts::DigestNotifier>(
        DigestPoster::ReceiverName(t.component, t.destination), t.destination));
    t.notifier = static_cast<alerts::DigestNotifier*>(notifiers_.back().get());
  }
  alerts::OutboxOptions oo;
  oo.clock = &clock_;
  oo.store = store_.get();
  for (auto& n : notifiers_) oo.notifiers.push_back(n.get());
  oo.backoff_initial_ms = delivery.backoff_initial_ms;
  oo.backoff_max_ms = delivery.backoff_max_ms;
  oo.max_age_ms = delivery.outbox_max_age_ms;
  outbox_ = std::make_unique<alerts::Outbox>(oo);

  alerts::RuleManagerOptions ro;
  ro.clock = &clock_;
  ro.store = &series_;
  ro.state_store = store_.get();
  ro.sender = outbox_.get();
  ro.evaluation_interval_ms = delivery.evaluation_interval_ms;
  ro.resend_delay_ms = delivery.resend_delay_ms;
  ro.external_labels = delivery.external_labels;
  ro.external_url = delivery.external_url;
  ro.suppressor = suppressor_;
  ro.component_of = [components = std::move(prepared.components)](const Labels& labels) {
    return components.Of(labels);
  };
  size_t rule_count = 0;
  for (const auto& g : prepared.groups) rule_count += g.rules.size();
  slo_alerts_.clear();
  for (const auto& g : prepared.groups) {
    if (g.file != kSloRulesFile) continue;
    for (const auto& r : g.rules) {
      if (r.kind != alerts::RuleSpec::Kind::kAlert) continue;
      std::map<std::string, std::string> info{{"alertname", r.name}, {"group", g.name}};
      for (const auto& item : r.labels) {
        if (item.name == "component" || item.name == "severity") info[item.name] = item.text;
      }
      slo_alerts_.push_back(std::move(info));
    }
  }
  auto selected = alerts::SelectedMetricNames(prepared.groups);
  series_.SetSelectedNames(selected);
  series_.SetLimits(delivery.head_max_series,
                    static_cast<uint64_t>(delivery.head_max_point_bytes));
  rules_ = std::make_unique<alerts::RuleManager>(ro, std::move(prepared.groups));
  if (Status s = rules_->RestoreState(); !s.ok()) {
    log_->warn("cannot restore alert state: {}", s.message());
  }
  if (replaced) rules_->TakeOverSeries(*replaced, clock_.NowMs());
  // At start every selected metric is read back; after a reload, those the old rules did not
  // select (their samples were not kept).
  const bool first = !backfilled_;
  const auto before = std::move(selected_);
  auto was_kept = [&](const std::string& name) {
    return !first && (!before || before->count(name) > 0);
  };
  auto now_kept = [&](const std::string& name) { return !selected || selected->count(name) > 0; };
  // Nothing new is selected when everything was kept before, or every name now was kept then.
  const bool nothing_new =
      !first && (!before || (selected && std::all_of(selected->begin(), selected->end(), was_kept)));
  if (!nothing_new) {
    // The runs that reached the head while it did not keep these metrics are read back with
    // the rest, so they must be in storage: a run's samples reach the head before storage, and
    // the writer commits once a second, so the last second's runs were missing from every
    // series of a metric a reload selected (fresh eyes, stop 68). The new selection is in force
    // already: a run after this point appends its samples itself.
    if (read_back_barrier_) {
      if (Status s = read_back_barrier_(); !s.ok()) {
        log_->warn("alerting: the runs of the last second may be missing from the history read "
                   "back for the rules ({})", s.message());
      }
    }
    Backfill([&](const std::string& name) { return now_kept(name) && !was_kept(name); });
  }
  backfilled_ = true;
  selected_ = std::move(selected);
  outbox_->Start();
  rules_->Start();
  StartDigests(std::move(prepared.digests));
  log_->info("alerting: {} rules from {} rule file patterns, {} receivers", rule_count,
             prepared.rule_files, notifiers_.size());
}

// The rules read an in-memory head (alerts/series_store.h) that probe runs feed. Started empty,
// the first evaluation after a restart saw no series at all: every firing alert resolved (a
// false "resolved" to every receiver), a pending one lost its start, and both fired again as
// fresh runs arrived, with a new startsAt. Prometheus's head is refilled from its WAL before
// rules run; here it is refilled from the samples storage already holds, for as far back as the
// rules look (at most an hour), so the first evaluation sees what the last one before the
// restart saw, aged by the downtime: an outage shorter than the 5-minute lookback keeps firing
// alerts firing, and a longer one resolves them, as in Prometheus.
void AlertingRuntime::Backfill(const std::function<bool(const std::string&)>& wanted) {
  constexpr int64_t kMaxBackfillMs = 3'600'000;
  if (db_path_.empty()) return;
  // The longest any rule looks back (a metric's own need included: `rate(x[10m])` raises only
  // x's retention), not the default 6 minutes every metric keeps.
  const int64_t window = std::min(series_.MaxRetentionMs(), kMaxBackfillMs);
  const TimestampMs now = clock_.NowMs();
  // The series' stored ends (stale markers) in the same window, as points (at most
  // kMaxSeriesEnds): a series that had ended stays ended instead of living again for the
  // 5-minute lookback. Merged into their series' history as it is read.
  std::map<Labels, std::vector<alerts::promql::Point>> ends_by_series;
  size_t ends_read = 0;
  if (store_) {
    // Not after now: an end stored while the clock was ahead (or written by hand) would hide
    // every newer sample of its series (they would all be older than it).
    auto ends = store_->SeriesEnds(now - window, now);
    if (!ends.ok()) {
      log_->warn("alerting: cannot read the series' ends ({}); series that had ended may look "
                 "alive for 5 minutes", ends.status().message());
    } else {
      for (const SeriesEnd& e : *ends) {
        if (!wanted(e.labels.Get("__name__"))) continue;
        ends_by_series[e.labels].push_back({e.ts_ms, alerts::promql::StaleNaN()});
        ++ends_read;
      }
    }
  }
  // One series at a time, only the metrics wanted: the whole hour of every metric, read into
  // memory before being filtered, took a restarted daemon with large scrapes to 700 MB, and
  // past 5 million samples the rules started with no history at all (fresh eyes, stop 66).
  // Merged under what probe runs appended meanwhile: those are newer, and Append would refuse
  // every read-back sample of such a series as out of order.
  size_t read = 0;
  // No map of the file and a 2 MiB cache, which also bounds SQLite's sort of the rows by series
  // (it spills to a temporary file past the cache size).
  auto reader = storage::Reader::Open(db_path_, storage::kLiveRead);
  Status s = reader.ok() ? Status::Ok() : reader.status();
  if (s.ok()) {
    s = (*reader)->StreamRecentSeries(
        now - window, now + 1, wanted,
        [&](const std::string& name, const Labels& labels,
            std::span<const std::pair<TimestampMs, double>> points) {
          Labels with_name = labels;
          with_name.Set("__name__", name);
          std::vector<alerts::promql::Point> history;
          history.reserve(points.size());
          for (const auto& [t, v] : points) history.push_back({t, v});
          if (auto it = ends_by_series.find(with_name); it != ends_by_series.end()) {
            history.insert(history.end(), it->second.begin(), it->second.end());
            ends_by_series.erase(it);
          }
          read += points.size();
          series_.BackfillSeries(with_name, std::move(history));
        });
  }
  // Series that ended with no sample left in the window.
  for (auto& [labels, ends] : ends_by_series) series_.BackfillSeries(labels, std::move(ends));
  if (!s.ok()) {
    log_->warn("alerting: rules start without the samples of before the start ({}); alerts "
               "firing before it may resolve and fire again",
               s.message());
    return;
  }
  log_->info("alerting: {} samples of the last {} read back for the rules ({} of them ends)",
             read + ends_read, FormatDurationMs(window), ends_read);
}

void AlertingRuntime::StartDigests(std::vector<DigestTarget> targets) {
  digests_ = std::make_unique<DigestPoster>(db_path_, store_.get(), std::move(targets));
  // The outbox outlives the poster (StopRules stops the poster first).
  digests_->Start(
      clock_, kDigestPollMs,
      [log = log_](const Status& s) { log->warn("digest: {}", s.message()); },
      [outbox = outbox_.get()](const std::string& receiver) {
        if (outbox) outbox->StoredElsewhere(receiver);
      });
}

std::unique_ptr<alerts::RuleManager> AlertingRuntime::StopRules() {
  digests_.reset();  // stops its thread before the notifiers it enqueues for go
  if (rules_) rules_->Stop();
  if (outbox_) outbox_->Stop();
  std::unique_ptr<alerts::RuleManager> stopped = std::move(rules_);
  outbox_.reset();
  notifiers_.clear();
  return stopped;
}

namespace {
// A probe as a source of series for the head (SeriesStore::AppendRun).
std::string SourceOf(const ProbeKey& key) { return key.component + '\0' + key.probe; }
}  // namespace

void AlertingRuntime::OnRun(const RunOutcome& outcome) {
  series_.AppendRun(SourceOf(outcome.run.key), outcome.samples, outcome.run.ts_ms,
                    outcome.spec ? outcome.spec->interval_ms : 0);
}

void AlertingRuntime::EndRemovedProbes(const Config& config) {
  std::unordered_map<std::string, int64_t> live;
  for (const auto& c : config.components) {
    for (const auto& p : c.probes) live[SourceOf(p.spec.key)] = p.spec.interval_ms;
  }
  series_.EndSourcesExcept(live, clock_.NowMs());
}

Status AlertingRuntime::Reload(const Config& config) {
  if (Status valid = ValidateAlerting(config); !valid.ok()) return valid;
  auto prepared = Prepare(config);  // may fail: the running rules are still untouched
  if (!prepared.ok()) return prepared.status();
  MutexLock lock(mu_);
  // Alert state is persisted: the new manager restores pending and firing alerts. What the old
  // rules wrote is handed over, so that the series of rules changed or gone end.
  std::unique_ptr<alerts::RuleManager> old = StopRules();
  StartRules(std::move(*prepared), old.get());
  return Status::Ok();
}

void AlertingRuntime::SetReadBackBarrier(std::function<Status()> barrier) {
  MutexLock lock(mu_);
  read_back_barrier_ = std::move(barrier);
}

std::string AlertingRuntime::ActiveAlertsJson() const {
  MutexLock lock(mu_);
  return alerts::ActiveAlertsJson(rules_ ? rules_->ActiveAlerts() : std::vector<Alert>{});
}

namespace {
// What the rules' in-memory head holds, so a user can see where memory goes (issue 17) and what
// it refused (issue 13, N1).
std::vector<prometheus::MetricFamily> HeadMetrics(const alerts::SeriesStoreStats& st) {
  auto one = [](const char* name, const char* help, prometheus::MetricType type, double v) {
    prometheus::MetricFamily f{name, help, type, {}};
    prometheus::ClientMetric m;
    (type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = v;
    f.metric.push_back(std::move(m));
    return f;
  };
  using T = prometheus::MetricType;
  return {one("obsmon_rule_head_series", "Series the rules' in-memory head holds.", T::Gauge,
              static_cast<double>(st.series)),
          one("obsmon_rule_head_points", "Points the rules' in-memory head holds.", T::Gauge,
              static_cast<double>(st.points)),
          one("obsmon_rule_head_point_bytes",
              "Bytes the rules' in-memory head has allocated for points (live, expired and "
              "room to grow; labels and index not counted).",
              T::Gauge, static_cast<double>(st.point_bytes)),
          one("obsmon_rule_head_index_bytes",
              "Bytes the rules' in-memory head holds for its series but their points: entries, "
              "labels, the indexes that find them (estimated from their sizes).",
              T::Gauge, static_cast<double>(st.index_bytes)),
          one("obsmon_rule_head_refused_series_total",
              "New series not kept because the head held alerting.head.max_series.", T::Counter,
              static_cast<double>(st.refused_series)),
          one("obsmon_rule_head_max_series", "alerting.head.max_series: the series the head "
              "may hold.", T::Gauge, static_cast<double>(st.max_series)),
          one("obsmon_rule_head_max_point_bytes", "alerting.head.max_point_bytes: past it the "
              "oldest points are dropped.", T::Gauge, static_cast<double>(st.max_point_bytes)),
          one("obsmon_rule_head_size_retentions_total",
              "Times the head dropped its oldest points to stay under "
              "alerting.head.max_point_bytes.",
              T::Counter, static_cast<double>(st.size_retentions)),
          one("obsmon_rule_head_size_dropped_points_total",
              "Points dropped to stay under alerting.head.max_point_bytes.", T::Counter,
              static_cast<double>(st.size_dropped_points)),
          one("obsmon_rule_head_size_floor_timestamp_seconds",
              "Points older than this were dropped to stay under alerting.head.max_point_bytes "
              "(0: none was).",
              T::Gauge,
              st.size_floor_ms == INT64_MIN ? 0.0 : static_cast<double>(st.size_floor_ms) / 1e3),
          one("obsmon_rule_head_unselected_samples_total",
              "Probe samples not kept because no rule selects their metric name.", T::Counter,
              static_cast<double>(st.unselected)),
          one("obsmon_rule_head_out_of_order_samples_total",
              "Samples older than their series' newest point, dropped.", T::Counter,
              static_cast<double>(st.out_of_order))};
}
}  // namespace

std::vector<prometheus::MetricFamily> AlertingRuntime::CollectMetrics() const {
  MutexLock lock(mu_);
  std::vector<prometheus::MetricFamily> out = HeadMetrics(series_.Stats());
  prometheus::MetricFamily slo{"obsmon_slo_alert_rule_info",
                               "The multi-window burn-rate alerts obsmon generated from the "
                               "components' objectives and evaluates (value 1).",
                               prometheus::MetricType::Gauge,
                               {}};
  for (const auto& labels : slo_alerts_) {
    prometheus::ClientMetric m;
    for (const auto& [k, v] : labels) m.label.push_back({k, v});
    m.gauge.value = 1;
    slo.metric.push_back(std::move(m));
  }
  if (!slo.metric.empty()) out.push_back(std::move(slo));
  for (const auto& c : {rules_ ? rules_->Collectable() : nullptr,
                        outbox_ ? outbox_->Collectable() : nullptr}) {
    if (!c) continue;
    auto families = c->Collect();
    out.insert(out.end(), std::make_move_iterator(families.begin()),
               std::make_move_iterator(families.end()));
  }
  return out;
}

}  // namespace obsmon
