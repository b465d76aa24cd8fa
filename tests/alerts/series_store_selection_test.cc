// Which series a selector reads (alerts/series_store.h keeps, per metric, what each selector
// matched until a series of the metric comes or goes). The oracle: every live series' labels
// tested against the selector's matchers one by one, in label order. Series are added, ended
// by garbage collection and added again while the same selectors are read over and over.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alerts/promql_parser.h"
#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

using promql::Matcher;
using promql::Point;

std::vector<Matcher> MatchersOf(const std::string& selector) {
  promql::ParseError error;
  promql::ExprPtr e = promql::Parse(selector, &error);
  EXPECT_TRUE(e != nullptr) << selector;
  return e ? e->matchers : std::vector<Matcher>{};
}

bool Matches(const Labels& labels, const std::vector<Matcher>& matchers) {
  for (const Matcher& m : matchers) {
    if (!m.Matches(labels.Get(m.name))) return false;
  }
  return true;
}

// The labels of the series a selector reads at `t` (5m lookback), in the order read.
std::vector<std::string> Read(const SeriesStore& store, const std::vector<Matcher>& matchers,
                              int64_t t) {
  std::vector<std::string> out;
  store.ForEachSeries(matchers, t - 300'000, t, [&](const Labels& l, const Point*, const Point*) {
    out.push_back(l.ToString());
  });
  return out;
}

Labels SeriesLabels(const std::string& metric, int job, int instance) {
  Labels l{{"__name__", metric}, {"job", "j" + std::to_string(job)}};
  if (instance >= 0) l.Set("instance", "i" + std::to_string(instance));
  return l;
}

const std::vector<std::string> kSelectors = {
    "m",
    "m{job=\"j1\"}",
    "m{job!=\"j1\"}",
    "m{job=~\"j[12]\"}",
    "m{job!~\"j[12]\"}",
    "m{instance=\"\"}",          // series without an instance
    "m{instance!=\"\"}",
    "m{job=\"j2\",instance=\"i3\"}",
    "m{instance=\"i3\",job=\"j2\"}",  // the same, written in another order
    "m{instance=~\"i.*\",job!=\"j0\"}",
    "other{job=\"j1\"}",
    "{__name__=~\"m|other\",job=\"j3\"}",
};

// Series of two metrics come (a random job and instance, some without an instance) and go
// (garbage collection of the ones not appended to within the retention), while every
// selector is read after each change; the reads equal the oracle's every time.
TEST(SeriesStoreSelectionTest, SelectorsFollowSeriesThatComeAndGo) {
  std::mt19937_64 rng(57);
  SeriesStoreOptions o;
  o.retention_ms = 600'000;
  SeriesStore store(o);
  std::map<std::string, std::pair<Labels, int64_t>> live;  // text -> labels, newest point
  int64_t t = 1'700'000'000'000;
  for (int step = 0; step < 1'500; ++step) {
    t += 1'000 + static_cast<int64_t>(rng() % 30'000);
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      const Labels l = SeriesLabels(rng() % 4 == 0 ? "other" : "m", static_cast<int>(rng() % 5),
                                    static_cast<int>(rng() % 6) - 1);
      store.AppendLabeled(l, t, static_cast<double>(step));
      live[l.ToString()] = {l, t};
    } else if (op < 8) {
      store.GarbageCollect(t);
      std::erase_if(live, [&](const auto& kv) { return kv.second.second < t - o.retention_ms; });
    }
    for (const std::string& sel : kSelectors) {
      const std::vector<Matcher> matchers = MatchersOf(sel);
      std::vector<std::string> want;
      for (const auto& [text, entry] : live) {
        const auto& [labels, newest] = entry;
        if (newest >= t - 300'000 && Matches(labels, matchers)) want.push_back(text);
      }
      // The store orders a metric's series by labels; the oracle's map orders their text.
      std::vector<std::string> got = Read(store, matchers, t);
      std::multiset<std::string> got_set(got.begin(), got.end());
      EXPECT_EQ(std::multiset<std::string>(want.begin(), want.end()), got_set)
          << sel << " at step " << step;
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const auto& a, const auto& b) {
        return a < b;
      }) || sel[0] == '{') << sel;
    }
  }
}

// More distinct selectors on one metric than the store keeps matches for (as the HTTP API's
// queries may send): each still reads what the oracle selects, the first ones again after the
// bound was passed, and a series added afterwards is seen by all of them.
TEST(SeriesStoreSelectionTest, ManyDistinctSelectorsStayCorrectPastTheBound) {
  SeriesStore store;
  const int64_t t = 1'700'000'000'000;
  for (int job = 0; job < 50; ++job) store.AppendLabeled(SeriesLabels("m", job, job % 7), t, 1);
  const int selectors = static_cast<int>(SeriesStore::kMaxCachedSelectors) * 3 / 2;
  auto selector = [](int i) {
    return "m{job=~\"j" + std::to_string(i % 50) + "|x" + std::to_string(i) + "\"}";
  };
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < selectors; ++i) {
      const auto got = Read(store, MatchersOf(selector(i)), t);
      ASSERT_EQ(got.size(), 1u) << selector(i);
      EXPECT_EQ(got[0], SeriesLabels("m", i % 50, (i % 50) % 7).ToString());
    }
  }
  store.AppendLabeled(Labels{{"__name__", "m"}, {"job", "j3"}, {"zone", "b"}}, t, 1);
  EXPECT_EQ(Read(store, MatchersOf(selector(3)), t).size(), 2u);
  EXPECT_EQ(Read(store, MatchersOf(selector(53)), t).size(), 2u);
}

// Rule evaluations read while probe runs add series and garbage collection drops them: the
// reads hold the store's lock shared, the matches are kept under a lock of their own. Every
// read returns only series its selector matches, each once (under ASan a list kept past a
// change would read freed entries).
TEST(SeriesStoreSelectionTest, ReadersAndWritersAtOnce) {
  SeriesStoreOptions o;
  o.retention_ms = 60'000;
  SeriesStore store(o);
  std::atomic<int64_t> now{1'700'000'000'000};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::mt19937_64 rng(3);
    for (int i = 0; i < 20'000; ++i) {
      const int64_t t = now += 100;
      store.AppendLabeled(SeriesLabels("m", static_cast<int>(rng() % 8), static_cast<int>(i % 40)),
                          t, 1);
      if (i % 500 == 0) store.GarbageCollect(t);
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      const std::vector<Matcher> matchers =
          MatchersOf(r == 0 ? "m{job=\"j1\"}" : "m{job=~\"j[23]\"}");
      while (!stop) {
        std::set<std::string> seen;
        store.ForEachSeries(matchers, now - 300'000, now.load(),
                            [&](const Labels& l, const Point*, const Point*) {
                              if (!Matches(l, matchers) || !seen.insert(l.ToString()).second) ++bad;
                            });
        ++reads;
      }
    });
  }
  writer.join();
  for (auto& th : readers) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace obsmon::alerts
