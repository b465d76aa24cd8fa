// What the rules' in-memory head holds for a series at steady state (issue 17): the live window
// and room to grow, not twice that. A probe at 1 s whose `up` the SLO rules read for 15 minutes
// keeps 901 points; its vector once doubled to 2,048 points (32 KiB, 32 MB at 1,000 probes),
// then held them plain (14 KiB); now older points are packed (point_chunk.h).
#include <gtest/gtest.h>

#include "alerts/series_store.h"
#include "tests/support/malloc_count.h"

namespace obsmon::alerts {
namespace {

constexpr int64_t kRetentionMs = 15 * 60'000;
constexpr int64_t kStepMs = 1'000;

const Labels kUp{{"__name__", "up"}, {"job", "j"}};

SeriesStoreOptions FifteenMinutes() {
  SeriesStoreOptions o;
  o.retention_ms = kRetentionMs;
  return o;
}

TEST(SeriesStoreMemoryTest, AnUnchangingSeriesAtSteadyStateHoldsUnderFiveBytesAPoint) {
  SeriesStore store(FifteenMinutes());
  // Two hours at 1 s: long past the first window, through many compactions.
  for (int64_t t = 0; t <= 2 * 3'600'000; t += kStepMs) store.AppendLabeled(kUp, t, 1);
  const auto st = store.Stats();
  const uint64_t live = kRetentionMs / kStepMs + 1;  // both ends of the window kept: 901
  EXPECT_EQ(st.series, 1u);
  EXPECT_EQ(st.points, live);
  // Plain points took 16 bytes each (14 KiB); packed, 1 byte each plus the 1 KiB plain tail
  // and the chunks' headers: about 4.
  EXPECT_LT(st.point_bytes, live * 5);
  EXPECT_GT(st.point_bytes, live);
}

TEST(SeriesStoreMemoryTest, ASeriesChangingEveryPointHoldsUnderTwelveBytesAPoint) {
  SeriesStore store(FifteenMinutes());
  for (int64_t t = 0; t <= 2 * 3'600'000; t += kStepMs) {
    store.AppendLabeled(kUp, t, 0.001 * static_cast<double>(t % 7'919));  // a latency
  }
  const auto st = store.Stats();
  const uint64_t live = kRetentionMs / kStepMs + 1;
  EXPECT_EQ(st.points, live);
  EXPECT_LT(st.point_bytes, live * 12);  // 9 bytes a packed point, plus tail and headers
  EXPECT_GT(st.point_bytes, live * 9);
}

TEST(SeriesStoreMemoryTest, CompactingKeepsEveryLivePointInOrder) {
  SeriesStore store(FifteenMinutes());
  const int64_t end = 3'600'000;
  for (int64_t t = 0; t <= end; t += kStepMs) {
    store.AppendLabeled(kUp, t, static_cast<double>(t / kStepMs));
  }
  promql::Matcher name;
  name.name = "__name__";
  name.value = "up";
  promql::Matrix m;
  store.Select({name}, 0, end, &m);
  ASSERT_EQ(m.size(), 1u);
  const auto& pts = m[0].points;
  ASSERT_EQ(pts.size(), static_cast<size_t>(kRetentionMs / kStepMs + 1));
  for (size_t i = 0; i < pts.size(); ++i) {
    const int64_t t = end - kRetentionMs + static_cast<int64_t>(i) * kStepMs;
    EXPECT_EQ(pts[i].t, t);
    EXPECT_EQ(pts[i].v, static_cast<double>(t / kStepMs));
  }
}

// Issue 17, item 1: obsmon_rule_head_index_bytes and _point_bytes say what the head holds, so
// a user sees where memory at 1,000 probes goes. Truth: malloc's own count of what a store of
// 5,000 probes' series (as the daemon feeds it: a run per probe, labels longer than a string's
// own buffer, selectors read) allocated and kept.
TEST(SeriesStoreMemoryTest, IndexAndPointBytesAgreeWithMalloc) {
  if (!testing::kMallocCounts) GTEST_SKIP() << "malloc is AddressSanitizer's";
  constexpr int kProbes = 5'000;
  const size_t before = testing::MallocInUse();
  auto store = std::make_unique<SeriesStore>(FifteenMinutes());
  for (int64_t t = 0; t < 70'000; t += 10'000) {  // seven runs each: tails and sources grow
    for (int i = 0; i < kProbes; ++i) {
      const std::string n = std::to_string(i);
      Labels l{{"instance", "http://target-" + n + ".staging.example.com:8080/health"},
               {"job", "carbon"},
               {"probe", "health-check-" + n}};
      store->AppendRun("carbon/health-check-" + n, {Sample{"up", l, t, 1}}, t, 10'000);
    }
  }
  promql::Matcher name{promql::Matcher::Op::kEq, "__name__", "up", nullptr};
  for (int i = 0; i < 50; ++i) {
    promql::Matcher probe{promql::Matcher::Op::kEq, "probe", "health-check-" + std::to_string(i),
                          nullptr};
    store->ForEachSeries({name, probe}, 0, 70'000,
                         [](const Labels&, const promql::Point*, const promql::Point*) {});
  }
  const size_t held = testing::MallocInUse() - before;
  const auto st = store->Stats();
  const double estimated =
      static_cast<double>(st.index_bytes + st.point_bytes + sizeof(SeriesStore));
  EXPECT_EQ(st.series, static_cast<uint64_t>(kProbes));
  EXPECT_NEAR(estimated / static_cast<double>(held), 1.0, 0.1)
      << "estimated " << estimated << " (index " << st.index_bytes << ", points "
      << st.point_bytes << "), malloc " << held;
}

}  // namespace
}  // namespace obsmon::alerts
