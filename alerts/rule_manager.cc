#include "alerts/rule_manager.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <unordered_map>

#include "core/thread_name.h"

namespace obsmon::alerts {

struct RuleManager::Group {
  RuleGroupSpec spec;
  int64_t interval_ms = 0;
  int64_t last_eval_ms = INT64_MIN;
  // Rules in file order: alerting or recording.
  std::vector<std::unique_ptr<AlertingRule>> alerting;
  std::vector<std::unique_ptr<RecordingRule>> recording;
  std::vector<std::pair<bool, size_t>> order;  // (is_alerting, index)
  // What the previous evaluation wrote (for stale markers).
  // Per rule (index into `order`): the series it wrote at the last evaluation, sorted (sorting
  // the labels moved out of the result costs less than hashing copies into a set each cycle).
  std::vector<std::vector<Labels>> last_series;
  // Per rule, per place of its result: where that place's series was written last time.
  std::vector<std::vector<RuleSeriesHint>> hints;
  // Series the rules of the group this one replaced wrote and no rule here goes on from: ended
  // at the end of the next evaluation (RuleManager::TakeOverSeries).
  std::vector<Labels> ended_at_next_evaluation;
};

namespace {

// Appends `rows` to what waits for the state store, dropping the oldest beyond
// RuleManager::kMaxUnsaved; returns how many were dropped.
template <typename Row>
size_t KeepUnsaved(std::vector<Row> rows, std::vector<Row>* unsaved, size_t max) {
  if (unsaved->empty()) {
    *unsaved = std::move(rows);
  } else {
    unsaved->insert(unsaved->end(), std::make_move_iterator(rows.begin()),
                    std::make_move_iterator(rows.end()));
  }
  if (unsaved->size() <= max) return 0;
  const size_t dropped = unsaved->size() - max;
  unsaved->erase(unsaved->begin(), unsaved->begin() + static_cast<std::ptrdiff_t>(dropped));
  return dropped;
}

// A family of one unlabelled counter or gauge.
prometheus::MetricFamily One(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily family{name, help, type, {}};
  prometheus::ClientMetric m;
  (type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  family.metric.push_back(std::move(m));
  return family;
}

class AlertsCollectable final : public prometheus::Collectable {
 public:
  explicit AlertsCollectable(const RuleManager* mgr) : mgr_(mgr) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily alerts{
        "ALERTS", "Pending and firing alerts (value 1).", prometheus::MetricType::Gauge, {}};
    prometheus::MetricFamily for_state{
        "ALERTS_FOR_STATE",
        "When each pending or firing alert became active, in unix seconds.",
        prometheus::MetricType::Gauge,
        {}};
    for (const auto& a : mgr_->ActiveAlerts()) {
      prometheus::ClientMetric f;
      for (const auto& [n, v] : a.labels.pairs()) f.label.push_back({n, v});
      // The state replaces an `alertstate` the alert's own labels carry (`count by
      // (alertstate) (ALERTS)` as an alert's expression), as Prometheus sets it: a second
      // label of one name made the whole exposition invalid, and a Prometheus scraping obsmon
      // dropped every metric of it (fresh eyes, stop 59).
      Labels with_state = a.labels;
      with_state.Set("alertstate", AlertStateName(a.state));
      prometheus::ClientMetric m;
      for (const auto& [n, v] : with_state.pairs()) m.label.push_back({n, v});
      m.gauge.value = 1;
      f.gauge.value = static_cast<double>(a.active_at_ms / 1000);
      alerts.metric.push_back(std::move(m));
      for_state.metric.push_back(std::move(f));
    }
    std::vector<prometheus::MetricFamily> out;
    if (!alerts.metric.empty()) {
      out.push_back(std::move(alerts));
      out.push_back(std::move(for_state));
    }
    using T = prometheus::MetricType;
    out.push_back(One("obsmon_rule_evaluations_total", "Rule group evaluations.", T::Counter,
                      static_cast<double>(mgr_->evaluations())));
    out.push_back(One("obsmon_rule_evaluation_failures_total", "Rule evaluations that failed.",
                      T::Counter, static_cast<double>(mgr_->evaluation_failures())));
    out.push_back(One("obsmon_rule_shared_subexpression_hits_total",
                      "Evaluations of a subexpression that several rules repeat, answered by its "
                      "value at the same instant instead of evaluated again.",
                      T::Counter, static_cast<double>(mgr_->shared_subexpression_hits())));
    out.push_back(One("obsmon_rule_evaluation_memory_bytes",
                      "Bytes the rules' expressions keep between cycles: each series' place with "
                      "its group in an aggregation or its result's labels (estimated from their "
                      "sizes).",
                      T::Gauge, static_cast<double>(mgr_->evaluation_memory_bytes())));
    out.push_back(One("obsmon_rule_last_cycle_seconds",
                      "Duration of the last rule evaluation cycle.", T::Gauge,
                      mgr_->last_cycle_seconds()));
    return out;
  }

 private:
  const RuleManager* mgr_;  // owns this collectable; outlives it
};

}  // namespace

namespace {

// <0, 0, >0 as a < b, a == b, a > b (Labels' own order), comparing each string once.
int CompareLabels(const Labels& a, const Labels& b) {
  const auto& x = a.pairs();
  const auto& y = b.pairs();
  if (&x == &y) return 0;  // one shared set: a recording rule's series, the same each cycle
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = x[i].first.compare(y[i].first)) return c;
    if (int c = x[i].second.compare(y[i].second)) return c;
  }
  return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
}

// Tells the store how far back each selector of `expr` reaches: by metric name when the selector
// names one (so only that metric keeps the history), globally otherwise.
void RequireRetentionOf(const promql::Expr& expr, SeriesStore& store,
                        const promql::EvalOptions& eval) {
  int64_t own = -1;
  if (expr.kind == promql::NodeKind::kVectorSelector) own = expr.offset_ms + eval.lookback_ms;
  if (expr.kind == promql::NodeKind::kMatrixSelector) own = expr.offset_ms + expr.range_ms;
  if (own >= 0) {
    const int64_t need = own + 2 * eval.lookback_ms;
    if (expr.metric.empty()) {
      store.RequireRetention(need);
    } else {
      store.RequireRetentionFor(expr.metric, need);
    }
  }
  for (const auto& a : expr.args) RequireRetentionOf(*a, store, eval);
}

}  // namespace

RuleManager::RuleManager(RuleManagerOptions options, std::vector<RuleGroupSpec> groups)
    : options_(std::move(options)) {
  int64_t lookbehind = 0;
  for (auto& spec : groups) {
    auto g = std::make_unique<Group>();
    g->interval_ms = spec.interval_ms > 0 ? spec.interval_ms : options_.evaluation_interval_ms;
    for (auto& r : spec.rules) {
      if (r.expr && options_.store) RequireRetentionOf(*r.expr, *options_.store, options_.eval);
      if (r.kind == RuleSpec::Kind::kAlert) {
        g->order.emplace_back(true, g->alerting.size());
        g->alerting.push_back(std::make_unique<AlertingRule>(r, spec.Key()));
      } else {
        g->order.emplace_back(false, g->recording.size());
        g->recording.push_back(std::make_unique<RecordingRule>(r));
      }
    }
    g->spec = std::move(spec);
    groups_.push_back(std::move(g));
  }
  (void)lookbehind;
  std::vector<const promql::Expr*> roots;
  for (const auto& g : groups_) {
    for (const auto& r : g->spec.rules) roots.push_back(r.expr.get());
  }
  if (!options_.share_subexpressions) roots.clear();
  shared_ = std::make_unique<promql::SharedSubexpressions>(roots);
  memory_ = std::make_unique<promql::EvaluationMemory>();
  collectable_ = std::make_shared<AlertsCollectable>(this);
}

RuleManager::~RuleManager() { Stop(); }

Status RuleManager::RestoreState() {
  if (!options_.state_store) return Status::Ok();
  auto loaded = options_.state_store->LoadAlerts();
  if (!loaded.ok()) return loaded.status();
  MutexLock lock(mu_);
  for (auto& g : groups_) {
    for (auto& r : g->alerting) {
      std::vector<Alert> mine;
      for (const auto& a : *loaded) {
        if (a.group_key == r->group_key() && a.rule == r->spec().name) mine.push_back(a);
      }
      r->Restore(mine);
    }
  }
  return Status::Ok();
}

void RuleManager::EvaluateGroupLocked(Group& g, int64_t ts) {
  RuleEvalContext ctx;
  ctx.querier = options_.store;
  ctx.eval = options_.eval;
  ctx.eval.shared = shared_.get();
  ctx.eval.memory = memory_.get();
  ctx.external_labels = &options_.external_labels;
  ctx.external_url = options_.external_url;
  ctx.limit = g.spec.limit;
  g.last_series.resize(g.order.size());
  g.hints.resize(g.order.size());
  std::vector<OutgoingAlert> to_send;
  std::vector<AlertHistoryEvent> history;
  std::vector<AlertingRule*> dirty;
  for (size_t i = 0; i < g.order.size(); ++i) {
    const auto& [is_alert, idx] = g.order[i];
    promql::Vector out;
    Status st =
        is_alert ? g.alerting[idx]->Eval(ts, ctx, &out) : g.recording[idx]->Eval(ts, ctx, &out);
    ++evaluations_;
    if (!st.ok()) ++failures_;
    // Each rule's output is visible to the rules after it in the same group, as in Prometheus;
    // so are its ends: a series it wrote last time but not now gets its stale marker before the
    // next rule runs, or an alert on a vanished recorded series would stay firing for the
    // 5-minute lookback (issue 14, item 3). A rule whose evaluation failed writes nothing, marks
    // nothing stale and sends nothing, as Prometheus's Group.Eval returns at the error: what it
    // wrote before stays visible for the lookback (found by the alert differential test: obsmon
    // used to end those series, so a later rule reading ALERTS saw less than in promtool).
    if (st.ok()) {
      std::vector<Labels> written;
      written.reserve(out.size());
      std::string last_name;
      bool duplicate = false;
      std::vector<RuleSeriesHint>& hints = g.hints[i];
      hints.resize(out.size());  // places past this result's let go
      for (size_t place = 0; place < out.size(); ++place) {
        promql::VSample& s = out[place];
        // A sample refused as a duplicate is not written, so not counted as written either
        // (Prometheus's seriesReturned): a series it wrote last time then gets its stale
        // marker, which the store refuses too, where the other writer's point stays.
        if (!options_.store->AppendRuleSample(s.labels, ts, s.v, &hints[place])) {
          duplicate = true;
          continue;
        }
        // What a later rule reads of this metric at this instant has changed (a rule's series
        // mostly share one name: report each run of a name once).
        const std::string& name = s.labels.Get("__name__");
        if (&s == out.data() || name != last_name) {
          shared_->Written(name);
          last_name = name;
        }
        written.push_back(std::move(s.labels));
      }
      // Results mostly come in label order already; both lists sorted, one merge walk finds
      // what was written last time and not now (a binary search per series cost 8 % of a cycle).
      if (!std::is_sorted(written.begin(), written.end())) std::sort(written.begin(), written.end());
      auto now = written.begin();
      for (const auto& l : g.last_series[i]) {
        int order = 1;
        while (now != written.end() && (order = CompareLabels(*now, l)) < 0) ++now;
        if (now == written.end() || order > 0) {
          options_.store->MarkStale(l, ts);
          shared_->Written(l.Get("__name__"));
        }
      }
      g.last_series[i] = std::move(written);
      if (duplicate) {
        const char* kDuplicate = "duplicate sample for timestamp";  // Prometheus's words
        if (is_alert) {
          g.alerting[idx]->SetStorageError(kDuplicate);
        } else {
          g.recording[idx]->SetStorageError(kDuplicate);
        }
      }
    }
    if (is_alert) {
      AlertingRule& r = *g.alerting[idx];
      if (st.ok()) {
        r.CollectToSend(ts, options_.resend_delay_ms, g.interval_ms, options_.external_url,
                        options_.suppressor, &to_send);
      }
      auto h = r.TakeHistory();
      if (options_.component_of) {
        for (AlertHistoryEvent& e : h) e.component = options_.component_of(e.labels);
      }
      history.insert(history.end(), std::make_move_iterator(h.begin()),
                     std::make_move_iterator(h.end()));
      if (r.TakeDirty()) dirty.push_back(&r);
    }
  }
  // The series of the rules that a reload took away from this group end after its rules ran, at
  // this evaluation's time, as Prometheus 2.42's Group.Eval ends its staleSeries last: a rule
  // of the group still reads them this once (fresh eyes 2, stop 59: obsmon ended them first, a
  // cycle before Prometheus). One a rule wrote at this time goes on.
  for (const Labels& l : g.ended_at_next_evaluation) {
    options_.store->MarkStale(l, ts);
    shared_->Written(l.Get("__name__"));
  }
  g.ended_at_next_evaluation.clear();
  g.last_eval_ms = ts;
  if (options_.sender && !to_send.empty()) {
    // One batch an evaluation, sent as one: a firing and its resolution made while a delivery
    // waited for the database went out in one body, the group's status "firing" (fresh eyes 2,
    // stop 69). Beyond kMaxUnsaved batches waiting, the oldest go (counted as failures).
    to_send_.push_back(std::move(to_send));
    if (to_send_.size() > kMaxUnsaved) {
      to_send_.erase(to_send_.begin());
      ++failures_;
    }
  }
  if (options_.state_store) {
    for (AlertingRule* r : dirty) unsaved_.alerts[{r->group_key(), r->spec().name}] = r->Alerts();
    failures_ += KeepUnsaved(std::move(history), &unsaved_.history, kMaxUnsaved);
  }
}

void RuleManager::Deliver() {
  MutexLock deliver(deliver_mu_);
  std::vector<std::vector<OutgoingAlert>> to_send;
  Unsaved batch;
  {
    MutexLock lock(mu_);
    to_send = std::exchange(to_send_, {});
    if (options_.state_store && options_.clock->NowMs() >= store_paused_until_ms_) {
      batch = std::exchange(unsaved_, {});
    }
  }
  // Notifications reach the (durable) outbox before the alerts' LastSentAt is stored: a crash
  // in between then at worst repeats a notification, never loses one.
  for (auto& evaluation : to_send) {
    for (auto& a : evaluation) {
      for (const auto& [n, v] : options_.external_labels.pairs()) {
        if (!a.labels.Has(n)) a.labels.Set(n, v);
      }
    }
    options_.sender->Send(evaluation);
  }
  if (batch.empty() || Store(batch)) return;
  // The daemon's store also reports the failure to storage health (obsmon_storage_errors_total).
  MutexLock lock(mu_);
  ++failures_;
  store_paused_until_ms_ = options_.clock->NowMs() + kStorePauseMs;
  PutBeforeUnsavedLocked(std::move(batch));  // before what the evaluations added meanwhile
}

void RuleManager::PutBeforeUnsavedLocked(Unsaved older) {
  for (auto& [key, alerts] : older.alerts) unsaved_.alerts.try_emplace(key, std::move(alerts));
  failures_ += KeepUnsaved(std::exchange(unsaved_.history, {}), &older.history, kMaxUnsaved);
  unsaved_.history = std::move(older.history);
  failures_ += KeepUnsaved(std::exchange(unsaved_.ends, {}), &older.ends, kMaxUnsaved);
  unsaved_.ends = std::move(older.ends);
}

bool RuleManager::Store(Unsaved& batch) {
  AlertStateStore& store = *options_.state_store;
  for (auto it = batch.alerts.begin(); it != batch.alerts.end(); it = batch.alerts.erase(it)) {
    const auto& [group_key, rule] = it->first;
    if (!store.SaveAlerts(group_key, rule, it->second).ok()) return false;
  }
  if (!batch.history.empty()) {
    if (!store.AppendHistory(batch.history).ok()) return false;
    batch.history.clear();
  }
  if (!batch.ends.empty()) {
    if (!store.SaveSeriesEnds(batch.ends).ok()) return false;
    batch.ends.clear();
  }
  return true;
}

namespace {

// A rule's identity across a reload, as Prometheus's nameAndLabels: its name and its labels.
std::string RuleIdentity(const RuleSpec& r) {
  std::string id = r.name;
  for (const auto& item : r.labels) {
    id.append(1, '\0').append(item.name).append(1, '\0').append(item.text);
  }
  return id;
}

}  // namespace

void RuleManager::TakeOverSeries(RuleManager& old, int64_t reload_ms) {
  MutexLock old_lock(old.mu_);
  MutexLock lock(mu_);
  std::unordered_map<std::string, Group*> staying;
  for (auto& g : groups_) staying.emplace(g->spec.Key(), g.get());
  for (auto& from : old.groups_) {
    from->last_series.resize(from->order.size());
    auto found = staying.find(from->spec.Key());
    if (found == staying.end()) {
      const int64_t due_ms = reload_ms + 2 * from->interval_ms;
      for (auto& series : from->last_series) {
        for (auto& l : series) removed_series_.push_back({std::move(l), reload_ms, due_ms});
      }
      for (auto& l : from->ended_at_next_evaluation) {
        removed_series_.push_back({std::move(l), reload_ms, due_ms});
      }
      continue;
    }
    Group& to = *found->second;
    // Ends a reload before this one left for the next evaluation (two reloads in a row).
    for (auto& l : from->ended_at_next_evaluation) {
      to.ended_at_next_evaluation.push_back(std::move(l));
    }
    to.last_eval_ms = from->last_eval_ms;
    to.last_series.resize(to.order.size());
    std::unordered_map<std::string, std::vector<size_t>> old_rules;  // identity -> indexes
    for (size_t i = 0; i < from->spec.rules.size(); ++i) {
      old_rules[RuleIdentity(from->spec.rules[i])].push_back(i);
    }
    std::vector<bool> taken(from->spec.rules.size(), false);
    for (size_t i = 0; i < to.spec.rules.size(); ++i) {
      auto it = old_rules.find(RuleIdentity(to.spec.rules[i]));
      if (it == old_rules.end() || it->second.empty()) continue;
      const size_t fi = it->second.front();
      it->second.erase(it->second.begin());
      to.last_series[i] = std::move(from->last_series[fi]);
      taken[fi] = true;
    }
    for (size_t fi = 0; fi < taken.size(); ++fi) {
      if (taken[fi]) continue;
      for (auto& l : from->last_series[fi]) to.ended_at_next_evaluation.push_back(std::move(l));
    }
  }
  // The old manager's own ends of removed groups not due yet are this one's now.
  for (auto& r : old.removed_series_) removed_series_.push_back(std::move(r));
  old.removed_series_.clear();
  // What the old manager's store did not take yet (it was paused) is this one's to store, and
  // a staying rule's alerts there are newer than what RestoreState read (a reload dropped
  // them before stop 69).
  for (const auto& [key, alerts] : old.unsaved_.alerts) {
    if (AlertingRule* r = FindAlertingRuleLocked(key.first, key.second)) r->ReplaceAlerts(alerts);
  }
  PutBeforeUnsavedLocked(std::exchange(old.unsaved_, {}));
  store_paused_until_ms_ = std::max(store_paused_until_ms_, old.store_paused_until_ms_);
}

AlertingRule* RuleManager::FindAlertingRuleLocked(const std::string& group_key,
                                                  const std::string& name) {
  for (auto& g : groups_) {
    if (g->spec.Key() != group_key) continue;
    for (auto& r : g->alerting) {
      if (r->spec().name == name) return r.get();
    }
  }
  return nullptr;
}

void RuleManager::EndRemovedGroupsSeriesLocked(int64_t now_ms) {
  if (removed_series_.empty()) return;
  std::erase_if(removed_series_, [&](RemovedSeries& r) {
    if (r.due_ms > now_ms) return false;
    // At the reload's time: refused as older when a rule wrote the series since.
    options_.store->MarkStale(r.labels, r.end_ms);
    return true;
  });
}

void RuleManager::EvaluateAt(int64_t ts_ms) {
  {
    auto start = std::chrono::steady_clock::now();
    MutexLock lock(mu_);
    shared_->Forget();
    for (auto& g : groups_) EvaluateGroupLocked(*g, ts_ms);
    EndRemovedGroupsSeriesLocked(ts_ms);
    last_cycle_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  DeliverOrWake();
}

void RuleManager::Tick() {
  const int64_t now = options_.clock->NowMs();
  // Ends of removed probes' series whose time has come, before the evaluations that must see
  // them (SeriesStore::EndSourcesExcept).
  options_.store->ApplyDueEnds(now);
  {
    auto start = std::chrono::steady_clock::now();
    MutexLock lock(mu_);
    shared_->Forget();
    bool any = false;
    for (auto& g : groups_) {
      const int64_t ts = now - (now % g->interval_ms);
      if (ts > g->last_eval_ms) {
        EvaluateGroupLocked(*g, ts);
        any = true;
      }
    }
    EndRemovedGroupsSeriesLocked(now);
    if (any) {
      last_cycle_seconds_ =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options_.store->GarbageCollect(now);
    }
    // The ends of probes' series since the last tick, stored so that a restart's read-back
    // ends those series again (SeriesStore::TakeEnds).
    if (options_.state_store) {
      failures_ += KeepUnsaved(options_.store->TakeEnds(), &unsaved_.ends, kMaxUnsaved);
    }
  }
  DeliverOrWake();
}

void RuleManager::DeliverOrWake() {
  if (!delivering_in_background_.load()) {
    Deliver();
    return;
  }
  {
    MutexLock lock(mu_);
    if (to_send_.empty() && unsaved_.empty()) return;
  }
  {
    MutexLock lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

void RuleManager::DeliveryLoop() {
  MutexLock lock(wake_mu_);
  while (true) {
    wake_cv_.wait(lock.native(), [this] {
      wake_mu_.AssertHeld();  // the predicate runs with the lock held
      return wake_ || stop_delivery_;
    });
    if (!wake_) return;  // stopping, and nothing was handed on since the last delivery
    wake_ = false;
    lock.Unlock();
    Deliver();
    lock.Lock();
  }
}

RuleManager::UnsavedCounts RuleManager::FlushUnsaved(
    std::chrono::steady_clock::time_point deadline) {
  // One try at least: Stop() may have waited out the deadline for a delivery that was under
  // way, and the lock may have ended meanwhile.
  for (bool tried = false;; tried = true) {
    {
      MutexLock lock(mu_);
      const UnsavedCounts left{unsaved_.alerts.size(), unsaved_.history.size(),
                               unsaved_.ends.size()};
      if (left.total() == 0 || !options_.state_store) return {};
      if (tried && std::chrono::steady_clock::now() >= deadline) return left;
      store_paused_until_ms_ = INT64_MIN;  // the stop's last tries wait for nothing else
    }
    Deliver();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void RuleManager::Start() {
  MutexLock lock(run_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  {
    MutexLock wake(wake_mu_);
    stop_delivery_ = false;
  }
  delivering_in_background_ = true;
  delivery_thread_ = std::thread([this] {
    NameThisThread("obsmon-alertio");
    DeliveryLoop();
  });
  thread_ = std::thread([this] {
    NameThisThread("obsmon-rules");
    Loop();
  });
}

void RuleManager::Stop() {
  {
    MutexLock lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    MutexLock lock(wake_mu_);
    stop_delivery_ = true;
  }
  wake_cv_.notify_all();
  // It delivers what the last evaluation handed on before it ends.
  if (delivery_thread_.joinable()) delivery_thread_.join();
  delivering_in_background_ = false;
}

void RuleManager::Loop() {
  MutexLock lock(run_mu_);
  while (!stop_) {
    lock.Unlock();
    Tick();
    lock.Lock();
    // Wake at least once a second: group intervals are multiples of seconds and the wall clock
    // may step, so polling is simpler and more robust than computing the next deadline. The
    // poll is on the injected clock: under a FakeClock the thread ticks when time is advanced.
    options_.clock->WaitFor(lock.native(), run_cv_, std::chrono::milliseconds(500), [this] {
      run_mu_.AssertHeld();  // the predicate runs with the lock held
      return stop_;
    });
  }
}

std::vector<Alert> RuleManager::ActiveAlerts(bool include_resolved) const {
  MutexLock lock(mu_);
  std::vector<Alert> out;
  for (const auto& g : groups_) {
    for (const auto& r : g->alerting) {
      for (auto& a : r->Alerts()) {
        if (include_resolved || a.state != AlertState::kInactive) out.push_back(std::move(a));
      }
    }
  }
  return out;
}

std::vector<RuleStatus> RuleManager::Rules() const {
  MutexLock lock(mu_);
  std::vector<RuleStatus> out;
  for (const auto& g : groups_) {
    for (const auto& [is_alert, idx] : g->order) {
      RuleStatus s;
      s.group_key = g->spec.Key();
      s.alerting = is_alert;
      s.name = is_alert ? g->alerting[idx]->spec().name : g->recording[idx]->spec().name;
      s.last_error = is_alert ? g->alerting[idx]->last_error() : g->recording[idx]->last_error();
      out.push_back(std::move(s));
    }
  }
  return out;
}

uint64_t RuleManager::evaluations() const {
  MutexLock lock(mu_);
  return evaluations_;
}
uint64_t RuleManager::evaluation_failures() const {
  MutexLock lock(mu_);
  return failures_;
}
double RuleManager::last_cycle_seconds() const {
  MutexLock lock(mu_);
  return last_cycle_seconds_;
}

uint64_t RuleManager::shared_subexpression_hits() const {
  MutexLock lock(mu_);
  return shared_->hits();
}

size_t RuleManager::evaluation_memory_bytes() const {
  MutexLock lock(mu_);
  return memory_->HeapBytes();
}

std::shared_ptr<prometheus::Collectable> RuleManager::Collectable() { return collectable_; }

}  // namespace obsmon::alerts
