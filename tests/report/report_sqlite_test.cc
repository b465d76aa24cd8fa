// BuildReport through the real SQLite Writer and Reader: what was written is what is reported,
// including the last run before the window and runs of other components left out. The report
// reads spans and sealed hours, not runs; randomized histories check that this gives exactly
// the report computed from the runs themselves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "render/index_page.h"
#include "render/report_format.h"
#include "report/overview_report.h"
#include "report/report.h"
#include "report/report_uptime_fold.h"
#include "storage/storage.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary

// The overview page of one component with this live report.
std::string OverviewPage(const Report& r) {
  IndexPage page;
  page.now_ms = r.now_ms;
  IndexComponent c;
  c.name = r.component;
  c.report = r;
  page.components.push_back(c);
  return RenderIndexPage(page);
}

class ReportSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "obsmon.db").string();
  }

  // Writes `runs` in batches of `batch_size` through one Writer session.
  void Write(const std::vector<ProbeRun>& runs, size_t batch_size = SIZE_MAX) {
    storage::StorageOptions opt;
    opt.path = path_;
    opt.clock = &clock_;  // retention must not see 2025 runs as old
    auto writer = storage::Writer::Start(opt);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (size_t i = 0; i < runs.size(); i += batch_size) {
      WriteBatch batch;
      batch.runs.assign(runs.begin() + i, runs.begin() + std::min(runs.size(), i + batch_size));
      ASSERT_TRUE((*writer)->Enqueue(std::move(batch)));
    }
    ASSERT_TRUE((*writer)->Flush().ok());
    (*writer)->Stop();
  }

  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  std::string path_;
  FakeClock clock_{kT0 + 2 * kDay};
};

TEST_F(ReportSqliteTest, ReportFromTheDatabaseEqualsReportFromTheRuns) {
  std::vector<ProbeRun> runs;
  // Health every minute from the day before (the window starts at kT0 + 1 d), valid 90 s: down
  // 10:00-10:12 and silent 15:00-16:00 on the window's day.
  const int64_t from = kT0 + kDay;
  const int64_t to = from + kDay;
  for (int64_t ts = kT0; ts < to; ts += kMinute) {
    if (ts >= from + 15 * kHour && ts < from + 16 * kHour) continue;
    bool fail = ts >= from + 10 * kHour && ts < from + 10 * kHour + 12 * kMinute;
    runs.push_back(MakeRun("health", ts, !fail, 90 * kSecond, "status 503", 0.012));
  }
  runs.push_back(
      MakeRun("health", from + 3 * kHour, false, kDay, "x", 1, ProbeRole::kHealth, "other"));
  Write(runs);

  auto reader = storage::Reader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto report = BuildReport(**reader, "carbon", Objective{}, from, to, to);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->totals.down_ms, 12 * kMinute);
  EXPECT_EQ(report->totals.unknown_ms, kHour - 30 * kSecond);
  EXPECT_EQ(report->totals.up_ms, kDay - 12 * kMinute - (kHour - 30 * kSecond));
  ASSERT_EQ(report->incidents.size(), 1u);
  EXPECT_EQ(report->incidents[0].start_ms, from + 10 * kHour);
  EXPECT_EQ(report->incidents[0].first_reason, "status 503");
  EXPECT_EQ(report->latency.count, 1440u - 60 - 12);
  EXPECT_DOUBLE_EQ(report->latency.p95_seconds, 0.012);

  std::vector<ProbeRun> mine(runs.begin(), runs.end() - 1);
  Report direct = ComputeReport(mine, "carbon", Objective{}, from, to, to);
  EXPECT_EQ(report->totals.up_ms, direct.totals.up_ms);
  EXPECT_EQ(report->totals.unknown_ms, direct.totals.unknown_ms);
  EXPECT_EQ(report->verdict, direct.verdict);

  EXPECT_TRUE(BuildReport(**reader, "nope", Objective{}, from, to, to).status().IsNotFound());
}

// A random history of three days: two health probes (every 10 s and every 45 s, with outages,
// silences and latency that drifts), an integration check every 20 min that sometimes fails, a
// probe of another component; written in two writer sessions, partly out of order and with
// duplicates. Windows and maintenance do not fall on hour boundaries. The report read from the
// database must be the report computed from the runs, figure for figure (compared as JSON).
TEST_F(ReportSqliteTest, RandomHistoriesReportTheSameFromTheDatabaseAsFromTheRuns) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    path_ = (dir_ / ("seed" + std::to_string(seed) + ".db")).string();  // a fresh database
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    std::vector<ProbeRun> runs;
    const int64_t start = kT0 - kDay + static_cast<int64_t>(rng() % kHour);
    const int64_t end = kT0 + 2 * kDay;
    auto add_health = [&](const std::string& probe, int64_t step) {
      bool down = false, silent = false;
      for (int64_t ts = start; ts < end; ts += step + static_cast<int64_t>(rng() % 900)) {
        // Outages and silences of a few runs each.
        if (down ? chance(10) : chance(1)) down = !down;
        if (silent ? chance(10) : chance(1)) silent = !silent;
        if (silent) continue;
        const double seconds = 0.005 + static_cast<double>(rng() % 5000) / 1e6 +
                               static_cast<double>(ts - start) / 1e10;
        runs.push_back(MakeRun(probe, ts, !down, step * 3 / 2,
                               down ? "status " + std::to_string(500 + rng() % 4) : "", seconds));
      }
    };
    add_health("http", 10 * kSecond);
    add_health("tcp", 45 * kSecond);
    for (int64_t ts = start; ts < end; ts += 20 * kMinute) {
      runs.push_back(MakeRun("pytest", ts, !chance(5), 30 * kMinute, "exit 1", 30,
                             ProbeRole::kIntegration));
    }
    runs.push_back(MakeRun("health", kT0 + kHour, false, kDay, "x", 1, ProbeRole::kHealth,
                           "other"));
    // Late arrivals: a few hundred runs written after the rest, and some duplicates.
    std::vector<ProbeRun> order = runs, late;
    std::shuffle(order.begin(), order.end(), rng);
    late.assign(order.begin(), order.begin() + 300);
    order.erase(order.begin(), order.begin() + 300);
    std::sort(order.begin(), order.end(),
              [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
    const size_t half = order.size() / 2;
    Write(std::vector<ProbeRun>(order.begin(), order.begin() + half), 50);
    Write(std::vector<ProbeRun>(order.begin() + half, order.end()), 500);
    late.insert(late.end(), order.begin(), order.begin() + 20);  // duplicates: ignored
    Write(late, 7);

    auto reader = storage::Reader::Open(path_);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<ProbeRun> mine;
    for (const auto& r : runs) {
      if (r.key.component == "carbon") mine.push_back(r);
    }
    for (int w = 0; w < 4; ++w) {
      const int64_t from = kT0 + static_cast<int64_t>(rng() % kDay);
      // Up to two days: BuildReport reads spans 6 hours at a time, seams inside outages.
      const int64_t to = from + kHour + static_cast<int64_t>(rng() % (2 * kDay));
      const int64_t now = w % 2 ? to + kHour : from + (to - from) / 2;
      ReportOptions opt;
      opt.max_log_events = 0;
      const int64_t m = from + static_cast<int64_t>(rng() % (to - from));
      opt.maintenance = {{m, m + static_cast<int64_t>(rng() % (2 * kHour)), "maintenance"}};
      if (w == 3) opt.health_probes = {"http"};
      if (w == 2) {
        auto zone = TimeZone::Load("Asia/Kolkata");  // days start at :30 UTC
        ASSERT_TRUE(zone.ok()) << zone.status().message();
        opt.time_zone = *zone;
      }
      Objective objective;
      objective.latency_p95_ms = 9;
      auto got = BuildReport(**reader, "carbon", objective, from, to, now, opt);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      const Report want = ComputeReport(mine, "carbon", objective, from, to, now, opt);
      ASSERT_GT(want.latency.count, 0u);
      EXPECT_EQ(RenderReportJson(*got), RenderReportJson(want)) << "window " << w;
      // The daemon's refresh (for_overview: incidents folded chunk by chunk, the timeline per
      // hour) gives the overview exactly what the whole report gives it.
      ReportOptions overview_opt = opt;
      overview_opt.for_overview = true;
      auto overview = BuildReport(**reader, "carbon", objective, from, to, now, overview_opt);
      ASSERT_TRUE(overview.ok()) << overview.status().ToString();
      Report whole = *got;
      CompactForOverview(whole);
      CompactForOverview(*overview);
      EXPECT_EQ(overview->IncidentCount(), got->incidents.size()) << "window " << w;
      EXPECT_EQ(OverviewPage(*overview), OverviewPage(whole)) << "window " << w;
      ASSERT_EQ(overview->days.size(), whole.days.size());
      for (size_t d = 0; d < whole.days.size(); ++d) {
        EXPECT_EQ(overview->days[d].incidents, whole.days[d].incidents) << "day " << d;
        EXPECT_EQ(overview->days[d].totals.down_ms, whole.days[d].totals.down_ms) << "day " << d;
      }
    }
  }
}


// A report a user asks for is bounded by ReportOptions::max_listed and its days, not by the
// window's state changes (report/report_uptime_fold.h): a probe flapping every few runs for two
// days (~17,000 spans, ~8,000 incidents) is read 6 hours at a time; the report lists the K
// longest incidents and gaps, numbered in the window's order, counts the rest, and keeps its
// timeline per stretch. Truth: an instant-by-instant walk of the runs (tests/report/
// uptime_oracle.h) gives the incidents, each day's incidents and totals, and each of the HTML
// strip's columns' totals; the unbounded report gives the gaps.
TEST_F(ReportSqliteTest, AFlappingWindowListsItsLongestIncidentsAndKeepsEveryFigureExact) {
  std::mt19937 rng(7);
  std::vector<ProbeRun> runs;
  const int64_t from = kT0 + kDay;
  const int64_t to = from + 2 * kDay;
  const int64_t now = to + kHour;
  bool down = false;
  int left = 0;
  for (int64_t ts = kT0; ts < to; ts += 4 * kSecond) {
    if (left-- <= 0) {
      down = !down;
      left = 1 + static_cast<int>(rng() % 4);
    }
    if (rng() % 200 == 0) ts += (10 + static_cast<int64_t>(rng() % 50)) * kSecond;  // silent
    runs.push_back(MakeRun("http", ts, !down, 6 * kSecond, "status 503"));
  }
  for (int64_t ts = kT0; ts < to; ts += kMinute) {
    runs.push_back(MakeRun("tcp", ts, true, 90 * kSecond));
  }
  Write(runs);
  auto reader = storage::Reader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  constexpr size_t kListed = 25;
  ReportOptions opt;
  opt.max_log_events = 0;
  opt.max_listed = kListed;
  auto got = BuildReport(**reader, "carbon", Objective{}, from, to, now, opt);
  ASSERT_TRUE(got.ok()) << got.status().ToString();

  // The incidents: the kListed longest (ties: the earlier), by start, numbered in the window.
  const Oracle oracle = Walk(runs, from, to, now, {}, kSecond);
  ASSERT_GT(oracle.incidents.size(), kTimelineSpansExact / 2);
  std::vector<size_t> order(oracle.incidents.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return oracle.incidents[a].end - oracle.incidents[a].start >
           oracle.incidents[b].end - oracle.incidents[b].start;
  });
  order.resize(kListed);
  std::sort(order.begin(), order.end());
  ASSERT_EQ(got->incidents.size(), kListed);
  EXPECT_EQ(got->IncidentCount(), oracle.incidents.size());
  for (size_t i = 0; i < kListed; ++i) {
    const OracleIncident& want = oracle.incidents[order[i]];
    EXPECT_EQ(got->incidents[i].start_ms, want.start) << i;
    EXPECT_EQ(got->incidents[i].end_ms, want.end) << i;
    EXPECT_EQ(got->incidents[i].number, order[i] + 1) << i;
  }

  // Each day's own ten longest, whichever the window's list holds (a day's section shows them).
  for (size_t d = 0; d < got->days.size(); ++d) {
    std::vector<size_t> day;
    for (size_t i = 0; i < oracle.incidents.size(); ++i) {
      if (static_cast<size_t>((oracle.incidents[i].start - from) / kDay) == d) day.push_back(i);
    }
    std::stable_sort(day.begin(), day.end(), [&](size_t a, size_t b) {
      return oracle.incidents[a].end - oracle.incidents[a].start >
             oracle.incidents[b].end - oracle.incidents[b].start;
    });
    day.resize(std::min<size_t>(day.size(), kDayIncidentsListed));
    std::sort(day.begin(), day.end());
    const std::vector<Incident>& longest = got->days[d].longest_incidents;
    ASSERT_EQ(longest.size(), day.size()) << "day " << d;
    for (size_t i = 0; i < day.size(); ++i) {
      EXPECT_EQ(longest[i].start_ms, oracle.incidents[day[i]].start) << "day " << d << " " << i;
      EXPECT_EQ(longest[i].number, day[i] + 1) << "day " << d << " " << i;
    }
  }

  // Every day's totals and incidents, and every column of the strip, instant by instant.
  ASSERT_TRUE(got->timeline_per_stretch);
  const std::vector<TimestampMs> columns = StripBounds(from, to, got->evaluated_to_ms);
  std::vector<int64_t> want_down(columns.size() - 1, 0), want_unknown(columns.size() - 1, 0);
  std::vector<int64_t> day_down(got->days.size(), 0);
  std::vector<uint64_t> day_incidents(got->days.size(), 0);
  for (const OracleIncident& inc : oracle.incidents) {
    ++day_incidents[static_cast<size_t>((inc.start - from) / kDay)];
  }
  std::vector<ProbeView> views;
  std::vector<std::vector<ProbeRun>> lists(2);
  for (const ProbeRun& run : runs) lists[run.key.probe == "http" ? 0 : 1].push_back(run);
  for (size_t p = 0; p < 2; ++p) views.push_back({lists[p][0].key.probe, &lists[p][0], nullptr});
  std::vector<size_t> next(2, 0);
  for (int64_t t = from; t < got->evaluated_to_ms; t += kSecond) {
    for (size_t p = 0; p < 2; ++p) {
      while (next[p] < lists[p].size() && lists[p][next[p]].ts_ms <= t) ++next[p];
      views[p].last_at_or_before = next[p] == 0 ? nullptr : &lists[p][next[p] - 1];
    }
    const OState state = StateAt(views, {}, t).state;
    const auto c = static_cast<size_t>(
        std::upper_bound(columns.begin(), columns.end(), t) - columns.begin() - 1);
    if (state == OState::kDown) {
      want_down[c] += kSecond;
      day_down[static_cast<size_t>((t - from) / kDay)] += kSecond;
    }
    if (state == OState::kUnknown) want_unknown[c] += kSecond;
  }
  const std::vector<UptimeTotals> strip = TotalsPerStretch(got->timeline, columns);
  for (size_t c = 0; c < strip.size(); ++c) {
    ASSERT_EQ(strip[c].down_ms, want_down[c]) << "column " << c;
    ASSERT_EQ(strip[c].unknown_ms, want_unknown[c]) << "column " << c;
  }
  for (size_t d = 0; d < got->days.size(); ++d) {
    EXPECT_EQ(got->days[d].totals.down_ms, day_down[d]) << "day " << d;
    EXPECT_EQ(got->days[d].incidents, day_incidents[d]) << "day " << d;
  }
  EXPECT_EQ(got->totals.down_ms, oracle.down);
  EXPECT_EQ(got->totals.unknown_ms, oracle.unknown);

  // The gaps: the kListed longest of the unbounded report's, which lists every one.
  ReportOptions all = opt;
  all.max_listed = 0;
  auto whole = BuildReport(**reader, "carbon", Objective{}, from, to, now, all);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  ASSERT_EQ(whole->incidents.size(), oracle.incidents.size());
  ASSERT_GT(whole->gaps.size(), kListed);
  std::vector<TimeInterval> longest = whole->gaps;
  std::stable_sort(longest.begin(), longest.end(), [](const TimeInterval& a, const TimeInterval& b) {
    return a.length_ms() > b.length_ms();
  });
  longest.resize(kListed);
  std::sort(longest.begin(), longest.end(),
            [](const TimeInterval& a, const TimeInterval& b) { return a.start_ms < b.start_ms; });
  EXPECT_EQ(got->gaps, longest);
  EXPECT_EQ(got->GapCount(), whole->gaps.size());
  // The same page whether the window was read 6 hours at a time or held whole in memory.
  const Report held = ComputeReport(runs, "carbon", Objective{}, from, to, now, opt);
  EXPECT_EQ(RenderReportHtml(*got), RenderReportHtml(held));
  EXPECT_EQ(RenderReportJson(*got), RenderReportJson(held));
}

// The daemon's refresh between two reads of the latency (docs/uptime.md, "How often the live
// figures move"): a report built with `latency_from` takes the earlier report's latency figures,
// says when they are of, and reads everything else afresh. The runs after the earlier report are
// down and slow: a carried-over report must show the new down time and none of the new latency.
TEST_F(ReportSqliteTest, LatencyCarriedOverIsTheEarlierReportsAndSaysWhen) {
  Objective objective;
  objective.window_ms = kDay;
  objective.latency_p95_ms = 100;
  const int64_t t1 = kT0 + kDay + 12 * kHour;
  const int64_t t2 = t1 + 10 * kMinute;
  std::vector<ProbeRun> before;
  for (int64_t ts = kT0; ts < t1; ts += kMinute) {
    const double seconds = 0.010 + static_cast<double>(ts / kMinute % 7) * 1e-3;
    before.push_back(MakeRun("health", ts, true, 90 * kSecond, "", seconds));
  }
  Write(before);
  auto reader = storage::Reader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto earlier = BuildReport(**reader, "carbon", objective, t1 - kDay, t1, t1);
  ASSERT_TRUE(earlier.ok()) << earlier.status().ToString();
  EXPECT_FALSE(earlier->latency_as_of_ms);
  ASSERT_GT(earlier->latency.count, 0u);
  reader->reset();

  std::vector<ProbeRun> after;
  for (int64_t ts = t1; ts < t2; ts += kMinute) {
    after.push_back(MakeRun("health", ts, ts < t1 + 5 * kMinute, 90 * kSecond,
                            ts < t1 + 5 * kMinute ? "" : "status 503", 5.0));
  }
  Write(after);
  reader = storage::Reader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ReportOptions carry;
  carry.latency_from = &*earlier;
  auto carried = BuildReport(**reader, "carbon", objective, t2 - kDay, t2, t2, carry);
  ASSERT_TRUE(carried.ok()) << carried.status().ToString();
  auto fresh = BuildReport(**reader, "carbon", objective, t2 - kDay, t2, t2);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();

  // Everything but latency is read afresh: the five down minutes are in both.
  EXPECT_EQ(carried->totals.down_ms, 5 * kMinute);
  EXPECT_EQ(carried->totals.down_ms, fresh->totals.down_ms);
  EXPECT_EQ(carried->totals.up_ms, fresh->totals.up_ms);
  // The latency is the earlier report's, as of its instant; the fresh one counts the 5 s runs.
  ASSERT_TRUE(carried->latency_as_of_ms);
  EXPECT_EQ(*carried->latency_as_of_ms, t1);
  EXPECT_EQ(carried->latency.count, earlier->latency.count);
  EXPECT_EQ(carried->latency.p95_seconds, earlier->latency.p95_seconds);
  EXPECT_EQ(fresh->latency.count, earlier->latency.count - 10 + 5);  // 10 min left the window
  EXPECT_EQ(fresh->latency.max_seconds, 5.0);
  ASSERT_EQ(carried->latency_by_probe.size(), 1u);
  EXPECT_EQ(carried->latency_by_probe[0].latency.count, earlier->latency.count);
  ASSERT_FALSE(carried->days.empty());
  EXPECT_EQ(carried->days[0].latency.count, earlier->days[0].latency.count);
  for (const LatencyPoint& p : carried->latency_hourly) {
    EXPECT_GT(p.start_ms + kHour, carried->from_ms) << "an hour before the window stayed";
  }
  // The verdict says which figures are older, and the JSON when.
  bool said = false;
  for (const Criterion& c : carried->criteria) {
    if (c.name == "latency_p95") {
      said = c.detail.find("(latency as of " + FormatRfc3339Ms(t1) + ")") != std::string::npos;
    }
  }
  EXPECT_TRUE(said);
  const std::string json = RenderReportJson(*carried);
  EXPECT_NE(json.find("\"as_of_ms\": " + std::to_string(t1)), std::string::npos) << json;

  // Carried over again, the instant stays the first one's.
  ReportOptions again;
  again.latency_from = &*carried;
  auto third = BuildReport(**reader, "carbon", objective, t2 + kMinute - kDay, t2 + kMinute,
                           t2 + kMinute, again);
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(third->latency_as_of_ms);
  EXPECT_EQ(*third->latency_as_of_ms, t1);
}

TEST(LatencyCarriesOverTest, OnlyBetweenReportsOfTheSameWindowAndSla) {
  Report a;
  a.component = "carbon";
  a.from_ms = kT0;
  a.to_ms = kT0 + kDay;
  a.now_ms = a.to_ms;
  a.evaluated_to_ms = a.to_ms;
  a.objective.latency_p95_ms = 100;
  a.health_probes = {"health"};
  Report b = a;
  b.from_ms += kMinute;
  b.to_ms += kMinute;
  b.now_ms += kMinute;
  b.evaluated_to_ms += kMinute;
  EXPECT_TRUE(LatencyCarriesOver(a, b));
  EXPECT_FALSE(LatencyCarriesOver(b, a)) << "built later than the report it would stand in";
  Report other = b;
  other.component = "other";
  EXPECT_FALSE(LatencyCarriesOver(a, other));
  Report sla = b;
  sla.objective.latency_p95_ms = 200;
  EXPECT_FALSE(LatencyCarriesOver(a, sla));
  Report named = b;
  named.objective.latency_probes = {"health"};
  EXPECT_FALSE(LatencyCarriesOver(a, named));
  Report probes = b;
  probes.health_probes = {"health", "health-2"};
  EXPECT_FALSE(LatencyCarriesOver(a, probes));
  Report period = b;
  period.period_id = 3;
  EXPECT_FALSE(LatencyCarriesOver(a, period)) << "a period started since";
  Report longer = b;
  longer.from_ms -= kDay;
  EXPECT_FALSE(LatencyCarriesOver(a, longer));
  Report zone = b;
  zone.time_zone = "Europe/Berlin";
  EXPECT_FALSE(LatencyCarriesOver(a, zone));
  // A maintenance window over time the earlier report read (added straight into the database)
  // changes which durations count; one after it, or before the later window, does not.
  Report maintained = b;
  maintained.excluded = {{kT0 + kHour, kT0 + 2 * kHour}};
  EXPECT_FALSE(LatencyCarriesOver(a, maintained));
  Report later_window = b;
  later_window.excluded = {{a.evaluated_to_ms, b.to_ms}};
  EXPECT_TRUE(LatencyCarriesOver(a, later_window));
  Report both = b;
  a.excluded = {{kT0, kT0 + 2 * kMinute}, {kT0 + kHour, kT0 + 2 * kHour}};
  both.excluded = {{kT0 + kMinute, kT0 + 2 * kMinute}, {kT0 + kHour, kT0 + 2 * kHour}};
  EXPECT_TRUE(LatencyCarriesOver(a, both)) << "the same windows, clipped by the moved start";
}

}  // namespace
}  // namespace obsmon
