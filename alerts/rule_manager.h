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

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
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
  // The component an alert is of (core/alert_component.h), recorded with each history row so
  // that reports attribute it as it was when it happened; empty: not recorded.
  std::function<std::string(const Labels&)> component_of;
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

  // Runs Tick() on a background thread until Stop() (also called by the destructor), and what
  // the evaluations hand on (notifications, alert-store writes) on a second one: a write that
  // waits for the database's lock no longer holds up the evaluations (fresh eyes, stop 69: a
  // 7 s outage during a `sqlite3` write lock never fired, the rules stalled 5-12 s at a time).
  // Without Start(), Tick() and EvaluateAt() deliver before they return.
  void Start();
  void Stop();
  // At the daemon's stop, after Stop(): stores what still waits for the state store (its pause
  // ignored), trying again until it succeeds or `deadline` has passed (no try starts after it
  // but the first; one under way ends within the store's busy timeout); returns what is left. A SIGTERM during a `sqlite3` write
  // lock dropped them (fresh eyes, stop 69: the firing row and state lost, the receiver left
  // with a firing never resolved). A reload hands them over instead (TakeOverSeries).
  struct UnsavedCounts {
    size_t alert_states = 0;  // rules whose alerts' state is not stored
    size_t history_rows = 0;
    size_t series_ends = 0;
    size_t total() const { return alert_states + history_rows + series_ends; }
  };
  UnsavedCounts FlushUnsaved(std::chrono::steady_clock::time_point deadline);

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
  // The alerting rule `name` of the group `group_key`, or null.
  AlertingRule* FindAlertingRuleLocked(const std::string& group_key, const std::string& name)
      REQUIRES(mu_);
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
  // What an evaluation hands on: notifications for the sender and writes for the state store
  // (each alerting rule's latest alerts, history rows, series ends). Gathered with mu_ held and
  // delivered after it is released (Deliver): both may wait for the database's lock up to its
  // busy timeout, and a `sqlite3` shell holding a write transaction then stalled every
  // evaluation, /api/v1/alerts and /metrics with it (fresh eyes 2, stop 68: 18.8 s; stop 68
  // left one wait a pause, still 5 s). After a failed write the store is left alone for
  // kStorePauseMs; what it did not take waits here (the newest alerts of each rule, and at
  // most kMaxUnsaved rows of history and of ends: beyond, the oldest are dropped and counted
  // as failures) for the next write that succeeds, and a reload hands it to the new manager.
  static constexpr int64_t kStorePauseMs = 10'000;
  static constexpr size_t kMaxUnsaved = 100'000;
  struct Unsaved {
    // Key: group key and rule name. A rule's newer alerts replace the ones not saved yet.
    std::map<std::pair<std::string, std::string>, std::vector<Alert>> alerts;
    std::vector<AlertHistoryEvent> history;
    std::vector<SeriesEnd> ends;
    bool empty() const { return alerts.empty() && history.empty() && ends.empty(); }
  };
  Unsaved unsaved_ GUARDED_BY(mu_);
  std::vector<std::vector<OutgoingAlert>> to_send_ GUARDED_BY(mu_);  // an evaluation's each
  int64_t store_paused_until_ms_ GUARDED_BY(mu_) = INT64_MIN;
  // Puts `older` (writes that failed, or a replaced manager's) before what waits now; a rule's
  // newer alerts stay. Drops beyond kMaxUnsaved are counted as failures.
  void PutBeforeUnsavedLocked(Unsaved older) REQUIRES(mu_);
  // Sends and stores what the evaluations gathered, in their order. Call without mu_.
  void Deliver() EXCLUDES(mu_);
  // Writes `batch` (alerts, then history, then ends), erasing what was written; false at the
  // first write that fails.
  bool Store(Unsaved& batch);
  // Serializes Deliver: one batch at a time, in order. Taken before mu_, never after.
  Mutex deliver_mu_ ACQUIRED_BEFORE(mu_);
  double last_cycle_seconds_ GUARDED_BY(mu_) = 0;

  Mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ GUARDED_BY(run_mu_) = false;
  std::thread thread_;
  // The delivery thread (Start): woken after each evaluation with something to hand on.
  void DeliveryLoop();
  // Tick and EvaluateAt: wakes the delivery thread, or delivers in place without one.
  void DeliverOrWake();
  std::atomic<bool> delivering_in_background_{false};
  Mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ GUARDED_BY(wake_mu_) = false;
  bool stop_delivery_ GUARDED_BY(wake_mu_) = false;
  std::thread delivery_thread_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

}  // namespace obsmon::alerts
