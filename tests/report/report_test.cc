// BuildReport / ComputeReport: verdicts, error budget, checks, latency and per-day rows, through a
// fake storage::Reader over vectors (independent of the SQLite implementation).
#include "report/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "tests/report/uptime_oracle.h"
#include "tests/support/report_checks.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary
using obsmon::testing::HasReason;
using obsmon::testing::SevenDays;
using Spans = std::vector<std::pair<int64_t, int64_t>>;

// storage::Reader over a vector, honouring the contracts of ProbeRuns, RunSpans, RunsOfRole and
// SuccessDurations (storage.h) in the plainest way. `fail` switches every read to an IoError.
class FakeReader : public storage::Reader {
 public:
  explicit FakeReader(std::vector<ProbeRun> runs) : runs_(std::move(runs)) {}
  bool fail = false;
  int reads = 0;

  Result<std::vector<RunSpan>> RunSpans(const std::string& component, TimestampMs from_ms,
                                        TimestampMs to_ms) override {
    ++reads;
    if (fail) return Status::IoError("disk I/O error");
    std::vector<ProbeRun> own;
    for (const auto& r : runs_) {
      if (r.key.component == component) own.push_back(r);
    }
    std::vector<RunSpan> all = CompressRuns(own), out;
    for (size_t i = 0; i < all.size(); ++i) {
      const bool last_before = all[i].start_ms < from_ms &&
                               (i + 1 == all.size() || all[i + 1].key != all[i].key ||
                                all[i + 1].start_ms >= from_ms);
      if (last_before || (all[i].start_ms >= from_ms && all[i].start_ms < to_ms)) {
        out.push_back(all[i]);
      }
    }
    return out;
  }
  Result<std::vector<ProbeRun>> RunsOfRole(const std::string& component, ProbeRole role,
                                           TimestampMs from_ms, TimestampMs to_ms) override {
    ++reads;
    if (fail) return Status::IoError("disk I/O error");
    std::vector<ProbeRun> out;
    for (const auto& r : runs_) {
      if (r.key.component == component && r.role == role && r.ts_ms >= from_ms &&
          r.ts_ms < to_ms) {
        out.push_back(r);
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const ProbeRun& a, const ProbeRun& b) {
      return std::tie(a.key.probe, a.ts_ms) < std::tie(b.key.probe, b.ts_ms);
    });
    return out;
  }
  Result<std::vector<storage::HourDurations>> SuccessDurations(
      const std::string& component, ProbeRole role, TimestampMs from_ms, TimestampMs to_ms,
      storage::Exclusions excluded) override {
    ++reads;
    if (fail) return Status::IoError("disk I/O error");
    std::map<std::pair<std::string, int64_t>, storage::HourDurations> groups;
    for (const auto& r : runs_) {
      if (r.key.component != component || r.role != role || !r.success || r.ts_ms < from_ms ||
          r.ts_ms >= to_ms) {
        continue;
      }
      bool out_of_it = false;
      for (const auto& [s, e] : excluded) out_of_it |= s <= r.ts_ms && r.ts_ms < e;
      if (out_of_it) continue;
      auto& g = groups[{r.key.probe, r.ts_ms / kHour * kHour}];
      g.key = r.key;
      g.role = r.role;
      g.hour_ms = r.ts_ms / kHour * kHour;
      g.seconds.push_back(r.duration_seconds);
    }
    std::vector<storage::HourDurations> out;
    for (auto& [k, g] : groups) {
      std::sort(g.seconds.begin(), g.seconds.end());
      out.push_back(std::move(g));
    }
    return out;
  }
  Result<std::vector<ProbeRun>> ProbeRuns(const std::string& component, TimestampMs from_ms,
                                          TimestampMs to_ms) override {
    ++reads;
    if (fail) return Status::IoError("disk I/O error");
    std::map<std::string, std::vector<ProbeRun>> by_probe;
    std::map<std::string, ProbeRun> last_before;
    for (const auto& r : runs_) {
      if (r.key.component != component) continue;
      if (r.ts_ms >= from_ms && r.ts_ms < to_ms) by_probe[r.key.probe].push_back(r);
      if (r.ts_ms < from_ms &&
          (!last_before.count(r.key.probe) || last_before[r.key.probe].ts_ms <= r.ts_ms)) {
        last_before[r.key.probe] = r;
      }
    }
    for (auto& [probe, r] : last_before) by_probe[probe].insert(by_probe[probe].begin(), r);
    std::vector<ProbeRun> out;
    for (auto& [probe, v] : by_probe) {
      std::stable_sort(v.begin(), v.end(),
                       [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }
  Result<std::vector<LogEvent>> LogEvents(const std::string&, TimestampMs, TimestampMs,
                                          size_t) override {
    return std::vector<LogEvent>{};
  }
  Result<std::vector<Sample>> Samples(const std::string&, const Labels&, TimestampMs,
                                      TimestampMs) override {
    return std::vector<Sample>{};
  }
  Result<std::vector<std::string>> Components() override {
    if (fail) return Status::IoError("disk I/O error");
    std::vector<std::string> out;
    for (const auto& r : runs_) {
      if (std::find(out.begin(), out.end(), r.key.component) == out.end()) {
        out.push_back(r.key.component);
      }
    }
    return out;
  }
  Result<std::vector<ProbeRun>> LatestRuns() override { return std::vector<ProbeRun>{}; }
  Result<std::vector<CounterValue>> AllCounters() override { return std::vector<CounterValue>{}; }
  std::vector<LogCursor> LogCursors(const ProbeKey&) override { return {}; }
  std::vector<CounterValue> Counters(const ProbeKey&) override { return {}; }

 private:
  std::vector<ProbeRun> runs_;
};

bool In(int64_t ts, const Spans& spans) {
  for (const auto& [s, e] : spans) {
    if (s <= ts && ts < e) return true;
  }
  return false;
}

// "health" every minute over [from - 1 min, until), valid 90 s; runs in `down` fail, runs in
// `gaps` are missing. Durations cycle 10..59 ms.
std::vector<ProbeRun> MinuteRuns(int64_t from, int64_t until, const Spans& down,
                                 const Spans& gaps = {}) {
  std::vector<ProbeRun> runs;
  int i = 0;
  for (int64_t ts = from - kMinute; ts < until; ts += kMinute, ++i) {
    if (In(ts, gaps)) continue;
    runs.push_back(
        MakeRun("health", ts, !In(ts, down), 90 * kSecond, "status 503", 0.010 + 0.001 * (i % 50)));
  }
  return runs;
}

const int64_t kTo = kT0 + 7 * kDay;



// A reader that only streams durations (its whole read is refused), generating each hour of
// each probe when it is handed on and holding nothing else: 3 probes x a week of 1-second runs.
// It records the passes BuildReport asks for and the largest group it was ever given at once.
class StreamingOnlyReader final : public FakeReader {
 public:
  static constexpr int kProbes = 3;
  static constexpr int kHours = 7 * 24;
  static constexpr int kPerHour = 3600;

  StreamingOnlyReader() : FakeReader(HourlyRuns()) {}
  int passes = 0;
  size_t largest_group = 0;

  // Hour `h` of probe `p`, ascending: 5-25 ms with many ties, the same in every pass.
  static void Hour(int p, int h, std::vector<double>* out) {
    out->clear();
    uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(p * kHours + h + 1);
    for (int i = 0; i < kPerHour; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      out->push_back(0.005 + static_cast<double>(x % 20'000) / 1e6 * (1 + p * 0.1));
    }
    std::sort(out->begin(), out->end());
  }
  static std::string Name(int p) { return std::string(1, static_cast<char>('a' + p)); }

  Result<std::vector<storage::HourDurations>> SuccessDurations(const std::string&, ProbeRole,
                                                               TimestampMs, TimestampMs,
                                                               storage::Exclusions) override {
    return Status::Unavailable("this reader does not hold a window's durations");
  }
  Status StreamSuccessDurations(const std::string& component, ProbeRole role, TimestampMs from_ms,
                                TimestampMs to_ms, storage::Exclusions,
                                storage::HourDurationsPasses& sink) override {
    storage::HourDurations g;
    do {
      ++passes;
      for (int p = 0; p < kProbes; ++p) {
        for (int h = 0; h < kHours; ++h) {
          g.key = {component, Name(p)};
          g.role = role;
          g.hour_ms = kT0 + h * kHour;
          if (g.hour_ms < from_ms || g.hour_ms >= to_ms) continue;
          Hour(p, h, &g.seconds);
          largest_group = std::max(largest_group, g.seconds.size());
          sink.Visit(g);
        }
      }
    } while (sink.AnotherPass());
    return Status::Ok();
  }

 private:
  // Runs for the spans only (up all week): the durations come from StreamSuccessDurations.
  static std::vector<ProbeRun> HourlyRuns() {
    std::vector<ProbeRun> runs;
    for (int p = 0; p < kProbes; ++p) {
      for (int64_t ts = kT0 - kHour; ts < kT0 + 7 * kDay; ts += kHour) {
        runs.push_back(MakeRun(Name(p), ts, true, 2 * kHour));
      }
    }
    return runs;
  }
};

// The summary of `values` by a plain sort (nearest ranks indexed).
void ExpectSortedFigures(std::vector<double> values, const LatencySummary& got,
                         const std::string& what) {
  std::sort(values.begin(), values.end());
  SCOPED_TRACE(what);
  ASSERT_EQ(got.count, values.size());
  EXPECT_EQ(got.min_seconds, values.front());
  EXPECT_EQ(got.max_seconds, values.back());
  EXPECT_EQ(got.p50_seconds, values[NearestRank(values.size(), 500) - 1]);
  EXPECT_EQ(got.p95_seconds, values[NearestRank(values.size(), 950) - 1]);
  EXPECT_EQ(got.p99_seconds, values[NearestRank(values.size(), 990) - 1]);
}

TEST(ReportTest, BuildReportStreamsDurationsAnHourOfAProbeAtATime) {
  StreamingOnlyReader reader;
  auto report = BuildReport(reader, "carbon", SevenDays(250), kT0, kTo, kTo);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  // Never more than one hour of one probe handed over at once, in a few passes.
  EXPECT_EQ(reader.largest_group, 3600u);
  EXPECT_GE(reader.passes, 2);
  EXPECT_LE(reader.passes, 8);
  // The figures are those of a plain sort of every value (the test may hold them all).
  std::vector<double> all, hour;
  std::vector<std::vector<double>> by_probe(StreamingOnlyReader::kProbes), by_day(7);
  for (int p = 0; p < StreamingOnlyReader::kProbes; ++p) {
    for (int h = 0; h < StreamingOnlyReader::kHours; ++h) {
      StreamingOnlyReader::Hour(p, h, &hour);
      all.insert(all.end(), hour.begin(), hour.end());
      by_probe[p].insert(by_probe[p].end(), hour.begin(), hour.end());
      by_day[h / 24].insert(by_day[h / 24].end(), hour.begin(), hour.end());
    }
  }
  ExpectSortedFigures(all, report->latency, "pooled");
  ASSERT_EQ(report->latency_by_probe.size(), by_probe.size());
  for (size_t p = 0; p < by_probe.size(); ++p) {
    EXPECT_EQ(report->latency_by_probe[p].probe, StreamingOnlyReader::Name(static_cast<int>(p)));
    ExpectSortedFigures(by_probe[p], report->latency_by_probe[p].latency, "probe " +
                                                                           std::to_string(p));
  }
  ASSERT_EQ(report->days.size(), 7u);
  for (size_t d = 0; d < 7; ++d) {
    ExpectSortedFigures(by_day[d], report->days[d].latency, "day " + std::to_string(d + 1));
  }
  EXPECT_EQ(report->latency_hourly.size(), 168u);
}

TEST(ReportTest, BuildReportReadsTheComponentsRunsAndMatchesOracle) {
  auto runs = MinuteRuns(kT0, kTo + kHour, {{kT0 + kDay, kT0 + kDay + 20 * kMinute}});
  // Another component's outage must not leak in.
  runs.push_back(
      MakeRun("health", kT0 + 2 * kDay, false, kDay, "x", 0.1, ProbeRole::kHealth, "other"));
  FakeReader reader(runs);
  auto report = BuildReport(reader, "carbon", SevenDays(), kT0, kTo, kTo + kHour);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::vector<ProbeRun> mine(runs.begin(), runs.end() - 1);
  const Oracle want = Walk(mine, kT0, kTo, kTo + kHour, {}, kSecond);
  EXPECT_EQ(report->totals.up_ms, want.up);
  EXPECT_EQ(report->totals.down_ms, want.down);
  EXPECT_EQ(report->totals.down_ms, 20 * kMinute);
  EXPECT_EQ(report->totals.unknown_ms, want.unknown);
  ASSERT_EQ(report->incidents.size(), 1u);
  EXPECT_EQ(report->incidents[0].start_ms, kT0 + kDay);
  EXPECT_EQ(report->verdict, Verdict::kPass);
  EXPECT_EQ(report->health_probes, std::vector<std::string>{"health"});
}

TEST(ReportTest, UnknownComponentIsNotFound) {
  FakeReader reader(MinuteRuns(kT0, kTo, {}));
  auto report = BuildReport(reader, "nope", SevenDays(), kT0, kTo, kTo);
  EXPECT_TRUE(report.status().IsNotFound());
}

TEST(ReportTest, EmptyWindowAndBadObjectiveAreInvalidArguments) {
  FakeReader reader(MinuteRuns(kT0, kTo, {}));
  EXPECT_TRUE(
      BuildReport(reader, "carbon", SevenDays(), kTo, kT0, kTo).status().IsInvalidArgument());
  Objective bad = SevenDays();
  bad.uptime_percent = 0;
  EXPECT_TRUE(BuildReport(reader, "carbon", bad, kT0, kTo, kTo).status().IsInvalidArgument());
  EXPECT_EQ(reader.reads, 0);
}

TEST(ReportTest, ReaderFailureIsReturned) {
  FakeReader reader(MinuteRuns(kT0, kTo, {}));
  reader.fail = true;
  auto report = BuildReport(reader, "carbon", SevenDays(), kT0, kTo, kTo);
  EXPECT_EQ(report.status().code(), Status::Code::kIoError);
}

// The daemon's client left: the build stops at the next 6 hours of spans, not at the window's end.
TEST(ReportTest, ACancelledBuildStopsBetweenChunks) {
  FakeReader reader(MinuteRuns(kT0, kTo, {}));
  int asked = 0;
  ReportOptions options;
  options.cancelled = [&] { return ++asked == 3; };
  auto report = BuildReport(reader, "carbon", SevenDays(), kT0, kTo, kTo, options);
  EXPECT_TRUE(report.status().IsCancelled()) << report.status().ToString();
  EXPECT_EQ(asked, 3);  // of the 28 chunks of the week
  options.cancelled = [] { return false; };
  EXPECT_TRUE(BuildReport(reader, "carbon", SevenDays(), kT0, kTo, kTo, options).ok());
}

TEST(ReportTest, PassWithinBudget) {
  auto runs = MinuteRuns(kT0, kTo, {{kT0 + 2 * kDay, kT0 + 2 * kDay + 30 * kMinute}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.budget.allowed_ms, 3'024'000);  // 50.4 minutes
  EXPECT_EQ(r.budget.used_ms, 30 * kMinute);
  EXPECT_EQ(r.budget.left_ms, 3'024'000 - 30 * kMinute);
  EXPECT_DOUBLE_EQ(*r.budget.used_ratio(), 1'800'000.0 / 3'024'000.0);
}

// Issue 16, item 3: a report without log evidence (read from a store) does not count the
// lines it was given as zero lines or as evidence: the criterion is left out and the reasons
// say why, whatever the verdict.
TEST(ReportTest, WithoutLogEvidenceTheCriticalLinesCriterionIsLeftOutAndSaid) {
  auto runs = MinuteRuns(kT0, kTo, {});
  ReportOptions o;
  o.log_events.push_back({{"carbon", "log"}, kT0 + kHour, "/var/log/c.log", "critical", "boom"});
  Report with = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo, o);
  EXPECT_EQ(with.verdict, Verdict::kFail);
  EXPECT_EQ(with.logs.critical, 1u);
  o.log_evidence_unavailable = "log evidence not available from the store";
  Report without = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo, o);
  EXPECT_EQ(without.logs.critical, 0u);
  EXPECT_EQ(without.logs.unavailable, "log evidence not available from the store");
  for (const auto& c : without.criteria) EXPECT_NE(c.name, "critical_lines");
  EXPECT_EQ(without.verdict, Verdict::kPass);
  EXPECT_TRUE(HasReason(without,
                        "critical log lines not evaluated: log evidence not available from the store"));
}

// Where a cap dropped lines, the counts are lower bounds even when the counters add nothing to
// the kept lines (fresh eyes, stop 62: a backlog of 1,500 critical lines read at a probe's start
// is in no counter's increase; the report said "1000 critical lines" as if exact), and the day
// rows take the counters where they count more.
TEST(ReportTest, LinesDroppedByACapMakeTheCountsLowerBounds) {
  auto runs = MinuteRuns(kT0, kTo, {});
  ReportOptions o;
  for (int i = 0; i < 3; ++i) {
    o.log_events.push_back(
        {{"carbon", "log"}, kT0 + kHour + i, "/var/log/c.log", "critical", "boom"});
  }
  Report kept = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo, o);
  EXPECT_FALSE(kept.logs.truncated);
  ReportOptions::LogMatchCounts counted;
  counted.critical = 2;  // fewer than kept: a first read's backlog is in no increase
  counted.critical_by_day.assign(7, 0);
  counted.error_by_day.assign(7, 0);
  counted.critical_by_day[0] = 1;
  counted.critical_by_day[2] = 1;
  o.log_match_counts = counted;
  Report capped = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo, o);
  EXPECT_TRUE(capped.logs.truncated);
  EXPECT_EQ(capped.days[0].criticals, 3u);  // kept 3 > counted 1
  EXPECT_EQ(capped.days[2].criticals, 1u);  // counted only
  EXPECT_EQ(capped.logs.critical, 4u);      // the days' sum
}

TEST(ReportTest, FailNamesTheFigure) {
  auto runs = MinuteRuns(kT0, kTo, {{kT0 + 2 * kDay, kT0 + 2 * kDay + 60 * kMinute}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  // 1 - 60 / 10080 = 0.9940476..., printed rounded down.
  EXPECT_TRUE(HasReason(r, "uptime 99.404 % < objective 99.500 %")) << r.verdict_reasons[0];
  EXPECT_EQ(r.budget.left_ms, 3'024'000 - 3'600'000);
}

TEST(ReportTest, ExactlyTheBudgetPassesOneMillisecondMoreFails) {
  // Down from 10:00 until a successful run at 10:50:24 = 3,024,000 ms = the whole budget.
  for (int64_t extra : {0, 1}) {
    SCOPED_TRACE(extra);
    const int64_t start = kT0 + 3 * kDay + 10 * kHour;
    auto runs = MinuteRuns(kT0, kTo, {{start, start + 51 * kMinute}});
    runs.push_back(MakeRun("health", start + 3'024'000 + extra, true, 90 * kSecond));
    std::stable_sort(runs.begin(), runs.end(),
                     [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
    Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
    EXPECT_EQ(r.totals.down_ms, 3'024'000 + extra);
    EXPECT_EQ(r.budget.left_ms, -extra);
    EXPECT_EQ(r.verdict, extra == 0 ? Verdict::kPass : Verdict::kFail);
  }
}

TEST(ReportTest, LowCoverageIsInsufficientData) {
  // A 3-hour monitor gap: coverage 1 - (3 h - 30 s) / 7 d < 99 %.
  auto runs = MinuteRuns(kT0, kTo, {}, {{kT0 + kDay, kT0 + kDay + 3 * kHour}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
  EXPECT_EQ(r.totals.unknown_ms, 3 * kHour - 30 * kSecond);
  EXPECT_EQ(r.verdict, Verdict::kInsufficientData);
  EXPECT_TRUE(HasReason(r, "coverage 98.219 % < 99.000 %")) << r.verdict_reasons[0];
}

TEST(ReportTest, InProgressShowsBudgetLeft) {
  const int64_t now = kT0 + 3 * kDay;
  auto runs = MinuteRuns(kT0, now, {{kT0 + kDay, kT0 + kDay + 10 * kMinute}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, now);
  EXPECT_EQ(r.verdict, Verdict::kInProgress);
  EXPECT_TRUE(r.in_progress());
  EXPECT_EQ(r.evaluated_to_ms, now);
  EXPECT_EQ(r.budget.allowed_ms, 3'024'000);  // the whole window's budget
  EXPECT_EQ(r.budget.left_ms, 3'024'000 - 10 * kMinute);
  EXPECT_EQ(r.days.size(), 3u);  // only elapsed days
}

TEST(ReportTest, InProgressFailsOnceTheBudgetIsSpent) {
  const int64_t now = kT0 + kDay;
  auto runs = MinuteRuns(kT0, now, {{kT0 + kHour, kT0 + 2 * kHour}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, now);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "error budget exhausted"));
}

TEST(ReportTest, InProgressWithLowCoverageSoFarIsInsufficientData) {
  const int64_t now = kT0 + kDay;
  auto runs = MinuteRuns(kT0, now, {}, {{kT0 + kHour, kT0 + 2 * kHour}});
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, now);
  EXPECT_EQ(r.verdict, Verdict::kInsufficientData);
}

TEST(ReportTest, IntegrationChecksAreCountedAndAFailureFails) {
  auto runs = MinuteRuns(kT0, kTo, {});
  for (int64_t ts = kT0 - kHour; ts < kTo; ts += kHour) {  // one before the window: not counted
    bool ok = ts != kT0 + 4 * kDay + 5 * kHour;
    runs.push_back(MakeRun("pytest", ts, ok, 2 * kHour, "exit 1: 1 failed, 41 passed", 30,
                           ProbeRole::kIntegration));
  }
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_EQ(r.checks[0].runs, 168u);
  EXPECT_EQ(r.checks[0].passed, 167u);
  EXPECT_EQ(r.checks[0].failed, 1u);
  EXPECT_EQ(r.checks[0].first_failure_ms, kT0 + 4 * kDay + 5 * kHour);
  EXPECT_EQ(r.checks[0].first_failure_reason, "exit 1: 1 failed, 41 passed");
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "integration checks 167/168 passed"));
  EXPECT_EQ(r.days[4].checks_failed, 1u);
  EXPECT_EQ(r.days[4].checks_passed, 23u);
  // Integration runs never decide uptime.
  EXPECT_EQ(r.totals.down_ms, 0);
}

TEST(ReportTest, LatencyOfSuccessfulHealthRunsInTheWindowOnly) {
  auto runs = MinuteRuns(kT0, kTo, {{kT0 + kDay, kT0 + kDay + 5 * kMinute}});
  runs.front().duration_seconds = 99;        // before the window: ignored
  runs[1 + 1440 + 2].duration_seconds = 77;  // a failed run: ignored
  std::vector<double> want;
  for (const auto& run : runs) {
    if (run.success && run.ts_ms >= kT0 && run.ts_ms < kTo) want.push_back(run.duration_seconds);
  }
  std::sort(want.begin(), want.end());
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo);
  ASSERT_EQ(r.latency.count, want.size());
  EXPECT_EQ(r.latency.count, 7u * 1440 - 5);
  // Nearest rank: ceil(p x n) with n = 10075 -> ranks 5038, 9572, 9975.
  EXPECT_EQ(r.latency.p50_seconds, want[5038 - 1]);
  EXPECT_EQ(r.latency.p95_seconds, want[9572 - 1]);
  EXPECT_EQ(r.latency.p99_seconds, want[9975 - 1]);
  EXPECT_EQ(r.latency.max_seconds, want.back());
  EXPECT_LT(r.latency.max_seconds, 1.0);
}

TEST(ReportTest, LatencySlaCriterion) {
  auto runs = MinuteRuns(kT0, kTo, {});
  Objective o = SevenDays();
  o.latency_p95_ms = 50;  // durations are 10..59 ms: p95 is 57 ms
  Report r = ComputeReport(runs, "carbon", o, kT0, kTo, kTo);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  // No probe named: every health probe, pooled, and the criterion says so.
  EXPECT_TRUE(HasReason(r, "latency p95 57.0 ms (all health probes, pooled) > SLA 50.0 ms"))
      << r.verdict_reasons[0];
  o.latency_p95_ms = 60;
  EXPECT_EQ(ComputeReport(runs, "carbon", o, kT0, kTo, kTo).verdict, Verdict::kPass);
}

// p95 by the nearest rank, computed here from the values themselves: ceil(0.95 n), 1-based.
double HandP95(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[(95 * values.size() + 99) / 100 - 1];
}

// Every health probe has its latency row, one without a successful run in the window with count
// 0 (fresh eyes, stop 66: a window all under maintenance listed no probe at all, where
// docs/report-json.md promises one entry per health probe).
TEST(ReportTest, AProbeWithoutASuccessfulRunHasALatencyRowOfCountZero) {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0; ts < kT0 + kDay; ts += kMinute) {
    runs.push_back(MakeRun("api", ts, true, 90 * kSecond, "", 0.002));
    runs.push_back(MakeRun("db", ts, false, 90 * kSecond, "refused", 0.001));
  }
  Report r = ComputeReport(runs, "carbon", SevenDays(50), kT0, kTo, kT0 + kDay);
  ASSERT_EQ(r.latency_by_probe.size(), 2u);
  EXPECT_EQ(r.latency_by_probe[0].probe, "api");
  EXPECT_EQ(r.latency_by_probe[0].latency.count, 1440u);
  EXPECT_EQ(r.latency_by_probe[1].probe, "db");
  EXPECT_EQ(r.latency_by_probe[1].latency.count, 0u);
  // A window all under maintenance: both rows, both empty.
  ReportOptions options;
  options.excluded = {{kT0, kT0 + kDay}};
  Report excluded = ComputeReport(runs, "carbon", SevenDays(50), kT0, kTo, kT0 + kDay, options);
  ASSERT_EQ(excluded.latency_by_probe.size(), 2u);
  for (const ProbeLatency& p : excluded.latency_by_probe) EXPECT_EQ(p.latency.count, 0u);
}

// An SLA on two probes is met only when both have a p95 within it: one that never succeeded, or
// never ran in the window, has none, and the criterion is not met however fast the other is
// (fresh eyes, stop 66: it read "met" on the answering probe alone, and the verdict passed).
TEST(ReportTest, AnSlaProbeWithoutASuccessfulRunDoesNotMeetTheSla) {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0; ts < kTo; ts += kMinute) {
    runs.push_back(MakeRun("good", ts, true, 90 * kSecond, "", 0.004));
    runs.push_back(MakeRun("bad", ts, false, 90 * kSecond, "500", 0.001));
  }
  for (const std::string& missing : {std::string("bad"), std::string("fresh")}) {
    SCOPED_TRACE(missing);
    Objective o = SevenDays(500);
    o.uptime_percent = 0;  // "bad" is down throughout: only the latency is judged here
    o.latency_probes = {"good", missing};
    Report r = ComputeReport(runs, "carbon", o, kT0, kTo, kTo);
    auto latency = std::find_if(r.criteria.begin(), r.criteria.end(),
                                [](const Criterion& c) { return c.name == "latency_p95"; });
    ASSERT_NE(latency, r.criteria.end());
    EXPECT_FALSE(latency->met) << latency->detail;
    EXPECT_NE(latency->detail.find("n/a for " + missing), std::string::npos) << latency->detail;
    EXPECT_NE(r.verdict, Verdict::kPass);
    auto row = std::find_if(r.latency_by_probe.begin(), r.latency_by_probe.end(),
                            [&](const ProbeLatency& p) { return p.probe == missing; });
    ASSERT_NE(row, r.latency_by_probe.end());
    EXPECT_TRUE(row->sla);
    EXPECT_EQ(row->latency.count, 0u);
  }
}

// Issue 15, item 4: an exec health script's ~250 ms interpreter start-up (slower each day) and a
// TCP connect's 0.04 ms beside an HTTP endpoint answering in about a millisecond. An SLA of 50 ms
// on the HTTP probe is judged on that probe alone; each probe has its own percentiles.
TEST(ReportTest, LatencySlaIsAboutItsNamedProbeOnly) {
  std::vector<ProbeRun> runs;
  std::map<std::string, std::vector<double>> durations;
  std::vector<double> api_day0, api_day6, all;
  int i = 0;
  for (int64_t ts = kT0; ts < kTo; ts += kMinute, ++i) {
    const int day = static_cast<int>((ts - kT0) / kDay);
    const double api = 0.0005 + 0.00001 * (i % 97);
    const double script = 0.250 + 0.001 * (i % 37) + 0.05 * day;
    runs.push_back(MakeRun("api", ts, true, 90 * kSecond, "", api));
    runs.push_back(MakeRun("script", ts, true, 90 * kSecond, "", script));
    runs.push_back(MakeRun("port", ts, true, 90 * kSecond, "", 0.00004));
    durations["api"].push_back(api);
    durations["script"].push_back(script);
    durations["port"].push_back(0.00004);
    if (day == 0) api_day0.push_back(api);
    if (day == 6) api_day6.push_back(api);
    all.insert(all.end(), {api, script, 0.00004});
  }
  Objective o = SevenDays(50);
  o.latency_probes = {"api"};
  Report r = ComputeReport(runs, "carbon", o, kT0, kTo, kTo);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.verdict_reasons[0];
  ASSERT_EQ(r.latency_by_probe.size(), 3u);
  for (const auto& p : r.latency_by_probe) {
    SCOPED_TRACE(p.probe);
    EXPECT_EQ(p.sla, p.probe == "api");
    EXPECT_EQ(p.latency.count, durations[p.probe].size());
    EXPECT_EQ(p.latency.p95_seconds, HandP95(durations[p.probe]));
  }
  EXPECT_EQ(r.latency_by_probe[0].probe, "api");  // by name
  // The pooled figure is still there (labelled in every view), and would have failed the SLA.
  EXPECT_EQ(r.latency.p95_seconds, HandP95(all));
  EXPECT_GT(r.latency.p95_seconds, 0.050);
  for (const auto& c : r.criteria) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.met) << c.detail;
    if (c.name == "latency_p95") {
      EXPECT_EQ(c.value, HandP95(durations["api"]));
      EXPECT_NE(c.detail.find("latency p95 api "), std::string::npos) << c.detail;
    }
  }
  // Per day and the no-degradation check: the SLA's probe only (the script slows down daily).
  EXPECT_EQ(r.days.front().latency.p95_seconds, HandP95(api_day0));
  EXPECT_EQ(r.days.back().latency.p95_seconds, HandP95(api_day6));
  EXPECT_TRUE(std::any_of(r.criteria.begin(), r.criteria.end(),
                          [](const Criterion& c) { return c.name == "no_degradation"; }));
}

// Every named probe must meet the SLA: the slowest decides and is named.
TEST(ReportTest, LatencySlaOnTwoProbesFailsOnTheSlowerOne) {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0; ts < kTo; ts += kMinute) {
    runs.push_back(MakeRun("api", ts, true, 90 * kSecond, "", 0.001));
    runs.push_back(MakeRun("script", ts, true, 90 * kSecond, "", 0.260));
  }
  Objective o = SevenDays(50);
  o.latency_probes = {"api", "script"};
  Report r = ComputeReport(runs, "carbon", o, kT0, kTo, kTo);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(HasReason(r, "latency p95 api 1.0 ms, script 260.0 ms > SLA 50.0 ms"))
      << r.verdict_reasons[0];
}

TEST(ReportTest, ExcludedTimeShrinksTheBudgetAndIsListed) {
  auto runs = MinuteRuns(kT0, kTo, {{kT0 + kDay, kT0 + kDay + 2 * kHour}});
  ReportOptions opt;
  opt.excluded = {{kT0 + kDay - kHour, kT0 + 2 * kDay - kHour}};  // 24 h covering the outage
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kTo, kTo, opt);
  EXPECT_EQ(r.budget.allowed_ms, 2'592'000);  // 0.5 % of 6 days
  EXPECT_EQ(r.totals.down_ms, 0);
  EXPECT_EQ(r.totals.excluded_ms, kDay);
  EXPECT_TRUE(r.incidents.empty());
  EXPECT_EQ(r.excluded.size(), 1u);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  // Successful runs inside the exclusion do not count for latency either.
  EXPECT_EQ(r.latency.count, 6u * 1440);
}

// Each day's uptime, incidents and latency against the per-second oracle over that day.
void ExpectDaysMatchOracle(const Report& r, const std::vector<ProbeRun>& runs, int64_t from,
                           int64_t to) {
  const Oracle all = Walk(runs, from, to, to, {}, kSecond);
  for (size_t i = 0; i < r.days.size(); ++i) {
    SCOPED_TRACE("day " + std::to_string(i));
    const auto& d = r.days[i];
    const Oracle want = Walk(runs, d.start_ms, d.end_ms, to, {}, kSecond);
    EXPECT_EQ(d.totals.up_ms, want.up);
    EXPECT_EQ(d.totals.down_ms, want.down);
    EXPECT_EQ(d.totals.unknown_ms, want.unknown);
    uint64_t started = 0;
    for (const auto& inc : all.incidents)
      started += inc.start >= d.start_ms && inc.start < d.end_ms;
    EXPECT_EQ(d.incidents, started);
    std::vector<double> lat;
    for (const auto& run : runs) {
      if (run.success && run.ts_ms >= d.start_ms && run.ts_ms < d.end_ms) {
        lat.push_back(run.duration_seconds);
      }
    }
    std::sort(lat.begin(), lat.end());
    ASSERT_EQ(d.latency.count, lat.size());
    EXPECT_EQ(d.latency.p95_seconds, lat[NearestRank(lat.size(), 950) - 1]);
  }
}

TEST(ReportTest, DaysMatchOracleOverEachDay) {
  // Outage across midnight, a gap, and a window starting at 06:00.
  const int64_t from = kT0 + 6 * kHour;
  const int64_t to = from + 7 * kDay;
  Spans down = {{kT0 + kDay - 10 * kMinute, kT0 + kDay + 25 * kMinute},
                {kT0 + 3 * kDay + 7 * kHour, kT0 + 3 * kDay + 7 * kHour + 3 * kMinute}};
  Spans gaps = {{kT0 + 5 * kDay, kT0 + 5 * kDay + 40 * kMinute}};
  auto runs = MinuteRuns(from, to, down, gaps);
  // Issue 15: by default Day N is the N-th 24 h from the start: 7 days, not 8 UTC dates, and the
  // outage across midnight lies wholly in Day 1 (2025-10-14 06:00 to 2025-10-15 06:00).
  Report r = ComputeReport(runs, "carbon", SevenDays(), from, to, to);
  ASSERT_EQ(r.days.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(r.days[i].start_ms, from + static_cast<int64_t>(i) * kDay);
    EXPECT_EQ(r.days[i].end_ms, from + static_cast<int64_t>(i + 1) * kDay);
  }
  ExpectDaysMatchOracle(r, runs, from, to);
  EXPECT_EQ(r.days[0].totals.down_ms, 35 * kMinute);
  EXPECT_EQ(r.days[0].incidents, 1u);
  EXPECT_EQ(r.days[1].incidents, 0u);

  // Calendar days of a zone (here UTC): partial first and last day, 8 in all.
  ReportOptions utc_days;
  utc_days.time_zone = TimeZone::Utc();
  Report c = ComputeReport(runs, "carbon", SevenDays(), from, to, to, utc_days);
  ASSERT_EQ(c.days.size(), 8u);
  EXPECT_EQ(c.days[0].date, "2025-10-14");
  EXPECT_EQ(c.days[0].start_ms, from);
  EXPECT_EQ(c.days[0].end_ms, kT0 + kDay);
  EXPECT_EQ(c.days[7].end_ms, to);
  ExpectDaysMatchOracle(c, runs, from, to);
  // Day 2 (2025-10-15) holds the 25 minutes after midnight of the outage, Day 1 the 10 before.
  EXPECT_EQ(c.days[0].totals.down_ms, 10 * kMinute);
  EXPECT_EQ(c.days[1].totals.down_ms, 25 * kMinute);
  EXPECT_EQ(c.days[0].incidents, 1u);
  EXPECT_EQ(c.days[1].incidents, 0u);
}


// An incident's first failure is the first run of the probe's unbroken failing streak: for an
// outage already under way when the window opens, and for one that runs on after a
// maintenance window, the run that began it (with its reason), not the last run before.
TEST(ReportTest, FirstFailureIsTheStartOfTheFailingStreak) {
  std::vector<ProbeRun> runs;
  for (int64_t ts = kT0 - 2 * kHour; ts < kT0 + 3 * kHour; ts += kMinute) {
    const bool down = ts >= kT0 - 20 * kMinute && ts < kT0 + 10 * kMinute;  // across `from`
    const bool down2 = ts >= kT0 + kHour && ts < kT0 + 2 * kHour;           // across maintenance
    std::string reason = ts == kT0 - 20 * kMinute ? "connection refused"
                         : ts == kT0 + kHour      ? "status 502"
                                                  : "status 503";
    runs.push_back(MakeRun("health", ts, !(down || down2), 90 * kSecond, reason));
  }
  ReportOptions opt;
  opt.maintenance = {{kT0 + kHour + 10 * kMinute, kT0 + kHour + 20 * kMinute, "deploy"}};
  Report r = ComputeReport(runs, "carbon", SevenDays(), kT0, kT0 + 3 * kHour, kT0 + 3 * kHour, opt);
  ASSERT_EQ(r.incidents.size(), 3u);
  EXPECT_TRUE(r.incidents[0].began_before_window);
  EXPECT_EQ(r.incidents[0].start_ms, kT0);
  EXPECT_EQ(r.incidents[0].first_failure_ms, kT0 - 20 * kMinute);
  EXPECT_EQ(r.incidents[0].first_reason, "connection refused");
  EXPECT_EQ(r.incidents[1].start_ms, kT0 + kHour);
  EXPECT_EQ(r.incidents[1].end_ms, kT0 + kHour + 10 * kMinute);
  EXPECT_EQ(r.incidents[2].start_ms, kT0 + kHour + 20 * kMinute);  // after the maintenance
  EXPECT_EQ(r.incidents[2].first_failure_ms, kT0 + kHour);
  EXPECT_EQ(r.incidents[2].first_reason, "status 502");

  // The same through a Reader that returns spans (as storage does): the same incidents.
  FakeReader reader(runs);
  opt.max_log_events = 0;
  auto built = BuildReport(reader, "carbon", SevenDays(), kT0, kT0 + 3 * kHour, kT0 + 3 * kHour,
                           opt);
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->incidents.size(), 3u);
  EXPECT_EQ(built->incidents[0].first_failure_ms, kT0 - 20 * kMinute);
  EXPECT_EQ(built->incidents[2].first_reason, "status 502");
}

}  // namespace
}  // namespace obsmon
