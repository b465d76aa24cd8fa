#include "alerts/alerting_rule.h"

#include <algorithm>

namespace obsmon::alerts {

namespace {

// Evaluates a rule expression; a scalar becomes a one-element vector without labels.
Result<promql::Vector> Query(const promql::Expr& expr, int64_t ts, const RuleEvalContext& ctx) {
  auto r = promql::Evaluate(expr, ts, *ctx.querier, ctx.eval);
  if (!r.ok()) return r.status();
  if (r->type == promql::ValueType::kScalar) {
    return promql::Vector{{Labels(), r->scalar}};
  }
  if (r->type != promql::ValueType::kVector) {
    return Status::InvalidArgument("rule result is not a vector or scalar");
  }
  return std::move(r->vector);
}

}  // namespace

AlertingRule::AlertingRule(RuleSpec spec, std::string group_key)
    : spec_(std::move(spec)), group_key_(std::move(group_key)) {}

// Prometheus links to its /graph page, which obsmon does not serve (a 404 from every
// notification, issue 14 item 8); obsmon's own list of active alerts, with this one in it, is
// what it can show.
std::string AlertingRule::GeneratorUrl(const std::string& external_url) const {
  return external_url + "/api/v1/alerts";
}

void AlertingRule::Record(const Alert& a, const char* event, int64_t ts_ms) {
  AlertHistoryEvent h;
  h.group_key = group_key_;
  h.rule = spec_.name;
  h.labels = a.labels;
  h.annotations = a.annotations;
  h.event = event;
  h.ts_ms = ts_ms;
  h.active_at_ms = a.active_at_ms;
  h.fired_at_ms = a.fired_at_ms;
  h.value = a.value;
  history_.push_back(std::move(h));
}

Status AlertingRule::Eval(int64_t ts, const RuleEvalContext& ctx, promql::Vector* series_out) {
  auto res = Query(*spec_.expr, ts, ctx);
  if (!res.ok()) {
    last_error_ = res.status().message();
    return res.status();
  }
  auto fresh = AlertsFromResult(*res, ts, ctx);
  if (!fresh.ok()) {
    last_error_ = fresh.status().message();
    return fresh.status();
  }
  const std::map<Labels, Alert>& now_active = *fresh;
  AddNewAlerts(now_active);
  const size_t num_active = AdvanceStates(ts, now_active);
  if (ctx.limit > 0 && num_active > static_cast<size_t>(ctx.limit)) {
    active_.clear();
    dirty_ = true;
    last_error_ = "exceeded limit of " + std::to_string(ctx.limit) + " with " +
                  std::to_string(num_active) + " alerts";
    return Status::InvalidArgument(last_error_);
  }
  AppendAlertSeries(series_out);
  last_error_.clear();
  return Status::Ok();
}

// One pending alert per sample of the result, its labels and annotations expanded from the
// rule's templates. Two samples with the same final labels are an error, as in Prometheus.
Result<std::map<Labels, Alert>> AlertingRule::AlertsFromResult(const promql::Vector& result,
                                                               int64_t ts,
                                                               const RuleEvalContext& ctx) const {
  std::map<Labels, Alert> fresh;
  for (const auto& s : result) {
    TemplateData data;
    Labels tmpl_labels = s.labels;
    data.labels = &tmpl_labels;
    data.value = s.v;
    data.external_labels = ctx.external_labels;
    data.external_url = ctx.external_url;
    data.name = "__alert_" + spec_.name;
    Labels lbs = s.labels;
    lbs.Remove("__name__");
    for (const auto& item : spec_.labels) lbs.Set(item.name, item.tmpl.Expand(data));
    lbs.Set("alertname", spec_.name);
    Alert a;
    a.group_key = group_key_;
    a.rule = spec_.name;
    for (const auto& item : spec_.annotations) {
      a.annotations.SetAllowingEmpty(item.name, item.tmpl.Expand(data));  // "" kept, as Prometheus
    }
    a.labels = lbs;
    a.state = AlertState::kPending;
    a.value = s.v;
    a.active_at_ms = ts;
    if (!fresh.emplace(lbs, std::move(a)).second) {
      return Status::InvalidArgument(
          "vector contains metrics with the same labelset after applying alert labels");
    }
  }
  return fresh;
}

// An alert already active keeps its state and start, taking the new value and annotations; the
// others start pending.
void AlertingRule::AddNewAlerts(const std::map<Labels, Alert>& fresh) {
  for (const auto& [lbs, a] : fresh) {
    auto it = active_.find(lbs);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = a.annotations;
      continue;
    }
    active_[lbs] = a;
    dirty_ = true;
  }
}

bool AlertingRule::KeepsFiring(Alert& a, int64_t ts) {
  if (a.state != AlertState::kFiring || spec_.keep_firing_for_ms <= 0) return false;
  if (a.keep_firing_since_ms == 0) {
    a.keep_firing_since_ms = ts;
    dirty_ = true;
  }
  return ts - a.keep_firing_since_ms < spec_.keep_firing_for_ms;
}

// Pending → firing after `for`; absent alerts resolve (or keep firing for keep_firing_for);
// pending ones vanish at once, resolved ones after the retention. Returns the alerts still
// active (pending or firing).
size_t AlertingRule::AdvanceStates(int64_t ts, const std::map<Labels, Alert>& fresh) {
  size_t num_active = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    Alert& a = it->second;
    if (!fresh.count(it->first)) {
      const bool keep_firing = KeepsFiring(a, ts);
      if (a.state == AlertState::kPending ||
          (a.resolved_at_ms != 0 && ts - a.resolved_at_ms > kResolvedRetentionMs)) {
        it = active_.erase(it);
        dirty_ = true;
        continue;
      }
      if (a.state != AlertState::kInactive && !keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = ts;
        Record(a, "resolved", ts);
        dirty_ = true;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
    } else if (a.keep_firing_since_ms != 0) {
      a.keep_firing_since_ms = 0;
      dirty_ = true;
    }
    ++num_active;
    if (a.state == AlertState::kPending && ts - a.active_at_ms >= spec_.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = ts;
      Record(a, "firing", ts);
      dirty_ = true;
    }
    ++it;
  }
  return num_active;
}

// As Prometheus's sample() and forStateSample(): the rule's labels as written (templates
// unexpanded), then the alert's labels over them. A templated label that expanded to "" (and
// so is not among the alert's labels) therefore shows its template text in ALERTS.
void AlertingRule::AppendAlertSeries(promql::Vector* series_out) const {
  auto series_labels = [&](const Labels& alert_labels) {
    Labels l;
    for (const auto& item : spec_.labels) l.Set(item.name, item.text);
    for (const auto& [n, v] : alert_labels.pairs()) l.Set(n, v);
    return l;
  };
  size_t place = 0;
  for (const auto& [lbs, a] : active_) {
    if (a.state == AlertState::kInactive) continue;
    if (place == alert_series_.size()) alert_series_.emplace_back();
    AlertSeriesLabels& kept = alert_series_[place++];
    if (!kept.alert.SharesPairsWith(a.labels) || kept.state != a.state) {
      kept.alert = a.labels;
      kept.state = a.state;
      kept.alerts = series_labels(a.labels);
      kept.alerts.Set("__name__", "ALERTS");
      kept.alerts.Set("alertstate", AlertStateName(a.state));
      kept.for_state = series_labels(a.labels);
      kept.for_state.Set("__name__", "ALERTS_FOR_STATE");
    }
    series_out->push_back({kept.alerts, 1});
    series_out->push_back({kept.for_state, static_cast<double>(a.active_at_ms / 1000)});
  }
  alert_series_.resize(place);  // the places of alerts gone let go
}

namespace {

// Whether the receivers hear of `a` at ts (Prometheus's needsSending, with suppression as
// Alertmanager applies it). A firing alert nobody was told of stays untold while suppressed and
// is told at the first evaluation after (last sent 0: due at once). Its resolution is told only
// if its firing was: else the receivers would get a "resolved" of an alert they never saw. An
// alert told before its suppression keeps its resends, so that Alertmanager does not let it
// expire (endsAt) into a false "resolved" in the middle of a maintenance window; its webhook
// messages stay silent meanwhile (they only carry state changes and repeat intervals).
bool NeedsSend(const Alert& a, int64_t ts, int64_t resend_delay_ms) {
  const bool told = a.last_sent_at_ms != 0 && a.last_sent_at_ms >= a.fired_at_ms;
  if (!told) return a.resolved_at_ms == 0 && a.suppressed_by.empty();
  return a.resolved_at_ms > a.last_sent_at_ms || a.last_sent_at_ms + resend_delay_ms < ts;
}

}  // namespace

void AlertingRule::CollectToSend(int64_t ts, int64_t resend_delay_ms, int64_t interval_ms,
                                 const std::string& external_url, const Suppressor& suppressor,
                                 std::vector<OutgoingAlert>* out) {
  for (auto& [lbs, a] : active_) {
    a.suppressed_by =
        suppressor && a.state != AlertState::kInactive ? suppressor(a.labels, ts) : "";
    if (a.state == AlertState::kPending) continue;
    if (!NeedsSend(a, ts, resend_delay_ms)) continue;
    const int64_t previously_sent = a.last_sent_at_ms;
    a.last_sent_at_ms = ts;
    a.valid_until_ms = ts + 4 * std::max(resend_delay_ms, interval_ms);
    dirty_ = true;
    OutgoingAlert o;
    o.labels = a.labels;
    o.annotations = a.annotations;
    o.starts_at_ms = a.fired_at_ms;
    o.resolved = a.resolved_at_ms != 0;
    o.ends_at_ms = o.resolved ? a.resolved_at_ms : a.valid_until_ms;
    o.generator_url = GeneratorUrl(external_url);
    o.sent_at_ms = ts;
    o.previously_sent_at_ms = previously_sent;
    out->push_back(std::move(o));
  }
}

std::vector<Alert> AlertingRule::Alerts() const {
  std::vector<Alert> out;
  out.reserve(active_.size());
  for (const auto& [l, a] : active_) out.push_back(a);
  return out;
}

void AlertingRule::Restore(const std::vector<Alert>& alerts) {
  for (const auto& a : alerts) active_[a.labels] = a;
}

bool AlertingRule::TakeDirty() {
  bool d = dirty_;
  dirty_ = false;
  return d;
}

std::vector<AlertHistoryEvent> AlertingRule::TakeHistory() {
  std::vector<AlertHistoryEvent> out;
  out.swap(history_);
  return out;
}

RecordingRule::RecordingRule(RuleSpec spec) : spec_(std::move(spec)) {
  const promql::Expr& e = *spec_.expr;
  const bool by_name =
      std::find(e.grouping.begin(), e.grouping.end(), "__name__") != e.grouping.end();
  outputs_distinct_ = spec_.labels.empty() && e.kind == promql::NodeKind::kAggregate &&
                      (e.without || !by_name);
}

Labels RecordingRule::OutputLabels(size_t i, Labels query_labels) {
  if (i < last_outputs_.size() && last_outputs_[i].first == query_labels) {
    return last_outputs_[i].second;
  }
  Labels out = query_labels;
  out.Set("__name__", spec_.name);
  // Recording rule labels are literal in Prometheus (no templating).
  for (const auto& item : spec_.labels) out.Set(item.name, item.text);
  if (i < last_outputs_.size()) {
    last_outputs_[i] = {std::move(query_labels), out};
  } else if (i == last_outputs_.size()) {
    last_outputs_.emplace_back(std::move(query_labels), out);
  }
  return out;
}

Status RecordingRule::Eval(int64_t ts, const RuleEvalContext& ctx, promql::Vector* series_out) {
  auto res = Query(*spec_.expr, ts, ctx);
  if (!res.ok()) {
    last_error_ = res.status().message();
    return res.status();
  }
  promql::Vector out = std::move(*res);
  for (size_t i = 0; i < out.size(); ++i) out[i].labels = OutputLabels(i, std::move(out[i].labels));
  if (out.size() < last_outputs_.size()) last_outputs_.resize(out.size());
  if (!outputs_distinct_ && promql::HasDuplicateLabelsets(out)) {
    last_error_ = "vector contains metrics with the same labelset after applying rule labels";
    return Status::InvalidArgument(last_error_);
  }
  if (ctx.limit > 0 && out.size() > static_cast<size_t>(ctx.limit)) {
    last_error_ = "exceeded limit of " + std::to_string(ctx.limit) + " with " +
                  std::to_string(out.size()) + " series";
    return Status::InvalidArgument(last_error_);
  }
  for (auto& s : out) series_out->push_back(std::move(s));
  last_error_.clear();
  return Status::Ok();
}

}  // namespace obsmon::alerts
