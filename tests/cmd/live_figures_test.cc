// The uptime board's figures (overview, /api/v1/components, obsmon_component_* on /metrics) are
// the period report's own figures (issue 15, "one truth everywhere"): maintenance excluded, the
// active period's window and objective, and figures with no uptime for a component with no run.
#include "cmd/obsmon/live_figures.h"

#include <gtest/gtest.h>

#include <cmath>

#include "report/periods.h"
#include "storage/period_store.h"
#include "storage/storage.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

class LiveFiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::path(scratch_.path()) / "obsmon.db").string();
    component_.name = "carbon";
    component_.labels = Labels{{"job", "carbon-job"}};
  }
  // Minute runs over [from, to), down in [down_from, down_to).
  void WriteRuns(int64_t from, int64_t to, int64_t down_from, int64_t down_to) {
    WriteBatch batch;
    for (int64_t ts = from; ts < to; ts += kMinute) {
      const bool down = ts >= down_from && ts < down_to;
      batch.runs.push_back(MakeRun("health", ts, !down, 90 * kSecond, "status 503", 0.02));
    }
    ::obsmon::testing::WriteThroughWriter(path_, clock_, std::move(batch));
  }

  // A 7-day period of carbon from kT0; its id.
  static Result<int64_t> AddWeek(storage::PeriodStore& store, double objective_percent = 99.5) {
    PeriodRecord p;
    p.component = "carbon";
    p.start_ms = kT0;
    p.end_ms = kT0 + 7 * kDay;
    p.objective_percent = objective_percent;
    return store.AddPeriod(p);
  }

  ::obsmon::testing::ScratchDir scratch_;
  std::string path_;
  ComponentConfig component_;
  FakeClock clock_{kT0};
};

// The figures came from an overview that disagreed with the period report under
// maintenance; here both come from one database at one instant and must be equal.
TEST_F(LiveFiguresTest, OverviewFiguresAreThePeriodReportsUnderMaintenance) {
  const int64_t now = kT0 + kDay + 12 * kHour;
  WriteRuns(kT0, now, kT0 + kDay, kT0 + kDay + 40 * kMinute);
  auto store = storage::PeriodStore::Open(path_);
  ASSERT_TRUE(store.ok());
  auto id = AddWeek(**store, 99.0);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*store)
                  ->AddMaintenance({0, "carbon", kT0 + kDay + 10 * kMinute,
                                    kT0 + kDay + 2 * kHour, "upgrade", "cli", kT0, "", "", 0})
                  .ok());
  store->reset();

  auto f = ComputeLiveFigures(path_, component_, now);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.now_ms = now;
  auto report = BuildPeriodReport(req);  // what `obsmon observe report` computes
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(f->period_id, *id);
  EXPECT_EQ(f->from_ms, kT0);
  EXPECT_EQ(f->window_ms, 7 * kDay);
  EXPECT_DOUBLE_EQ(f->objective_ratio, 0.99);
  EXPECT_EQ(f->job, "carbon-job");
  // By hand: 10 of the 40 down minutes are outside maintenance; 110 minutes are excluded.
  EXPECT_DOUBLE_EQ(f->down_seconds, 600);
  const int64_t allowed = std::llround(0.01 * static_cast<double>(7 * kDay - 110 * kMinute));
  EXPECT_DOUBLE_EQ(f->budget_remaining_seconds.value_or(-1), (allowed - 10 * kMinute) / 1000.0);
  EXPECT_EQ(f->uptime_ratio, report->totals.uptime());
  ASSERT_TRUE(f->coverage_ratio.has_value());
  EXPECT_DOUBLE_EQ(*f->coverage_ratio, *report->totals.coverage());
  EXPECT_DOUBLE_EQ(f->budget_remaining_seconds.value_or(-1), report->budget.left_ms / 1000.0);
  EXPECT_DOUBLE_EQ(f->down_seconds, report->totals.down_ms / 1000.0);
}

// A period whose elapsed part is all maintenance: nothing could be known, so coverage is none,
// as in the report (not 0, which would page ObsmonCoverageBelowMinimum for a planned outage).
TEST_F(LiveFiguresTest, APeriodAllInMaintenanceSoFarHasNoCoverage) {
  const int64_t now = kT0 + 2 * kHour;
  WriteRuns(kT0 - kHour, now, 0, 0);
  auto store = storage::PeriodStore::Open(path_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(AddWeek(**store).ok());
  ASSERT_TRUE((*store)
                  ->AddMaintenance({0, "carbon", kT0 - kHour, kT0 + 3 * kHour, "migration", "cli",
                                    kT0, "", "", 0})
                  .ok());
  store->reset();
  auto f = ComputeLiveFigures(path_, component_, now);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->coverage_ratio.has_value());
  EXPECT_FALSE(f->uptime_ratio.has_value());
  PeriodReportRequest req;
  req.db_path = path_;
  req.component = "carbon";
  req.now_ms = now;
  auto report = BuildPeriodReport(req);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->totals.coverage().has_value());
}

// The daemon's refresh keeps one pair of read connections for all its components
// (ReportConnections): they must be opened once, and each report must still see what was
// written and stored since the one before (runs through the writer, a maintenance window
// through another connection), exactly as a report that opens its own.
TEST_F(LiveFiguresTest, KeptConnectionsAreReusedAndSeeWhatWasWrittenSinceTheLastReport) {
  WriteRuns(kT0, kT0 + kHour, 0, 0);
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(AddWeek(**store).ok());
  }
  ReportConnections kept;
  auto first = ComputeLiveFigures(path_, component_, kT0 + kHour, nullptr, nullptr, &kept);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->down_seconds, 0);
  ASSERT_NE(kept.store, nullptr);
  ASSERT_NE(kept.reader, nullptr);
  const storage::PeriodStore* store_opened = kept.store.get();
  const storage::Reader* reader_opened = kept.reader.get();
  ComponentConfig other;  // a component with no run, between the two
  other.name = "neo4j";
  ASSERT_TRUE(ComputeLiveFigures(path_, other, kT0 + kHour, nullptr, nullptr, &kept).ok());

  // The second hour: down for its first 30 minutes, 10 of them in a window added meanwhile.
  WriteRuns(kT0 + kHour, kT0 + 2 * kHour, kT0 + kHour, kT0 + kHour + 30 * kMinute);
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->AddMaintenance({0, "carbon", kT0 + kHour, kT0 + kHour + 10 * kMinute,
                                      "deploy", "cli", kT0, "", "", 0})
                    .ok());
  }
  auto second = ComputeLiveFigures(path_, component_, kT0 + 2 * kHour, nullptr, nullptr, &kept);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(kept.store.get(), store_opened) << "opened again";
  EXPECT_EQ(kept.reader.get(), reader_opened) << "opened again";
  // By hand: 20 of the 30 down minutes are outside the window.
  EXPECT_DOUBLE_EQ(second->down_seconds, 20 * 60);
  auto fresh = ComputeLiveFigures(path_, component_, kT0 + 2 * kHour);  // its own connections
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(second->uptime_ratio, fresh->uptime_ratio);
  EXPECT_EQ(second->coverage_ratio, fresh->coverage_ratio);
  EXPECT_EQ(second->budget_remaining_seconds, fresh->budget_remaining_seconds);
  EXPECT_DOUBLE_EQ(second->down_seconds, fresh->down_seconds);
}

TEST_F(LiveFiguresTest, NoRunYetIsNoUptimeOverTheObjectiveWindow) {
  WriteRuns(kT0, kT0 + kMinute, 0, 0);  // another component's database exists
  component_.name = "neo4j";
  auto f = ComputeLiveFigures(path_, component_, kT0 + kHour);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->uptime_ratio.has_value());
  EXPECT_FALSE(f->budget_remaining_seconds.has_value()) << "nothing known is not a spent budget";
  EXPECT_EQ(f->window_ms, component_.objective.window_ms);
  EXPECT_EQ(f->to_ms, kT0 + kHour);
}

}  // namespace
}  // namespace obsmon
