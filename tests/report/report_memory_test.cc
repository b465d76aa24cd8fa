// HeapBytesOf(Report), the figure behind obsmon_live_report_bytes, against malloc's own count of
// what a built report keeps (issue 17, item 1: /metrics says what holds the daemon's memory).
// The report is of a flapping component, the case where a report is large: its incidents, gaps
// and timeline grow with the state changes in the window.
#include "report/report_memory.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/malloc_count.h"

namespace obsmon {
namespace {

constexpr TimestampMs kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z
constexpr int64_t kSecond = 1'000;
constexpr int64_t kDay = 86'400'000;

// Three health probes at 1 s for two days: one run in ten down (an incident every 10 s), and a
// 5-second hole every 10 minutes (a gap: nobody looking).
std::vector<ProbeRun> FlappingRuns() {
  std::vector<ProbeRun> runs;
  for (int p = 0; p < 3; ++p) {
    for (TimestampMs ts = kT0; ts < kT0 + 2 * kDay; ts += kSecond) {
      if ((ts - kT0) % 600'000 < 5 * kSecond) continue;
      ProbeRun r;
      r.key = {"checkout-service", "health-check-primary-endpoint-" + std::to_string(p)};
      r.ts_ms = ts;
      r.success = (ts - kT0) / kSecond % 10 != 3;
      r.duration_seconds = 0.012;
      r.valid_for_ms = 1'500;
      if (!r.success) r.reason = "connection refused by the staging target";
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

TEST(ReportMemoryTest, HeapBytesOfAFlappingComponentsReportAgreesWithMalloc) {
  if (!testing::kMallocCounts) GTEST_SKIP() << "malloc is AddressSanitizer's";
  const std::vector<ProbeRun> runs = FlappingRuns();
  Objective objective;
  objective.uptime_percent = 99.5;
  ReportOptions every_incident;  // the whole lists: what is measured is their size
  every_incident.max_listed = 0;
  const size_t before = testing::MallocInUse();
  auto report = std::make_unique<Report>(ComputeReport(runs, "checkout-service", objective, kT0,
                                                       kT0 + 7 * kDay, kT0 + 2 * kDay,
                                                       every_incident));
  const size_t held = testing::MallocInUse() - before;
  // What makes it large, so that the comparison is about them: ~17,000 incidents and ~290 gaps.
  EXPECT_GT(report->incidents.size(), 15'000u);
  EXPECT_GT(report->gaps.size(), 250u);
  const size_t estimated = HeapBytesOf(*report);
  EXPECT_NEAR(static_cast<double>(estimated) / static_cast<double>(held), 1.0, 0.1)
      << "estimated " << estimated << ", malloc " << held << " (" << report->incidents.size()
      << " incidents, " << report->timeline.size() << " timeline spans)";
}

TEST(ReportMemoryTest, AnEmptyReportIsItsOwnSize) {
  const Report empty;
  EXPECT_GE(HeapBytesOf(empty), sizeof(Report));
  EXPECT_LT(HeapBytesOf(empty), sizeof(Report) + 64);
}

}  // namespace
}  // namespace obsmon
