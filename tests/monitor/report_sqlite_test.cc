// BuildReport through the real SQLite Writer and Reader: what was written is what is reported,
// including the last run before the window and runs of other components left out.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "monitor/report.h"
#include "storage/storage.h"
#include "tests/monitor/uptime_oracle.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

class ReportSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("obsmon_report_sqlite_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "obsmon.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Write(const std::vector<ProbeRun>& runs) {
    storage::StorageOptions opt;
    opt.path = path_;
    opt.clock = &clock_;  // retention must not see 2025 runs as old
    auto writer = storage::Writer::Start(opt);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    WriteBatch batch;
    batch.runs = runs;
    ASSERT_TRUE((*writer)->Enqueue(std::move(batch)));
    ASSERT_TRUE((*writer)->Flush().ok());
    (*writer)->Stop();
  }

  std::filesystem::path dir_;
  std::string path_;
  FakeClock clock_{kT0 + 2 * kDay};
};

TEST_F(ReportSqliteTest, ReportFromTheDatabaseEqualsReportFromTheRuns) {
  std::vector<ProbeRun> runs;
  // Health every minute from the day before (the window starts at kT0 + 1 d), valid 90 s: down
  // 10:00-10:12 and silent 15:00-16:00 on the window's day.
  const int64_t from = kT0 + kDay;
  const int64_t to = from + kDay;
  for (int64_t ts = kT0; ts < to; ts += kMinute) {
    if (ts >= from + 15 * kHour && ts < from + 16 * kHour) continue;
    bool fail = ts >= from + 10 * kHour && ts < from + 10 * kHour + 12 * kMinute;
    runs.push_back(MakeRun("health", ts, !fail, 90 * kSecond, "status 503", 0.012));
  }
  runs.push_back(
      MakeRun("health", from + 3 * kHour, false, kDay, "x", 1, ProbeRole::kHealth, "other"));
  Write(runs);

  auto reader = storage::Reader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto report = BuildReport(**reader, "carbon", Objective{}, from, to, to);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->totals.down_ms, 12 * kMinute);
  EXPECT_EQ(report->totals.unknown_ms, kHour - 30 * kSecond);
  EXPECT_EQ(report->totals.up_ms, kDay - 12 * kMinute - (kHour - 30 * kSecond));
  ASSERT_EQ(report->incidents.size(), 1u);
  EXPECT_EQ(report->incidents[0].start_ms, from + 10 * kHour);
  EXPECT_EQ(report->incidents[0].first_reason, "status 503");
  EXPECT_EQ(report->latency.count, 1440u - 60 - 12);
  EXPECT_DOUBLE_EQ(report->latency.p95_seconds, 0.012);

  std::vector<ProbeRun> mine(runs.begin(), runs.end() - 1);
  Report direct = ComputeReport(mine, "carbon", Objective{}, from, to, to);
  EXPECT_EQ(report->totals.up_ms, direct.totals.up_ms);
  EXPECT_EQ(report->totals.unknown_ms, direct.totals.unknown_ms);
  EXPECT_EQ(report->verdict, direct.verdict);

  EXPECT_TRUE(BuildReport(**reader, "nope", Objective{}, from, to, to).status().IsNotFound());
}

}  // namespace
}  // namespace obsmon
