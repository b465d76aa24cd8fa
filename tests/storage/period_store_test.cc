// PeriodStore on real SQLite files: periods and maintenance survive reopening (a restart), one
// running period per component, stop, config declarations are idempotent, alert history is
// filtered by component.
#include "storage/period_store.h"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "core/alert_records.h"
#include "storage/alert_store.h"
#include "storage/migrations.h"
#include "tests/support/maintenance_window.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::storage {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;

using testing::Window;

class PeriodStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "obsmon.db").string();
  }
  std::unique_ptr<PeriodStore> Open() {
    auto s = PeriodStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static PeriodRecord Period(const std::string& c, int64_t start, int days = 7) {
    PeriodRecord p;
    p.component = c;
    p.start_ms = start;
    p.end_ms = start + days * kDay;
    p.created_ms = start;
    return p;
  }

  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  std::string path_;
};

TEST_F(PeriodStoreTest, PeriodsSurviveReopenWithEveryField) {
  int64_t id = 0;
  {
    auto store = Open();
    PeriodRecord p = Period("carbon", kT0);
    p.objective_percent = 99.9;
    p.min_coverage_percent = 98;
    p.latency_p95_ms = 250;
    p.degradation_tolerance = 0.1;
    p.note = "promotion #12";
    auto added = store->AddPeriod(p);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    id = *added;
  }
  auto store = Open();  // a restart
  auto p = store->Period(id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->component, "carbon");
  EXPECT_EQ(p->start_ms, kT0);
  EXPECT_EQ(p->end_ms, kT0 + 7 * kDay);
  EXPECT_EQ(p->stopped_ms, 0);
  EXPECT_DOUBLE_EQ(p->objective_percent, 99.9);
  EXPECT_DOUBLE_EQ(p->min_coverage_percent, 98);
  ASSERT_TRUE(p->latency_p95_ms.has_value());
  EXPECT_DOUBLE_EQ(*p->latency_p95_ms, 250);
  EXPECT_DOUBLE_EQ(p->degradation_tolerance, 0.1);
  EXPECT_EQ(p->source, "cli");
  EXPECT_EQ(p->note, "promotion #12");
  EXPECT_TRUE(store->Period(id + 100).status().IsNotFound());
}

TEST_F(PeriodStoreTest, OverlappingPeriodOfTheSameComponentIsRefused) {
  auto store = Open();
  ASSERT_TRUE(store->AddPeriod(Period("carbon", kT0)).ok());
  auto overlap = store->AddPeriod(Period("carbon", kT0 + 3 * kDay));
  EXPECT_TRUE(overlap.status().IsInvalidArgument());
  EXPECT_NE(overlap.status().message().find("overlapping"), std::string::npos);
  // Another component, or the same one right after the end, is fine.
  EXPECT_TRUE(store->AddPeriod(Period("neo4j", kT0 + 3 * kDay)).ok());
  EXPECT_TRUE(store->AddPeriod(Period("carbon", kT0 + 7 * kDay)).ok());
  auto all = store->Periods("carbon");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].start_ms, kT0 + 7 * kDay);  // newest first
  EXPECT_EQ(store->Periods()->size(), 3u);
}

TEST_F(PeriodStoreTest, BadPeriodsAreInvalidArguments) {
  auto store = Open();
  PeriodRecord p = Period("carbon", kT0);
  p.end_ms = p.start_ms;
  EXPECT_TRUE(store->AddPeriod(p).status().IsInvalidArgument());
  p = Period("carbon", kT0);
  p.objective_percent = 0;
  EXPECT_TRUE(store->AddPeriod(p).status().IsInvalidArgument());
  p.objective_percent = 100.5;
  EXPECT_TRUE(store->AddPeriod(p).status().IsInvalidArgument());
}

TEST_F(PeriodStoreTest, StopEndsTheRunningPeriodAndFreesTheComponent) {
  auto store = Open();
  ASSERT_TRUE(store->AddPeriod(Period("carbon", kT0)).ok());
  auto stopped = store->StopPeriod("carbon", kT0 + 2 * kDay);
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(stopped->stopped_ms, kT0 + 2 * kDay);
  EXPECT_EQ(store->Periods("carbon")->at(0).stopped_ms, kT0 + 2 * kDay);
  // Nothing left to stop; a new period may start after the stop.
  EXPECT_TRUE(store->StopPeriod("carbon", kT0 + 2 * kDay + 1).status().IsNotFound());
  EXPECT_TRUE(store->AddPeriod(Period("carbon", kT0 + 2 * kDay)).ok());
  EXPECT_TRUE(store->StopPeriod("unknown", kT0).status().IsNotFound());
}

TEST_F(PeriodStoreTest, DeclaredPeriodsAndWindowsAreStoredOnce) {
  auto store = Open();
  PeriodRecord p = Period("carbon", kT0);
  MaintenanceRecord m =
      Window("carbon", kT0 + kDay, kT0 + kDay + 3'600'000, "DB upgrade", "cli", kT0);
  for (int i = 0; i < 3; ++i) {  // three restarts
    auto id = store->EnsureDeclaredPeriod(p);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(store->EnsureDeclaredMaintenance(m).ok());
  }
  auto periods = store->Periods("carbon");
  ASSERT_EQ(periods->size(), 1u);
  EXPECT_EQ((*periods)[0].source, "config");
  auto windows = store->Maintenance("carbon", kT0, kT0 + 7 * kDay);
  ASSERT_EQ(windows->size(), 1u);
  EXPECT_EQ((*windows)[0].source, "config");
  EXPECT_EQ((*windows)[0].reason, "DB upgrade");
}

TEST_F(PeriodStoreTest, MaintenanceIsSelectedByOverlapAndComponent) {
  auto store = Open();
  auto add = [&](const std::string& c, int64_t s, int64_t e) {
    ASSERT_TRUE(store->AddMaintenance(Window(c, s, e, "r", "cli", kT0)).ok());
  };
  add("carbon", kT0 - 2 * kDay, kT0 - kDay);        // before
  add("carbon", kT0 - 3'600'000, kT0 + 3'600'000);  // straddles the start
  add("carbon", kT0 + kDay, kT0 + kDay + 1);        // inside
  add("neo4j", kT0 + kDay, kT0 + 2 * kDay);         // other component
  add("carbon", kT0 + 7 * kDay, kT0 + 8 * kDay);    // touches the end: outside [from, to)
  auto w = store->Maintenance("carbon", kT0, kT0 + 7 * kDay);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].start_ms, kT0 - 3'600'000);
  EXPECT_EQ((*w)[1].start_ms, kT0 + kDay);
  EXPECT_EQ(store->Maintenance("", INT64_MIN, INT64_MAX)->size(), 5u);
  EXPECT_TRUE(
      store->AddMaintenance(Window("carbon", kT0, kT0, "", "cli", 0)).status().IsInvalidArgument());
}

TEST_F(PeriodStoreTest, WindowsAreEditedAndDeletedById) {
  auto store = Open();
  auto id = store->AddMaintenance(Window("carbon", kT0, kT0 + 3'600'000, "first", "cli", kT0));
  ASSERT_TRUE(id.ok());
  auto other =
      store->AddMaintenance(Window("carbon", kT0 + kDay, kT0 + kDay + 60'000, "x", "cli", kT0));
  ASSERT_TRUE(other.ok());
  MaintenanceRecord m = *store->MaintenanceWindow(*id);
  m.end_ms = kT0 + 2 * 3'600'000;
  m.reason = "longer";
  ASSERT_TRUE(store->UpdateMaintenance(m).ok());
  auto reopened = Open();  // another process sees it
  auto read = reopened->MaintenanceWindow(*id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->end_ms, kT0 + 2 * 3'600'000);
  EXPECT_EQ(read->reason, "longer");
  EXPECT_EQ(read->created_ms, kT0);
  m.end_ms = m.start_ms;
  EXPECT_TRUE(store->UpdateMaintenance(m).IsInvalidArgument());
  m.id = 999;
  m.end_ms = kT0 + 1;
  EXPECT_TRUE(store->UpdateMaintenance(m).IsNotFound());

  auto deleted = store->DeleteMaintenance(*id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->reason, "longer");
  EXPECT_TRUE(store->MaintenanceWindow(*id).status().IsNotFound());
  EXPECT_TRUE(store->DeleteMaintenance(*id).status().IsNotFound());
  auto left = store->MaintenanceWindows("carbon");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, *other);
  // The highest id deleted, then a new window: it gets a new id, so a retried delete of the old
  // one finds nothing rather than deleting the new one.
  ASSERT_TRUE(store->DeleteMaintenance(*other).ok());
  auto next = store->AddMaintenance(Window("carbon", kT0, kT0 + 60'000, "next", "cli", kT0));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, *other);
  EXPECT_TRUE(store->DeleteMaintenance(*other).status().IsNotFound());
  EXPECT_TRUE(store->MaintenanceWindow(*next).ok());
}

TEST_F(PeriodStoreTest, RecurringWindowsAreExpandedWhereverWindowsAreRead) {
  auto store = Open();
  // Every Sunday 02:00 Berlin time for 2 h, occurrences starting from 2026-03-20 on.
  const int64_t kMar20 = 1'773'964'800'000;  // 2026-03-20T00:00:00Z
  MaintenanceRecord weekly =
      Window("carbon", kMar20, kMaintenanceNoEndMs, "backups", "cli", kMar20);
  weekly.recurrence = "weekly sun 02:00";
  weekly.time_zone = "Europe/Berlin";
  weekly.duration_ms = 2 * 3'600'000;
  auto id = store->AddMaintenance(weekly);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(store
                  ->AddMaintenance(Window("carbon", kMar20 + kDay, kMar20 + kDay + 1000, "one-off",
                                          "cli", kMar20))
                  .ok());
  // 2026-03-22 02:00 CET = 01:00 UTC; 2026-03-29 (DST starts) 01:00 UTC; 2026-04-05 00:00 UTC.
  auto w = store->Maintenance("carbon", kMar20, kMar20 + 17 * kDay);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 4u);
  EXPECT_EQ((*w)[0].reason, "one-off");
  EXPECT_EQ((*w)[1].start_ms, kMar20 + 2 * kDay + 3'600'000);
  EXPECT_EQ((*w)[2].start_ms, kMar20 + 9 * kDay + 3'600'000);
  EXPECT_EQ((*w)[3].start_ms, kMar20 + 16 * kDay);
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ((*w)[i].id, *id);
    EXPECT_EQ((*w)[i].end_ms - (*w)[i].start_ms, 2 * 3'600'000);
    EXPECT_EQ((*w)[i].reason, "backups");
  }
  // Not before its own start; an occurrence in progress at `from` is included.
  EXPECT_TRUE(store->Maintenance("carbon", kMar20 - 30 * kDay, kMar20)->empty());
  auto mid = store->Maintenance("carbon", kMar20 + 2 * kDay + 2 * 3'600'000,
                                kMar20 + 2 * kDay + 2 * 3'600'000 + 1);
  ASSERT_EQ(mid->size(), 1u);
  // The rule itself is listed once.
  ASSERT_EQ(store->MaintenanceWindows("carbon")->size(), 2u);
  // Declared (config) recurring windows are idempotent too.
  MaintenanceRecord declared = weekly;
  declared.start_ms = 0;
  ASSERT_TRUE(store->EnsureDeclaredMaintenance(declared).ok());
  ASSERT_TRUE(store->EnsureDeclaredMaintenance(declared).ok());
  EXPECT_EQ(store->MaintenanceWindows("carbon")->size(), 3u);
  // A bad recurrence, a duration of a week or more, or a one-off with a duration is refused.
  MaintenanceRecord bad = weekly;
  bad.recurrence = "weekly sun 25:00";
  EXPECT_TRUE(store->AddMaintenance(bad).status().IsInvalidArgument());
  bad = weekly;
  bad.duration_ms = 7 * kDay;
  EXPECT_TRUE(store->AddMaintenance(bad).status().IsInvalidArgument());
  bad = Window("carbon", kT0, kT0 + 1, "", "cli", 0);
  bad.duration_ms = 5;
  EXPECT_TRUE(store->AddMaintenance(bad).status().IsInvalidArgument());
  // An unbounded read of a recurring window is refused, not cut short.
  EXPECT_TRUE(store->Maintenance("", INT64_MIN, INT64_MAX).status().IsInvalidArgument());
}

// A report of a database written before recurring windows (schema one step older), opened
// read-only and so not migrated, still reads its windows.
TEST_F(PeriodStoreTest, ReadOnlyStoreReadsWindowsOfTheOlderSchema) {
  ASSERT_TRUE(Open()->AddMaintenance(Window("carbon", kT0, kT0 + 1000, "old", "cli", kT0)).ok());
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE maintenance DROP COLUMN recurrence");
    db.exec("ALTER TABLE maintenance DROP COLUMN time_zone");
    db.exec("ALTER TABLE maintenance DROP COLUMN duration_ms");
    db.exec("PRAGMA user_version = " + std::to_string(LatestSchemaVersion() - 1));
  }
  auto ro = PeriodStore::OpenReadOnly(path_);
  ASSERT_TRUE(ro.ok());
  auto w = (*ro)->Maintenance("carbon", kT0, kT0 + kDay);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].reason, "old");
  EXPECT_FALSE((*w)[0].recurring());
}

// A report of a database written before history rows recorded their component (one step
// older), opened read-only and so not migrated, tells them by its config.
TEST_F(PeriodStoreTest, ReadOnlyStoreReadsAlertHistoryOfTheOlderSchema) {
  {
    auto alerts = AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    AlertHistoryEvent e;
    e.rule = "Ours";
    e.labels = Labels{{"job", "corrjob"}};
    e.event = "firing";
    e.ts_ms = kT0 + 1;
    AlertHistoryEvent other = e;
    other.rule = "Theirs";
    other.labels = Labels{{"job", "elsewhere"}};
    ASSERT_TRUE((*alerts)->AppendHistory({e, other}).ok());
  }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE alert_history DROP COLUMN component");
    db.exec("PRAGMA user_version = " + std::to_string(LatestSchemaVersion() - 1));
  }
  auto ro = PeriodStore::OpenReadOnly(path_);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  const AlertComponents components(std::vector<AlertComponents::Component>{{"corr", "corrjob"}});
  auto rows = (*ro)->AlertHistory("corr", components, kT0, kT0 + kDay);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].rule, "Ours");
}

TEST_F(PeriodStoreTest, AlertHistoryOfOneComponent) {
  {
    auto alerts = AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    auto event = [](const std::string& ev, int64_t ts, const std::string& component) {
      AlertHistoryEvent e;
      e.group_key = "rules.yml;carbon";
      e.rule = "ProbeDown";
      e.labels = Labels{{"alertname", "ProbeDown"}, {"component", component}};
      e.annotations = Labels{{"summary", component + " is down"}};
      e.event = ev;
      e.ts_ms = ts;
      return e;
    };
    ASSERT_TRUE((*alerts)
                    ->AppendHistory(
                        {event("firing", kT0 + 10, "carbon"), event("firing", kT0 + 20, "carbon-2"),
                         event("resolved", kT0 + 30, "carbon"), event("firing", kT0 - 5, "carbon")})
                    .ok());
  }
  auto store = Open();
  const AlertComponents carbon(
      std::vector<AlertComponents::Component>{{"carbon", "tta-staging-carbon"}});
  auto rows = store->AlertHistory("carbon", carbon, kT0, kT0 + kDay);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);  // not carbon-2, not before the window
  EXPECT_EQ((*rows)[0].event, "firing");
  EXPECT_EQ((*rows)[0].summary, "carbon is down");
  EXPECT_EQ((*rows)[1].event, "resolved");
  EXPECT_EQ((*rows)[1].ts_ms, kT0 + 30);
}

// A component's alerts are told as the maintenance suppression tells them
// (core/alert_component.h). A reviewer's `up{job="corrjob"} == 0` fired and resolved twice for
// component `corr` of job `corrjob`, and its report listed none; a second found the first fix
// listing another component's alerts where the suppression gave them elsewhere (stop 67).
TEST_F(PeriodStoreTest, AlertHistoryTellsAComponentsAlertsByItsJob) {
  {
    auto alerts = AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    auto event = [](int64_t ts, Labels labels) {
      AlertHistoryEvent e;
      e.group_key = "rules.yml;g";
      e.rule = labels.Get("alertname");
      e.labels = std::move(labels);
      e.event = "firing";
      e.ts_ms = ts;
      return e;
    };
    ASSERT_TRUE(
        (*alerts)
            ->AppendHistory({
                event(kT0 + 1, Labels{{"alertname", "ByJob"}, {"job", "corrjob"}}),
                event(kT0 + 2, Labels{{"alertname", "ByName"}, {"job", "corr"}}),
                event(kT0 + 3, Labels{{"alertname", "ByComponent"}, {"component", "corr"}}),
                // The component label decides: another component's alert of the same job.
                event(kT0 + 4, Labels{{"alertname", "Other"}, {"component", "db"},
                                      {"job", "corrjob"}}),
                event(kT0 + 5, Labels{{"alertname", "OtherJob"}, {"job", "corrjob-2"}}),
                // Component w's job is "web": not the component named web.
                event(kT0 + 6, Labels{{"alertname", "OfW"}, {"job", "web"}}),
                // A job two components share is neither's.
                event(kT0 + 7, Labels{{"alertname", "Shared"}, {"job", "shared"}}),
            })
            .ok());
  }
  auto store = Open();
  const AlertComponents components({{"corr", "corrjob"}, {"web", "web-staging"}, {"w", "web"},
                                    {"a1", "shared"}, {"a2", "shared"}});
  const auto rules_of = [&](const std::string& component, const AlertComponents& of) {
    auto rows = store->AlertHistory(component, of, kT0, kT0 + kDay);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<std::string> rules;
    if (rows.ok()) {
      for (const auto& r : *rows) rules.push_back(r.rule);
    }
    return rules;
  };
  using Rules = std::vector<std::string>;
  EXPECT_EQ(rules_of("corr", components), (Rules{"ByJob", "ByName", "ByComponent"}));
  EXPECT_EQ(rules_of("w", components), (Rules{"OfW"}));
  EXPECT_EQ(rules_of("web", components), (Rules{}));
  EXPECT_EQ(rules_of("a1", components), (Rules{}));
  // Without the config (`obsmon report --db`): the component alone, its name in either label.
  const AlertComponents alone(std::vector<AlertComponents::Component>{{"corr", ""}});
  EXPECT_EQ(rules_of("corr", alone), (Rules{"ByName", "ByComponent"}));
}

// Since stop 69 a row records the component its alert was of when it was written: that decides,
// whatever the config of the report says (a job renamed since, no config at all); a row written
// before says nothing (NULL) and is told by the config as above. Every `resolved` row is read:
// the report's pairing closes an alert with it only where one is open.
TEST_F(PeriodStoreTest, AlertHistoryTellsARowByTheComponentItRecorded) {
  {
    auto alerts = AlertStore::Open(path_);
    ASSERT_TRUE(alerts.ok());
    auto event = [](int64_t ts, const std::string& rule, Labels labels,
                    std::optional<std::string> component, const std::string& ev = "firing") {
      AlertHistoryEvent e;
      e.group_key = "rules.yml;g";
      e.rule = rule;
      e.labels = std::move(labels);
      e.event = ev;
      e.ts_ms = ts;
      e.component = std::move(component);
      return e;
    };
    ASSERT_TRUE(
        (*alerts)
            ->AppendHistory({
                // Of corr when it fired, by a job the config no longer gives it.
                event(kT0 + 1, "OldJob", Labels{{"job", "corr-old"}}, "corr"),
                // Resolved after the rename: the row says no component; read all the same.
                event(kT0 + 2, "OldJob", Labels{{"job", "corr-old"}}, "", "resolved"),
                // Of no component when it fired, though the config now gives its job to corr.
                event(kT0 + 3, "WasNobodys", Labels{{"job", "corrjob"}}, ""),
                // Of another component when it fired.
                event(kT0 + 4, "WasDbs", Labels{{"component", "corr"}}, "db"),
                // Written before stop 69: told by the config.
                event(kT0 + 5, "Older", Labels{{"job", "corrjob"}}, std::nullopt),
                event(kT0 + 6, "OlderOther", Labels{{"job", "elsewhere"}}, std::nullopt),
            })
            .ok());
  }
  auto store = Open();
  const AlertComponents components({{"corr", "corrjob"}, {"db", "db"}});
  std::vector<std::string> rules;
  ASSERT_TRUE(store
                  ->ForEachAlertHistory("corr", components, kT0, kT0 + kDay, kT0 + kDay,
                                        [&](AlertHistoryRow&& r) {
                                          rules.push_back(r.rule + ":" + r.event);
                                          return true;
                                        })
                  .ok());
  EXPECT_EQ(rules, (std::vector<std::string>{"OldJob:firing", "OldJob:resolved", "Older:firing"}));
  // Without the config: the recorded component still decides.
  rules.clear();
  const AlertComponents alone(std::vector<AlertComponents::Component>{{"corr", ""}});
  ASSERT_TRUE(store
                  ->ForEachAlertHistory("corr", alone, kT0, kT0 + kDay, kT0 + kDay,
                                        [&](AlertHistoryRow&& r) {
                                          rules.push_back(r.rule + ":" + r.event);
                                          return true;
                                        })
                  .ok());
  EXPECT_EQ(rules, (std::vector<std::string>{"OldJob:firing", "OldJob:resolved"}));
}

// Reports open the store read-only: they read what a writer stored, cannot write, and never
// create a database where there is none.
TEST_F(PeriodStoreTest, ReadOnlyStoreReadsButNeverWritesOrCreates) {
  EXPECT_TRUE(PeriodStore::OpenReadOnly(path_).status().IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(path_));
  int64_t id = 0;
  {
    auto store = Open();
    auto added = store->AddPeriod(Period("carbon", kT0));
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    id = *added;
  }
  auto ro = PeriodStore::OpenReadOnly(path_);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  auto p = (*ro)->Period(id);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->component, "carbon");
  auto refused = (*ro)->AddPeriod(Period("other", kT0));
  EXPECT_FALSE(refused.ok());
  auto all = (*ro)->Periods();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

}  // namespace
}  // namespace obsmon::storage
