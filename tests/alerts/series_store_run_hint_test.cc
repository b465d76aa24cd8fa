// A probe's run puts each sample into the series its previous run's sample at the same place
// went to, when its labels and name are that series' (SeriesStore::RunHint). Checked against a
// plain model on random runs: samples that change place, name or label set between runs, label
// sets shared across runs (as a probe's are) or made afresh (as a scrape's are), and series
// dropped by GarbageCollect between runs, so that a hint to a dropped series is never followed
// (AddressSanitizer's run of this test would see it).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

TEST(SeriesStoreRunHintTest, EveryRunsSamplesLandInTheirOwnSeries) {
  std::mt19937 rng(7);
  SeriesStoreOptions options;
  options.retention_ms = 20'000;  // dropped after 20 s without a point
  SeriesStore store(options);
  // A pool of label sets, each kept (shared across runs), and names.
  std::vector<Labels> sets;
  for (int i = 0; i < 6; ++i) {
    sets.push_back(Labels{{"instance", "t" + std::to_string(i % 3)},
                          {"job", i < 3 ? "a" : "b"},
                          {"probe", "p" + std::to_string(i)}});
  }
  sets.push_back(Labels{{"Zone", "upper-case names sort before __name__"}});
  sets.push_back(Labels{});
  const std::vector<std::string> names{"up", "probe_success", "probe_duration_seconds", "x"};
  // The model: every real point appended, by the series' text.
  std::map<std::string, std::map<int64_t, double>> model;
  int hits_possible = 0;
  for (int run = 0; run < 3'000; ++run) {
    const int64_t t = kT0 + run * 1'000;
    const std::string source = "c/p" + std::to_string(run % 4);
    std::vector<Sample> samples;
    const int n = std::uniform_int_distribution<int>(0, 5)(rng);
    for (int i = 0; i < n; ++i) {
      // Mostly the same sample at a place run after run; sometimes another one.
      const bool same = std::bernoulli_distribution(0.8)(rng);
      const size_t set = same ? (run % 4 + i) % sets.size()
                              : std::uniform_int_distribution<size_t>(0, sets.size() - 1)(rng);
      const std::string& name = same ? names[i % names.size()]
                                     : names[std::uniform_int_distribution<size_t>(0, 3)(rng)];
      Labels labels = sets[set];
      if (std::bernoulli_distribution(0.1)(rng)) labels = Labels(sets[set].pairs());  // afresh
      samples.push_back({name, labels, t, static_cast<double>(run * 10 + i)});
      hits_possible += same;
    }
    store.AppendRun(source, samples, t, 1'000);
    for (const Sample& s : samples) {
      Labels named = s.labels;
      named.Set("__name__", s.name);
      model[named.ToString()][s.ts_ms] = s.value;
    }
    // Every so often, time jumps: series not written for 20 s are dropped.
    if (run % 97 == 96) store.GarbageCollect(t + 1'000);
  }
  ASSERT_GT(hits_possible, 5'000);
  // Each series the store holds has exactly the model's points within its retention.
  const int64_t end = kT0 + 3'000 * 1'000;
  size_t series = 0;
  promql::Matcher any{promql::Matcher::Op::kNe, "__name__", "", nullptr};
  store.ForEachSeries({any}, 0, end,
                      [&](const Labels& labels, const promql::Point* p, const promql::Point* e) {
                        ++series;
                        const auto& want = model[labels.ToString()];
                        for (; p != e; ++p) {
                          if (std::isnan(p->v)) continue;  // a stale marker of AppendRun's
                          auto it = want.find(p->t);
                          ASSERT_NE(it, want.end()) << labels.ToString() << " at " << p->t;
                          EXPECT_EQ(p->v, it->second) << labels.ToString() << " at " << p->t;
                        }
                      });
  EXPECT_GT(series, 10u);
  // And every model point newer than the retention is in the store.
  for (const auto& [text, points] : model) {
    for (const auto& [t, v] : points) {
      if (t < end - 15'000) continue;
      bool found = false;
      store.ForEachSeries({any}, t, t,
                          [&](const Labels& labels, const promql::Point* p,
                              const promql::Point* e) {
                            if (labels.ToString() != text) return;
                            for (; p != e; ++p) found |= p->t == t && p->v == v;
                          });
      EXPECT_TRUE(found) << text << " at " << t;
    }
  }
}

}  // namespace
}  // namespace obsmon::alerts
