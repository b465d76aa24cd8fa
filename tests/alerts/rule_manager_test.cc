// The alert state machine driven with a FakeClock, including restarts through the state store.
#include "alerts/rule_manager.h"

#include <gtest/gtest.h>

#include <optional>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "alerts/memory_alert_store.h"

namespace obsmon::alerts {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMin = 60'000;
constexpr int64_t kStart = 1'760'400'000'000;  // a multiple of 1m

const char* kRules = R"(
groups:
  - name: carbon
    interval: 1m
    rules:
      - alert: CarbonComponentDown
        expr: up{job="tta-staging-carbon"} == 0
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} down"
      - record: job:up:sum
        expr: sum by (job) (up)
)";

class RecordingSender final : public AlertSender {
 public:
  void Send(const std::vector<OutgoingAlert>& alerts) override { batches.push_back(alerts); }
  std::vector<std::vector<OutgoingAlert>> batches;
};

class RuleManagerTest : public ::testing::Test {
 protected:
  RuleManagerTest() : clock_(kStart) {
    ConfigErrors errors;
    groups_ = ParseRuleFileText(kRules, "rules.yml", &errors);
    EXPECT_TRUE(errors.empty()) << errors.ToString();
  }

  std::unique_ptr<RuleManager> NewManager(AlertStateStore* state) {
    RuleManagerOptions o;
    o.clock = &clock_;
    o.store = &series_;
    o.state_store = state;
    o.sender = &sender_;
    o.external_url = "http://obsmon:9950";
    o.suppressor = suppressor_;
    auto m = std::make_unique<RuleManager>(o, groups_);
    EXPECT_TRUE(m->RestoreState().ok());
    return m;
  }

  // Appends up=value at the current time, advances one minute, then evaluates (Tick).
  void Step(RuleManager& m, double up) {
    series_.Append(Sample{"up", Labels{{"job", "tta-staging-carbon"}, {"instance", "carbon:8080"}},
                          clock_.NowMs(), up});
    m.Tick();
    clock_.Advance(kMin);
  }

  // One group `fast` evaluated every second: `Down` when up == 0, after `for_line` if given
  // (e.g. "        for: 1s\n").
  static std::vector<RuleGroupSpec> FastDownRules(const std::string& for_line = "") {
    ConfigErrors errors;
    auto groups = ParseRuleFileText("groups:\n  - name: fast\n    interval: 1s\n    rules:\n"
                                    "      - alert: Down\n        expr: up == 0\n" + for_line,
                                    "fast.yml", &errors);
    EXPECT_TRUE(errors.empty()) << errors.ToString();
    return groups;
  }
  // Options for a manager of this fixture's clock, series and sender over `state`.
  RuleManagerOptions OptionsOver(AlertStateStore* state) {
    RuleManagerOptions o;
    o.clock = &clock_;
    o.store = &series_;
    o.state_store = state;
    o.sender = &sender_;
    return o;
  }

  AlertState StateOf(RuleManager& m) {
    auto a = m.ActiveAlerts(true);
    return a.empty() ? AlertState::kInactive : a[0].state;
  }

  // A maintenance window [from, to) for every alert, as the daemon's calendar answers.
  void Maintenance(int64_t from, int64_t to) {
    suppressor_ = [from, to](const Labels&, int64_t ts) {
      return from <= ts && ts < to ? std::string("maintenance #1 of carbon: upgrade") : "";
    };
  }
  size_t SentCount() const {
    size_t n = 0;
    for (const auto& b : sender_.batches) n += b.size();
    return n;
  }

  FakeClock clock_;
  SeriesStore series_;
  RecordingSender sender_;
  Suppressor suppressor_;
  std::vector<RuleGroupSpec> groups_;
};

TEST_F(RuleManagerTest, PendingThenFiringAfterForThenResolved) {
  auto m = NewManager(nullptr);
  Step(*m, 1);  // t0: up
  EXPECT_TRUE(m->ActiveAlerts().empty());
  Step(*m, 0);  // t1: pending, ActiveAt t1
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].state, AlertState::kPending);
  EXPECT_EQ(m->ActiveAlerts()[0].active_at_ms, kStart + kMin);
  EXPECT_EQ(m->ActiveAlerts()[0].annotations.Get("summary"), "carbon:8080 down");
  Step(*m, 0);  // t2: 1m pending
  EXPECT_EQ(StateOf(*m), AlertState::kPending);
  EXPECT_TRUE(sender_.batches.empty());  // pending alerts are never sent
  Step(*m, 0);                           // t3: 2m >= for: firing
  EXPECT_EQ(StateOf(*m), AlertState::kFiring);
  ASSERT_EQ(sender_.batches.size(), 1u);
  const OutgoingAlert& sent = sender_.batches[0][0];
  EXPECT_EQ(sent.labels.Get("alertname"), "CarbonComponentDown");
  EXPECT_EQ(sent.starts_at_ms, kStart + 3 * kMin);
  EXPECT_EQ(sent.ends_at_ms, kStart + 3 * kMin + 4 * kMin);  // valid for 4 x resend delay
  EXPECT_FALSE(sent.resolved);
  EXPECT_EQ(sent.generator_url, "http://obsmon:9950/api/v1/alerts")
      << sent.generator_url;
  Step(*m, 1);  // t4: resolved
  EXPECT_EQ(StateOf(*m), AlertState::kInactive);
  ASSERT_EQ(sender_.batches.size(), 2u);
  EXPECT_TRUE(sender_.batches[1][0].resolved);
  EXPECT_EQ(sender_.batches[1][0].ends_at_ms, kStart + 4 * kMin);
  EXPECT_TRUE(m->ActiveAlerts().empty());  // resolved ones only with include_resolved
}

TEST_F(RuleManagerTest, ResendsFiringAlertsAfterResendDelay) {
  auto m = NewManager(nullptr);
  for (int i = 0; i < 3; ++i) Step(*m, 0);  // firing at t2
  ASSERT_EQ(sender_.batches.size(), 1u);
  Step(*m, 0);  // t3: sent 1m ago: not strictly more than 1m: no resend (Prometheus: Before)
  EXPECT_EQ(sender_.batches.size(), 1u);
  Step(*m, 0);  // t4: 2m since: resend
  EXPECT_EQ(sender_.batches.size(), 2u);
  EXPECT_EQ(sender_.batches[1][0].starts_at_ms, kStart + 2 * kMin);  // same alert
}

// Issue 15: alerts of a component in maintenance are suppressed as Alertmanager does it: still
// evaluated and listed (marked), not notified; told at the first evaluation after the window if
// still firing; never a "resolved" of an alert nobody was told of.
TEST_F(RuleManagerTest, FiringInMaintenanceIsHeldBackThenNotifiedAfterTheWindow) {
  Maintenance(kStart, kStart + 5 * kMin);
  auto m = NewManager(nullptr);
  for (int i = 0; i < 5; ++i) Step(*m, 0);  // t0..t4: pending, firing at t2, all in the window
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(m->ActiveAlerts()[0].suppressed_by, "maintenance #1 of carbon: upgrade");
  EXPECT_EQ(SentCount(), 0u);
  Step(*m, 0);  // t5: the window is over, still firing: told now, as a first notification
  ASSERT_EQ(SentCount(), 1u);
  const OutgoingAlert& sent = sender_.batches[0][0];
  EXPECT_FALSE(sent.resolved);
  EXPECT_EQ(sent.starts_at_ms, kStart + 2 * kMin);
  EXPECT_EQ(sent.sent_at_ms, kStart + 5 * kMin);
  EXPECT_EQ(sent.previously_sent_at_ms, 0);  // a webhook pages on it (a state change)
  EXPECT_EQ(m->ActiveAlerts()[0].suppressed_by, "");
  Step(*m, 1);  // t6: its resolution is told (its firing was)
  ASSERT_EQ(SentCount(), 2u);
  EXPECT_TRUE(sender_.batches[1][0].resolved);
}

TEST_F(RuleManagerTest, FiredAndResolvedInsideMaintenanceIsNeverNotified) {
  Maintenance(kStart, kStart + 6 * kMin);
  auto m = NewManager(nullptr);
  for (int i = 0; i < 4; ++i) Step(*m, 0);  // firing t2..t3
  Step(*m, 1);                              // t4: resolved in the window
  EXPECT_EQ(StateOf(*m), AlertState::kInactive);
  for (int i = 0; i < 10; ++i) Step(*m, 1);  // past the window, within the resolved retention
  EXPECT_EQ(SentCount(), 0u);                // no late firing, no false "resolved"
}

TEST_F(RuleManagerTest, NotifiedBeforeMaintenanceKeepsResendsAndItsResolution) {
  Maintenance(kStart + 3 * kMin, kStart + 20 * kMin);
  auto m = NewManager(nullptr);
  for (int i = 0; i < 3; ++i) Step(*m, 0);  // firing and told at t2, before the window
  ASSERT_EQ(SentCount(), 1u);
  Step(*m, 0);  // t3: in the window, sent 1 min ago
  Step(*m, 0);  // t4: resent, so that Alertmanager does not expire it into a false "resolved"
  ASSERT_EQ(SentCount(), 2u);
  EXPECT_EQ(sender_.batches[1][0].previously_sent_at_ms, kStart + 2 * kMin);  // not a page
  EXPECT_EQ(m->ActiveAlerts()[0].suppressed_by, "maintenance #1 of carbon: upgrade");
  Step(*m, 1);  // t5: the resolution of what was told is told
  ASSERT_EQ(SentCount(), 3u);
  EXPECT_TRUE(sender_.batches[2][0].resolved);
}

TEST_F(RuleManagerTest, SuppressedFiringSurvivesARestartAndIsNotifiedAfterTheWindow) {
  MemoryAlertStore store;
  Maintenance(kStart, kStart + 5 * kMin);
  {
    auto m = NewManager(&store);
    for (int i = 0; i < 4; ++i) Step(*m, 0);  // firing at t2, held back
  }
  auto m = NewManager(&store);
  Step(*m, 0);  // t4: still in the window
  EXPECT_EQ(SentCount(), 0u);
  Step(*m, 0);  // t5: after it
  ASSERT_EQ(SentCount(), 1u);
  EXPECT_EQ(sender_.batches[0][0].starts_at_ms, kStart + 2 * kMin);
}

TEST_F(RuleManagerTest, RecordingRulesAndAlertsSeriesGoToTheStore) {
  auto m = NewManager(nullptr);
  Step(*m, 0);
  promql::Matrix out;
  promql::Matcher name;
  name.name = "__name__";
  name.value = "job:up:sum";
  series_.Select({name}, 0, clock_.NowMs(), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels.Get("job"), "tta-staging-carbon");
  name.value = "ALERTS";
  out.clear();
  series_.Select({name}, 0, clock_.NowMs(), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels.Get("alertstate"), "pending");
  // The collectable exposes the same on /metrics.
  auto families = m->Collectable()->Collect();
  ASSERT_FALSE(families.empty());
  EXPECT_EQ(families[0].name, "ALERTS");
  ASSERT_EQ(families[0].metric.size(), 1u);
  EXPECT_EQ(families[1].name, "ALERTS_FOR_STATE");
  EXPECT_EQ(families[1].metric[0].gauge.value, static_cast<double>(kStart / 1000));
}

TEST_F(RuleManagerTest, RestartKeepsPendingActiveAt) {
  MemoryAlertStore store;
  {
    auto m = NewManager(&store);
    Step(*m, 0);  // pending since kStart
    Step(*m, 0);
    EXPECT_EQ(StateOf(*m), AlertState::kPending);
  }  // "crash": the manager is gone, the store stays
  auto m = NewManager(&store);
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].active_at_ms, kStart);  // not reset
  Step(*m, 0);  // t2 - t0 = 2m >= for: fires now, not 2m after the restart
  EXPECT_EQ(StateOf(*m), AlertState::kFiring);
  ASSERT_EQ(sender_.batches.size(), 1u);
  // Without persistence the same sequence restarts the `for` timer.
  sender_.batches.clear();
  auto fresh = NewManager(nullptr);
  Step(*fresh, 0);
  EXPECT_EQ(StateOf(*fresh), AlertState::kPending);
}

TEST_F(RuleManagerTest, RestartKeepsFiringWithoutSecondPage) {
  MemoryAlertStore store;
  {
    auto m = NewManager(&store);
    for (int i = 0; i < 3; ++i) Step(*m, 0);  // firing at t2, sent once
    ASSERT_EQ(sender_.batches.size(), 1u);
  }
  auto m = NewManager(&store);
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(m->ActiveAlerts()[0].fired_at_ms, kStart + 2 * kMin);
  Step(*m, 0);  // t3: still firing, last sent 1m ago: no duplicate page
  EXPECT_EQ(sender_.batches.size(), 1u);
  EXPECT_EQ(StateOf(*m), AlertState::kFiring);
  // History has exactly one firing event.
  auto h = store.History(0, INT64_MAX);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].event, "firing");
  EXPECT_EQ((*h)[0].ts_ms, kStart + 2 * kMin);
  Step(*m, 1);  // resolves
  h = store.History(0, INT64_MAX);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].event, "resolved");
}

TEST_F(RuleManagerTest, FailedStateSaveIsRetriedAtNextEvaluation) {
  MemoryAlertStore store;
  {
    auto m = NewManager(&store);
    store.SetFailing(true);
    Step(*m, 0);  // pending; the save fails
    EXPECT_EQ(m->evaluation_failures(), 1u);
    store.SetFailing(false);
    Step(*m, 0);  // nothing changed in the alert, but the failed save is repeated
  }
  auto m = NewManager(&store);
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].active_at_ms, kStart);
}

// A state store that fails while told to (a `sqlite3` shell holding the database's write lock),
// counting the writes tried.
class LockedStore final : public AlertStateStore {
 public:
  Result<std::vector<Alert>> LoadAlerts() override { return inner.LoadAlerts(); }
  Status SaveAlerts(const std::string& group_key, const std::string& rule,
                    const std::vector<Alert>& alerts) override {
    ++tried;
    return locked ? Status::IoError("database is locked") : inner.SaveAlerts(group_key, rule, alerts);
  }
  Status AppendHistory(const std::vector<AlertHistoryEvent>& events) override {
    ++tried;
    return locked ? Status::IoError("database is locked") : inner.AppendHistory(events);
  }
  Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) override {
    return inner.History(from_ms, to_ms);
  }
  MemoryAlertStore inner;
  bool locked = false;
  int tried = 0;
};

// Each write to a locked store waits for the lock up to its busy timeout with the rules' lock
// held: every evaluation stalled, and /api/v1/alerts behind it (fresh eyes 2, stop 68). After a
// failed write the store is left alone for a while, and what waits to be written (state,
// history) goes with the first write that succeeds: nothing is lost.
TEST_F(RuleManagerTest, ALockedStoreIsLeftAloneForAWhileAndLosesNothing) {
  LockedStore store;
  auto m = NewManager(&store);
  store.locked = true;
  // Every 5 s for a minute, the target down: each evaluation is due (1 m groups are aligned to
  // the minute, so only ticks at a new minute evaluate; the others only try what waits).
  Step(*m, 0);  // pending at kStart: one save tried, failed
  const int tried_after_first = store.tried;
  EXPECT_EQ(tried_after_first, 1);
  for (int i = 0; i < 3; ++i) Step(*m, 0);  // firing at kStart + 2m, and on
  // One try per evaluation at most (each a minute apart, past the 10 s pause), not one per rule
  // or per row.
  EXPECT_LE(store.tried, tried_after_first + 3);
  ASSERT_EQ(m->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->ActiveAlerts()[0].state, AlertState::kFiring);
  store.locked = false;
  Step(*m, 0);
  // The history of the pending and firing transitions made while locked is stored now.
  auto history = store.inner.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  std::vector<std::string> events;
  for (const auto& e : *history) events.push_back(e.event);
  EXPECT_NE(std::find(events.begin(), events.end(), "firing"), events.end())
      << ::testing::PrintToString(events);
  // And the state: a new manager restores the firing alert with its start.
  auto restored = NewManager(&store);
  ASSERT_EQ(restored->ActiveAlerts().size(), 1u);
  EXPECT_EQ(restored->ActiveAlerts()[0].active_at_ms, kStart);
}

TEST_F(RuleManagerTest, AStoreThatFailsIsNotTriedAgainWithinThePause) {
  groups_ = FastDownRules();
  LockedStore store;
  auto m = NewManager(&store);
  store.locked = true;
  auto tick = [&] {
    series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
    m->Tick();
    clock_.Advance(1'000);
  };
  tick();  // fires; its save fails
  EXPECT_EQ(store.tried, 1);
  // An evaluation every second: the unsaved state is not tried again within the 10 s pause
  // (it was, at every evaluation, each waiting out the busy timeout).
  for (int i = 0; i < 8; ++i) tick();
  EXPECT_EQ(store.tried, 1);
  for (int i = 0; i < 3; ++i) tick();  // past the pause: tried again (and failed again)
  EXPECT_EQ(store.tried, 2);
  store.locked = false;
  for (int i = 0; i < 11; ++i) tick();
  auto restored = NewManager(&store);
  ASSERT_EQ(restored->ActiveAlerts().size(), 1u);
  EXPECT_EQ(m->evaluation_failures(), 2u);
}

// Each history row records the component its alert is of when it happens (component_of, the
// daemon's core/alert_component.h), so that reports attribute it as it was (stop 69).
TEST_F(RuleManagerTest, HistoryRowsRecordTheComponentTheirAlertIsOf) {
  MemoryAlertStore store;
  RuleManagerOptions o = OptionsOver(&store);
  o.component_of = [](const Labels& labels) {
    return labels.Get("job") == "tta-staging-carbon" ? std::string("carbon") : std::string();
  };
  RuleManager m(o, groups_);
  for (double up : {0.0, 0.0, 0.0, 1.0}) Step(m, up);  // pending, firing, resolved
  auto history = store.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  for (const auto& e : *history) EXPECT_EQ(e.component, "carbon") << e.event;
  // Without it (a rule runner with no components): not known, stored as NULL.
  MemoryAlertStore plain;
  o.state_store = &plain;
  o.component_of = nullptr;
  RuleManager n(o, groups_);
  for (double up : {0.0, 0.0, 0.0}) Step(n, up);
  history = plain.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  EXPECT_FALSE((*history)[0].component.has_value());
}

// A door a store's write or a sender's send waits at, as one waits for a `sqlite3` shell's write
// lock: the test sees it is waiting, then opens it.
class Door {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool AwaitSomeoneWaiting() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return waiting_ > 0; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

class WaitingStore final : public AlertStateStore {
 public:
  explicit WaitingStore(Door* door) : door_(door) {}
  Result<std::vector<Alert>> LoadAlerts() override { return inner.LoadAlerts(); }
  Status SaveAlerts(const std::string& group_key, const std::string& rule,
                    const std::vector<Alert>& alerts) override {
    door_->Wait();
    return inner.SaveAlerts(group_key, rule, alerts);
  }
  Status AppendHistory(const std::vector<AlertHistoryEvent>& events) override {
    door_->Wait();
    return inner.AppendHistory(events);
  }
  Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) override {
    return inner.History(from_ms, to_ms);
  }
  MemoryAlertStore inner;

 private:
  Door* door_;
};

class WaitingSender final : public AlertSender {
 public:
  explicit WaitingSender(Door* door) : door_(door) {}
  void Send(const std::vector<OutgoingAlert>& alerts) override {
    door_->Wait();
    sent += alerts.size();
  }
  std::atomic<size_t> sent{0};

 private:
  Door* door_;
};

// While a write or a send waits for the database's lock (up to its busy timeout), the alerts
// and the rules' metrics answer: /api/v1/alerts and /metrics waited with the rules' lock held
// (fresh eyes 2, stop 68: 18.8 s; after that stop's pause, still one busy timeout in ten
// seconds). The door stays shut until the answers came or 30 s passed, so on code that waits
// with the lock held the answers fail the test instead of hanging it.
TEST_F(RuleManagerTest, TheAlertsAnswerWhileTheStoreOrTheSenderWaitsForTheDatabase) {
  for (const bool store_waits : {true, false}) {
    SCOPED_TRACE(store_waits ? "the store waits" : "the sender waits");
    Door door;
    WaitingStore waiting_store(&door);
    WaitingSender waiting_sender(&door);
    MemoryAlertStore plain_store;
    RuleManagerOptions o = OptionsOver(
        store_waits ? static_cast<AlertStateStore*>(&waiting_store) : &plain_store);
    if (!store_waits) o.sender = &waiting_sender;
    RuleManager m(o, FastDownRules());
    series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
    std::thread evaluation([&] { m.Tick(); });  // fires: its state saved, its notification sent
    ASSERT_TRUE(door.AwaitSomeoneWaiting());
    auto answers = std::async(std::launch::async, [&] {
      auto families = m.Collectable()->Collect();
      return std::make_pair(m.ActiveAlerts(), families.size());
    });
    const bool answered = answers.wait_for(30s) == std::future_status::ready;
    door.Open();
    evaluation.join();
    ASSERT_TRUE(answered) << "the alerts waited for the database";
    const auto [alerts, families] = answers.get();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].state, AlertState::kFiring);
    EXPECT_GT(families, 2u);  // ALERTS and ALERTS_FOR_STATE among them
    // What waited went through once the door opened.
    if (store_waits) {
      auto stored = waiting_store.inner.LoadAlerts();
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(stored->size(), 1u);
    } else {
      EXPECT_EQ(waiting_sender.sent.load(), 1u);
    }
    clock_.Advance(kMin);
  }
}

// Started, the manager hands on what an evaluation produced to a thread of its own: while a
// write waits for the database's lock, the evaluations go on at their interval. On one thread
// they stalled for the write's whole wait, and a 7 s outage inside a `sqlite3` write lock
// never fired (fresh eyes, stop 69). What waited is written once the door opens, and Stop()
// ends with nothing handed on left behind.
TEST_F(RuleManagerTest, EvaluationsGoOnWhileADeliveryWaitsForTheDatabase) {
  const auto fast = FastDownRules();
  Door door;
  WaitingStore store(&door);
  RuleManager m(OptionsOver(&store), fast);
  series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
  m.Start();
  ASSERT_TRUE(door.AwaitSomeoneWaiting());  // the first firing's state waits at the door
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  const uint64_t before = m.evaluations();
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1'000);
    ASSERT_TRUE(clock_.WaitForWaiters(1));  // the rules thread had its turn
  }
  const uint64_t during = m.evaluations() - before;
  door.Open();
  m.Stop();
  EXPECT_GE(during, 5u) << "the evaluations waited for the database";
  auto stored = store.inner.LoadAlerts();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 1u);
  auto history = store.inner.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 1u);  // the firing
}

// What evaluations hand on while a delivery waits goes out one evaluation at a time: a firing
// and its resolution made during a `sqlite3` write lock were sent in one body, whose group
// status said "firing" (fresh eyes 2, stop 69).
TEST_F(RuleManagerTest, EachEvaluationsNotificationsAreSentApart) {
  const auto fast = FastDownRules("        for: 1s\n");
  Door door;
  WaitingStore store(&door);
  RuleManager m(OptionsOver(&store), fast);
  series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
  m.Start();
  ASSERT_TRUE(door.AwaitSomeoneWaiting());  // the pending state waits at the door
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  for (double up : {0.0, 1.0}) {  // fires, then resolves, both behind the door
    // In before the evaluation that reads it (the rules thread runs as soon as time moves).
    series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs() + 1'000, up});
    clock_.Advance(1'000);
    ASSERT_TRUE(clock_.WaitForWaiters(1));
  }
  door.Open();
  m.Stop();
  std::vector<std::vector<bool>> sent;  // each batch: resolved or not, alert by alert
  for (const auto& batch : sender_.batches) {
    sent.emplace_back();
    for (const auto& a : batch) sent.back().push_back(a.resolved);
  }
  EXPECT_EQ(sent, (std::vector<std::vector<bool>>{{false}, {true}}));
}

// At the daemon's stop what the store did not take is tried again, its pause ignored, until it
// is stored or the time given has passed (fresh eyes, stop 69: a SIGTERM during a `sqlite3`
// write lock lost the firing's row and state).
TEST_F(RuleManagerTest, FlushUnsavedStoresWhatWaitsOrSaysHowMuchIsLeft) {
  groups_ = FastDownRules();
  LockedStore store;
  auto m = NewManager(&store);
  store.locked = true;
  series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
  m->Tick();  // fires; the store fails and is paused for 10 s
  m->Stop();
  // Still locked: one state and one history row left.
  // Past its deadline: one try, and what is left said.
  const int tried = store.tried;
  const auto left = m->FlushUnsaved(std::chrono::steady_clock::now());
  EXPECT_EQ(store.tried, tried + 1);
  EXPECT_EQ(left.alert_states, 1u);
  EXPECT_EQ(left.history_rows, 1u);
  EXPECT_EQ(left.series_ends, 0u);
  store.locked = false;  // the shell is gone, the pause (on the fake clock) not over
  EXPECT_EQ(m->FlushUnsaved(std::chrono::steady_clock::now() + std::chrono::seconds(30)).total(),
            0u);
  auto history = store.inner.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].event, "firing");
  EXPECT_EQ(store.inner.LoadAlerts()->size(), 1u);
}

// A reload while the store is paused (a write failed in the last 10 s): the new manager reads
// its state from the store, which missed the newest, and the old manager's unsaved history and
// state were dropped with it (before stop 69). Now they are handed over.
TEST_F(RuleManagerTest, AReloadWhileTheStoreIsPausedHandsOverWhatWaits) {
  groups_ = FastDownRules();
  LockedStore store;
  auto old = NewManager(&store);
  auto tick = [&](RuleManager& m) {
    series_.Append(Sample{"up", Labels{{"job", "j"}}, clock_.NowMs(), 0});
    m.Tick();
    clock_.Advance(1'000);
  };
  store.locked = true;
  tick(*old);  // fires; neither its state nor its history stored
  const int64_t fired_at = kStart;
  store.locked = false;  // the shell is gone, but the store's pause has 9 s to run
  tick(*old);
  EXPECT_TRUE(store.inner.History(0, INT64_MAX)->empty());
  auto reloaded = NewManager(&store);  // reads the store: nothing
  old->Stop();
  reloaded->TakeOverSeries(*old, clock_.NowMs());
  old.reset();
  // The alert goes on firing since its first evaluation, not pending anew.
  ASSERT_EQ(reloaded->ActiveAlerts().size(), 1u);
  EXPECT_EQ(reloaded->ActiveAlerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(reloaded->ActiveAlerts()[0].active_at_ms, fired_at);
  for (int i = 0; i < 10; ++i) tick(*reloaded);  // past the pause
  auto history = store.inner.History(0, INT64_MAX);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].event, "firing");
  EXPECT_EQ((*history)[0].ts_ms, fired_at);
  auto stored = store.inner.LoadAlerts();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].active_at_ms, fired_at);
}

TEST_F(RuleManagerTest, BackgroundThreadEvaluatesAndStops) {
  auto m = NewManager(nullptr);
  m->Start();
  // The thread ticks at once, then waits on the fake clock: once it waits, it has ticked.
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  m->Stop();
  EXPECT_EQ(m->evaluations(), 2u);  // one aligned evaluation of the two rules; clock never moved
  m->Stop();                        // idempotent
}

TEST_F(RuleManagerTest, TickSkipsMissedIterationsAndAligns) {
  auto m = NewManager(nullptr);
  clock_.Advance(30'000);  // mid-interval
  m->Tick();
  EXPECT_EQ(m->evaluations(), 2u);  // two rules, evaluated at the aligned kStart
  m->Tick();
  EXPECT_EQ(m->evaluations(), 2u);  // same interval: nothing due
  clock_.Advance(10 * kMin);
  m->Tick();
  EXPECT_EQ(m->evaluations(), 4u);  // one evaluation, not ten
}

TEST_F(RuleManagerTest, LastSampleCountsForFiveMinutesOfLookback) {
  auto m = NewManager(nullptr);
  Step(*m, 0);  // the only sample, at kStart; pending
  // No more samples: the lookback keeps seeing up == 0 through kStart + 5m (inclusive).
  for (int i = 1; i <= 5; ++i) {
    m->Tick();
    EXPECT_EQ(StateOf(*m), i < 2 ? AlertState::kPending : AlertState::kFiring) << "minute " << i;
    clock_.Advance(kMin);
  }
  m->Tick();  // kStart + 6m: the sample is older than 5m; the series is gone, alert resolved
  EXPECT_EQ(StateOf(*m), AlertState::kInactive);
  EXPECT_EQ(m->ActiveAlerts(true)[0].resolved_at_ms, kStart + 6 * kMin);
}

// A manager of one group with one recording rule `record: r` over `expr`, evaluated by hand.
struct OneRecordingRule {
  explicit OneRecordingRule(const std::string& expr) {
    ConfigErrors errors;
    auto groups = ParseRuleFileText(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: '" + expr + "'\n",
        "rules.yml", &errors);
    EXPECT_TRUE(errors.empty()) << errors.ToString();
    RuleManagerOptions o;
    o.store = &store;
    manager = std::make_unique<RuleManager>(o, groups);
  }
  // The points of r{i="<instance>"} up to ts.
  std::vector<promql::Point> PointsOf(const std::string& instance, int64_t ts) const {
    promql::Matrix out;
    promql::Matcher name{promql::Matcher::Op::kEq, "__name__", "r", nullptr};
    promql::Matcher i{promql::Matcher::Op::kEq, "i", instance, nullptr};
    store.Select({name, i}, 0, ts, &out);
    return out.empty() ? std::vector<promql::Point>{} : out[0].points;
  }
  SeriesStore store;
  std::unique_ptr<RuleManager> manager;
};

TEST(RecordingRuleTest, SameLabelsetAfterTheRecordNameIsAnErrorAndWritesNothing) {
  OneRecordingRule rule(R"({__name__=~"a|b"})");
  rule.store.AppendLabeled(Labels{{"__name__", "a"}, {"i", "1"}}, kStart, 1);
  rule.store.AppendLabeled(Labels{{"__name__", "b"}, {"i", "1"}}, kStart, 2);
  rule.manager->EvaluateAt(kStart);
  EXPECT_EQ(rule.manager->evaluation_failures(), 1u);
  EXPECT_EQ(rule.manager->Rules()[0].last_error,
            "vector contains metrics with the same labelset after applying rule labels");
  EXPECT_TRUE(rule.PointsOf("1", kStart).empty());
}

TEST(RecordingRuleTest, ASeriesNoLongerWrittenEndsWithAStaleMarker) {
  OneRecordingRule rule("x > 0");
  rule.store.AppendLabeled(Labels{{"__name__", "x"}, {"i", "1"}}, kStart, 1);
  rule.store.AppendLabeled(Labels{{"__name__", "x"}, {"i", "2"}}, kStart, 1);
  rule.manager->EvaluateAt(kStart);
  rule.store.AppendLabeled(Labels{{"__name__", "x"}, {"i", "1"}}, kStart + kMin, 1);
  rule.store.AppendLabeled(Labels{{"__name__", "x"}, {"i", "2"}}, kStart + kMin, 0);
  rule.manager->EvaluateAt(kStart + kMin);
  EXPECT_EQ(rule.manager->evaluation_failures(), 0u);
  auto kept = rule.PointsOf("1", kStart + kMin);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].t, kStart + kMin);
  EXPECT_EQ(kept[1].v, 1);
  auto ended = rule.PointsOf("2", kStart + kMin);
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].v, 1);
  EXPECT_EQ(ended[1].t, kStart + kMin);
  EXPECT_TRUE(promql::IsStaleNaN(ended[1].v));
}

// Fresh eyes, stop 57: two rules recording one series in one cycle overwrote each other, the
// later rule's sample replacing the earlier's at the same time. As in Prometheus, the second
// sample is refused ("duplicate sample for timestamp", the rule's error until its next clean
// evaluation, not an evaluation failure), the first stays, and a rule after them reads it;
// a sample equal to the one there, bit for bit, is no duplicate. Truth: the input's values.
TEST(RecordingRuleTest, ASecondRuleRecordingTheSameSeriesIsRefusedAndTheFirstStays) {
  ConfigErrors errors;
  auto groups = ParseRuleFileText(R"(
groups:
  - name: g
    interval: 1m
    rules:
      - {record: x, expr: m}
      - {record: x, expr: m * 10}
      - {record: y, expr: x + 0}
      - {record: z, expr: m}
      - {record: z, expr: m * 1}
)",
                                  "rules.yml", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  SeriesStore store;
  RuleManagerOptions o;
  o.store = &store;
  RuleManager manager(o, groups);
  const Labels m{{"__name__", "m"}, {"i", "1"}};
  const double inputs[] = {1, 2, 3};
  for (int k = 0; k < 3; ++k) {
    store.AppendLabeled(m, kStart + k * kMin - 1'000, inputs[k]);  // a probe's run, 1 s before
    manager.EvaluateAt(kStart + k * kMin);
    const auto rules = manager.Rules();
    ASSERT_EQ(rules.size(), 5u);
    EXPECT_EQ(rules[0].last_error, "");
    EXPECT_EQ(rules[1].last_error, "duplicate sample for timestamp");
    EXPECT_EQ(rules[2].last_error, "");
    EXPECT_EQ(rules[4].last_error, "") << "the same value again is no duplicate";
  }
  EXPECT_EQ(manager.evaluation_failures(), 0u);
  for (const char* name : {"x", "y", "z"}) {
    promql::Matrix got;
    promql::Matcher by_name;
    by_name.name = "__name__";
    by_name.value = name;
    store.Select({by_name}, kStart, kStart + 2 * kMin, &got);
    ASSERT_EQ(got.size(), 1u) << name;
    ASSERT_EQ(got[0].points.size(), 3u) << name;
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(got[0].points[static_cast<size_t>(k)].t, kStart + k * kMin) << name;
      EXPECT_EQ(got[0].points[static_cast<size_t>(k)].v, inputs[k]) << name;
    }
  }
}

// Reloads (RuleManager::TakeOverSeries), as Prometheus's rule manager hands a group's state to
// its successor. Each manager here is made from a rule file's text over one store.
std::unique_ptr<RuleManager> ManagerOf(SeriesStore& store, const std::string& yaml) {
  ConfigErrors errors;
  auto groups = ParseRuleFileText(yaml, "rules.yml", &errors);
  EXPECT_TRUE(errors.empty()) << errors.ToString();
  RuleManagerOptions o;
  o.store = &store;
  return std::make_unique<RuleManager>(o, groups);
}

// The newest point of `name` at or before ts, if any (stale markers included).
std::optional<promql::Point> Newest(const SeriesStore& store, const std::string& name,
                                    int64_t ts) {
  promql::Matrix out;
  store.Select({{promql::Matcher::Op::kEq, "__name__", name, nullptr}}, 0, ts, &out);
  if (out.empty() || out[0].points.empty()) return std::nullopt;
  return out[0].points.back();
}

// A rule that stays goes on from its series: the one it no longer writes ends at its next
// evaluation, the one it still writes does not; a rule taken out of the group has its series
// ended after the group's rules ran, as Prometheus 2.42 does: a rule of the group reads them
// that once, and nothing from the next evaluation on.
TEST(RuleReloadTest, ARuleThatStaysGoesOnAndOneTakenOutEndsAtTheNextEvaluation) {
  SeriesStore store;
  store.AppendLabeled(Labels{{"__name__", "x"}, {"k", "a"}, {"t", "1"}}, kStart, 1);
  auto before = ManagerOf(store,
                          "groups:\n  - name: g\n    rules:\n"
                          "      - {record: 'r:sum', expr: 'sum by (k) (x)'}\n"
                          "      - {record: 'r:gone', expr: 'max(x)'}\n");
  before->EvaluateAt(kStart);
  auto after = ManagerOf(store,
                         "groups:\n  - name: g\n    rules:\n"
                         "      - {record: 'r:sum', expr: 'sum by (t) (x)'}\n"
                         "      - {record: 'r:read', expr: 'r:gone'}\n");
  after->TakeOverSeries(*before, kStart + 1);
  store.AppendLabeled(Labels{{"__name__", "x"}, {"k", "a"}, {"t", "1"}}, kStart + kMin, 1);
  after->EvaluateAt(kStart + kMin);
  promql::Matrix sums;
  store.Select({{promql::Matcher::Op::kEq, "__name__", "r:sum", nullptr}}, 0, kStart + kMin,
               &sums);
  ASSERT_EQ(sums.size(), 2u);  // {k="a"} then {t="1"}, by labels
  EXPECT_EQ(sums[0].labels.Get("k"), "a");
  EXPECT_TRUE(promql::IsStaleNaN(sums[0].points.back().v));
  EXPECT_EQ(sums[1].labels.Get("t"), "1");
  EXPECT_EQ(sums[1].points.back().v, 1);
  auto gone = Newest(store, "r:gone", kStart + kMin);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(promql::IsStaleNaN(gone->v));
  EXPECT_EQ(gone->t, kStart + kMin);
  auto read = Newest(store, "r:read", kStart + kMin);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->v, 1);  // read before the end, as in Prometheus
  after->EvaluateAt(kStart + 2 * kMin);
  read = Newest(store, "r:read", kStart + 2 * kMin);
  ASSERT_TRUE(read);
  EXPECT_TRUE(promql::IsStaleNaN(read->v)) << "r:read still read the ended r:gone";
}

// A removed group's series end two of its intervals after the reload, at the reload's time,
// unless a rule wrote them since: a rule moved to another group goes on writing its series
// without a gap; one removed for good ends. Ends not due yet pass on to the next reload.
TEST(RuleReloadTest, ARemovedGroupsSeriesEndLaterUnlessARuleMovedWritesThem) {
  SeriesStore store;
  store.AppendLabeled(Labels{{"__name__", "x"}}, kStart, 3);
  auto before = ManagerOf(store,
                          "groups:\n  - name: old\n    interval: 1m\n    rules:\n"
                          "      - {record: 'r:moved', expr: 'x'}\n"
                          "      - {record: 'r:gone', expr: 'x'}\n");
  before->EvaluateAt(kStart);
  const std::string moved =
      "groups:\n  - name: new\n    interval: 1m\n    rules:\n"
      "      - {record: 'r:moved', expr: 'x'}\n";
  auto after = ManagerOf(store, moved);
  after->TakeOverSeries(*before, kStart + 1'000);
  auto again = ManagerOf(store, moved);  // a second reload before the ends are due
  again->TakeOverSeries(*after, kStart + 2'000);
  store.AppendLabeled(Labels{{"__name__", "x"}}, kStart + kMin, 4);
  again->EvaluateAt(kStart + kMin);  // not due yet: r:gone still has its value
  EXPECT_EQ(Newest(store, "r:gone", kStart + kMin)->v, 3);
  again->EvaluateAt(kStart + 2 * kMin + 1'000);
  auto gone = Newest(store, "r:gone", kStart + 3 * kMin);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(promql::IsStaleNaN(gone->v));
  EXPECT_EQ(gone->t, kStart + 1'000);  // the first reload's time
  auto kept = Newest(store, "r:moved", kStart + 3 * kMin);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->v, 4);  // written by the moved rule since; never ended
}

// An alert whose own labels carry `alertstate` (its expression counts ALERTS by state) is
// exposed with one `alertstate`, its state, as Prometheus sets it: two labels of one name make
// the exposition invalid (`promtool check metrics`: "duplicate label names"), and a Prometheus
// scraping obsmon drops all of it.
TEST(AlertsExpositionTest, AnAlertsOwnAlertstateLabelIsReplacedByItsState) {
  SeriesStore store;
  store.AppendLabeled(Labels{{"__name__", "x"}, {"alertstate", "firing"}}, kStart, 1);
  auto m = ManagerOf(store,
                     "groups:\n  - name: g\n    rules:\n"
                     "      - {alert: ByState, expr: 'x', for: 1m}\n");
  m->EvaluateAt(kStart);  // pending: its state differs from the label it carries
  const auto families = m->Collectable()->Collect();
  ASSERT_EQ(families[0].name, "ALERTS");
  ASSERT_EQ(families[0].metric.size(), 1u);
  std::vector<std::string> names;
  std::string state;
  for (const auto& l : families[0].metric[0].label) {
    names.push_back(l.name);
    if (l.name == "alertstate") state = l.value;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alertname", "alertstate"}));
  EXPECT_EQ(state, "pending");
}

}  // namespace
}  // namespace obsmon::alerts
