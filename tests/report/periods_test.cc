// report/periods: period states, the current period, config declarations (with file:line
// errors), and the period report through the real SQLite database:
// runs, log lines, maintenance and alert history written by the real Writer and stores, read
// back into the figures worked out by hand.
#include "report/periods.h"
#include "render/report_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/alert_records.h"
#include "storage/alert_store.h"
#include "storage/storage.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

PeriodRecord P(int64_t id, int64_t start, int64_t end, int64_t stopped = 0) {
  PeriodRecord p;
  p.id = id;
  p.component = "carbon";
  p.start_ms = start;
  p.end_ms = end;
  p.stopped_ms = stopped;
  return p;
}

TEST(PeriodsTest, StatesAndEnd) {
  const auto p = P(1, kT0, kT0 + 7 * kDay);
  EXPECT_EQ(StateOf(p, kT0 - 1), PeriodState::kScheduled);
  EXPECT_EQ(StateOf(p, kT0), PeriodState::kActive);
  EXPECT_EQ(StateOf(p, kT0 + 7 * kDay - 1), PeriodState::kActive);
  EXPECT_EQ(StateOf(p, kT0 + 7 * kDay), PeriodState::kFinished);
  const auto s = P(2, kT0, kT0 + 7 * kDay, kT0 + kDay);
  EXPECT_EQ(StateOf(s, kT0 + 2 * kDay), PeriodState::kStopped);
  EXPECT_EQ(PeriodEnd(s), kT0 + kDay);
  EXPECT_EQ(PeriodEnd(p), kT0 + 7 * kDay);
}

TEST(PeriodsTest, CurrentPeriodPrefersTheActiveOne) {
  std::vector<PeriodRecord> ps = {P(1, kT0 - 20 * kDay, kT0 - 13 * kDay),
                                           P(2, kT0, kT0 + 7 * kDay),
                                           P(3, kT0 + 10 * kDay, kT0 + 17 * kDay)};
  EXPECT_EQ(CurrentPeriod(ps, kT0 + kDay)->id, 2);
  EXPECT_EQ(CurrentPeriod(ps, kT0 + 8 * kDay)->id, 2);   // latest started
  EXPECT_EQ(CurrentPeriod(ps, kT0 - 30 * kDay)->id, 1);  // next scheduled
  EXPECT_FALSE(CurrentPeriod({}, kT0).has_value());
}

TEST(PeriodsTest, ActivePeriodIsNeverAFinishedStoppedOrScheduledOne) {
  std::vector<PeriodRecord> ps = {P(1, kT0 - 20 * kDay, kT0 - 13 * kDay),
                                  P(2, kT0, kT0 + 7 * kDay),
                                  P(3, kT0 + 10 * kDay, kT0 + 17 * kDay),
                                  P(4, kT0 - 5 * kDay, kT0 + 2 * kDay, kT0 - 4 * kDay)};
  ASSERT_TRUE(ActivePeriod(ps, kT0 + kDay).has_value());
  EXPECT_EQ(ActivePeriod(ps, kT0 + kDay)->id, 2);                 // not 4: stopped
  EXPECT_FALSE(ActivePeriod(ps, kT0 - 3 * kDay).has_value());   // 4 stopped, 1 finished
  EXPECT_FALSE(ActivePeriod(ps, kT0 + 9 * kDay).has_value());   // 2 finished, 3 scheduled
  EXPECT_EQ(CurrentPeriod(ps, kT0 + 9 * kDay)->id, 2);          // what a plain report takes
  ASSERT_TRUE(ActivePeriod(ps, kT0 + 10 * kDay).has_value());
  EXPECT_EQ(ActivePeriod(ps, kT0 + 10 * kDay)->id, 3);
}

TEST(PeriodsTest, PeriodObjectiveOverridesTheComponents) {
  Objective base;
  base.latency_p95_ms = 300;
  auto p = P(1, kT0, kT0 + 3 * kDay);
  p.objective_percent = 99.9;
  p.min_coverage_percent = 95;
  Objective o = PeriodObjective(p, base);
  EXPECT_DOUBLE_EQ(o.uptime_percent, 99.9);
  EXPECT_DOUBLE_EQ(o.min_coverage_percent, 95);
  EXPECT_EQ(o.window_ms, 3 * kDay);
  EXPECT_DOUBLE_EQ(*o.latency_p95_ms, 300);
}

class PeriodReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "obsmon.db").string();
  }
  void Write(WriteBatch batch) {
    ::obsmon::testing::WriteThroughWriter(path_, clock_, std::move(batch));
  }

  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  std::string path_;
  FakeClock clock_{kT0 + 7 * kDay};
};

TEST_F(PeriodReportTest, PeriodReportReadsRunsLogsMaintenanceAndAlertsFromTheDatabase) {
  // Three days of minute runs; down 10:00-10:30 on day 2; maintenance 02:00-03:00 on day 3
  // (with an outage inside it); a critical line on day 1 and one outside the period; one alert.
  WriteBatch batch;
  const int64_t start = kT0, end = kT0 + 3 * kDay;
  for (int64_t ts = start - kMinute; ts < end + kHour; ts += kMinute) {
    bool down =
        (ts >= start + kDay + 10 * kHour && ts < start + kDay + 10 * kHour + 30 * kMinute) ||
        (ts >= start + 2 * kDay + 2 * kHour && ts < start + 2 * kDay + 2 * kHour + 20 * kMinute);
    batch.runs.push_back(MakeRun("health", ts, !down, 90 * kSecond, "status 503", 0.02));
  }
  LogEvent e;
  e.key = {"carbon", "app-log"};
  e.file = "/var/log/app.log";
  e.severity = "critical";
  e.ts_ms = start + 5 * kHour;
  e.line = "CRITICAL <b>boom</b>";
  batch.log_events.push_back(e);
  e.ts_ms = end + 10 * kMinute;
  e.line = "after the period";
  batch.log_events.push_back(e);
  Write(batch);
  int64_t id = 0;
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    PeriodRecord p = P(0, start, end);
    p.objective_percent = 99.0;
    auto added = (*store)->AddPeriod(p);
    ASSERT_TRUE(added.ok());
    id = *added;
    ASSERT_TRUE((*store)
                    ->AddMaintenance({0, "carbon", start + 2 * kDay + 2 * kHour,
                                      start + 2 * kDay + 3 * kHour, "DB upgrade", "cli", start, "", "", 0})
                    .ok());
    auto alerts = storage::AlertStore::Open(path_);
    AlertHistoryEvent a;
    a.rule = "ProbeDown";
    a.labels = Labels{{"alertname", "ProbeDown"}, {"job", "carbon"}};
    a.event = "firing";
    a.ts_ms = start + kDay + 10 * kHour + 2 * kMinute;
    AlertHistoryEvent r = a;
    r.event = "resolved";
    r.ts_ms = start + kDay + 10 * kHour + 31 * kMinute;
    ASSERT_TRUE((*alerts)->AppendHistory({a, r}).ok());
  }

  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.period_id = id;
  req.now_ms = clock_.NowMs();
  auto report = BuildPeriodReport(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const Report& r = *report;
  EXPECT_EQ(r.period_id, id);
  EXPECT_EQ(r.from_ms, start);
  EXPECT_EQ(r.to_ms, end);
  EXPECT_DOUBLE_EQ(r.objective.uptime_percent, 99.0);
  // By hand: 30 min down; the 20 min inside maintenance do not count; 1 h excluded.
  EXPECT_EQ(r.totals.down_ms, 30 * kMinute);
  EXPECT_EQ(r.totals.excluded_ms, kHour);
  EXPECT_EQ(r.budget.allowed_ms, std::llround(0.01 * (3 * kDay - kHour)));
  EXPECT_EQ(r.logs.critical, 1u);
  EXPECT_EQ(r.logs.first_critical->line, "CRITICAL <b>boom</b>");
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0].resolved_ms, start + kDay + 10 * kHour + 31 * kMinute);
  ASSERT_EQ(r.maintenance.size(), 1u);
  EXPECT_EQ(r.maintenance[0].reason, "DB upgrade");
  EXPECT_EQ(r.verdict, Verdict::kFail);  // the critical line

  // Without a period id the component's current (latest) period is used.
  req.period_id.reset();
  auto current = BuildPeriodReport(req);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->period_id, id);

  // Rendered in each format.
  for (const char* format : {"text", "markdown", "json", "html"}) {
    req.format = format;
    auto body = RenderPeriodReport(req);
    ASSERT_TRUE(body.ok()) << format;
    EXPECT_FALSE(body->body.empty());
  }
  req.format = "json";
  auto j = nlohmann::json::parse(RenderPeriodReport(req)->body);
  EXPECT_EQ(j["period_id"], id);
  EXPECT_EQ(j["maintenance"][0]["reason"], "DB upgrade");
  req.format = "pdf";
  EXPECT_TRUE(RenderPeriodReport(req).status().IsInvalidArgument());
}

// A week of an alert that flaps: the report read the first 1,000 history rows, so it listed
// and counted 500 alerts of 1,500 and said nothing of the rest; an alert that fired inside a
// maintenance window read as if it had paged (stop 69). Truth: what this test wrote.
TEST_F(PeriodReportTest, AlertsAreCountedPastTheListAndMarkedWhenTheyFiredInMaintenance) {
  const int64_t start = kT0, end = kT0 + 3 * kDay;
  WriteBatch batch;
  for (int64_t ts = start; ts < end; ts += kMinute) {
    batch.runs.push_back(MakeRun("health", ts, true, 90 * kSecond, "", 0.02));
  }
  Write(batch);
  const int64_t maint_from = start + kDay, maint_to = start + kDay + kHour;
  int written_alerts = 0;
  int64_t in_maintenance_at = 0;
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddPeriod(P(0, start, end)).ok());
    ASSERT_TRUE((*store)
                    ->AddMaintenance({0, "carbon", maint_from, maint_to, "kernel | <update>",
                                      "cli", start, "", "", 0})
                    .ok());
    auto alerts = storage::AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    std::vector<AlertHistoryEvent> rows;
    // 1,500 flaps of 10 s every 2 minutes, and one of 40 minutes that fires in maintenance.
    for (int i = 0; i < 1'500; ++i) {
      AlertHistoryEvent a;
      a.rule = "Flap";
      a.labels = Labels{{"alertname", "Flap"}, {"job", "carbon"}};
      a.event = "firing";
      a.ts_ms = start + i * 2 * kMinute + kSecond;
      AlertHistoryEvent r = a;
      r.event = "resolved";
      r.ts_ms = a.ts_ms + 10 * kSecond;
      rows.push_back(a);
      rows.push_back(r);
      ++written_alerts;
    }
    AlertHistoryEvent a;
    a.rule = "Upgrade";
    a.labels = Labels{{"alertname", "Upgrade"}, {"job", "carbon"}};
    a.event = "firing";
    a.ts_ms = in_maintenance_at = maint_from + 5 * kMinute;
    AlertHistoryEvent r = a;
    r.event = "resolved";
    r.ts_ms = a.ts_ms + 40 * kMinute;
    rows.push_back(a);
    rows.push_back(r);
    ++written_alerts;
    ASSERT_TRUE((*alerts)->AppendHistory(rows).ok());
  }
  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.now_ms = clock_.NowMs();
  req.max_listed = 100;
  auto report = BuildPeriodReport(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->AlertCount(), static_cast<uint64_t>(written_alerts));
  ASSERT_EQ(report->alerts.size(), 100u);
  EXPECT_EQ(report->alerts_not_listed, static_cast<uint64_t>(written_alerts - 100));
  // The longest first: the 40-minute one is listed, and marked; no flap is.
  const auto upgrade = std::find_if(report->alerts.begin(), report->alerts.end(),
                                    [](const AlertFired& f) { return f.rule == "Upgrade"; });
  ASSERT_NE(upgrade, report->alerts.end());
  ASSERT_TRUE(upgrade->maintenance.has_value());
  EXPECT_EQ(upgrade->maintenance->reason, "kernel | <update>");
  for (const AlertFired& f : report->alerts) {
    const bool inside = f.fired_ms >= maint_from && f.fired_ms < maint_to;
    EXPECT_EQ(f.maintenance.has_value(), inside) << f.rule << " at " << f.fired_ms;
  }
  req.format = "json";
  auto j = nlohmann::json::parse(RenderPeriodReport(req)->body);
  EXPECT_EQ(j["alerts_fired"].size() + j["alerts_fired_not_listed"].get<size_t>(),
            static_cast<size_t>(written_alerts));
  bool marked = false;
  for (const auto& a : j["alerts_fired"]) {
    if (a["fired_ms"] == in_maintenance_at) {
      marked = true;
      EXPECT_EQ(a["in_maintenance"]["reason"], "kernel | <update>");
    } else {
      EXPECT_TRUE(a["in_maintenance"].is_null()) << a.dump();
    }
  }
  EXPECT_TRUE(marked);
  req.format = "text";
  const std::string text = RenderPeriodReport(req)->body;
  EXPECT_NE(text.find("Alerts fired (1501, the 100 longest listed)"), std::string::npos) << text;
  EXPECT_NE(text.find("[fired in maintenance: kernel | <update>]"), std::string::npos) << text;
  req.format = "markdown";
  const std::string md = RenderPeriodReport(req)->body;
  EXPECT_NE(md.find("| Alerts fired | 1501 |"), std::string::npos) << md;
  EXPECT_NE(md.find("kernel \\| &lt;update&gt;"), std::string::npos) << md;
}

// An alert that fired in the window and resolved after its end says when it resolved: it read
// "(open)", as if it still fired, because only the window's rows were read (fresh eyes, stop
// 69). One still firing when the report is made stays open.
TEST_F(PeriodReportTest, AnAlertResolvedAfterTheWindowSaysWhen) {
  const int64_t start = kT0, end = kT0 + kDay;
  WriteBatch batch;
  for (int64_t ts = start; ts < end; ts += kMinute) {
    batch.runs.push_back(MakeRun("health", ts, true, 90 * kSecond, "", 0.02));
  }
  Write(batch);
  {
    auto alerts = storage::AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    AlertHistoryEvent a;
    a.rule = "Late";
    a.labels = Labels{{"alertname", "Late"}, {"job", "carbon"}};
    a.event = "firing";
    a.ts_ms = end - kMinute;
    AlertHistoryEvent r = a;
    r.event = "resolved";
    r.ts_ms = end + 5 * kMinute;
    AlertHistoryEvent still = a;
    still.rule = "Still";
    still.labels = Labels{{"alertname", "Still"}, {"job", "carbon"}};
    ASSERT_TRUE((*alerts)->AppendHistory({a, still, r}).ok());
  }
  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.window = TimeInterval{start, end};
  req.now_ms = clock_.NowMs();
  auto report = BuildPeriodReport(req);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->alerts.size(), 2u);
  EXPECT_EQ(report->alerts[0].rule, "Late");
  EXPECT_EQ(report->alerts[0].resolved_ms, end + 5 * kMinute);
  EXPECT_EQ(report->alerts[1].rule, "Still");
  EXPECT_FALSE(report->alerts[1].resolved_ms.has_value());
}

// Issue 15 ("one truth"): the live figures (uptime board) are the report's own figures: the
// active period while one runs, else the objective window ending now; maintenance excluded both
// ways; figures_only skips the log lines and alert history.
TEST_F(PeriodReportTest, LiveFiguresFollowTheActivePeriodElseTheObjectiveWindow) {
  WriteBatch batch;
  for (int64_t ts = kT0 - kDay; ts < kT0 + 3 * kDay; ts += kMinute) {
    const bool down = ts >= kT0 + kDay && ts < kT0 + kDay + 40 * kMinute;
    batch.runs.push_back(MakeRun("health", ts, !down, 90 * kSecond, "status 503", 0.02));
  }
  LogEvent e;
  e.key = {"carbon", "app-log"};
  e.severity = "critical";
  e.ts_ms = kT0 + kHour;
  e.line = "CRITICAL";
  batch.log_events.push_back(e);
  Write(batch);
  auto store = storage::PeriodStore::Open(path_);
  ASSERT_TRUE(store.ok());
  auto id = (*store)->AddPeriod(P(0, kT0, kT0 + 2 * kDay));
  ASSERT_TRUE(id.ok());
  // 30 of the 40 down minutes inside maintenance.
  ASSERT_TRUE((*store)
                  ->AddMaintenance({0, "carbon", kT0 + kDay + 10 * kMinute,
                                    kT0 + kDay + 2 * kHour, "upgrade", "cli", kT0, "", "", 0})
                  .ok());
  store->reset();

  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.now_ms = kT0 + kDay + 12 * kHour;
  auto full = BuildPeriodReport(req);
  req.live = true;
  req.figures_only = true;
  auto live = BuildPeriodReport(req);
  ASSERT_TRUE(full.ok() && live.ok()) << live.status().ToString();
  EXPECT_EQ(live->period_id, *id);
  EXPECT_EQ(live->from_ms, full->from_ms);
  EXPECT_EQ(live->totals.down_ms, 10 * kMinute);
  EXPECT_EQ(live->totals.down_ms, full->totals.down_ms);
  EXPECT_EQ(live->totals.coverage(), full->totals.coverage());
  EXPECT_EQ(live->budget.left_ms, full->budget.left_ms);
  EXPECT_EQ(full->logs.critical, 1u);
  EXPECT_EQ(live->logs.critical, 0u);  // not read

  // The period is over: the default report stays on it, the live figures roll on.
  req.now_ms = kT0 + 2 * kDay + 12 * kHour;
  auto after = BuildPeriodReport(req);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->period_id.has_value());
  EXPECT_EQ(after->to_ms, req.now_ms);
  EXPECT_EQ(after->from_ms, req.now_ms - req.objective.window_ms);
  EXPECT_EQ(after->totals.excluded_ms, 110 * kMinute);
}

TEST_F(PeriodReportTest, CurrentPeriodsOfEveryComponent) {
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE((*store)->AddPeriod(P(0, kT0 - 10 * kDay, kT0 - 3 * kDay)).ok());
    ASSERT_TRUE((*store)->AddPeriod(P(0, kT0, kT0 + 7 * kDay)).ok());
    PeriodRecord neo = P(0, kT0 + 9 * kDay, kT0 + 16 * kDay);
    neo.component = "neo4j";
    ASSERT_TRUE((*store)->AddPeriod(neo).ok());
  }
  auto current = CurrentPeriods(path_, kT0 + kDay);
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  ASSERT_EQ(current->size(), 2u);
  EXPECT_EQ(current->at("carbon").id, 2);
  EXPECT_EQ(current->at("neo4j").id, 3);  // scheduled
  EXPECT_TRUE(CurrentPeriods((dir_ / "none.db").string(), kT0).status().IsNotFound());
}

TEST_F(PeriodReportTest, UnknownPeriodOrOtherComponentsPeriodIsNotFound) {
  WriteBatch batch;
  batch.runs = {MakeRun("health", kT0, true, kMinute)};
  Write(batch);
  auto store = storage::PeriodStore::Open(path_);
  PeriodRecord p = P(0, kT0, kT0 + kDay);
  p.component = "neo4j";
  auto id = (*store)->AddPeriod(p);
  ASSERT_TRUE(id.ok());
  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.now_ms = kT0 + kDay;
  req.period_id = *id;
  EXPECT_TRUE(BuildPeriodReport(req).status().IsNotFound());
  req.period_id = *id + 7;
  EXPECT_TRUE(BuildPeriodReport(req).status().IsNotFound());
  req.db_path = (dir_ / "missing.db").string();
  EXPECT_TRUE(BuildPeriodReport(req).status().IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(req.db_path));  // not created by the attempt
}

}  // namespace
}  // namespace obsmon
