// storage/alert_store: the SQLite side of alert persistence and the outbox, including a restart
// of the rule manager against the same database file.
#include "storage/alert_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "alerts/rule_manager.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::storage {
namespace {

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "obsmon.db").string();
  }
  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  std::string path_;
};

TEST_F(AlertStoreTest, SavesAndLoadsAlerts) {
  Alert a;
  a.group_key = "rules.yml;carbon";
  a.rule = "CarbonComponentDown";
  a.labels = Labels{{"alertname", "CarbonComponentDown"}, {"instance", "c:1"}};
  a.annotations = Labels{{"summary", "down \"quoted\""}};
  a.state = AlertState::kFiring;
  a.value = 0;
  a.active_at_ms = 1000;
  a.fired_at_ms = 121000;
  a.last_sent_at_ms = 121000;
  {
    auto s = AlertStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE((*s)->SaveAlerts(a.group_key, a.rule, {a}).ok());
    Alert b = a;
    b.rule = "Other";
    b.value = std::nan("");
    ASSERT_TRUE((*s)->SaveAlerts(a.group_key, "Other", {b}).ok());
    // Saving again replaces that rule's set.
    ASSERT_TRUE((*s)->SaveAlerts(a.group_key, "Other", {}).ok());
  }
  auto s = AlertStore::Open(path_);
  ASSERT_TRUE(s.ok());
  auto loaded = (*s)->LoadAlerts();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 1u);
  const Alert& l = (*loaded)[0];
  EXPECT_EQ(l.labels, a.labels);
  EXPECT_EQ(l.annotations, a.annotations);
  EXPECT_EQ(l.state, AlertState::kFiring);
  EXPECT_EQ(l.active_at_ms, 1000);
  EXPECT_EQ(l.fired_at_ms, 121000);
  EXPECT_EQ(l.last_sent_at_ms, 121000);
}

TEST_F(AlertStoreTest, HistoryInTimeOrderWithinWindow) {
  auto s = AlertStore::Open(path_);
  ASSERT_TRUE(s.ok());
  AlertHistoryEvent e;
  e.rule = "A";
  e.labels = Labels{{"alertname", "A"}};
  e.event = "firing";
  e.ts_ms = 2000;
  AlertHistoryEvent r = e;
  r.event = "resolved";
  r.ts_ms = 5000;
  ASSERT_TRUE((*s)->AppendHistory({e, r}).ok());
  auto all = (*s)->History(0, 10000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].event, "firing");
  EXPECT_EQ((*all)[1].event, "resolved");
  EXPECT_EQ((*s)->History(2001, 5000)->size(), 0u);  // [from, to)
}

TEST_F(AlertStoreTest, SeriesEndsRoundTripArePrunedAndReadWithinTheirRange) {
  auto s = AlertStore::Open(path_);
  ASSERT_TRUE(s.ok());
  const Labels up{{"__name__", "up"}, {"job", "web"}};
  const Labels stuck{{"__name__", "queue_stuck"}, {"q", "a b\"c"}};
  const int64_t t = 1'700'000'000'000;
  ASSERT_TRUE((*s)->SaveSeriesEnds({{up, t}, {stuck, t + 500}}).ok());
  auto ends = (*s)->SeriesEnds(t, t + 1000);
  ASSERT_TRUE(ends.ok()) << ends.status().ToString();
  ASSERT_EQ(ends->size(), 2u);
  EXPECT_EQ((*ends)[0].labels, up);
  EXPECT_EQ((*ends)[0].ts_ms, t);
  EXPECT_EQ((*ends)[1].labels, stuck);
  // Both ends of the range count; later ends (a clock that was ahead) are left out.
  EXPECT_EQ((*s)->SeriesEnds(t + 500, t + 500)->size(), 1u);
  EXPECT_EQ((*s)->SeriesEnds(t, t + 499)->size(), 1u);
  // A save drops what is more than kSeriesEndsKeepMs older than its newest end.
  ASSERT_TRUE((*s)->SaveSeriesEnds({{up, t + AlertStore::kSeriesEndsKeepMs + 1}}).ok());
  auto kept = (*s)->SeriesEnds(0, INT64_MAX);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 2u);  // t is gone, t + 500 is not
  EXPECT_EQ((*kept)[0].ts_ms, t + 500);
  // The table keeps at most kMaxSeriesEnds rows, the newest.
  std::vector<SeriesEnd> many;
  for (int64_t i = 0; i < AlertStore::kMaxSeriesEnds + 10; ++i) many.push_back({up, t + 1000 + i});
  ASSERT_TRUE((*s)->SaveSeriesEnds(many).ok());
  auto capped = (*s)->SeriesEnds(0, INT64_MAX);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(static_cast<int64_t>(capped->size()), AlertStore::kMaxSeriesEnds);
  EXPECT_EQ(capped->back().ts_ms, t + 1000 + AlertStore::kMaxSeriesEnds + 9);
}

TEST_F(AlertStoreTest, OutboxRowsRoundTrip) {
  auto s = AlertStore::Open(path_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*(*s)->NextAttempt(), std::nullopt);  // empty: the dispatcher sleeps its idle poll
  std::vector<OutboxEntry> rows(2);
  rows[0].receiver = "am";
  rows[0].payload = "[1]";
  rows[0].next_attempt_ms = 100;
  rows[1].receiver = "hook";
  rows[1].payload = "{}";
  rows[1].next_attempt_ms = 200;
  ASSERT_TRUE((*s)->Enqueue(&rows).ok());
  EXPECT_GT(rows[1].id, rows[0].id);
  EXPECT_EQ((*s)->Due(150, 10)->size(), 1u);
  EXPECT_EQ(*(*s)->NextAttempt(), 100);
  ASSERT_TRUE((*s)->Reschedule(rows[0].id, 3, 1000, "status 503").ok());
  EXPECT_EQ(*(*s)->NextAttempt(), 200);
  EXPECT_EQ((*s)->Due(500, 10)->size(), 1u);
  auto due = (*s)->Due(1000, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].attempts, 3);
  EXPECT_EQ((*due)[0].last_error, "status 503");
  ASSERT_TRUE((*s)->Remove(rows[0].id).ok());
  EXPECT_EQ(*(*s)->Pending(), 1);
  EXPECT_TRUE((*s)->Reschedule(9999, 1, 1, "").IsNotFound());
}

// Rows of one receiver come out in the order they were made: while its oldest row waits for a
// retry, its later rows wait too (issue 14, item 2); other receivers are not held up.
TEST_F(AlertStoreTest, DueKeepsEachReceiversRowsInOrder) {
  auto s = AlertStore::Open(path_);
  ASSERT_TRUE(s.ok());
  std::vector<OutboxEntry> rows(4);
  const char* receivers[] = {"am", "am", "hook", "am"};
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].receiver = receivers[i];
    rows[i].payload = std::to_string(i);
    rows[i].next_attempt_ms = 100;
  }
  ASSERT_TRUE((*s)->Enqueue(&rows).ok());
  ASSERT_EQ((*s)->Due(100, 10)->size(), 4u);
  ASSERT_TRUE((*s)->Reschedule(rows[0].id, 1, 1000, "status 503").ok());
  auto due = (*s)->Due(500, 10);
  ASSERT_EQ(due->size(), 1u);  // am's rows 1 and 3 wait behind row 0
  EXPECT_EQ((*due)[0].receiver, "hook");
  due = (*s)->Due(1000, 10);
  ASSERT_EQ(due->size(), 4u);
  EXPECT_EQ((*due)[0].payload, "0");
  EXPECT_EQ((*due)[1].payload, "1");
  // A later row not yet due holds the ones after it, not the ones before it.
  ASSERT_TRUE((*s)->Reschedule(rows[1].id, 1, 2000, "status 503").ok());
  due = (*s)->Due(1000, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].payload, "0");
  EXPECT_EQ((*due)[1].payload, "2");
}

TEST_F(AlertStoreTest, PendingForTimerSurvivesRestartThroughSqlite) {
  const char* rules = R"(
groups:
  - name: carbon
    rules:
      - alert: CarbonComponentDown
        expr: up{job="tta-staging-carbon"} == 0
        for: 2m
)";
  ConfigErrors errors;
  auto groups = alerts::ParseRuleFileText(rules, "rules.yml", &errors);
  ASSERT_TRUE(errors.empty());
  FakeClock clock(1'760'400'000'000);
  alerts::SeriesStore series;
  auto up0 = [&] {
    series.Append(
        Sample{"up", Labels{{"job", "tta-staging-carbon"}, {"instance", "c"}}, clock.NowMs(), 0});
  };
  const int64_t t0 = clock.NowMs();
  {
    auto store = AlertStore::Open(path_);
    ASSERT_TRUE(store.ok());
    alerts::RuleManagerOptions o;
    o.clock = &clock;
    o.store = &series;
    o.state_store = store->get();
    alerts::RuleManager m(o, groups);
    up0();
    m.Tick();
    ASSERT_EQ(m.ActiveAlerts().size(), 1u);
  }
  clock.Advance(60'000);
  auto store = AlertStore::Open(path_);
  ASSERT_TRUE(store.ok());
  alerts::RuleManagerOptions o;
  o.clock = &clock;
  o.store = &series;
  o.state_store = store->get();
  alerts::RuleManager m(o, groups);
  ASSERT_TRUE(m.RestoreState().ok());
  ASSERT_EQ(m.ActiveAlerts().size(), 1u);
  EXPECT_EQ(m.ActiveAlerts()[0].active_at_ms, t0);
  up0();
  m.Tick();
  EXPECT_EQ(m.ActiveAlerts()[0].state, AlertState::kPending);
  clock.Advance(60'000);
  up0();
  m.Tick();  // t0 + 2m: fires, counting from before the restart
  EXPECT_EQ(m.ActiveAlerts()[0].state, AlertState::kFiring);
  auto h = (*store)->History(0, INT64_MAX);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].fired_at_ms, t0 + 120'000);
}

}  // namespace
}  // namespace obsmon::storage
