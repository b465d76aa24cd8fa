// Evaluates rule groups at their intervals and feeds what they produce back into the series
// store (recording rules, ALERTS, ALERTS_FOR_STATE), the state store (persisted alert state and
// history) and the sender (the outbox). The one object the daemon creates for rules:
//
//   RuleManager rules(options, std::move(groups));
//   rules.RestoreState();   // pending `for` timers and firing alerts survive restarts
//   rules.Start();          // background thread; or call Tick()/EvaluateAt() from tests
//   registry.Register(rules.Collectable());   // ALERTS, ALERTS_FOR_STATE, rule metrics
//
// Thread-safe: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alert.h"
#include "alerts/alerting_rule.h"
#include "alerts/promql_evaluation_memory.h"
#include "alerts/rule_file.h"
#include "alerts/series_store.h"
#include "core/clock.h"
#include "core/mutex.h"

namespace prometheus {
class Collectable;
}

namespace obsmon::alerts {

struct RuleManagerOptions {
  const Clock* clock = &SystemClock::Instance();  // not owned
  SeriesStore* store = nullptr;                   // required; not owned; outlives the manager
  AlertStateStore* state_store = nullptr;         // optional; not owned
  AlertSender* sender = nullptr;                  // optional; not owned
  int64_t evaluation_interval_ms = 60'000;        // for groups without `interval`
  int64_t resend_delay_ms = 60'000;               // Prometheus's --rules.alert.resend-delay
  Labels external_labels;                         // added to sent alerts; $externalLabels
  std::string external_url = "http://localhost:9950";
  promql::EvalOptions eval;
  // Computes a subexpression that several rules repeat once per evaluation instant
  // (alerts/promql_shared_subexpressions.h). Off: every rule evaluates all of its expression, as
  // Prometheus does (the tests' oracle).
  bool share_subexpressions = true;
  // Holds back the notifications of some alerts (maintenance); empty: none. The alerts are still
  // evaluated, kept and listed (ActiveAlerts, with suppressed_by set).
  Suppressor suppressor;
};

struct RuleStatus {
  std::string group_key;
  std::string name;
  bool alerting = false;
  std::string last_error;  // empty when the last evaluation succeeded
};

class RuleManager {
 public:
  RuleManager(RuleManagerOptions options, std::vector<RuleGroupSpec> groups);
  ~RuleManager();
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // Loads persisted alerts from the state store into their rules (alerts of rules that no
  // longer exist are ignored). Call before the first evaluation.
  Status RestoreState();

  // A reload: carries on from what `old` wrote (the manager this one replaces, stopped), as
  // Prometheus's rule manager does (Group.CopyState; a removed group's stale markers). In a
  // group that stays (the same file and name), a rule that stays (the same name and labels, the
  // first not taken yet) goes on from the series it wrote last, so the ones it no longer writes
  // end at its next evaluation, and the group keeps its last evaluation time; every other rule
  // of such a group has its series ended at the end of the group's next evaluation. A removed
  // group's series end two of its intervals later, at the time of the reload, unless a rule
  // wrote them since (a rule moved to another group). Without it, every series the old rules
  // wrote lived on for the 5-minute lookback, and alerts read them (fresh eyes, stop 59). Call
  // before Start().
  void TakeOverSeries(RuleManager& old, int64_t reload_ms);

  // Evaluates every group at ts_ms, in file order, then persists and sends. Used by tests and
  // the promtool-format runner, which drive time themselves.
  void EvaluateAt(int64_t ts_ms);
  // Evaluates each group whose next aligned evaluation time (a multiple of its interval) is
  // <= clock->NowMs(); missed iterations are skipped, as Prometheus does.
  void Tick();

  // Runs Tick() on a background thread until Stop() (also called by the destructor).
  void Start();
  void Stop();

  // Pending and firing alerts (and, with include_resolved, resolved ones still retained).
  std::vector<Alert> ActiveAlerts(bool include_resolved = false) const;
  std::vector<RuleStatus> Rules() const;
  uint64_t evaluations() const;
  uint64_t evaluation_failures() const;
  double last_cycle_seconds() const;
  // Evaluations of a repeated subexpression answered by its value at the same instant.
  uint64_t shared_subexpression_hits() const;
  // What the rules' expressions keep between cycles (promql::EvaluationMemory), estimated.
  size_t evaluation_memory_bytes() const;

  // ALERTS{alertname,alertstate,...} 1 and ALERTS_FOR_STATE{...} <active since, unix seconds>,
  // plus obsmon_rule_evaluations_total / _failures_total. Register on the /metrics registry.
  std::shared_ptr<prometheus::Collectable> Collectable();

 private:
  struct Group;
  void EvaluateGroupLocked(Group& g, int64_t ts_ms) REQUIRES(mu_);
  // Ends the series of the old manager's removed groups whose time has come (TakeOverSeries).
  void EndRemovedGroupsSeriesLocked(int64_t now_ms) REQUIRES(mu_);
  struct RemovedSeries {
    Labels labels;
    int64_t end_ms;  // the reload's time: the stale marker's
    int64_t due_ms;  // two of its group's intervals later
  };
  std::vector<RemovedSeries> removed_series_ GUARDED_BY(mu_);
  void Loop();

  RuleManagerOptions options_;
  mutable Mutex mu_;
  std::vector<std::unique_ptr<Group>> groups_ GUARDED_BY(mu_);
  // Subexpressions repeated across the rules, each computed once per evaluation instant.
  std::unique_ptr<promql::SharedSubexpressions> shared_ GUARDED_BY(mu_);
  // What the rules' expressions keep between cycles: their series' groups and result labels.
  std::unique_ptr<promql::EvaluationMemory> memory_ GUARDED_BY(mu_);
  uint64_t evaluations_ GUARDED_BY(mu_) = 0;
  uint64_t failures_ GUARDED_BY(mu_) = 0;
  // The state store's writes (alert state, history, series ends) wait for its lock, up to its
  // busy timeout, with mu_ held: a `sqlite3` shell holding a write transaction stalled every
  // evaluation for that long per write, and /api/v1/alerts and /metrics behind them (fresh eyes
  // 2, stop 68). After a failed write the store is left alone for kStorePauseMs: rules whose
  // state is unsaved stay dirty, and the history rows and series ends wait here (at most
  // kMaxUnsaved each; beyond, the oldest are dropped and counted as failures) to go with the
  // next write that succeeds.
  static constexpr int64_t kStorePauseMs = 10'000;
  static constexpr size_t kMaxUnsaved = 100'000;
  // Runs `write` unless the store is paused; true when it ran and succeeded. A failure counts
  // and starts the pause.
  bool TryStoreLocked(const std::function<Status()>& write) REQUIRES(mu_);
  int64_t store_paused_until_ms_ GUARDED_BY(mu_) = INT64_MIN;
  std::vector<AlertHistoryEvent> unsaved_history_ GUARDED_BY(mu_);
  std::vector<SeriesEnd> unsaved_ends_ GUARDED_BY(mu_);
  double last_cycle_seconds_ GUARDED_BY(mu_) = 0;

  Mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ GUARDED_BY(run_mu_) = false;
  std::thread thread_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

}  // namespace obsmon::alerts
