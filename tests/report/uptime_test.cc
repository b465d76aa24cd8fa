// ComputeUptime against an independent per-instant walk (uptime_oracle.h) and against figures
// worked out by hand for scripted 7-day scenarios.
#include "report/uptime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "core/run_span.h"
#include "storage/storage.h"
#include "tests/report/uptime_oracle.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

using Excluded = std::vector<std::pair<int64_t, int64_t>>;

UptimeResult Compute(const std::vector<ProbeRun>& runs, int64_t from, int64_t to, int64_t now,
                     const Excluded& excluded = {}) {
  UptimeOptions o;
  o.from_ms = from;
  o.to_ms = to;
  o.now_ms = now;
  for (const auto& [s, e] : excluded) o.excluded.push_back({s, e});
  return ComputeUptime(runs, o);
}

// The same over spans, read in place (ComputeUptime's RunSpan overload, what reports use).
UptimeResult ComputeOverSpans(const std::vector<RunSpan>& spans, int64_t from, int64_t to,
                              int64_t now, const Excluded& excluded = {}) {
  UptimeOptions o;
  o.from_ms = from;
  o.to_ms = to;
  o.now_ms = now;
  for (const auto& [s, e] : excluded) o.excluded.push_back({s, e});
  return ComputeUptime(std::span<const RunSpan>(spans), o);
}

void ExpectSameTotalsAndTimeline(const UptimeResult& got, const UptimeResult& want) {
  EXPECT_EQ(got.totals.up_ms, want.totals.up_ms);
  EXPECT_EQ(got.totals.down_ms, want.totals.down_ms);
  EXPECT_EQ(got.totals.unknown_ms, want.totals.unknown_ms);
  EXPECT_EQ(got.totals.excluded_ms, want.totals.excluded_ms);
  ASSERT_EQ(got.timeline.size(), want.timeline.size());
  for (size_t i = 0; i < got.timeline.size(); ++i) {
    EXPECT_EQ(got.timeline[i].start_ms, want.timeline[i].start_ms);
    EXPECT_EQ(got.timeline[i].end_ms, want.timeline[i].end_ms);
    EXPECT_EQ(got.timeline[i].state, want.timeline[i].state);
  }
}

// Each incident's first failing probe, reason and run.
void ExpectSameFirstFailures(const std::vector<Incident>& got, const std::vector<Incident>& want) {
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    EXPECT_EQ(got[i].first_probe, want[i].first_probe);
    EXPECT_EQ(got[i].first_reason, want[i].first_reason);
    EXPECT_EQ(got[i].first_failure_ms, want[i].first_failure_ms);
  }
}

void ExpectSameIncidents(const std::vector<Incident>& got, const std::vector<Incident>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].start_ms, want[i].start_ms);
    EXPECT_EQ(got[i].end_ms, want[i].end_ms);
    EXPECT_EQ(got[i].probes, want[i].probes);
    EXPECT_EQ(got[i].ongoing, want[i].ongoing);
    EXPECT_EQ(got[i].began_before_window, want[i].began_before_window);
  }
}

// Every figure of `got` equals the oracle's, exactly.
void ExpectMatchesOracle(const UptimeResult& got, const Oracle& want) {
  EXPECT_EQ(got.totals.up_ms, want.up);
  EXPECT_EQ(got.totals.down_ms, want.down);
  EXPECT_EQ(got.totals.unknown_ms, want.unknown);
  EXPECT_EQ(got.totals.excluded_ms, want.excluded);
  EXPECT_EQ(got.totals.window_ms, want.up + want.down + want.unknown + want.excluded);
  if (want.up + want.down == 0) {
    EXPECT_FALSE(got.totals.uptime().has_value());
  } else {
    ASSERT_TRUE(got.totals.uptime().has_value());
    EXPECT_DOUBLE_EQ(*got.totals.uptime(),
                     static_cast<double>(want.up) / static_cast<double>(want.up + want.down));
  }
  const int64_t base = want.up + want.down + want.unknown;
  if (base == 0) {
    EXPECT_FALSE(got.totals.coverage().has_value());
  } else {
    ASSERT_TRUE(got.totals.coverage().has_value());
    EXPECT_DOUBLE_EQ(*got.totals.coverage(),
                     static_cast<double>(want.up + want.down) / static_cast<double>(base));
    EXPECT_DOUBLE_EQ(*got.totals.conservative(),
                     static_cast<double>(want.up) / static_cast<double>(base));
  }
  ASSERT_EQ(got.incidents.size(), want.incidents.size());
  for (size_t i = 0; i < want.incidents.size(); ++i) {
    SCOPED_TRACE("incident " + std::to_string(i));
    const auto& g = got.incidents[i];
    const auto& w = want.incidents[i];
    EXPECT_EQ(g.start_ms, w.start);
    EXPECT_EQ(g.end_ms, w.end);
    EXPECT_EQ(g.duration_ms(), w.end - w.start);
    EXPECT_EQ(std::vector<std::string>(w.probes.begin(), w.probes.end()), g.probes);
    EXPECT_EQ(g.first_probe, w.first_probe);
    EXPECT_EQ(g.first_reason, w.first_reason);
    EXPECT_EQ(g.ongoing, w.ongoing);
    EXPECT_EQ(g.began_before_window, w.began_before_window);
  }
  // The timeline adds up to the same totals and has no two adjacent spans of one state.
  int64_t sum = 0;
  for (size_t i = 0; i < got.timeline.size(); ++i) {
    sum += got.timeline[i].end_ms - got.timeline[i].start_ms;
    if (i > 0) {
      EXPECT_EQ(got.timeline[i].start_ms, got.timeline[i - 1].end_ms);
      EXPECT_NE(got.timeline[i].state, got.timeline[i - 1].state);
    }
  }
  EXPECT_EQ(sum, got.totals.window_ms);
}

// One-minute health runs over 7 days (plus one before the window), valid for 90 s, with:
// a failing run 20 s before the window that still covers its first minute, an outage, a monitor
// gap, an hour of runs valid for only 45 s, an outage across midnight, an outage with a gap inside,
// and an outage reaching the window end.
std::vector<ProbeRun> SevenDaysOfMinuteRuns() {
  std::vector<ProbeRun> runs;
  auto at = [](int day, int hour, int minute) {
    return kT0 + day * kDay + hour * kHour + minute * kMinute;
  };
  auto in = [](int64_t ts, int64_t s, int64_t e) { return s <= ts && ts < e; };
  // The last run before the window failed 20 s before it; the run due at kT0 was skipped.
  runs.push_back(MakeRun("health", kT0 - 20 * kSecond, false, 90 * kSecond, "timeout after 2s"));
  for (int64_t ts = kT0 + kMinute; ts < kT0 + 7 * kDay; ts += kMinute) {
    if (in(ts, at(3, 3, 0), at(3, 5, 0))) continue;     // monitor gap
    if (in(ts, at(6, 8, 5), at(6, 8, 10))) continue;    // gap inside an outage
    bool fail = in(ts, kT0, kT0 + 2 * kMinute) ||       // began before the window
                in(ts, at(1, 10, 0), at(1, 10, 7)) ||   // 7 min
                in(ts, at(5, 23, 50), at(6, 0, 20)) ||  // across midnight, 30 min
                in(ts, at(6, 8, 0), at(6, 8, 15)) ||    // 5.5 min + 5 min
                in(ts, at(7, 0, -3), at(7, 0, 0));      // reaches the end, 3 min
    int64_t valid = in(ts, at(4, 12, 0), at(4, 13, 0)) ? 45 * kSecond : 90 * kSecond;
    runs.push_back(MakeRun("health", ts, !fail, valid, "status 503"));
  }
  return runs;
}

TEST(UptimeTest, SevenDaysOfMinuteRunsMatchHandFiguresAndOracle) {
  const auto runs = SevenDaysOfMinuteRuns();
  const int64_t to = kT0 + 7 * kDay;
  const UptimeResult got = Compute(runs, kT0, to, to);

  // By hand: down 2 + 7 + 30 + 5.5 + 5 + 3 minutes; unknown (2 h - 30 s) + 60 x 15 s + 4.5 min.
  EXPECT_EQ(got.totals.down_ms, 52 * kMinute + 30 * kSecond);
  EXPECT_EQ(got.totals.unknown_ms,
            2 * kHour - 30 * kSecond + 15 * kMinute + 4 * kMinute + 30 * kSecond);
  EXPECT_EQ(got.totals.excluded_ms, 0);
  EXPECT_EQ(got.totals.up_ms, 7 * kDay - got.totals.down_ms - got.totals.unknown_ms);
  ASSERT_EQ(got.incidents.size(), 6u);
  EXPECT_EQ(got.incidents[0].start_ms, kT0);
  EXPECT_EQ(got.incidents[0].end_ms, kT0 + 2 * kMinute);
  EXPECT_TRUE(got.incidents[0].began_before_window);
  EXPECT_EQ(got.incidents[0].first_reason, "timeout after 2s");
  EXPECT_EQ(got.incidents[0].first_failure_ms, kT0 - 20 * kSecond);
  EXPECT_EQ(got.incidents[2].duration_ms(), 30 * kMinute);  // crosses midnight: one incident
  EXPECT_EQ(got.incidents[3].duration_ms(), 5 * kMinute + 30 * kSecond);  // unknown splits
  EXPECT_EQ(got.incidents[4].duration_ms(), 5 * kMinute);
  EXPECT_EQ(got.incidents[5].end_ms, to);
  EXPECT_TRUE(got.incidents[5].ongoing);  // now == to and still down

  ExpectMatchesOracle(got, Walk(runs, kT0, to, to, {}, kSecond));
}

TEST(UptimeTest, IncidentReachingWindowEndIsNotOngoingWhenNowIsLater) {
  const auto runs = SevenDaysOfMinuteRuns();
  const int64_t to = kT0 + 7 * kDay;
  const UptimeResult got = Compute(runs, kT0, to, to + kHour);
  ASSERT_FALSE(got.incidents.empty());
  EXPECT_EQ(got.incidents.back().end_ms, to);
  EXPECT_FALSE(got.incidents.back().ongoing);
  EXPECT_EQ(got.evaluated_to_ms, to);
  ExpectMatchesOracle(got, Walk(runs, kT0, to, to + kHour, {}, kSecond));
}

TEST(UptimeTest, SevenDaysOfOneSecondRunsMatchOracle) {
  // 604,800 runs valid for 1.5 s; scripted outages of several lengths and a 10-minute gap.
  std::vector<ProbeRun> runs;
  runs.reserve(604'801);
  const int64_t to = kT0 + 7 * kDay;
  std::vector<std::pair<int64_t, int64_t>> outages = {
      {kT0 + 3 * kHour, kT0 + 3 * kHour + 17 * kSecond},
      {kT0 + kDay + 5 * kHour, kT0 + kDay + 5 * kHour + 12 * kMinute},
      {kT0 + 3 * kDay - kMinute, kT0 + 3 * kDay + kMinute},
      {kT0 + 5 * kDay + 7, kT0 + 5 * kDay + 7},  // empty
      {to - 5 * kSecond, to},
  };
  const int64_t gap_from = kT0 + 4 * kDay + 2 * kHour;
  const int64_t gap_to = gap_from + 10 * kMinute;
  int64_t expected_down = 0;
  for (const auto& [s, e] : outages) expected_down += e - s;
  for (int64_t ts = kT0; ts < to; ts += kSecond) {
    if (gap_from <= ts && ts < gap_to) continue;
    bool fail = false;
    for (const auto& [s, e] : outages) fail = fail || (s <= ts && ts < e);
    runs.push_back(MakeRun("health", ts, !fail, 1500, "connection refused", 0.001 * (ts % 97)));
  }
  const UptimeResult got = Compute(runs, kT0, to, to);
  EXPECT_EQ(got.totals.down_ms, expected_down);
  // The run 1 s before the gap is valid for 1.5 s: it covers 0.5 s of the gap.
  EXPECT_EQ(got.totals.unknown_ms, 10 * kMinute - 500);
  EXPECT_EQ(got.incidents.size(), 4u);
  ExpectMatchesOracle(got, Walk(runs, kT0, to, to, {}, 500));
}

TEST(UptimeTest, RunWhoseValidityExpiresBeforeTheNextRunLeavesUnknown) {
  // Runs every 60 s valid for 20 s: 40 s of every minute is unknown, never up.
  std::vector<ProbeRun> runs;
  for (int i = 0; i < 10; ++i)
    runs.push_back(MakeRun("health", kT0 + i * kMinute, true, 20 * kSecond));
  const UptimeResult got = Compute(runs, kT0, kT0 + 10 * kMinute, kT0 + kDay);
  EXPECT_EQ(got.totals.up_ms, 10 * 20 * kSecond);
  EXPECT_EQ(got.totals.unknown_ms, 10 * 40 * kSecond);
  EXPECT_DOUBLE_EQ(*got.totals.uptime(), 1.0);
  EXPECT_DOUBLE_EQ(*got.totals.coverage(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(*got.totals.conservative(), 1.0 / 3.0);
  ExpectMatchesOracle(got, Walk(runs, kT0, kT0 + 10 * kMinute, kT0 + kDay, {}, kSecond));
}

TEST(UptimeTest, TwoHealthProbesDisagreeing) {
  // http: every 60 s from kT0, valid 90 s. tcp: every 30 s from kT0 + 15 s, valid 45 s.
  std::vector<ProbeRun> runs;
  const int64_t to = kT0 + kDay;
  auto in = [](int64_t ts, int64_t s, int64_t e) { return s <= ts && ts < e; };
  for (int64_t ts = kT0; ts < to; ts += kMinute) {
    bool fail = in(ts, kT0 + 5 * kHour + 5 * kMinute, kT0 + 5 * kHour + 20 * kMinute) ||
                in(ts, kT0 + 12 * kHour, kT0 + 12 * kHour + kMinute);
    runs.push_back(MakeRun("http", ts, !fail, 90 * kSecond, "status 500"));
  }
  for (int64_t ts = kT0 + 15 * kSecond; ts < to; ts += 30 * kSecond) {
    if (in(ts, kT0 + 10 * kHour, kT0 + 11 * kHour)) continue;  // tcp probe stalled
    bool fail = in(ts, kT0 + 5 * kHour, kT0 + 5 * kHour + 10 * kMinute);
    runs.push_back(MakeRun("tcp", ts, !fail, 45 * kSecond, "connection refused"));
  }
  const UptimeResult got = Compute(runs, kT0, to, to);
  // By hand: tcp fails from 05:00:15; http fails 05:05..05:20 and the two overlap, so one
  // incident [05:00:15, 05:20:00) opened by tcp; a second one of 60 s at 12:00 by http alone.
  ASSERT_EQ(got.incidents.size(), 2u);
  EXPECT_EQ(got.incidents[0].start_ms, kT0 + 5 * kHour + 15 * kSecond);
  EXPECT_EQ(got.incidents[0].end_ms, kT0 + 5 * kHour + 20 * kMinute);
  EXPECT_EQ(got.incidents[0].probes, (std::vector<std::string>{"http", "tcp"}));
  EXPECT_EQ(got.incidents[0].first_probe, "tcp");
  EXPECT_EQ(got.incidents[0].first_reason, "connection refused");
  EXPECT_EQ(got.incidents[1].probes, (std::vector<std::string>{"http"}));
  // The first 15 s only http exists and says up; the tcp stall makes the hour unknown except
  // 30 s its last run before the stall (09:59:45, valid 45 s) still covers, up to the next run
  // at 11:00:15.
  EXPECT_EQ(got.totals.unknown_ms, kHour - 15 * kSecond);
  EXPECT_EQ(got.health_probes, (std::vector<std::string>{"http", "tcp"}));
  ExpectMatchesOracle(got, Walk(runs, kT0, to, to, {}, 5 * kSecond));
}

TEST(UptimeTest, SimultaneousFailuresNameTheFirstProbeByName) {
  std::vector<ProbeRun> runs = {MakeRun("b", kT0, false, kMinute, "b down"),
                                MakeRun("a", kT0, false, kMinute, "a down")};
  const UptimeResult got = Compute(runs, kT0, kT0 + kMinute, kT0 + kHour);
  ASSERT_EQ(got.incidents.size(), 1u);
  EXPECT_EQ(got.incidents[0].first_probe, "a");
  EXPECT_EQ(got.incidents[0].first_reason, "a down");
  EXPECT_FALSE(got.incidents[0].began_before_window);
}

TEST(UptimeTest, ExcludedIntervalsAreRemovedFromAllThree) {
  std::vector<ProbeRun> runs;
  const int64_t to = kT0 + 2 * kDay;
  for (int64_t ts = kT0 - kMinute; ts < to; ts += kMinute) {
    bool fail = kT0 + 10 * kHour <= ts && ts < kT0 + 11 * kHour;
    runs.push_back(MakeRun("health", ts, !fail, 90 * kSecond));
  }
  Excluded excluded = {
      {kT0 + 10 * kHour + 30 * kMinute, kT0 + 12 * kHour},                 // cuts the outage
      {kT0 + 11 * kHour + 30 * kMinute, kT0 + 12 * kHour + 30 * kMinute},  // overlaps the first
      {kT0 - kHour, kT0 + 10 * kMinute},  // crosses the window start
      {to - kMinute, to + kDay},          // crosses the window end
  };
  const UptimeResult got = Compute(runs, kT0, to, to, excluded);
  EXPECT_EQ(got.totals.excluded_ms, 2 * kHour + 10 * kMinute + kMinute);
  EXPECT_EQ(got.totals.down_ms, 30 * kMinute);
  EXPECT_EQ(got.totals.unknown_ms, 0);
  ASSERT_EQ(got.incidents.size(), 1u);
  EXPECT_EQ(got.incidents[0].end_ms, kT0 + 10 * kHour + 30 * kMinute);
  // Coverage and conservative uptime are over window - excluded.
  const int64_t base = 2 * kDay - got.totals.excluded_ms;
  EXPECT_DOUBLE_EQ(*got.totals.coverage(), 1.0);
  EXPECT_DOUBLE_EQ(*got.totals.conservative(),
                   static_cast<double>(base - 30 * kMinute) / static_cast<double>(base));
  ExpectMatchesOracle(got, Walk(runs, kT0, to, to, excluded, kSecond));
}

TEST(UptimeTest, OngoingIncidentAtNowAndTheFutureIsNotCounted) {
  std::vector<ProbeRun> runs;
  const int64_t to = kT0 + 7 * kDay;
  const int64_t now = kT0 + 2 * kDay + 3 * kHour;
  // Runs are scripted past `now` too (clock skew); they must not count.
  for (int64_t ts = kT0; ts < now + kHour; ts += kMinute) {
    bool fail = ts >= kT0 + 2 * kDay + 2 * kHour;
    runs.push_back(MakeRun("health", ts, !fail, 90 * kSecond));
  }
  const UptimeResult got = Compute(runs, kT0, to, now);
  EXPECT_EQ(got.evaluated_to_ms, now);
  EXPECT_EQ(got.totals.window_ms, now - kT0);
  EXPECT_EQ(got.totals.down_ms, kHour);
  ASSERT_EQ(got.incidents.size(), 1u);
  EXPECT_TRUE(got.incidents[0].ongoing);
  EXPECT_EQ(got.incidents[0].end_ms, now);
  ExpectMatchesOracle(got, Walk(runs, kT0, to, now, {}, kSecond));
}

TEST(UptimeTest, NoRunsIsAllUnknownAndNoUptime) {
  const UptimeResult got = Compute({}, kT0, kT0 + kDay, kT0 + kDay);
  EXPECT_EQ(got.totals.unknown_ms, kDay);
  EXPECT_FALSE(got.totals.uptime().has_value());
  EXPECT_DOUBLE_EQ(*got.totals.coverage(), 0.0);
  EXPECT_TRUE(got.incidents.empty());
}

TEST(UptimeTest, NowBeforeWindowEvaluatesNothing) {
  std::vector<ProbeRun> runs = {MakeRun("health", kT0 - kMinute, true, kHour)};
  const UptimeResult got = Compute(runs, kT0, kT0 + kDay, kT0 - kSecond);
  EXPECT_EQ(got.totals.window_ms, 0);
  EXPECT_FALSE(got.totals.coverage().has_value());
  EXPECT_TRUE(got.timeline.empty());
}

TEST(UptimeTest, OtherRolesAndUnlistedProbesDoNotDecide) {
  std::vector<ProbeRun> runs = {
      MakeRun("health", kT0, true, kHour),
      MakeRun("itest", kT0, false, kHour, "exit 1", 1, ProbeRole::kIntegration),
      MakeRun("metrics", kT0, false, kHour, "x", 1, ProbeRole::kNone),
      MakeRun("old", kT0 - kDay, true, kMinute),  // removed from the config long ago
  };
  UptimeOptions o{kT0, kT0 + kHour, kT0 + kHour, {}, {"health"}};
  const UptimeResult got = ComputeUptime(runs, o);
  EXPECT_EQ(got.totals.up_ms, kHour);
  EXPECT_EQ(got.health_probes, std::vector<std::string>{"health"});
  // Without the list, the removed probe's silence makes the hour unknown.
  o.health_probes.clear();
  EXPECT_EQ(ComputeUptime(runs, o).totals.unknown_ms, kHour);
}

TEST(UptimeTest, ProbeTakesPartFromItsFirstRun) {
  // "b" is added an hour into the window: before that "a" alone decides.
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0; ts < kT0 + 2 * kHour; ts += kMinute) {
    runs.push_back(MakeRun("a", ts, true, 90 * kSecond));
    if (ts >= kT0 + kHour) runs.push_back(MakeRun("b", ts, true, 90 * kSecond));
  }
  const UptimeResult got = Compute(runs, kT0, kT0 + 2 * kHour, kT0 + 2 * kHour);
  EXPECT_EQ(got.totals.up_ms, 2 * kHour);
}

TEST(UptimeTest, RandomMillisecondScenariosMatchOracle) {
  // Irregular runs at millisecond times, several probes, duplicates, zero and negative validity,
  // shuffled input and random exclusions, checked against a per-millisecond walk.
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto uni = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    const int64_t from = kT0 + uni(0, 999);
    const int64_t to = from + 3 * kMinute;
    const int64_t now = from + uni(kMinute, 4 * kMinute);
    std::vector<ProbeRun> runs;
    const int probes = static_cast<int>(uni(1, 3));
    for (int p = 0; p < probes; ++p) {
      std::string name(1, static_cast<char>('a' + p));
      for (int64_t ts = from - uni(0, 20'000); ts < to + 5000; ts += uni(0, 15'000)) {
        int64_t valid = uni(-1000, 20'000);
        bool ok = uni(0, 9) < 7;
        runs.push_back(MakeRun(name, ts, ok, valid, name + " failed at " + std::to_string(ts)));
      }
    }
    std::shuffle(runs.begin(), runs.end(), rng);
    // Equal timestamps: order within a probe decides; keep the oracle and the code on the same
    // input order by sorting stably per probe before handing it to both.
    std::stable_sort(runs.begin(), runs.end(), [](const ProbeRun& a, const ProbeRun& b) {
      return std::tie(a.key.probe, a.ts_ms) < std::tie(b.key.probe, b.ts_ms);
    });
    Excluded excluded;
    for (int i = uni(0, 3); i > 0; --i) {
      int64_t s = from + uni(-10'000, 3 * kMinute);
      excluded.push_back({s, s + uni(0, 40'000)});
    }
    const UptimeResult got = Compute(runs, from, to, now, excluded);
    ExpectMatchesOracle(got, Walk(runs, from, to, now, excluded, 1));
  }
}

TEST(UptimeTest, UnsortedRunsOfAProbeAreSorted) {
  std::vector<ProbeRun> runs = {MakeRun("h", kT0 + 2 * kMinute, true, 90 * kSecond),
                                MakeRun("h", kT0, false, 90 * kSecond),
                                MakeRun("h", kT0 + kMinute, true, 90 * kSecond)};
  const UptimeResult got = Compute(runs, kT0, kT0 + 3 * kMinute, kT0 + 3 * kMinute);
  EXPECT_EQ(got.totals.down_ms, kMinute);
  EXPECT_EQ(got.totals.up_ms, 2 * kMinute);
}

TEST(UptimeTest, NormalizeIntervalsMergesAndClips) {
  auto n = NormalizeIntervals({{50, 60}, {0, 10}, {5, 20}, {20, 25}, {90, 200}, {30, 30}}, 2, 100);
  EXPECT_EQ(n, (std::vector<TimeInterval>{{2, 25}, {50, 60}, {90, 100}}));
  EXPECT_EQ(OverlapMs(n, 0, 55), 23 + 5);
  EXPECT_TRUE(ContainsInstant(n, 2));
  EXPECT_FALSE(ContainsInstant(n, 25));
  EXPECT_TRUE(ContainsInstant(n, 99));
  EXPECT_FALSE(ContainsInstant(n, 1));
}

// Reports compute uptime over state spans (core/run_span.h), not runs. Over random histories
// (several probes, random verdicts, validities and silences, exclusions, windows and `now`) the
// timeline and the totals over the spans equal those over the runs, exactly; so do incidents'
// bounds and probes.
TEST(UptimeTest, SpansGiveTheSameUptimeAsTheirRuns) {
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<ProbeRun> runs;
    for (const char* probe : {"a", "b", "c"}) {
      if (rng() % 4 == 0) continue;
      int64_t ts = kT0 - static_cast<int64_t>(rng() % kHour);
      bool ok = true;
      while (ts < kT0 + 6 * kHour) {
        if (rng() % 10 == 0) ok = !ok;
        const int64_t valid = 1 + static_cast<int64_t>(rng() % (3 * kMinute));
        runs.push_back(MakeRun(probe, ts, ok, valid, ok ? "" : "r" + std::to_string(rng() % 3)));
        ts += 1 + static_cast<int64_t>(rng() % (2 * kMinute));
      }
    }
    std::shuffle(runs.begin(), runs.end(), rng);
    const std::vector<RunSpan> spans = CompressRuns(runs);
    std::vector<ProbeRun> span_runs;
    for (const RunSpan& span : spans) span_runs.push_back(SpanAsRun(span));
    const int64_t from = kT0 + static_cast<int64_t>(rng() % kHour);
    const int64_t to = from + 1 + static_cast<int64_t>(rng() % (5 * kHour));
    const int64_t now = from + static_cast<int64_t>(rng() % (6 * kHour));
    Excluded excluded;
    if (rng() % 2) {
      const int64_t s0 = from + static_cast<int64_t>(rng() % (4 * kHour));
      excluded.push_back({s0, s0 + static_cast<int64_t>(rng() % kHour)});
    }
    UptimeResult want = Compute(runs, from, to, now, excluded);
    UptimeResult got = Compute(span_runs, from, to, now, excluded);
    ExpectSameTotalsAndTimeline(got, want);
    ExpectSameIncidents(got.incidents, want.incidents);
    EXPECT_EQ(got.health_probes, want.health_probes);
    // Read in place, the spans give what their SpanAsRun copies give, to the first failure's
    // probe, reason and time.
    const UptimeResult in_place = ComputeOverSpans(spans, from, to, now, excluded);
    ExpectSameTotalsAndTimeline(in_place, got);
    ExpectSameIncidents(in_place.incidents, got.incidents);
    ExpectSameFirstFailures(in_place.incidents, got.incidents);
    EXPECT_EQ(in_place.health_probes, got.health_probes);
  }
}

// A window's uptime computed a chunk of its spans at a time (AppendUptime, what BuildReport does
// over storage::Reader::StreamRunSpans) equals it computed at once, to each incident's first
// probe, reason and time: random histories, windows, `now`, exclusions and chunk lengths (any
// millisecond from 10 s, so seams fall inside incidents, gaps and maintenance), with and
// without incident details.
TEST(UptimeTest, ChunkByChunkEqualsAtOnce) {
  std::mt19937 rng(61);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int round = 0; round < 400; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<ProbeRun> runs;
    for (const char* probe : {"a", "b", "c"}) {
      if (uni(0, 3) == 0) continue;
      int64_t ts = kT0 - uni(0, kHour);
      bool ok = true;
      while (ts < kT0 + 6 * kHour) {
        if (uni(0, 9) == 0) ok = !ok;
        runs.push_back(MakeRun(probe, ts, ok, uni(1, 3 * kMinute),
                               ok ? "" : "r" + std::to_string(uni(0, 2))));
        ts += uni(1, 2 * kMinute);
      }
    }
    const std::vector<RunSpan> spans = CompressRuns(runs);
    UptimeOptions o;
    o.from_ms = kT0 + uni(0, kHour);
    o.to_ms = o.from_ms + uni(1, 5 * kHour);
    o.now_ms = o.from_ms + uni(-kMinute, 6 * kHour);
    const int64_t chunk = uni(0, 2) == 0 ? uni(10'000, kMinute) : uni(kMinute, 2 * kHour);
    if (uni(0, 1)) {
      const int64_t s0 = o.from_ms + uni(0, 4 * kHour);
      o.excluded.push_back({s0, s0 + uni(0, kHour)});
    }
    if (uni(0, 1)) {  // maintenance ending on a seam, a probe perhaps down since before it
      const int64_t e0 = o.from_ms + chunk * uni(1, 4);
      o.excluded.push_back({e0 - uni(1, kHour), e0});
    }
    o.incident_details = uni(0, 3) != 0;
    const UptimeResult want = ComputeUptime(std::span<const RunSpan>(spans), o);

    const TimestampMs end = std::max(o.from_ms, std::min(o.to_ms, o.now_ms));
    UptimeResult got;
    bool first = true;
    for (const auto& [c0, c1] : storage::SpanChunks(o.from_ms, end, chunk)) {
      // What the reader gives for [c0, c1): spans starting in it, each probe's last before it.
      std::vector<RunSpan> part;
      for (size_t i = 0; i < spans.size(); ++i) {
        const bool last_before = spans[i].start_ms < c0 &&
                                 (i + 1 == spans.size() || spans[i + 1].key != spans[i].key ||
                                  spans[i + 1].start_ms >= c0);
        if (last_before || (spans[i].start_ms >= c0 && spans[i].start_ms < c1)) {
          part.push_back(spans[i]);
        }
      }
      UptimeOptions oc = o;
      oc.from_ms = c0;
      oc.to_ms = c1;
      UptimeResult r = ComputeUptime(std::span<const RunSpan>(part), oc);
      if (first) {
        got = std::move(r);
        first = false;
      } else {
        AppendUptime(got, std::move(r));
      }
    }
    EXPECT_EQ(got.evaluated_to_ms, want.evaluated_to_ms);
    EXPECT_EQ(got.totals.window_ms, want.totals.window_ms);
    ExpectSameTotalsAndTimeline(got, want);
    ExpectSameIncidents(got.incidents, want.incidents);
    ExpectSameFirstFailures(got.incidents, want.incidents);
    for (const Incident& incident : got.incidents) {
      if (!o.incident_details) {
        EXPECT_TRUE(incident.probes.empty());
      }
    }
    EXPECT_EQ(got.health_probes, want.health_probes);
  }
}

TEST(UptimeTest, SpanChunksCoverTheWindowOnce) {
  using Chunks = std::vector<std::pair<TimestampMs, TimestampMs>>;
  EXPECT_EQ(storage::SpanChunks(0, 10, 4), (Chunks{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(storage::SpanChunks(0, 8, 4), (Chunks{{0, 4}, {4, 8}}));
  EXPECT_EQ(storage::SpanChunks(5, 5, 4), (Chunks{{5, 5}}));
  EXPECT_EQ(storage::SpanChunks(5, 3, 4), (Chunks{{5, 5}}));
  EXPECT_EQ(storage::SpanChunks(0, 10, 0), (Chunks{{0, 10}}));
}

}  // namespace
}  // namespace obsmon
