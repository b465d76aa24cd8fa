// Rules and alert delivery inside the daemon: the in-memory series store every probe result is
// appended to, the rule manager over it, and the durable outbox to Alertmanagers and webhooks,
// which also carries the observation-period digests (digest_poster.h).
// Owned by the daemon; a ResultSink. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_set>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <spdlog/logger.h>

#include "alerts/alerting_config.h"
#include "alerts/http_notifier.h"
#include "alerts/outbox.h"
#include "alerts/rule_manager.h"
#include "alerts/series_store.h"
#include "core/config_node.h"
#include "core/mutex.h"
#include "core/storage_health.h"
#include "config/config.h"
#include "core/run_outcome.h"
#include "cmd/obsmon/digest_poster.h"
#include "cmd/obsmon/recording_alert_store.h"

namespace obsmon {

// Adds every problem of the config's rule files and `alerting:` section to `errors`
// (file:line:column), as LoadConfig does for the rest: `obsmon check` lists them all at once.
// Returns how many alerting rules the rule files hold (so `check` can say that a glob found them).
size_t CollectAlertingErrors(const Config& config, ConfigErrors* errors);

// The same as one Status: InvalidConfig listing every problem. Checked before the rules are
// (re)started, so that a bad rule file leaves the running rules untouched.
Status ValidateAlerting(const Config& config);

class AlertingRuntime final : public ResultSink {
 public:
  // Loads rules and delivery settings, restores persisted alert state and starts evaluating.
  // InvalidConfig on bad rule files or alerting settings; another Status when the store fails.
  // `health` (optional) hears of every alert-store read and write; `suppressor` (optional, kept
  // across reloads) holds back the notifications of alerts in maintenance (docs/alerts.md).
  static Result<std::unique_ptr<AlertingRuntime>> Start(
      const Config& config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
      std::shared_ptr<StorageHealth> health = nullptr, alerts::Suppressor suppressor = {});
  ~AlertingRuntime() override;

  void OnRun(const RunOutcome& outcome) override;

  // Replaces rules and receivers; persisted state carries the alerts of unchanged rules over.
  // Everything new is built and checked before the running rules stop: on any error the running
  // rules and receivers stay, and the error is returned.
  Status Reload(const Config& config);
  // Ends the rules' view of every probe `config` no longer has (a reload removed or renamed it),
  // as Prometheus ends a removed target's series: two intervals on, unless a probe of `config`
  // writes the same series meanwhile (SeriesStore::EndSourcesExcept), so an `up == 0` alert on
  // it resolves then, not after the 5m lookback. Call once the scheduler runs `config`'s probes.
  void EndRemovedProbes(const Config& config);

  // What a reload runs before it reads back the history of metrics the rules did not read
  // before: returns once every probe run the head saw is committed (or says why not). Until
  // it is set (the first start, before probes run) nothing is awaited.
  void SetReadBackBarrier(std::function<Status()> barrier);

  std::string ActiveAlertsJson() const;
  // ALERTS, ALERTS_FOR_STATE, rule and outbox counters, collected now. Collected under the same
  // lock a reload takes to replace the rules: the rule manager's and outbox's collectables read
  // their owners, which a concurrent reload would destroy under a /metrics scrape.
  std::vector<prometheus::MetricFamily> CollectMetrics() const;

 private:
  // Rules and delivery settings read and checked, not yet running.
  struct Prepared {
    alerts::AlertingConfig delivery;
    std::vector<alerts::RuleGroupSpec> groups;
    size_t rule_files = 0;
    std::vector<DigestTarget> digests;  // notifier not set yet
    AlertComponents components;         // whose each alert is, for its history rows
  };
  AlertingRuntime(const Clock& clock, std::shared_ptr<spdlog::logger> log);
  static Result<Prepared> Prepare(const Config& config);
  // Cannot fail. `replaced`: the manager a reload stopped, whose series the new one takes over.
  void StartRules(Prepared prepared, alerts::RuleManager* replaced = nullptr) REQUIRES(mu_);
  // Stops the rules and their delivery; returns the stopped manager (a reload hands it over).
  std::unique_ptr<alerts::RuleManager> StopRules() REQUIRES(mu_);
  // The digest poster over the outbox's digest notifiers (set in `targets`).
  void StartDigests(std::vector<DigestTarget> targets) REQUIRES(mu_);
  // Refills series_ from storage before the first evaluation (see the .cc), with the samples
  // of the metrics `wanted` says yes to: all the rules select at start, and after a reload the
  // ones they did not select before.
  void Backfill(const std::function<bool(const std::string&)>& wanted);


  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  alerts::SeriesStore series_;
  std::string db_path_;
  alerts::Suppressor suppressor_;  // set once in Start
  bool backfilled_ GUARDED_BY(mu_) = false;
  // What series_ kept before the last (re)start of the rules; nullopt: every metric.
  std::optional<std::unordered_set<std::string>> selected_ GUARDED_BY(mu_);
  std::unique_ptr<RecordingAlertStore> store_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<alerts::Notifier>> notifiers_ GUARDED_BY(mu_);
  std::unique_ptr<alerts::Outbox> outbox_ GUARDED_BY(mu_);
  std::unique_ptr<alerts::RuleManager> rules_ GUARDED_BY(mu_);
  std::function<Status()> read_back_barrier_ GUARDED_BY(mu_);
  // Posts the periods' Day N comments and final assessments through outbox_ (docs/digest.md).
  std::unique_ptr<DigestPoster> digests_ GUARDED_BY(mu_);
  // The generated SLO burn-rate alerts that are on: labels of obsmon_slo_alert_rule_info.
  std::vector<std::map<std::string, std::string>> slo_alerts_ GUARDED_BY(mu_);
};

}  // namespace obsmon
