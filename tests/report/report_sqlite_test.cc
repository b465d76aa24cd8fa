// BuildReport through the real SQLite Writer and Reader: what was written is what is reported,
// including the last run before the window and runs of other components left out. The report
// reads spans and sealed hours, not runs; randomized histories check that this gives exactly
// the report computed from the runs themselves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "report/report.h"
#include "render/report_format.h"
#include "storage/storage.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

class ReportSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "obsmon.db").string();
  }

  // Writes `runs` in batches of `batch_size` through one Writer session.
  void Write(const std::vector<ProbeRun>& runs, size_t batch_size = SIZE_MAX) {
    storage::StorageOptions opt;
    opt.path = path_;
    opt.clock = &clock_;  // retention must not see 2025 runs as old
    auto writer = storage::Writer::Start(opt);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (size_t i = 0; i < runs.size(); i += batch_size) {
      WriteBatch batch;
      batch.runs.assign(runs.begin() + i, runs.begin() + std::min(runs.size(), i + batch_size));
      ASSERT_TRUE((*writer)->Enqueue(std::move(batch)));
    }
    ASSERT_TRUE((*writer)->Flush().ok());
    (*writer)->Stop();
  }

  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
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

// A random history of three days: two health probes (every 10 s and every 45 s, with outages,
// silences and latency that drifts), an integration check every 20 min that sometimes fails, a
// probe of another component; written in two writer sessions, partly out of order and with
// duplicates. Windows and maintenance do not fall on hour boundaries. The report read from the
// database must be the report computed from the runs, figure for figure (compared as JSON).
TEST_F(ReportSqliteTest, RandomHistoriesReportTheSameFromTheDatabaseAsFromTheRuns) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    path_ = (dir_ / ("seed" + std::to_string(seed) + ".db")).string();  // a fresh database
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    std::vector<ProbeRun> runs;
    const int64_t start = kT0 - kDay + static_cast<int64_t>(rng() % kHour);
    const int64_t end = kT0 + 2 * kDay;
    auto add_health = [&](const std::string& probe, int64_t step) {
      bool down = false, silent = false;
      for (int64_t ts = start; ts < end; ts += step + static_cast<int64_t>(rng() % 900)) {
        // Outages and silences of a few runs each.
        if (down ? chance(10) : chance(1)) down = !down;
        if (silent ? chance(10) : chance(1)) silent = !silent;
        if (silent) continue;
        const double seconds = 0.005 + static_cast<double>(rng() % 5000) / 1e6 +
                               static_cast<double>(ts - start) / 1e10;
        runs.push_back(MakeRun(probe, ts, !down, step * 3 / 2,
                               down ? "status " + std::to_string(500 + rng() % 4) : "", seconds));
      }
    };
    add_health("http", 10 * kSecond);
    add_health("tcp", 45 * kSecond);
    for (int64_t ts = start; ts < end; ts += 20 * kMinute) {
      runs.push_back(MakeRun("pytest", ts, !chance(5), 30 * kMinute, "exit 1", 30,
                             ProbeRole::kIntegration));
    }
    runs.push_back(MakeRun("health", kT0 + kHour, false, kDay, "x", 1, ProbeRole::kHealth,
                           "other"));
    // Late arrivals: a few hundred runs written after the rest, and some duplicates.
    std::vector<ProbeRun> order = runs, late;
    std::shuffle(order.begin(), order.end(), rng);
    late.assign(order.begin(), order.begin() + 300);
    order.erase(order.begin(), order.begin() + 300);
    std::sort(order.begin(), order.end(),
              [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
    const size_t half = order.size() / 2;
    Write(std::vector<ProbeRun>(order.begin(), order.begin() + half), 50);
    Write(std::vector<ProbeRun>(order.begin() + half, order.end()), 500);
    late.insert(late.end(), order.begin(), order.begin() + 20);  // duplicates: ignored
    Write(late, 7);

    auto reader = storage::Reader::Open(path_);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<ProbeRun> mine;
    for (const auto& r : runs) {
      if (r.key.component == "carbon") mine.push_back(r);
    }
    for (int w = 0; w < 4; ++w) {
      const int64_t from = kT0 + static_cast<int64_t>(rng() % kDay);
      const int64_t to = from + kHour + static_cast<int64_t>(rng() % kDay);
      const int64_t now = w % 2 ? to + kHour : from + (to - from) / 2;
      ReportOptions opt;
      opt.max_log_events = 0;
      const int64_t m = from + static_cast<int64_t>(rng() % (to - from));
      opt.maintenance = {{m, m + static_cast<int64_t>(rng() % (2 * kHour)), "maintenance"}};
      if (w == 3) opt.health_probes = {"http"};
      Objective objective;
      objective.latency_p95_ms = 9;
      auto got = BuildReport(**reader, "carbon", objective, from, to, now, opt);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      const Report want = ComputeReport(mine, "carbon", objective, from, to, now, opt);
      ASSERT_GT(want.latency.count, 0u);
      EXPECT_EQ(RenderReportJson(*got), RenderReportJson(want)) << "window " << w;
    }
  }
}

}  // namespace
}  // namespace obsmon
