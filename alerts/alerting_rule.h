// One alerting rule and its alerts, with Prometheus's state machine (rules/alerting.go):
// inactive -> pending (expression returns the label set) -> firing (after `for`, counted from
// ActiveAt with evaluation timestamps) -> inactive/resolved (kept 15m so that the resolution is
// re-sent); `keep_firing_for` keeps a firing alert firing after its expression stops returning.
// Not thread-safe: the RuleManager serialises access.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alerts/alert.h"
#include "alerts/promql_engine.h"
#include "alerts/rule_file.h"

namespace obsmon::alerts {

struct RuleEvalContext {
  const promql::Querier* querier = nullptr;
  promql::EvalOptions eval;
  const Labels* external_labels = nullptr;
  std::string external_url;
  int64_t limit = 0;  // the group's limit (0: none)
};

class AlertingRule {
 public:
  // Resolved alerts stay this long so that their resolution keeps being sent (Prometheus: 15m).
  static constexpr int64_t kResolvedRetentionMs = 15 * 60'000;

  AlertingRule(RuleSpec spec, std::string group_key);

  // Evaluates at ts_ms and advances every alert's state. Appends the ALERTS and
  // ALERTS_FOR_STATE samples Prometheus would write to `series_out` (labels include __name__).
  Status Eval(int64_t ts_ms, const RuleEvalContext& ctx, promql::Vector* series_out);

  // Alerts to notify at ts_ms (Prometheus's needsSending: firing ones every resend_delay,
  // resolved ones once and then every resend_delay during retention), minus what `suppressor`
  // (may be empty) holds back: see NeedsSend in the .cc. Sets each alert's suppressed_by;
  // updates LastSentAt of what is sent.
  void CollectToSend(int64_t ts_ms, int64_t resend_delay_ms, int64_t interval_ms,
                     const std::string& external_url, const Suppressor& suppressor,
                     std::vector<OutgoingAlert>* out);

  // Every alert kept (pending, firing and resolved-but-retained).
  std::vector<Alert> Alerts() const;
  // Puts persisted alerts back (after a restart); replaces alerts with the same labels.
  void Restore(const std::vector<Alert>& alerts);
  // Makes `alerts` the rule's whole state: the newest a replaced manager had not stored yet
  // (RuleManager::TakeOverSeries), over what Restore read from the store.
  void ReplaceAlerts(const std::vector<Alert>& alerts) {
    active_.clear();
    Restore(alerts);
  }

  // True when the persisted form changed since the last call (and clears the flag).
  bool TakeDirty();
  std::vector<AlertHistoryEvent> TakeHistory();

  const RuleSpec& spec() const { return spec_; }
  const std::string& group_key() const { return group_key_; }
  const std::string& last_error() const { return last_error_; }
  // An error storing the evaluation's output (a duplicate sample), as Prometheus's rule health
  // shows it until the next evaluation.
  void SetStorageError(std::string error) { last_error_ = std::move(error); }
  std::string GeneratorUrl(const std::string& external_url) const;

 private:
  void Record(const Alert& a, const char* event, int64_t ts_ms);
  // Eval's steps, in order.
  Result<std::map<Labels, Alert>> AlertsFromResult(const promql::Vector& result, int64_t ts,
                                                   const RuleEvalContext& ctx) const;
  void AddNewAlerts(const std::map<Labels, Alert>& fresh);
  size_t AdvanceStates(int64_t ts, const std::map<Labels, Alert>& fresh);
  // Whether an alert absent from this evaluation stays (keep_firing_for) or goes.
  bool KeepsFiring(Alert& a, int64_t ts);
  void AppendAlertSeries(promql::Vector* series_out) const;

  RuleSpec spec_;
  std::string group_key_;
  std::map<Labels, Alert> active_;  // keyed by the alert's final labels
  // The ALERTS and ALERTS_FOR_STATE labels of each active alert, by its place among them: an
  // alert stays active cycle after cycle, and so do its series. Made again only for an alert
  // new at its place (its labels another shared set) or whose state changed; reused, they are
  // the store's sets too, which finds them without hashing (RuleSeriesHint). Building them
  // label by label for every alert of every cycle was a twelfth of a rule cycle with the
  // lookups they caused (stop 59).
  struct AlertSeriesLabels {
    Labels alert;  // a copy: the shared set stays alive, its address never another's
    AlertState state = AlertState::kInactive;
    Labels alerts;
    Labels for_state;
  };
  mutable std::vector<AlertSeriesLabels> alert_series_;
  bool dirty_ = false;
  std::vector<AlertHistoryEvent> history_;
  std::string last_error_;
};

// A recording rule: evaluates its expression, renames the result to the record name and applies
// its labels. Not thread-safe.
class RecordingRule {
 public:
  explicit RecordingRule(RuleSpec spec);
  Status Eval(int64_t ts_ms, const RuleEvalContext& ctx, promql::Vector* series_out);
  const RuleSpec& spec() const { return spec_; }
  const std::string& last_error() const { return last_error_; }
  // An error storing the evaluation's output (a duplicate sample), as Prometheus's rule health
  // shows it until the next evaluation.
  void SetStorageError(std::string error) { last_error_ = std::move(error); }

 private:
  // The labels of one output series: the query's, named and labelled by the rule. A rule's
  // outputs are the same series cycle after cycle: the last cycle's are reused when the
  // query's labels are equal, so the store finds the series by the shared set (its hash kept,
  // equal at the first pointer compare) instead of hashing and comparing a new one each time.
  Labels OutputLabels(size_t i, Labels query_labels);

  RuleSpec spec_;
  std::string last_error_;
  // The query's results are distinct and none has a __name__, so naming them keeps them
  // distinct: an aggregation that does not group by __name__, with no rule labels.
  bool outputs_distinct_ = false;
  std::vector<std::pair<Labels, Labels>> last_outputs_;  // query's labels, output's labels
};

}  // namespace obsmon::alerts
