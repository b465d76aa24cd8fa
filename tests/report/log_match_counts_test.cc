// ReadLogMatchCounts: the window's matched lines from obsmon_log_matches_total's samples, as the
// report takes them where storage kept fewer lines (stop 60). Each case is what fresh eyes made
// it miscount: a baseline from before the window, a counter reset, a series not running before
// the window (never more than it counted), a copy scraped from /metrics (not counted).
#include "report/log_match_counts.h"

#include <gtest/gtest.h>

#include <cmath>

namespace obsmon {
namespace {

constexpr TimestampMs kFrom = 1'760'400'000'000;
constexpr TimestampMs kTo = kFrom + 3'600'000;

// Holds samples and returns those of a name and labels in a range, ordered by series then time,
// as the SQLite reader does.
class SamplesReader final : public storage::Reader {
 public:
  std::vector<Sample> samples;  // ordered by series, then time
  std::vector<CounterValue> counters;

  Result<std::vector<Sample>> Samples(const std::string& name, const Labels& match,
                                      TimestampMs from_ms, TimestampMs to_ms) override {
    std::vector<Sample> out;
    for (const Sample& s : samples) {
      bool all = s.name == name && s.ts_ms >= from_ms && s.ts_ms < to_ms;
      for (const auto& [k, v] : match.pairs()) all = all && s.labels.Get(k) == v;
      if (all) out.push_back(s);
    }
    return out;
  }
  Result<std::vector<ProbeRun>> ProbeRuns(const std::string&, TimestampMs, TimestampMs) override {
    return std::vector<ProbeRun>{};
  }
  Result<std::vector<LogEvent>> LogEvents(const std::string&, TimestampMs, TimestampMs,
                                          size_t) override {
    return std::vector<LogEvent>{};
  }
  Result<std::vector<std::string>> Components() override { return std::vector<std::string>{}; }
  Result<std::vector<ProbeRun>> LatestRuns() override { return std::vector<ProbeRun>{}; }
  Result<std::vector<CounterValue>> AllCounters() override { return counters; }
  std::vector<LogCursor> LogCursors(const ProbeKey&) override { return {}; }
  std::vector<CounterValue> Counters(const ProbeKey&) override { return {}; }

  // One series' samples: (ms from kFrom, value) pairs.
  void Add(const Labels& labels, std::vector<std::pair<int64_t, double>> points) {
    for (const auto& [at, value] : points) {
      samples.push_back(Sample{"obsmon_log_matches_total", labels, kFrom + at, value});
    }
  }
};

Labels Series(const std::string& severity, const std::string& source = "/var/log/app.log") {
  return Labels{{"component", "app"}, {"job", "app"}, {"probe", "logs"},
                {"severity", severity}, {"source", source}};
}

ReportOptions::LogMatchCounts Count(SamplesReader& reader) {
  auto counts = ReadLogMatchCounts(reader, "app", kFrom, kTo, {"critical", "fatal"}, {"error"});
  EXPECT_TRUE(counts.ok()) << counts.status().message();
  return counts.ok() ? *counts : ReportOptions::LogMatchCounts{};
}

TEST(LogMatchCountsTest, CountsFromWhereTheCounterStoodJustBeforeTheWindow) {
  SamplesReader reader;
  reader.Add(Series("critical"), {{-60'000, 7}, {-1'000, 9}, {10'000, 9}, {20'000, 12}});
  reader.Add(Series("error"), {{-1'000, 100}, {10'000, 150}, {4'000'000, 900}});  // after: no
  reader.Add(Series("fatal"), {{-1'000, 0}, {30'000, 2}});
  const auto c = Count(reader);
  EXPECT_EQ(c.critical, 3u + 2u);  // 9 -> 12, and fatal 0 -> 2
  EXPECT_EQ(c.error, 50u);
}

// Each step counted in the day its sample falls in (fresh eyes, stop 62: a capped component's day
// rows came from the kept lines only, 0 critical on the day its 58 critical lines were written).
TEST(LogMatchCountsTest, EachStepCountsInTheDayOfItsSample) {
  SamplesReader reader;
  reader.Add(Series("critical"), {{-1'000, 9}, {10'000, 12}, {1'800'000, 12}, {1'900'000, 1}});
  reader.Add(Series("error"), {{1'000, 5}, {1'799'999, 40}, {1'800'000, 41}, {3'000'000, 50}});
  // Two "days" of half an hour each over the hour's window.
  auto c = ReadLogMatchCounts(reader, "app", kFrom, kTo, {"critical", "fatal"}, {"error"},
                              {kFrom, kFrom + 1'800'000});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->critical, 4u);  // 9 -> 12, then a reset to 1
  EXPECT_EQ(c->critical_by_day, (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(c->error, 45u);    // from its first sample in the window: 5 -> 50
  EXPECT_EQ(c->error_by_day, (std::vector<uint64_t>{35, 10}));
}

TEST(LogMatchCountsTest, AResetCountsItsNewValue) {
  SamplesReader reader;  // a file made again with 4 lines after 10: 10 -> 10 -> 4 -> 6
  reader.Add(Series("critical"), {{-1'000, 10}, {1'000, 10}, {2'000, 4}, {3'000, 6}});
  EXPECT_EQ(Count(reader).critical, 6u);
}

TEST(LogMatchCountsTest, ASeriesNotRunningBeforeTheWindowCountsFromItsFirstSampleInIt) {
  SamplesReader reader;
  // Stood at 2 two hours before (a probe taken out, retention since): not counted again.
  reader.Add(Series("critical"), {{-7'200'000, 2}, {600'000, 2}, {700'000, 3}});
  EXPECT_EQ(Count(reader).critical, 1u);
}

TEST(LogMatchCountsTest, ACopyScrapedFromMetricsIsNotCounted) {
  SamplesReader reader;
  reader.Add(Series("critical"), {{-1'000, 2}, {1'000, 2}});
  Labels scraped = Series("critical");
  scraped.Set("instance", "127.0.0.1:9090");
  reader.Add(scraped, {{1'000, 2}, {2'000, 2}});
  EXPECT_EQ(Count(reader).critical, 0u);
}

TEST(LogMatchCountsTest, AnotherComponentsSeriesAndNaNsAreLeftOut) {
  SamplesReader reader;
  Labels other = Series("critical");
  other.Set("component", "db");
  reader.Add(other, {{-1'000, 0}, {1'000, 5}});
  reader.Add(Series("critical"), {{-1'000, 1}, {1'000, std::nan("")}, {2'000, 2}});
  EXPECT_EQ(Count(reader).critical, 1u);
}

TEST(LogMatchCountsTest, LinesWereDroppedOnlyWhenACapCounterOfTheComponentIsAboveZero) {
  SamplesReader reader;
  const auto dropped = [&] {
    auto d = LogLinesWereDropped(reader, "app");
    EXPECT_TRUE(d.ok());
    return d.ok() && *d;
  };
  EXPECT_FALSE(dropped());
  reader.counters.push_back({"obsmon_log_matches_total", Series("critical"), 9});
  reader.counters.push_back({"obsmon_log_events_dropped_total", Labels{{"component", "app"}}, 0});
  Labels other = Series("critical");
  other.Set("component", "db");
  reader.counters.push_back({"obsmon_log_events_capped_total", other, 4});
  EXPECT_FALSE(dropped());  // nothing of app's over a cap
  reader.counters.push_back({"obsmon_log_events_capped_total", Series("critical"), 1});
  EXPECT_TRUE(dropped());
  reader.counters.back().value = 0;
  reader.counters.push_back({"obsmon_log_events_dropped_total", Labels{{"component", "app"}}, 3});
  EXPECT_TRUE(dropped());
}

}  // namespace
}  // namespace obsmon
