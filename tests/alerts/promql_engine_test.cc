#include "alerts/promql_engine.h"

#include <gtest/gtest.h>

#include <cmath>

#include "alerts/promql_parser.h"
#include "alerts/series_store.h"

namespace obsmon::alerts::promql {
namespace {

constexpr int64_t kMin = 60'000;

class PromqlEngineTest : public ::testing::Test {
 protected:
  void Add(const std::string& name, Labels l, int64_t t, double v) {
    l.Set("__name__", name);
    store_.AppendLabeled(l, t, v);
  }
  Result<Value> Eval(const std::string& q, int64_t t) {
    ParseError err;
    exprs_.push_back(Parse(q, &err));
    EXPECT_NE(exprs_.back(), nullptr) << q << ": " << err.message;
    if (!exprs_.back()) return Status::InvalidArgument(err.message);
    return Evaluate(*exprs_.back(), t, store_);
  }
  Vector Vec(const std::string& q, int64_t t) {
    auto r = Eval(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
    return r.ok() ? r->vector : Vector{};
  }
  SeriesStore store_;
  std::vector<ExprPtr> exprs_;
};

TEST_F(PromqlEngineTest, InstantSelectorLooksBackFiveMinutesInclusive) {
  Add("up", {{"job", "a"}}, 0, 1);
  EXPECT_EQ(Vec("up", 5 * kMin).size(), 1u);      // exactly 5m old: still seen
  EXPECT_EQ(Vec("up", 5 * kMin + 1).size(), 0u);  // older than 5m: gone
  EXPECT_EQ(Vec("up", -1).size(), 0u);            // the future is not seen
}

TEST_F(PromqlEngineTest, StaleMarkerEndsSeriesAtOnce) {
  Add("up", {{"job", "a"}}, 0, 1);
  Add("up", {{"job", "a"}}, kMin, StaleNaN());
  EXPECT_EQ(Vec("up", 30'000).size(), 1u);
  EXPECT_EQ(Vec("up", kMin).size(), 0u);
  // Range functions skip the marker: one real sample left.
  auto c = Vec("count_over_time(up[5m])", 2 * kMin);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].v, 1);
}

TEST_F(PromqlEngineTest, RateExtrapolatesLikePrometheus) {
  // Counter 0, 10, ..., 100 every 15s from t=0 to 150s. rate(x[1m]) at 150s: samples at
  // 90..150s (closed window) = 60, 70, 80, 90, 100 -> 40 over 60s, no extrapolation needed.
  for (int i = 0; i <= 10; ++i) Add("x_total", {}, i * 15'000, i * 10.0);
  auto v = Vec("rate(x_total[1m])", 150'000);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_DOUBLE_EQ(v[0].v, 40.0 / 60.0);
  // At 157.5s the window [97.5s, 157.5s] holds 105..150s (4 samples, 30 over 45s); the start
  // gap (7.5s) and end gap (7.5s) are below 1.1 * 15s, so it extrapolates to 60s: 40 / 60.
  auto w = Vec("increase(x_total[1m])", 157'500);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_DOUBLE_EQ(w[0].v, 40.0);
}

TEST_F(PromqlEngineTest, SumOfRatesByJobAddsEachSeriesRate) {
  // Counters every 15s from 0 to 150s; rate(x[1m]) at 150s reads 90..150s (as above): the
  // increase over 60s. Job a: +40 and +80, job b: +20.
  for (int i = 0; i <= 10; ++i) {
    Add("x_total", {{"job", "a"}, {"i", "1"}}, i * 15'000, i * 10.0);
    Add("x_total", {{"job", "a"}, {"i", "2"}}, i * 15'000, i * 20.0);
    Add("x_total", {{"job", "b"}, {"i", "1"}}, i * 15'000, i * 5.0);
  }
  auto v = Vec("sum by (job) (rate(x_total[1m]))", 150'000);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].labels, (Labels{{"job", "a"}}));
  EXPECT_DOUBLE_EQ(v[0].v, 120.0 / 60.0);
  EXPECT_EQ(v[1].labels, (Labels{{"job", "b"}}));
  EXPECT_DOUBLE_EQ(v[1].v, 20.0 / 60.0);
  // rate() dropped the name, so grouping by it finds none: one group of all three.
  auto by_name = Vec("sum by (__name__) (rate(x_total[1m]))", 150'000);
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_TRUE(by_name[0].labels.empty());
  EXPECT_DOUBLE_EQ(by_name[0].v, 140.0 / 60.0);
  // A selector keeps it.
  auto raw = Vec("sum by (__name__) (x_total)", 150'000);
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].labels, (Labels{{"__name__", "x_total"}}));
  EXPECT_EQ(raw[0].v, 350);  // 100 + 200 + 50
}

TEST_F(PromqlEngineTest, RateNeedsTwoSamples) {
  Add("x_total", {}, 0, 5);
  EXPECT_TRUE(Vec("rate(x_total[5m])", kMin).empty());
  EXPECT_TRUE(Vec("irate(x_total[5m])", kMin).empty());
}

TEST_F(PromqlEngineTest, ManyToManyMatchingIsAnError) {
  Add("a", {{"job", "x"}, {"i", "1"}}, 0, 1);
  Add("b", {{"job", "x"}, {"i", "1"}}, 0, 1);
  Add("b", {{"job", "x"}, {"i", "2"}}, 0, 1);
  auto r = Eval("a + on(job) b", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("many-to-many matching not allowed"), std::string::npos)
      << r.status().message();
  Add("b2", {{"job", "x"}}, 0, 1);
  Add("a", {{"job", "x"}, {"i", "2"}}, 0, 1);
  auto l = Eval("a + on(job) b2", 0);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("many-to-one matching must be explicit"), std::string::npos);
}

TEST_F(PromqlEngineTest, DuplicateLabelsetsAfterDroppingNameAreAnError) {
  Add("a", {{"job", "x"}}, 0, 1);
  Add("b", {{"job", "x"}}, 0, 2);
  auto r = Eval("abs({job=\"x\"})", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "vector cannot contain metrics with the same labelset");
  // Without dropping the name they are distinct.
  EXPECT_EQ(Vec("{job=\"x\"} > 0", 0).size(), 2u);
}

TEST_F(PromqlEngineTest, AbsentTakesEqualityLabels) {
  auto v = Vec("absent(nothing{job=\"a\", env=~\"p.*\", zone=\"z\"})", 0);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].labels, (Labels{{"job", "a"}, {"zone", "z"}}));
  EXPECT_EQ(v[0].v, 1);
}

TEST_F(PromqlEngineTest, ScalarArithmeticFollowsIeee) {
  auto r = Eval("1 / 0", 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::isinf(r->scalar));
  auto m = Eval("5 % 3 + 2 ^ 3", 0);
  EXPECT_EQ(m->scalar, 10);
  auto t = Eval("time()", 90'000);
  EXPECT_EQ(t->scalar, 90);
}

TEST_F(PromqlEngineTest, MaxLookbehindCoversRangesOffsetsAndLookback) {
  ParseError err;
  auto e = Parse("rate(x[10m] offset 1h) + y", &err);
  EXPECT_EQ(MaxLookbehindMs(*e), 70 * kMin);
  auto f = Parse("y offset 10m", &err);
  EXPECT_EQ(MaxLookbehindMs(*f), 15 * kMin);
}

TEST(SeriesStoreTest, RetentionAndOrdering) {
  SeriesStoreOptions o;
  o.retention_ms = 10 * kMin;
  SeriesStore s(o);
  Labels l{{"__name__", "m"}, {"a", "1"}};
  for (int i = 0; i <= 30; ++i) s.AppendLabeled(l, i * kMin, i);
  s.AppendLabeled(l, 5 * kMin, 99);  // out of order: dropped
  Matrix m;
  Matcher name;
  name.name = "__name__";
  name.value = "m";
  s.Select({name}, 0, 100 * kMin, &m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].points.front().t, 20 * kMin);  // older than newest - 10m dropped
  EXPECT_EQ(m[0].points.back().v, 30);
  EXPECT_EQ(s.Stats().out_of_order, 1u);
  s.GarbageCollect(41 * kMin);
  EXPECT_EQ(s.Stats().series, 0u);
}

TEST(SeriesStoreTest, SelectsExactWindowsDeepInLongSeries) {
  SeriesStoreOptions o;
  o.retention_ms = 1'000 * kMin;
  SeriesStore s(o);
  Labels l{{"__name__", "m"}};
  for (int i = 0; i < 500; ++i) s.AppendLabeled(l, i * 1000, i);
  Matcher name;
  name.name = "__name__";
  name.value = "m";
  // Near the end (walk-back path), deep in the middle and at the start (binary-search path).
  for (auto [lo, hi] : {std::pair{490, 499}, {100, 300}, {0, 0}, {250, 260}, {0, 499}}) {
    Matrix m;
    s.Select({name}, lo * 1000, hi * 1000, &m);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].points.size(), static_cast<size_t>(hi - lo + 1)) << lo << ".." << hi;
    EXPECT_EQ(m[0].points.front().v, lo);
    EXPECT_EQ(m[0].points.back().v, hi);
  }
  Matrix none;
  s.Select({name}, 600'000, 700'000, &none);
  s.Select({name}, -5'000, -1, &none);
  EXPECT_TRUE(none.empty());
  std::vector<Point> latest;
  s.ForEachLatest({name}, 100'500, 200'500,
                  [&](const Labels&, const Point& p) { latest.push_back(p); });
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].v, 200);
}

TEST(SeriesStoreTest, AppendsSamplesWithNameAsLabel) {
  SeriesStore s;
  s.Append(Sample{"up", Labels{{"job", "j"}, {"instance", "i"}}, 1000, 0});
  s.Append(Sample{"up", Labels{{"job", "k"}, {"instance", "i"}}, 1000, 1});
  Matrix m;
  Matcher name;
  name.name = "__name__";
  name.value = "up";
  s.Select({name}, 0, 2000, &m);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].labels.Get("job"), "j");  // ordered by labels
  EXPECT_EQ(m[1].labels.Get("__name__"), "up");
}

}  // namespace
}  // namespace obsmon::alerts::promql
