// The head (alerts/series_store.h) packs older points; what rules read must not change. The
// oracle is a plain model of the store's contract: every accepted point kept in a vector, the
// oldest live point set by retention from the newest append (never lowered) and by
// max_points_per_series. Random appends (in order, same time, out of order, stale markers),
// retention raises and reads of every kind are compared with it, bit for bit (ForEachSeries,
// what range functions read, leaves stale markers out).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "alerts/promql_value.h"
#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

using promql::Matcher;
using promql::Point;

struct ModelSeries {
  std::vector<Point> points;  // accepted, in time order
  int64_t visible_from = std::numeric_limits<int64_t>::min();
};

class Model {
 public:
  Model(int64_t retention_ms, size_t max_points, int64_t spacing_ms)
      : retention_(retention_ms), max_(max_points), spacing_(spacing_ms) {}
  void RequireRetention(int64_t ms) { retention_ = std::max(retention_, ms); }
  void Append(int job, int64_t t, double v) {
    ModelSeries& s = series_[job];
    if (!s.points.empty() && t < s.points.back().t) return;
    if (!s.points.empty() && t == s.points.back().t) {
      s.points.back().v = v;
      return;
    }
    s.points.push_back({t, v});
    s.visible_from = std::max(s.visible_from, t - retention_);
    // The cap never cuts the retention short for points spaced at least spacing_ apart.
    const size_t cap =
        spacing_ > 0 ? std::max(max_, static_cast<size_t>(retention_ / spacing_)) : max_;
    const auto live = Live(s);
    if (live.size() > cap) s.visible_from = std::max(s.visible_from, live[live.size() - cap].t);
  }
  std::vector<Point> Window(int job, int64_t mint, int64_t maxt) const {
    std::vector<Point> out;
    auto it = series_.find(job);
    if (it == series_.end()) return out;
    for (const Point& p : Live(it->second)) {
      if (p.t >= mint && p.t <= maxt) out.push_back(p);
    }
    return out;
  }
  uint64_t LivePoints() const {
    uint64_t n = 0;
    for (const auto& [job, s] : series_) n += Live(s).size();
    return n;
  }
  int Series() const { return static_cast<int>(series_.size()); }

 private:
  static std::vector<Point> Live(const ModelSeries& s) {
    std::vector<Point> out;
    for (const Point& p : s.points) {
      if (p.t >= s.visible_from) out.push_back(p);
    }
    return out;
  }
  int64_t retention_;
  size_t max_;
  int64_t spacing_;
  std::map<int, ModelSeries> series_;
};

Labels JobLabels(int job) { return Labels{{"__name__", "m"}, {"job", std::to_string(job)}}; }

std::vector<Matcher> JobMatchers(int job) {
  Matcher name;
  name.name = "__name__";
  name.value = "m";
  Matcher j;
  j.name = "job";
  j.value = std::to_string(job);
  return {name, j};
}

void ExpectSame(const std::vector<Point>& want, const Point* b, const Point* e, const char* what) {
  ASSERT_EQ(want.size(), static_cast<size_t>(e - b)) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].t, b[i].t) << what << " point " << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(want[i].v), std::bit_cast<uint64_t>(b[i].v))
        << what << " point " << i;
  }
}

TEST(SeriesStoreModelTest, ReadsAgreeWithThePlainModel) {
  std::mt19937_64 rng(2026);
  for (int round = 0; round < 40; ++round) {
    const int64_t retention = 5'000 + static_cast<int64_t>(rng() % 300'000);
    const size_t max_points = round % 3 == 0 ? 20 + rng() % 200 : 20'000;
    // The cap alone, or with the spacing that keeps it from cutting the retention short.
    const int64_t spacing = round % 2 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 2'000);
    SeriesStoreOptions o;
    o.retention_ms = retention;
    o.max_points_per_series = max_points;
    o.min_point_spacing_ms = spacing;
    SeriesStore store(o);
    Model model(retention, max_points, spacing);
    // Every fourth round the probe keeps time to the millisecond and windows start on a point
    // now and then: a window's first point is found from the step between the newest two.
    const bool even = round % 4 == 1;
    const int jobs = 1 + static_cast<int>(rng() % 4);
    std::vector<int64_t> now(static_cast<size_t>(jobs), 1'700'000'000'000);
    for (int step = 0; step < 3'000; ++step) {
      const int job = static_cast<int>(rng() % static_cast<uint64_t>(jobs));
      int64_t& t = now[static_cast<size_t>(job)];
      const int kind = static_cast<int>(rng() % 20);
      int64_t at = t;
      const int64_t jitter = even ? 0 : static_cast<int64_t>(rng() % 21) - 10;
      if (kind < 14) at = t += 1'000 + jitter;  // a probe at 1 s
      if (kind == 14) at = t += 1 + static_cast<int64_t>(rng() % 120'000);     // a gap
      if (kind == 15) at = t - static_cast<int64_t>(rng() % 5'000);            // out of order
      double v = rng() % 3 == 0 ? static_cast<double>(rng() % 2) : std::bit_cast<double>(rng());
      if (kind == 16) v = promql::StaleNaN();
      if (kind == 17) {
        store.RequireRetention(retention + static_cast<int64_t>(rng() % 100'000));
        model.RequireRetention(store.retention_ms());
        continue;
      }
      store.AppendLabeled(JobLabels(job), at, v);
      model.Append(job, at, v);
      if (step % 37 != 0) continue;
      // Reads: a window ending now or earlier (an offset), the newest point, in place.
      const int64_t maxt = t - (rng() % 4 == 0 ? static_cast<int64_t>(rng() % 400'000) : 0);
      const int64_t back = even && rng() % 2 == 0 ? 1'000 * static_cast<int64_t>(rng() % 600)
                                                  : static_cast<int64_t>(rng() % 600'000);
      const int64_t mint = maxt - back;
      const auto want = model.Window(job, mint, maxt);
      promql::Matrix m;
      store.Select(JobMatchers(job), mint, maxt, &m);
      if (want.empty()) {
        EXPECT_TRUE(m.empty());
      } else {
        ASSERT_EQ(m.size(), 1u);
        ExpectSame(want, m[0].points.data(), m[0].points.data() + m[0].points.size(), "Select");
      }
      std::vector<Point> latest;
      store.ForEachLatest(JobMatchers(job), mint, maxt,
                          [&](const Labels&, const Point& p) { latest.push_back(p); });
      if (want.empty()) {
        EXPECT_TRUE(latest.empty());
      } else {
        ASSERT_EQ(latest.size(), 1u);
        ExpectSame({want.back()}, latest.data(), latest.data() + 1, "ForEachLatest");
      }
      // What range functions read: the same window without its stale markers.
      std::vector<Point> unstale;
      for (const Point& p : want) {
        if (!promql::IsStaleNaN(p.v)) unstale.push_back(p);
      }
      int calls = 0;
      store.ForEachSeries(JobMatchers(job), mint, maxt,
                          [&](const Labels&, const Point* b, const Point* e) {
                            ++calls;
                            ExpectSame(unstale, b, e, "ForEachSeries");
                          });
      EXPECT_EQ(calls, unstale.empty() ? 0 : 1);
    }
    const auto st = store.Stats();
    EXPECT_EQ(st.points, model.LivePoints()) << "round " << round;
    EXPECT_EQ(st.series, static_cast<uint64_t>(model.Series()));
  }
}

// History read back from storage after live points arrived (a reload that selects a new metric,
// a start with probes running) is merged in, not refused as out of order: reads then equal a
// store that received every point in order. The live point wins where both have a time.
TEST(SeriesStoreModelTest, BackfillMergesHistoryUnderNewerLivePoints) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    SeriesStoreOptions o;
    o.retention_ms = 3'600'000;
    SeriesStore merged(o);
    SeriesStore in_order(o);
    const int64_t t0 = 1'700'000'000'000;
    const int n = 200 + static_cast<int>(rng() % 3'000);
    const int live_from = static_cast<int>(rng() % static_cast<uint64_t>(n));
    std::vector<Sample> history;
    for (int i = 0; i < n; ++i) {
      const int64_t t = t0 + i * 1'000 + static_cast<int64_t>(rng() % 21) - 10;
      const double v = rng() % 4 == 0 ? std::bit_cast<double>(rng()) : static_cast<double>(i % 2);
      in_order.AppendLabeled(JobLabels(0), t, v);
      if (i >= live_from) merged.AppendLabeled(JobLabels(0), t, v);  // live: arrived first
      // Storage has the same points up to a little past where live ones began, and a different
      // value at the overlapping times (the live value must win).
      if (i < live_from + 5) history.push_back({"m", Labels{{"job", "0"}}, t, i < live_from ? v : -1.0});
    }
    merged.Backfill(history);
    const int64_t end = t0 + n * 1'000 + 100;
    for (int64_t span : {int64_t{60'000}, int64_t{600'000}, int64_t{3'600'000}}) {
      promql::Matrix want;
      promql::Matrix got;
      in_order.Select(JobMatchers(0), end - span, end, &want);
      merged.Select(JobMatchers(0), end - span, end, &got);
      ASSERT_EQ(want.size(), got.size());
      if (want.empty()) continue;
      const auto& w = want[0].points;
      const auto& g = got[0].points;
      ExpectSame(w, g.data(), g.data() + g.size(), "after Backfill");
    }
    EXPECT_EQ(merged.Stats().points, in_order.Stats().points);
    EXPECT_EQ(merged.Stats().out_of_order, 0u);
  }
}

// A 7-day window over a series recorded every 15 s, as obsmon's SLO rules read
// obsmon:slo_component_up:min for the error budget left: every one of its 40,321 points stays.
// A fixed cap of 20,000 points a series kept the newest 3.5 days (a sum of 20,000 here, not the
// 20,320 ones written). Truth: what the loop wrote.
TEST(SeriesStoreModelTest, ASevenDayWindowSampledEvery15sKeepsAllSevenDays) {
  SeriesStore store;  // the daemon's defaults
  const int64_t kDay = 86'400'000;
  const int64_t t0 = 1'700'000'000'000;
  store.RequireRetentionFor("m", 7 * kDay + 10 * 60'000);
  double ones = 0;
  int64_t written = 0;
  for (int64_t t = t0; t <= t0 + 7 * kDay; t += 15'000, ++written) {
    const double v = t - t0 > 20'000 * 15'000 ? 1 : 0;
    ones += v;
    store.AppendLabeled(JobLabels(0), t, v);
  }
  promql::Matrix got;
  store.Select(JobMatchers(0), t0, t0 + 7 * kDay, &got);
  ASSERT_EQ(got.size(), 1u);
  double sum = 0;
  for (const Point& p : got[0].points) sum += p.v;
  EXPECT_EQ(static_cast<int64_t>(got[0].points.size()), written);
  EXPECT_EQ(written, 40'321);
  EXPECT_EQ(sum, ones);
  EXPECT_EQ(ones, 20'320);
  // The cap still bounds a series faster than anything obsmon produces (10 points a second
  // here, retention 1 hour: 36,000 allowed).
  SeriesStore fast;
  for (int64_t i = 0; i < 100'000; ++i) fast.AppendLabeled(JobLabels(1), t0 + i * 10, 1);
  EXPECT_EQ(fast.Stats().points, 36'000u);
}

}  // namespace
}  // namespace obsmon::alerts
