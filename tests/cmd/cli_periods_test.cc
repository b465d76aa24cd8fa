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

namespace obsmon {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z

class CliPeriodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("obsmon_cli_periods_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "obsmon.db").string();
    target_.db_path = db_;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::vector<PeriodRecord> Stored(const std::string& component = "") {
    auto store = storage::PeriodStore::Open(db_);
    return *(*store)->Periods(component);
  }

  std::filesystem::path dir_;
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
                            "   1h 30m  PostgreSQL | upgrade"),
            std::string::npos)
      << out_.str();

  m.to = "2025-10-16T01:00:00Z";  // before --from
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
  m.to = "soon";
  EXPECT_EQ(CmdMaintenanceAdd(m, clock_, out_, err_), 2);
}

TEST_F(CliPeriodsTest, ReportOfThePeriodInHtmlToAFile) {
  {
    storage::StorageOptions opt;
    opt.path = db_;
    opt.clock = &clock_;
    auto writer = storage::Writer::Start(opt);
    ASSERT_TRUE(writer.ok());
    WriteBatch batch;
    for (int64_t ts = kT0; ts < kT0 + kDay; ts += 60'000) {
      ProbeRun r;
      r.key = {"carbon", "http"};
      r.ts_ms = ts;
      r.success = true;
      r.duration_seconds = 0.02;
      r.valid_for_ms = 90'000;
      batch.runs.push_back(r);
    }
    (*writer)->Enqueue(std::move(batch));
    ASSERT_TRUE((*writer)->Flush().ok());
  }
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
