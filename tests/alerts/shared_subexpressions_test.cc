// Subexpressions repeated across rules are computed once per instant, and what the rules produce
// is bit for bit what evaluating every rule in full produces (the oracle: the same rule manager
// with sharing off, which is Prometheus's way).
#include "alerts/promql_shared_subexpressions.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "alerts/promql_engine.h"
#include "alerts/promql_parser.h"
#include "alerts/rule_file.h"
#include "alerts/rule_manager.h"
#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kStart = 1'760'400'000'000;

// Counts what the engine reads from the store.
class CountingQuerier final : public promql::Querier {
 public:
  explicit CountingQuerier(const SeriesStore& store) : store_(store) {}
  void Select(const std::vector<promql::Matcher>& m, int64_t mint, int64_t maxt,
              promql::Matrix* out) const override {
    ++reads;
    store_.Select(m, mint, maxt, out);
  }
  void ForEachLatest(const std::vector<promql::Matcher>& m, int64_t mint, int64_t maxt,
                     const LatestFn& fn) const override {
    ++reads;
    store_.ForEachLatest(m, mint, maxt, fn);
  }
  void ForEachSeries(const std::vector<promql::Matcher>& m, int64_t mint, int64_t maxt,
                     const SeriesFn& fn) const override {
    ++reads;
    store_.ForEachSeries(m, mint, maxt, fn);
  }
  mutable int reads = 0;

 private:
  const SeriesStore& store_;
};

promql::ExprPtr MustParse(const std::string& text) {
  promql::ParseError err;
  auto e = promql::Parse(text, &err);
  EXPECT_NE(e, nullptr) << text;
  return e;
}

class SharedSubexpressionsTest : public ::testing::Test {
 protected:
  SharedSubexpressionsTest() {
    for (int k = 0; k < 12; ++k) {
      for (const char* job : {"x", "y"}) {
        store_.Append(Sample{"reqs", Labels{{"job", job}}, kStart - k * 30'000,
                             1000.0 - k * (job[0] == 'x' ? 7 : 3)});
      }
    }
  }
  double Eval(const promql::Expr& e, promql::SharedSubexpressions* shared, int64_t ts = kStart) {
    promql::EvalOptions o;
    o.shared = shared;
    auto r = promql::Evaluate(e, ts, querier_, o);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->type == promql::ValueType::kVector && !r->vector.empty()
               ? r->vector[0].v
               : -1;
  }
  SeriesStore store_;
  CountingQuerier querier_{store_};
};

TEST_F(SharedSubexpressionsTest, ARepeatedExpressionReadsTheStoreOncePerInstant) {
  auto a = MustParse("sum(rate(reqs[5m])) > 0");
  auto b = MustParse("sum(rate(reqs[5m])) > 0");
  auto c = MustParse("sum(rate(reqs[5m])) > 0");
  promql::SharedSubexpressions shared({a.get(), b.get(), c.get()});
  EXPECT_EQ(shared.slots(), 3u);  // the root, the sum, the rate
  const double first = Eval(*a, &shared);
  EXPECT_EQ(querier_.reads, 1);
  EXPECT_EQ(Eval(*b, &shared), first);
  EXPECT_EQ(Eval(*c, &shared), first);
  EXPECT_EQ(querier_.reads, 1);
  EXPECT_EQ(shared.hits(), 2u);
  // Without sharing, each reads again: the value is the same.
  EXPECT_EQ(Eval(*b, nullptr), first);
  EXPECT_EQ(querier_.reads, 2);
}

TEST_F(SharedSubexpressionsTest, AnotherInstantOrAWriteOfTheMetricReadsAgain) {
  auto a = MustParse("sum(rate(reqs[5m]))");
  auto b = MustParse("sum(rate(reqs[5m])) * 2");
  promql::SharedSubexpressions shared({a.get(), b.get()});
  Eval(*a, &shared);
  Eval(*b, &shared);
  EXPECT_EQ(querier_.reads, 1);
  Eval(*a, &shared, kStart + 1);
  EXPECT_EQ(querier_.reads, 2);
  shared.Written("other");
  Eval(*b, &shared, kStart + 1);
  EXPECT_EQ(querier_.reads, 2);
  // A write of the metric it reads: the next evaluation sees the new sample.
  store_.Append(Sample{"reqs", Labels{{"job", "x"}}, kStart + 1, 5000});
  shared.Written("reqs");
  const double after = Eval(*b, &shared, kStart + 1);
  EXPECT_EQ(querier_.reads, 3);
  EXPECT_EQ(after, Eval(*b, nullptr, kStart + 1));
  shared.Forget();
  Eval(*b, &shared, kStart + 1);
  EXPECT_EQ(querier_.reads, 5);
}

TEST_F(SharedSubexpressionsTest, ASelectorWithoutAMetricNameIsDroppedByAnyWrite) {
  auto a = MustParse("count({job=\"x\"})");
  auto b = MustParse("count({job=\"x\"})");
  promql::SharedSubexpressions shared({a.get(), b.get()});
  Eval(*a, &shared);
  shared.Written("anything");
  Eval(*b, &shared);
  EXPECT_EQ(querier_.reads, 2);
}

TEST_F(SharedSubexpressionsTest, OnlyExactlyEqualSubexpressionsShare) {
  // ToString prints six digits; these differ after them, and in a matcher, an offset, a range,
  // `bool`, the grouping and the function.
  auto a = MustParse("reqs > 97.5");
  auto b = MustParse("reqs > 97.5000001");
  auto c = MustParse("sum by (job) (reqs)");
  auto d = MustParse("sum without (job) (reqs)");
  auto e = MustParse("rate(reqs[5m])");
  auto f = MustParse("rate(reqs[4m])");
  auto g = MustParse("rate(reqs[5m] offset 1m)");
  auto h = MustParse("irate(reqs[5m])");
  auto i = MustParse("reqs > bool 97.5");
  auto j = MustParse("rate(reqs{job=\"x\"}[5m])");
  auto k = MustParse("rate(reqs{job=~\"x\"}[5m])");
  promql::SharedSubexpressions shared(
      {a.get(), b.get(), c.get(), d.get(), e.get(), f.get(), g.get(), h.get(), i.get(), j.get(),
       k.get()});
  EXPECT_EQ(shared.slots(), 0u);
  EXPECT_EQ(shared.repeated(), 0u);
}

// --- the rule manager, against itself with sharing off -------------------------------------

// Rules drawn from a small pool so that whole expressions and parts of them repeat, within a
// group and across groups; some read what earlier rules record (rec_*) or alert (ALERTS), some
// select without a metric name, two fail whenever a job has two matching series (many-to-one
// matching must be explicit).
std::string RandomRules(std::mt19937& rng) {
  const std::vector<std::string> parts = {
      "sum by (job) (rate(reqs[5m]))",
      "sum(rate(reqs[5m]))",
      "avg_over_time(lat{job=\"x\"}[5m])",
      "max by (job) (lat)",
      "count({job=\"y\"})",
      "sum(rec_a)",
      "sum by (job) (rec_b)",
      "count(ALERTS)",
      "lat / ignoring(instance) reqs",
      "rate(reqs[5m]) / on() sum(rate(reqs[5m]))",
  };
  const std::vector<std::string> thresholds = {"0", "0.5", "3", "97.5"};
  auto pick = [&](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  std::string y = "groups:\n";
  int n = 0;
  const int groups = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int g = 0; g < groups; ++g) {
    y += "  - name: g" + std::to_string(g) + "\n    interval: 1m\n    rules:\n";
    const int rules = std::uniform_int_distribution<int>(2, 8)(rng);
    for (int r = 0; r < rules; ++r, ++n) {
      std::string expr = pick(parts);
      const int shape = std::uniform_int_distribution<int>(0, 3)(rng);
      if (shape == 1) expr = "(" + expr + ") > " + pick(thresholds);
      if (shape == 2) expr = "(" + expr + ") * 2 + (" + pick(parts) + ")";
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        const std::string name = std::uniform_int_distribution<int>(0, 1)(rng) ? "rec_a" : "rec_b";
        y += "      - record: " + name + "\n        expr: '" + expr + "'\n";
      } else {
        y += "      - alert: A" + std::to_string(n) + "\n        expr: '" + expr +
             "'\n        for: 1m\n        annotations: {v: '{{ $value }}'}\n";
      }
    }
  }
  return y;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every series of `store` at ts (labels and value bits), as text.
std::string Snapshot(const SeriesStore& store, int64_t ts) {
  promql::Matcher any;
  any.op = promql::Matcher::Op::kNe;
  any.name = "__name__";
  any.value = "";
  promql::Matrix m;
  store.Select({any}, ts, ts, &m);
  std::string out;
  for (const auto& s : m) {
    for (const auto& p : s.points) {
      uint64_t bits;
      std::memcpy(&bits, &p.v, sizeof bits);
      out += s.labels.ToString() + " " + std::to_string(bits) + "\n";
    }
  }
  return out;
}

TEST(SharedSubexpressionsRuleManagerTest, RandomRuleFilesProduceWhatFullEvaluationProduces) {
  uint64_t hits = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    const std::string yaml = RandomRules(rng);
    ConfigErrors errors;
    auto groups = ParseRuleFileText(yaml, "random.yml", &errors);
    ASSERT_TRUE(errors.empty()) << errors.ToString() << yaml;
    SeriesStore shared_store, full_store;
    RuleManagerOptions o;
    o.evaluation_interval_ms = kMin;
    o.store = &shared_store;
    RuleManager shared(o, groups);
    o.store = &full_store;
    o.share_subexpressions = false;
    RuleManager full(o, groups);
    std::uniform_real_distribution<double> jitter(0, 10);
    double count = 0;
    for (int step = 0; step < 12; ++step) {
      const int64_t ts = kStart + step * kMin;
      count += jitter(rng);
      for (const char* job : {"x", "y"}) {
        for (const char* inst : {"1", "2"}) {
          std::vector<Sample> samples = {
              {"reqs", Labels{{"job", job}}, ts - 1000, count},
              {"lat", Labels{{"job", job}, {"instance", inst}}, ts - 1000, jitter(rng)}};
          // One job reports twice as often some minutes: duplicate matches, so some rules fail.
          if (step % 4 == 3 && job[0] == 'y') samples[0].labels.Set("instance", inst);
          shared_store.Append(samples);
          full_store.Append(samples);
        }
      }
      shared.EvaluateAt(ts);
      full.EvaluateAt(ts);
      ASSERT_EQ(Snapshot(shared_store, ts), Snapshot(full_store, ts))
          << "seed " << seed << " step " << step << "\n" << yaml;
      auto sa = shared.ActiveAlerts(true);
      auto fa = full.ActiveAlerts(true);
      ASSERT_EQ(sa.size(), fa.size()) << "seed " << seed << "\n" << yaml;
      for (size_t i = 0; i < sa.size(); ++i) {
        EXPECT_EQ(sa[i].labels, fa[i].labels);
        EXPECT_EQ(sa[i].state, fa[i].state);
        EXPECT_EQ(sa[i].annotations, fa[i].annotations);
        EXPECT_TRUE(SameBits(sa[i].value, fa[i].value)) << sa[i].value << " " << fa[i].value;
      }
      auto sr = shared.Rules();
      auto fr = full.Rules();
      ASSERT_EQ(sr.size(), fr.size());
      for (size_t i = 0; i < sr.size(); ++i) EXPECT_EQ(sr[i].last_error, fr[i].last_error);
      EXPECT_EQ(shared.evaluation_failures(), full.evaluation_failures());
    }
    hits += shared.shared_subexpression_hits();
    EXPECT_EQ(full.shared_subexpression_hits(), 0u);
  }
  // The pool repeats itself: sharing must actually have happened for the comparison to mean
  // anything.
  EXPECT_GT(hits, 1000u);
}

}  // namespace
}  // namespace obsmon::alerts
