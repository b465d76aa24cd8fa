// The observe / maintenance / rules commands as plain functions over a temporary database and a
// fake clock: what they print, their exit codes, and what they store (read back through the
// store, not through the command under test).
#include "cmd/obsmon/cli_periods.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/period_store.h"
#include "storage/storage.h"
#include "tests/support/maintenance_window.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z

using testing::Window;

class CliPeriodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_ / "obsmon.db").string();
    target_.db_path = db_;
  }
  // Successful minute runs of carbon/http over [from, to), stored through the real writer.
  void WriteMinuteRuns(int64_t from, int64_t to) {
    WriteBatch batch;
    for (int64_t ts = from; ts < to; ts += 60'000) {
      ProbeRun r;
      r.key = {"carbon", "http"};
      r.ts_ms = ts;
      r.success = true;
      r.duration_seconds = 0.02;
      r.valid_for_ms = 90'000;
      batch.runs.push_back(r);
    }
    ::obsmon::testing::WriteThroughWriter(db_, clock_, std::move(batch));
  }
  std::vector<PeriodRecord> Stored(const std::string& component = "") {
    auto store = storage::PeriodStore::Open(db_);
    return *(*store)->Periods(component);
  }

  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  std::string db_;
  PeriodCliTarget target_;
  FakeClock clock_{kT0};
  std::ostringstream out_, err_;
};

TEST_F(CliPeriodsTest, StartListStop) {
  ObserveStartArgs a;
  a.target = target_;
  a.component = "carbon";
  ASSERT_EQ(CmdObserveStart(a, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "observation period #1 of carbon: 2025-10-14 00:00:00 -> 2025-10-21 00:00:00 UTC "
            "(7 days, objective 99.5 %, error budget 50m 24s)\n");
  auto stored = Stored("carbon");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].start_ms, kT0);
  EXPECT_EQ(stored[0].end_ms, kT0 + 7 * kDay);
  EXPECT_EQ(stored[0].source, "cli");

  // A second one while it runs is refused, naming the running one.
  out_.str("");
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("already has observation period #1"), std::string::npos) << err_.str();

  clock_.Advance(2 * kDay);
  out_.str("");
  ASSERT_EQ(CmdObserveList(target_, "", clock_, out_, err_), 0);
  EXPECT_NE(out_.str().find("   1  carbon                active     2025-10-14 00:00:00  "
                            "2025-10-21 00:00:00     99.5 %  cli"),
            std::string::npos)
      << out_.str();

  out_.str("");
  ASSERT_EQ(CmdObserveStop(target_, "carbon", clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(Stored("carbon")[0].stopped_ms, kT0 + 2 * kDay);
  EXPECT_EQ(CmdObserveStop(target_, "carbon", clock_, out_, err_), 1);
}

TEST_F(CliPeriodsTest, StartWithOptions) {
  ObserveStartArgs a;
  a.target = target_;
  a.component = "neo4j";
  a.days = 3;
  a.objective_percent = 99.9;
  a.latency_p95 = "250ms";
  a.start = "2025-10-15T12:00:00Z";
  ASSERT_EQ(CmdObserveStart(a, clock_, out_, err_), 0) << err_.str();
  auto p = Stored("neo4j").at(0);
  EXPECT_EQ(p.start_ms, kT0 + kDay + kDay / 2);
  EXPECT_EQ(p.end_ms, p.start_ms + 3 * kDay);
  EXPECT_DOUBLE_EQ(p.objective_percent, 99.9);
  EXPECT_DOUBLE_EQ(*p.latency_p95_ms, 250);
  // 0.1 % of 3 days = 259.2 s.
  EXPECT_NE(out_.str().find("error budget 4m 19s"), std::string::npos) << out_.str();

  a.start = "tomorrow";
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
  a.start = "";
  a.latency_p95 = "fast";
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
  a.latency_p95 = "";
  a.days = 0;
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
}

TEST_F(CliPeriodsTest, NeitherConfigNorDbIsAUsageError) {
  ObserveStartArgs a;
  a.component = "carbon";
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("give --config FILE or --db PATH"), std::string::npos);
}

TEST_F(CliPeriodsTest, MaintenanceAddAndList) {
  ObserveStartArgs period;  // carbon is known to the database through its period
  period.target = target_;
  period.component = "carbon";
  ASSERT_EQ(CmdObserveStart(period, clock_, out_, err_), 0) << err_.str();
  out_.str("");
  MaintenanceAddArgs m;
  m.target = target_;
  m.component = "carbon";
  m.from = "2025-10-16T02:00:00Z";
  m.to = "2025-10-16T03:30:00Z";
  m.reason = "PostgreSQL | upgrade";
  ASSERT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "maintenance window #1 of carbon: 2025-10-16 02:00:00 -> 2025-10-16 03:30:00 UTC "
            "(1h 30m), excluded from uptime\n");
  auto store = storage::PeriodStore::Open(db_);
  auto w = (*store)->Maintenance("carbon", kT0, kT0 + 7 * kDay);
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].start_ms, kT0 + 2 * kDay + 2 * 3'600'000);
  EXPECT_EQ((*w)[0].reason, "PostgreSQL | upgrade");

  out_.str("");
  ASSERT_EQ(CmdMaintenanceList(target_, "", out_, err_), 0);
  EXPECT_NE(out_.str().find("carbon                2025-10-16 02:00:00  2025-10-16 03:30:00  "
                            "   1h 30m  -                               cli     "
                            "PostgreSQL | upgrade"),
            std::string::npos)
      << out_.str();

  m.to = "2025-10-16T01:00:00Z";  // before --from
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  m.to = "soon";
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
}

// Issue 15: a ten-year window was accepted silently, and with --db a misspelt component too.
TEST_F(CliPeriodsTest, MaintenanceTooLongOrOfAnUnknownComponentIsRefused) {
  MaintenanceAddArgs m;
  m.target = target_;
  m.component = "carbon";
  m.from = "2025-10-16T00:00:00Z";
  m.to = "2025-10-17T00:00:00Z";
  m.reason = "r";
  // An empty database knows no component.
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("unknown component 'carbon' (known: none)"), std::string::npos)
      << err_.str();
  ObserveStartArgs period;
  period.target = target_;
  period.component = "carbon";
  period.days = 3;
  ASSERT_EQ(CmdObserveStart(period, clock_, out_, err_), 0) << err_.str();
  err_.str("");
  m.component = "carbn";
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("unknown component 'carbn' (known: carbon)"), std::string::npos)
      << err_.str();
  // Longer than the component's 3-day period: refused, naming the flags and the bound.
  m.component = "carbon";
  m.to = "2035-10-16T00:00:00Z";
  err_.str("");
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("--from/--to: the window is 3652d 00h long, longer than observation "
                            "period #1 of carbon (3d 00h)"),
            std::string::npos)
      << err_.str();
  m.to = "2025-10-19T00:00:00Z";  // exactly 3 days: accepted
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 0) << err_.str();
  // The current period decides, even one that has ended.
  {
    auto store = storage::PeriodStore::Open(db_);
    PeriodRecord ended;
    ended.component = "neo4j";
    ended.start_ms = kT0 - 30 * kDay;
    ended.end_ms = kT0 - 29 * kDay;
    ASSERT_TRUE((*store)->AddPeriod(ended).ok());
  }
  err_.str("");
  m.component = "neo4j";
  m.to = "2025-11-17T00:00:00Z";  // 32 days; neo4j's one-day period is the bound
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("longer than observation period #"), std::string::npos) << err_.str();
}

TEST_F(CliPeriodsTest, MaintenanceEditAndDelete) {
  ObserveStartArgs period;
  period.target = target_;
  period.component = "carbon";
  ASSERT_EQ(CmdObserveStart(period, clock_, out_, err_), 0) << err_.str();
  MaintenanceAddArgs m;
  m.target = target_;
  m.component = "carbon";
  m.from = "2025-10-16T02:00:00Z";
  m.to = "2025-10-16T03:00:00Z";
  m.reason = "upgrade";
  ASSERT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 0) << err_.str();

  MaintenanceEditArgs e;
  e.target = target_;
  e.id = 1;
  e.to = "2025-10-16T04:00:00Z";
  e.reason = "upgrade, longer";
  out_.str("");
  ASSERT_EQ(CmdMaintenanceEdit(e, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "maintenance window #1 of carbon: 2025-10-16 02:00:00 -> 2025-10-16 04:00:00 UTC "
            "(2h 00m) (was: 2025-10-16 02:00:00 -> 2025-10-16 03:00:00 UTC (1h 00m))\n");
  auto stored = (*storage::PeriodStore::Open(db_))->MaintenanceWindow(1);
  EXPECT_EQ(stored->end_ms, kT0 + 2 * kDay + 4 * 3'600'000);
  EXPECT_EQ(stored->reason, "upgrade, longer");

  // Refusals name the flag: end before start, too long, recurring flags on a one-off window,
  // nothing to change, no such window.
  MaintenanceEditArgs bad;
  bad.target = target_;
  bad.id = 1;
  bad.to = "2025-10-16T01:00:00Z";
  err_.str("");
  EXPECT_EQ(CmdMaintenanceEdit(bad, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("--to: must be after --from"), std::string::npos) << err_.str();
  bad.to = "2025-12-16T01:00:00Z";
  EXPECT_EQ(CmdMaintenanceEdit(bad, clock_, out_, err_), 2);
  bad.to.reset();
  bad.duration = "2h";
  EXPECT_EQ(CmdMaintenanceEdit(bad, clock_, out_, err_), 2);
  bad.duration.reset();
  EXPECT_EQ(CmdMaintenanceEdit(bad, clock_, out_, err_), 2);
  bad.id = 7;
  bad.reason = "x";
  err_.str("");
  EXPECT_EQ(CmdMaintenanceEdit(bad, clock_, out_, err_), 1);
  EXPECT_NE(err_.str().find("no maintenance window #7"), std::string::npos) << err_.str();

  out_.str("");
  ASSERT_EQ(CmdMaintenanceDelete(target_, 1, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "deleted maintenance window #1 of carbon: 2025-10-16 02:00:00 -> 2025-10-16 "
            "04:00:00 UTC (2h 00m)\n");
  EXPECT_TRUE((*storage::PeriodStore::Open(db_))->MaintenanceWindows("carbon")->empty());
  EXPECT_EQ(CmdMaintenanceDelete(target_, 1, out_, err_), 1);

  // Windows declared in the config are changed in the config.
  MaintenanceRecord declared = Window("carbon", kT0, kT0 + 1000, "declared", "config", kT0);
  auto id = (*storage::PeriodStore::Open(db_))->EnsureDeclaredMaintenance(declared);
  ASSERT_TRUE(id.ok());
  err_.str("");
  EXPECT_EQ(CmdMaintenanceDelete(target_, *id, out_, err_), 2);
  EXPECT_NE(err_.str().find("declared in the config"), std::string::npos) << err_.str();
  e.id = *id;
  EXPECT_EQ(CmdMaintenanceEdit(e, clock_, out_, err_), 2);
}

TEST_F(CliPeriodsTest, RecurringMaintenanceAddEditList) {
  ObserveStartArgs period;
  period.target = target_;
  period.component = "carbon";
  ASSERT_EQ(CmdObserveStart(period, clock_, out_, err_), 0) << err_.str();
  MaintenanceAddArgs m;
  m.target = target_;
  m.component = "carbon";
  m.weekly = "Sun 02:00";
  m.duration = "2h";
  m.time_zone = "Europe/Berlin";
  m.reason = "backups";
  out_.str("");
  ASSERT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "maintenance window #1 of carbon: weekly sun 02:00 Europe/Berlin for 2h 00m, from "
            "2025-10-14 00:00:00 UTC, excluded from uptime\n");
  // The period (2025-10-14 .. 21) holds one Sunday, the 19th: 02:00 CEST = 00:00 UTC.
  auto w = (*storage::PeriodStore::Open(db_))->Maintenance("carbon", kT0, kT0 + 7 * kDay);
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].start_ms, kT0 + 5 * kDay);
  EXPECT_EQ((*w)[0].end_ms, kT0 + 5 * kDay + 2 * 3'600'000);

  out_.str("");
  ASSERT_EQ(CmdMaintenanceList(target_, "carbon", out_, err_), 0);
  EXPECT_NE(out_.str().find("2025-10-14 00:00:00  -                       2h 00m  weekly sun "
                            "02:00 Europe/Berlin"),
            std::string::npos)
      << out_.str();

  MaintenanceEditArgs e;
  e.target = target_;
  e.id = 1;
  e.daily = "23:30";
  e.time_zone = "UTC";
  e.duration = "30m";
  ASSERT_EQ(CmdMaintenanceEdit(e, clock_, out_, err_), 0) << err_.str();
  w = (*storage::PeriodStore::Open(db_))->Maintenance("carbon", kT0, kT0 + 7 * kDay);
  ASSERT_EQ(w->size(), 7u);
  EXPECT_EQ((*w)[0].start_ms, kT0 + 23 * 3'600'000 + 30 * 60'000);

  // Refusals, each naming its flag.
  auto refused = [&](MaintenanceAddArgs a, const std::string& why) {
    err_.str("");
    EXPECT_EQ(CmdMaintenanceAdd(a, clock_, out_, err_), 2) << why;
    EXPECT_NE(err_.str().find(why), std::string::npos) << err_.str();
  };
  MaintenanceAddArgs a = m;
  a.duration = "7d";
  refused(a, "--duration: a weekly window must last more than 0 and less than a week");
  a = m;
  a.daily = "02:00";
  a.duration = "1d";
  a.weekly.clear();
  refused(a, "--duration: a daily window must last more than 0 and less than a day");
  a = m;
  a.time_zone = "Europe/Berln";
  refused(a, "--timezone: unknown time zone 'Europe/Berln'");
  a = m;
  a.weekly = "sunday at two";
  refused(a, "--weekly: 'sunday at two' is not a day and time");
  a = m;
  a.duration.clear();
  refused(a, "--duration: required");
  a = m;
  a.to = "2025-10-20T00:00:00Z";
  refused(a, "--to is for a one-off window");
  a = m;
  a.until = "2025-10-13T00:00:00Z";
  refused(a, "--until: must be after --from");
}

TEST_F(CliPeriodsTest, ReportOfThePeriodInHtmlToAFile) {
  WriteMinuteRuns(kT0, kT0 + kDay);
  ObserveStartArgs a;
  a.target = target_;
  a.component = "carbon";
  a.days = 1;
  ASSERT_EQ(CmdObserveStart(a, clock_, out_, err_), 0);
  clock_.Advance(kDay + 1);
  ObserveReportArgs r;
  r.target = target_;
  r.component = "carbon";
  r.format = "html";
  r.output = (dir_ / "report.html").string();
  out_.str("");
  ASSERT_EQ(CmdObserveReport(r, clock_, out_, err_), 0) << err_.str();
  std::ifstream in(r.output);
  std::stringstream html;
  html << in.rdbuf();
  EXPECT_NE(html.str().find("<title>carbon: observation period #1</title>"), std::string::npos);
  EXPECT_NE(html.str().find("class=\"verdict pass\">PASS<"), std::string::npos);
  r.output.clear();
  r.format = "text";
  r.period_id = 42;
  EXPECT_EQ(CmdObserveReport(r, clock_, out_, err_), 1);
  EXPECT_NE(err_.str().find("no observation period #42"), std::string::npos) << err_.str();
}

TEST_F(CliPeriodsTest, RulesSloFromAConfig) {
  const auto config = dir_ / "obsmon.yml";
  std::ofstream(config) << "storage:\n  path: " << db_ << "\n"
                        << "components:\n"
                           "  - name: carbon\n"
                           "    objective: {uptime: 99.5, window: 7d}\n"
                           "    probes:\n"
                           "      - name: health\n"
                           "        kind: tcp\n"
                           "        address: 127.0.0.1:9\n";
  ASSERT_EQ(CmdRulesSlo(config.string(), "", out_, err_), 0) << err_.str();
  EXPECT_NE(out_.str().find("name: obsmon-slo-carbon"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("(13.44 * 0.005)"), std::string::npos) << out_.str();
  EXPECT_EQ(CmdRulesSlo(config.string(), "nope", out_, err_), 1);
}

}  // namespace
}  // namespace obsmon

namespace obsmon {
namespace {

// Issue 15, item 2: a period counted in Berlin's calendar days, and `observe report --day N`:
// the day's comment, or a clear refusal (exit 2) for a day not begun, out of range, or another
// format. Expected boundaries written out by hand (CEST = UTC+2 in October before the 25th).
TEST_F(CliPeriodsTest, DayCommentOfAPeriodInBerlinDays) {
  const int64_t start = kT0 + 6 * 3'600'000 + 36 * 60'000;  // 2025-10-14 06:36 UTC, 08:36 CEST
  WriteMinuteRuns(start - 60'000, start + 2 * kDay);
  ObserveStartArgs a;
  a.target = target_;
  a.component = "carbon";
  a.days = 3;
  a.start = "2025-10-14T06:36:00Z";
  a.time_zone = "Nowhere/Atlantis";
  EXPECT_EQ(CmdObserveStart(a, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("--timezone"), std::string::npos) << err_.str();
  a.time_zone = "Europe/Berlin";
  ASSERT_EQ(CmdObserveStart(a, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(Stored("carbon")[0].time_zone, "Europe/Berlin");

  clock_.SetWall(start + 30 * 3'600'000);  // 2025-10-15 12:36 UTC: Day 2 runs
  ObserveReportArgs r;
  r.target = target_;
  r.component = "carbon";
  r.format = "markdown";
  r.day = 1;
  out_.str("");
  ASSERT_EQ(CmdObserveReport(r, clock_, out_, err_), 0) << err_.str();
  EXPECT_EQ(out_.str().rfind("### Day 1 (2025-10-14)\n"
                             "_Day 1 — 2025-10-14 08:36 → 2025-10-15 00:00 Europe/Berlin_\n",
                             0),
            0u)
      << out_.str();
  EXPECT_NE(out_.str().find("- Status: **on track**\n"), std::string::npos) << out_.str();
  r.day = 3;  // starts at local midnight, 2025-10-15 22:00 UTC
  err_.str("");
  EXPECT_EQ(CmdObserveReport(r, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("day 3 has not begun: it starts at 2025-10-15 22:00:00 UTC"),
            std::string::npos)
      << err_.str();
  r.day = 5;  // 3 days from 08:36 local: the 14th (part), 15th, 16th and the 17th (part)
  err_.str("");
  EXPECT_EQ(CmdObserveReport(r, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("day 5 is out of range: the observation period #1 has days 1 to 4"),
            std::string::npos)
      << err_.str();
  r.day = 1;
  r.format = "json";
  err_.str("");
  EXPECT_EQ(CmdObserveReport(r, clock_, out_, err_), 2);
  EXPECT_NE(err_.str().find("markdown only"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace obsmon
