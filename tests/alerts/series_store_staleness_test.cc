// The head ends a probe's series as Prometheus's scrape loop ends a target's: a series that the
// previous run of a probe had and this run lacks, and every series of a probe a reload removed,
// gets a stale marker, so that instant queries stop seeing it at once rather than after the 5m
// lookback. The expectations are Prometheus's: an instant selector at or after a stale marker
// returns nothing, before it the last real value.
#include <gtest/gtest.h>

#include "alerts/promql_engine.h"
#include "alerts/promql_parser.h"
#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

// The instant vector of `expr` at `ts_ms`, as "labels=value" lines (empty: no result).
std::vector<std::string> Query(const SeriesStore& store, const std::string& expr, int64_t ts_ms) {
  promql::ParseError error;
  auto parsed = promql::Parse(expr, &error);
  EXPECT_TRUE(parsed) << expr;
  auto value = promql::Evaluate(*parsed, ts_ms, store);
  EXPECT_TRUE(value.ok()) << value.status().message();
  std::vector<std::string> out;
  for (const auto& s : value->vector)
    out.push_back(s.labels.ToString() + "=" + std::to_string(s.v));
  return out;
}

Sample Up(const std::string& instance, int64_t ts, double v) {
  return {"up", Labels{{"instance", instance}}, ts, v};
}

TEST(SeriesStoreStalenessTest, ASeriesMissingFromTheNextRunEndsAtThatRun) {
  SeriesStore store;
  store.AppendRun("scrape", {Up("a", kT0, 0), {"queue_stuck", {}, kT0, 1}}, kT0, 1000);
  EXPECT_EQ(Query(store, "queue_stuck == 1", kT0 + 500).size(), 1u);
  // The next run lacks queue_stuck: it ends at that run, not 5 minutes later.
  store.AppendRun("scrape", {Up("a", kT0 + 1000, 0)}, kT0 + 1000, 1000);
  EXPECT_EQ(Query(store, "queue_stuck == 1", kT0 + 999).size(), 1u);
  EXPECT_TRUE(Query(store, "queue_stuck == 1", kT0 + 1000).empty());
  EXPECT_TRUE(Query(store, "queue_stuck", kT0 + 60'000).empty());
  EXPECT_EQ(Query(store, "up == 0", kT0 + 1000).size(), 1u);
  // It comes back at a later run: seen again from then on.
  store.AppendRun("scrape", {Up("a", kT0 + 2000, 0), {"queue_stuck", {}, kT0 + 2000, 1}},
                  kT0 + 2000, 1000);
  EXPECT_EQ(Query(store, "queue_stuck == 1", kT0 + 2000).size(), 1u);
  // A range over the gap still counts the real points only.
  EXPECT_EQ(Query(store, "count_over_time(queue_stuck[10s])", kT0 + 2000),
            std::vector<std::string>{"=2.000000"});
}

TEST(SeriesStoreStalenessTest, ARemovedSourceEndsAndTheOthersDoNot) {
  SeriesStore store;
  store.AppendRun("web/health", {Up("web", kT0, 0)}, kT0, 1000);
  store.AppendRun("db/health", {Up("db", kT0, 0)}, kT0, 1000);
  ASSERT_EQ(Query(store, "up == 0", kT0 + 100).size(), 2u);
  store.EndSourcesExcept({{"db/health", 1000}}, kT0 + 300);
  EXPECT_EQ(store.SourceCount(), 1u);
  // As in Prometheus, the end comes two intervals later (a renamed probe may take over).
  store.ApplyDueEnds(kT0 + 2299);
  EXPECT_EQ(Query(store, "up == 0", kT0 + 300).size(), 2u);
  store.ApplyDueEnds(kT0 + 2300);
  EXPECT_EQ(Query(store, "up == 0", kT0 + 299).size(), 2u);
  const auto after = Query(store, "up == 0", kT0 + 300);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].find("db"), std::string::npos) << after[0];
  // A run of the removed probe still in flight at the reload cannot bring the series back:
  // its point is older than the end.
  store.AppendRun("web/health", {Up("web", kT0 + 200, 0)}, kT0 + 200, 1000);
  EXPECT_EQ(Query(store, "up == 0", kT0 + 400).size(), 1u);
}

TEST(SeriesStoreStalenessTest, ARunUnderWayAtTheReloadDoesNotKeepARemovedProbesSeries) {
  // The removed probe's last run finishes after the reload but before its end is due: its
  // series must still end (were the probe a source again, no end would ever come).
  SeriesStore store;
  store.AppendRun("web/health", {Up("web", kT0, 0)}, kT0, 1000);
  store.EndSourcesExcept({}, kT0 + 300);
  store.AppendRun("web/health", {Up("web", kT0 + 250, 0)}, kT0 + 250, 1000);
  EXPECT_EQ(store.SourceCount(), 0u);
  store.ApplyDueEnds(kT0 + 2300);
  EXPECT_TRUE(Query(store, "up == 0", kT0 + 300).empty());
  // Put back by a later reload, it is a source again.
  store.EndSourcesExcept({{"web/health", 1000}}, kT0 + 5000);
  store.AppendRun("web/health", {Up("web", kT0 + 5100, 0)}, kT0 + 5100, 1000);
  EXPECT_EQ(store.SourceCount(), 1u);
  store.AppendRun("web/health", {}, kT0 + 6100, 1000);
  EXPECT_TRUE(Query(store, "up", kT0 + 6100).empty());
}

TEST(SeriesStoreStalenessTest, SamplesWithTheirOwnTimestampsAreNotEnded) {
  SeriesStore store;
  // An exposition sample stamped by its target (ts != the run's) is not tracked, as in
  // Prometheus: it goes away with the lookback only.
  store.AppendRun("scrape", {Up("a", kT0, 1), {"batch_last_ok", {}, kT0 - 5000, 1}}, kT0, 1000);
  store.AppendRun("scrape", {Up("a", kT0 + 1000, 1)}, kT0 + 1000, 1000);
  EXPECT_EQ(Query(store, "batch_last_ok", kT0 + 1000).size(), 1u);
}

TEST(SeriesStoreStalenessTest, AnEndedSeriesIsEndedOnce) {
  SeriesStore store;
  store.AppendRun("p", {Up("a", kT0, 1)}, kT0, 1000);
  store.AppendRun("p", {}, kT0 + 1000, 1000);
  store.AppendRun("p", {}, kT0 + 2000, 1000);
  store.EndSourcesExcept({}, kT0 + 3000);
  store.ApplyDueEnds(kT0 + 10'000);
  promql::Matrix m;
  promql::Matcher up;
  up.name = "__name__";
  up.value = "up";
  store.Select({up}, kT0, kT0 + 10'000, &m);
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].points.size(), 2u);  // the value and one marker
  EXPECT_EQ(m[0].points[1].t, kT0 + 1000);
  EXPECT_TRUE(promql::IsStaleNaN(m[0].points[1].v));
}

TEST(SeriesStoreStalenessTest, GarbageCollectedSeriesLeaveTheirSource) {
  SeriesStoreOptions options;
  options.retention_ms = 10'000;
  SeriesStore store(options);
  // A probe run less often than the retention: its series is collected between runs. Under
  // AddressSanitizer a dangling pointer in the source's list would be read here.
  store.AppendRun("slow", {Up("a", kT0, 1), {"extra", {}, kT0, 1}}, kT0, 1000);
  store.GarbageCollect(kT0 + 60'000);
  EXPECT_EQ(store.Stats().series, 0u);
  store.AppendRun("slow", {Up("a", kT0 + 60'000, 1)}, kT0 + 60'000, 1000);
  store.AppendRun("slow", {}, kT0 + 61'000, 1000);
  EXPECT_TRUE(Query(store, "up", kT0 + 61'000).empty());
  EXPECT_TRUE(Query(store, "extra", kT0 + 61'000).empty());
  EXPECT_EQ(Query(store, "up", kT0 + 60'500).size(), 1u);
}

TEST(SeriesStoreStalenessTest, UnselectedMetricsAreNeitherKeptNorTracked) {
  SeriesStore store;
  store.SetSelectedNames(std::unordered_set<std::string>{"up"});
  store.AppendRun("p", {Up("a", kT0, 1), {"churn", {}, kT0, 1}}, kT0, 1000);
  store.AppendRun("p", {}, kT0 + 1000, 1000);
  EXPECT_EQ(store.Stats().series, 1u);
  EXPECT_EQ(store.Stats().unselected, 1u);
  EXPECT_TRUE(Query(store, "up", kT0 + 1000).empty());
}

// A reload that stops reading a metric leaves its series out of the next runs because the head
// does not keep them, not because the target dropped them: no end is put there (none is sent to
// storage either). One was, and when a later reload read the metric again, the run's real sample
// read back from storage met the marker at the same time and lost (fresh eyes, stop 68).
TEST(SeriesStoreStalenessTest, ASeriesOfAMetricNoLongerReadIsNotEnded) {
  SeriesStore store;
  store.SetSelectedNames(std::unordered_set<std::string>{"up", "queue_depth"});
  store.AppendRun("p", {Up("a", kT0, 1), {"queue_depth", {}, kT0, 7}}, kT0, 1000);
  store.SetSelectedNames(std::unordered_set<std::string>{"up"});
  store.AppendRun("p", {Up("a", kT0 + 1000, 1), {"queue_depth", {}, kT0 + 1000, 8}}, kT0 + 1000,
                  1000);
  EXPECT_TRUE(store.TakeEnds().empty());
  // Read again, with the run the head did not keep read back from storage.
  store.SetSelectedNames(std::unordered_set<std::string>{"up", "queue_depth"});
  store.Backfill({{"queue_depth", {}, kT0, 7}, {"queue_depth", {}, kT0 + 1000, 8}});
  EXPECT_EQ(Query(store, "count_over_time(queue_depth[1m])", kT0 + 1500),
            std::vector<std::string>{"=2.000000"});
  EXPECT_EQ(Query(store, "queue_depth", kT0 + 1500),
            std::vector<std::string>{"{__name__=\"queue_depth\"}=8.000000"});
}

// The same for a reload that renames the probe writing the metric as it stops reading it: the
// removed probe's series are due to end two intervals on unless a probe writes them meanwhile,
// and the renamed one does, unseen (fresh eyes 2, stop 68: ends stored for series written
// every second).
TEST(SeriesStoreStalenessTest, ARenamedProbesSeriesOfAMetricNoLongerReadAreNotEnded) {
  SeriesStore store;
  store.SetSelectedNames(std::unordered_set<std::string>{"up", "queue_depth"});
  store.AppendRun("old", {Up("a", kT0, 1), {"queue_depth", {}, kT0, 7}}, kT0, 1000);
  store.SetSelectedNames(std::unordered_set<std::string>{"up"});
  store.EndSourcesExcept({{"new", 1000}}, kT0 + 500);
  store.AppendRun("new", {Up("a", kT0 + 1000, 1), {"queue_depth", {}, kT0 + 1000, 8}}, kT0 + 1000,
                  1000);
  store.ApplyDueEnds(kT0 + 10'000);
  EXPECT_TRUE(store.TakeEnds().empty());
}

TEST(SeriesStoreStalenessTest, ARenamedProbeWritingTheSameSeriesIsNotEnded) {
  // A component renamed by a reload: its probe is a new source, but its `up{job,instance,probe}`
  // is the same series. Its first run comes before the old source's end is due: no end, so no
  // false "resolved" and no restarted `for`.
  SeriesStore store;
  store.AppendRun("compa/health", {Up("a", kT0, 0)}, kT0, 1000);
  store.EndSourcesExcept({{"compa_r/health", 1000}}, kT0 + 400);
  store.AppendRun("compa_r/health", {Up("a", kT0 + 900, 0)}, kT0 + 900, 1000);
  store.ApplyDueEnds(kT0 + 10'000);
  for (int64_t t : {kT0 + 400, kT0 + 1000, kT0 + 1500}) {
    EXPECT_EQ(Query(store, "up == 0", t).size(), 1u) << t - kT0;
  }
  // The renamed probe's own runs still end it when it drops the series.
  store.AppendRun("compa_r/health", {}, kT0 + 1900, 1000);
  EXPECT_TRUE(Query(store, "up", kT0 + 1900).empty());
}

TEST(SeriesStoreStalenessTest, ASeriesTwoProbesWriteEndsWhenTheLastDropsIt) {
  SeriesStore store;
  store.AppendRun("a", {Up("x", kT0, 1)}, kT0, 1000);
  store.AppendRun("b", {Up("x", kT0 + 10, 1)}, kT0 + 10, 1000);
  store.AppendRun("a", {}, kT0 + 1000, 1000);  // b still writes it
  EXPECT_EQ(Query(store, "up", kT0 + 1000).size(), 1u);
  store.EndSourcesExcept({{"a", 1000}},
                         kT0 + 1010);  // b removed, and a dropped it already: it ends
  store.ApplyDueEnds(kT0 + 3010);
  EXPECT_TRUE(Query(store, "up", kT0 + 1010).empty());
  // A removed probe whose series another live probe still writes is not ended.
  SeriesStore shared;
  shared.AppendRun("compa", {Up("x", kT0, 1)}, kT0, 1000);
  shared.AppendRun("compc", {Up("x", kT0 + 10, 1)}, kT0 + 10, 1000);
  shared.EndSourcesExcept({{"compa", 1000}}, kT0 + 500);
  shared.ApplyDueEnds(kT0 + 3000);
  EXPECT_EQ(Query(shared, "up", kT0 + 600).size(), 1u);
}

TEST(SeriesStoreStalenessTest, ARenameThatLengthensTheIntervalWaitsForTheNewInterval) {
  // Fresh eyes: renamed with its interval raised from 5 s to 30 s, the new probe's first run came
  // 29.5 s after the reload, after the old series had ended at 2 x 5 s: a false "resolved". The
  // wait is two of the longer interval of the removed source and the sources yet to run.
  SeriesStore store;
  store.AppendRun("alpha3/health", {Up("a", kT0, 0)}, kT0, 5'000);
  store.EndSourcesExcept({{"alpha4/health", 30'000}}, kT0 + 1'000);
  store.ApplyDueEnds(kT0 + 12'000);
  store.AppendRun("alpha4/health", {Up("a", kT0 + 30'500, 0)}, kT0 + 30'500, 30'000);
  store.ApplyDueEnds(kT0 + 70'000);
  for (int64_t t : {kT0 + 11'000, kT0 + 30'000, kT0 + 31'000}) {
    EXPECT_EQ(Query(store, "up == 0", t).size(), 1u) << t - kT0;
  }
  // A removal with no newcomer still ends at two of its own intervals.
  SeriesStore removed;
  removed.AppendRun("beta/health", {Up("b", kT0, 0)}, kT0, 3'000);
  removed.AppendRun("gamma/health", {Up("c", kT0, 0)}, kT0, 60'000);
  removed.EndSourcesExcept({{"gamma/health", 60'000}}, kT0 + 1'000);
  removed.ApplyDueEnds(kT0 + 7'000);
  EXPECT_EQ(Query(removed, "up == 0", kT0 + 7'000).size(), 1u);
}


// A rule's hint finds its series without a lookup cycle after cycle; once the store has dropped
// series (retention), the hint is not trusted: the series is found or made again, never written
// through a freed entry (the sanitized build would report one).
TEST(SeriesStoreRuleHintTest, AHintOutlivedByItsSeriesIsNotUsed) {
  SeriesStoreOptions o;
  o.retention_ms = 60'000;
  SeriesStore store(o);
  const Labels recorded{{"__name__", "job:x:rate5m"}, {"job", "a"}};
  RuleSeriesHint hint;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store.AppendRuleSample(recorded, kT0 + i * 15'000, i, &hint));
  }
  EXPECT_EQ(Query(store, "job:x:rate5m", kT0 + 30'000),
            (std::vector<std::string>{"{__name__=\"job:x:rate5m\",job=\"a\"}=2.000000"}));
  store.GarbageCollect(kT0 + 10 * 60'000);  // an hour of silence: the series goes
  EXPECT_EQ(store.Stats().series, 0u);
  const int64_t later = kT0 + 10 * 60'000 + 15'000;
  ASSERT_TRUE(store.AppendRuleSample(recorded, later, 7, &hint));
  EXPECT_EQ(store.Stats().series, 1u);
  EXPECT_EQ(Query(store, "job:x:rate5m", later),
            (std::vector<std::string>{"{__name__=\"job:x:rate5m\",job=\"a\"}=7.000000"}));
  // Another label set at the same place of the result: its own series, not the hint's.
  const Labels other{{"__name__", "job:x:rate5m"}, {"job", "b"}};
  ASSERT_TRUE(store.AppendRuleSample(other, later + 15'000, 8, &hint));
  EXPECT_EQ(store.Stats().series, 2u);
  EXPECT_EQ(Query(store, "job:x:rate5m{job=\"b\"}", later + 15'000).size(), 1u);
}

}  // namespace
}  // namespace obsmon::alerts
