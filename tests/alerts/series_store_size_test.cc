// The rules' head under its byte bound (alerting.head.max_point_bytes; issue 17, item 1): past
// it the oldest points of any series go first, as Prometheus's size-based retention drops its
// oldest blocks, and each series keeps its last six minutes. Every expectation is computed here
// from what the test appended, not read from the store's own counters.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kKeepMs = 6 * kMinute;  // SeriesStoreOptions::size_keep_ms

promql::Matcher NameIs(const std::string& name) {
  promql::Matcher m;
  m.name = "__name__";
  m.value = name;
  return m;
}

Labels SeriesLabels(const std::string& name, int i) {
  return Labels{{"__name__", name}, {"i", std::to_string(i)}};
}

// A value that changes at every point, so each packed point costs 9 bytes (point_chunk.h).
double ValueAt(int i, int64_t t) { return static_cast<double>(i) + 0.001 * (t / 1'000 % 7'919); }

// The points Select returns for `name` over all time, by series.
std::map<Labels, std::vector<promql::Point>> Held(const SeriesStore& store,
                                                  const std::string& name) {
  promql::Matrix m;
  store.Select({NameIs(name)}, INT64_MIN / 2, INT64_MAX / 2, &m);
  std::map<Labels, std::vector<promql::Point>> out;
  for (auto& s : m) out[s.labels] = s.points;
  return out;
}

// `series` series of `name`, a point every `step_ms` each from `from` to `to` (inclusive), all
// series at each time before the next time (as probes append).
void AppendAll(SeriesStore& store, const std::string& name, int series, int64_t from, int64_t to,
               int64_t step_ms) {
  for (int64_t t = from; t <= to; t += step_ms) {
    for (int i = 0; i < series; ++i) store.AppendLabeled(SeriesLabels(name, i), t, ValueAt(i, t));
  }
}

SeriesStoreOptions Bounded(uint64_t bytes) {
  SeriesStoreOptions o;
  o.max_point_bytes = bytes;
  return o;
}

TEST(SeriesStoreSizeTest, PastTheBoundTheOldestPointsGoAndEveryNewerOneStays) {
  constexpr uint64_t kBound = 256 << 10;
  SeriesStore store(Bounded(kBound));
  store.RequireRetentionFor("slo", 7 * 24 * 60 * kMinute);  // nothing expires by time here
  constexpr int kSeries = 20;
  constexpr int64_t kStep = 1'000;
  constexpr int64_t kEnd = 2 * 60 * kMinute;
  uint64_t appended = 0;
  for (int64_t t = 0; t <= kEnd; t += kStep) {
    for (int i = 0; i < kSeries; ++i) store.AppendLabeled(SeriesLabels("slo", i), t, ValueAt(i, t));
    appended += kSeries;
    if (t % kMinute == 0) ASSERT_LE(store.Stats().point_bytes, kBound) << "at " << t;
  }
  const SeriesStoreStats st = store.Stats();
  // 2 hours of 20 series at 9 bytes a point is 1.3 MB: the bound dropped most of it.
  ASSERT_NE(st.size_floor_ms, INT64_MIN);
  EXPECT_GT(st.size_floor_ms, 30 * kMinute);
  EXPECT_LT(st.size_floor_ms, kEnd - kKeepMs);
  EXPECT_GT(st.size_retentions, 1u);
  EXPECT_LE(st.point_bytes, kBound);
  // Dropping stops at 90 % of the bound: not far under it.
  EXPECT_GT(st.point_bytes, kBound / 2);
  // Each series holds exactly the points appended at or after the floor, values intact.
  uint64_t held = 0;
  for (const auto& [labels, points] : Held(store, "slo")) {
    const int i = std::stoi(labels.Get("i"));
    const int64_t first = (st.size_floor_ms + kStep - 1) / kStep * kStep;
    ASSERT_EQ(points.size(), static_cast<size_t>((kEnd - first) / kStep + 1)) << labels.ToString();
    for (size_t k = 0; k < points.size(); ++k) {
      const int64_t t = first + static_cast<int64_t>(k) * kStep;
      ASSERT_EQ(points[k].t, t);
      ASSERT_EQ(points[k].v, ValueAt(i, t));
    }
    held += points.size();
  }
  EXPECT_EQ(held, st.points);
  EXPECT_EQ(st.size_dropped_points + held, appended);
}

TEST(SeriesStoreSizeTest, TheLongestHistoryIsCutFirstAndShortWindowsKeepTheirPoints) {
  // 10 series keep a day (an SLO window), 50 keep the default 6 minutes; the bound only has
  // room for part of the long ones' history.
  constexpr uint64_t kBound = 192 << 10;
  SeriesStore store(Bounded(kBound));
  store.RequireRetentionFor("slo", 24 * 60 * kMinute);
  constexpr int64_t kStep = 1'000;
  constexpr int64_t kEnd = 90 * kMinute;
  for (int64_t t = 0; t <= kEnd; t += kStep) {
    for (int i = 0; i < 10; ++i) store.AppendLabeled(SeriesLabels("slo", i), t, ValueAt(i, t));
    for (int i = 0; i < 50; ++i) store.AppendLabeled(SeriesLabels("up", i), t, ValueAt(i, t));
  }
  const SeriesStoreStats st = store.Stats();
  ASSERT_NE(st.size_floor_ms, INT64_MIN);
  for (const auto& [labels, points] : Held(store, "up")) {
    // The store's own retention (6 minutes and the slack), untouched by the bound.
    ASSERT_FALSE(points.empty());
    EXPECT_LE(points.front().t, kEnd - kKeepMs) << labels.ToString();
    EXPECT_EQ(points.back().t, kEnd);
  }
  for (const auto& [labels, points] : Held(store, "slo")) {
    ASSERT_FALSE(points.empty());
    EXPECT_GE(points.front().t, st.size_floor_ms) << labels.ToString();
    EXPECT_LT(points.front().t, st.size_floor_ms + kStep);
    EXPECT_EQ(points.back().t, kEnd);
  }
}

TEST(SeriesStoreSizeTest, EachSeriesKeepsItsLastSixMinutesWhateverTheBound) {
  // 1 MiB cannot hold even the 6-minute windows of 300 series at 1 s (16 bytes a plain point,
  // 9 packed: about 1.1 MB). The windows stay; the bound is not searched on every append.
  constexpr uint64_t kBound = 1 << 20;
  SeriesStore store(Bounded(kBound));
  store.RequireRetentionFor("m", 60 * kMinute);
  constexpr int kSeries = 300;
  constexpr int64_t kEnd = 20 * kMinute;
  AppendAll(store, "m", kSeries, 0, kEnd, 1'000);
  const SeriesStoreStats st = store.Stats();
  for (const auto& [labels, points] : Held(store, "m")) {
    ASSERT_FALSE(points.empty());
    EXPECT_LE(points.front().t, kEnd - kKeepMs) << labels.ToString();
    EXPECT_EQ(points.size(), static_cast<size_t>((kEnd - points.front().t) / 1'000 + 1));
  }
  const uint64_t appended = kSeries * (kEnd / 1'000 + 1);
  // Searched each time the bytes grew 10 % of the bound past what it could not drop.
  EXPECT_LT(st.size_retentions, appended / 1'000) << st.size_retentions;
}

TEST(SeriesStoreSizeTest, HistoryReadBackOlderThanWhatTheBoundDroppedIsNotKept) {
  constexpr uint64_t kBound = 128 << 10;
  SeriesStore store(Bounded(kBound));
  store.RequireRetentionFor("slo", 24 * 60 * kMinute);
  AppendAll(store, "slo", 10, 0, 60 * kMinute, 1'000);
  const int64_t floor = store.Stats().size_floor_ms;
  ASSERT_NE(floor, INT64_MIN);
  // A new series (a reload selecting it) reads back the hour: only what is newer than the floor
  // stays, and the bound still holds.
  std::vector<promql::Point> history;
  for (int64_t t = 0; t <= 60 * kMinute; t += 1'000) history.push_back({t, ValueAt(99, t)});
  store.BackfillSeries(SeriesLabels("slo", 99), history);
  const auto held = Held(store, "slo");
  const auto& back = held.at(SeriesLabels("slo", 99));
  ASSERT_FALSE(back.empty());
  EXPECT_GE(back.front().t, floor);
  EXPECT_EQ(back.back().t, 60 * kMinute);
  EXPECT_LE(store.Stats().point_bytes, kBound);
}

TEST(SeriesStoreSizeTest, LimitsSetAtAReloadApplyAtOnce) {
  SeriesStore store(Bounded(0));  // no bound: everything kept
  store.RequireRetentionFor("slo", 24 * 60 * kMinute);
  AppendAll(store, "slo", 10, 0, 60 * kMinute, 1'000);
  const SeriesStoreStats before = store.Stats();
  EXPECT_EQ(before.size_floor_ms, INT64_MIN);
  EXPECT_EQ(before.points, 10u * 3'601);
  ASSERT_GT(before.point_bytes, 200u << 10);

  store.SetLimits(/*max_series=*/5, /*max_point_bytes=*/100 << 10);
  const SeriesStoreStats after = store.Stats();
  EXPECT_EQ(after.max_series, 5u);
  EXPECT_EQ(after.max_point_bytes, 100u << 10);
  EXPECT_LE(after.point_bytes, 100u << 10);
  EXPECT_EQ(after.size_dropped_points + after.points, before.points);
  // Ten series held, above the new max_series: none is dropped, a new one is refused.
  EXPECT_EQ(after.series, 10u);
  store.AppendLabeled(SeriesLabels("slo", 10), 60 * kMinute + 1'000, 1);
  EXPECT_EQ(store.Stats().series, 10u);
  EXPECT_EQ(store.Stats().refused_series, 1u);

  // Raised again: nothing comes back, nothing more goes.
  store.SetLimits(200'000, 256 << 20);
  EXPECT_EQ(store.Stats().points, after.points);
}

TEST(SeriesStoreSizeTest, SeriesDroppedByRetentionGiveTheirBytesBack) {
  // Series that stop are dropped by GarbageCollect; the bytes they held must leave the count
  // the bound is checked against, or the head would drop live history for bytes it no longer
  // holds.
  constexpr uint64_t kBound = 512 << 10;
  SeriesStore store(Bounded(kBound));
  store.RequireRetentionFor("a", 30 * kMinute);
  store.RequireRetentionFor("b", 30 * kMinute);
  AppendAll(store, "a", 20, 0, 25 * kMinute, 1'000);  // about 270 KB
  store.GarbageCollect(86 * kMinute);  // past the store's hour: every "a" series ends
  EXPECT_EQ(store.Stats().series, 0u);
  AppendAll(store, "b", 20, 86 * kMinute, 111 * kMinute, 1'000);
  const SeriesStoreStats st = store.Stats();
  EXPECT_EQ(st.size_floor_ms, INT64_MIN) << "dropped history for bytes no longer held";
  EXPECT_EQ(st.points, 20u * (25 * 60 + 1));
}

}  // namespace
}  // namespace obsmon::alerts
