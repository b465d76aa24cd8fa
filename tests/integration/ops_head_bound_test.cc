// The rules' in-memory head under alerting.head.max_point_bytes, on the real binary (issue 17,
// item 1: every part of memory bounded by configuration): past the bound the oldest points go
// first, as Prometheus's size-based retention drops its oldest blocks. Operated as a user
// would: a restart that reads back more history than the bound holds, SIGHUP reloads that raise
// the bound and that carry a bad value, kill -9 and a start again, and a head that grows while
// scrapes come in. The truth is what the test wrote or served itself: which points a rule can
// still read follows from the time the daemon says it dropped points before.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"
#include "tests/support/storage_writer.h"
#include "tests/support/test_http_server.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMiB = 1 << 20;

// Three alerts whose values are what the rules read of one series over an hour: its oldest
// value, its newest, and how many points. Each fires at once (no `for`), with that value.
const char* kRules =
    "groups:\n  - name: head\n    interval: 1s\n    rules:\n"
    "      - alert: HeadOldest\n        expr: min_over_time(queue_depth{i=\"0\"}[1h])\n"
    "      - alert: HeadNewest\n        expr: max_over_time(queue_depth{i=\"0\"}[1h])\n"
    "      - alert: HeadCount\n        expr: count_over_time(queue_depth{i=\"0\"}[1h])\n";

std::string MetricsText(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  return r && r->status == 200 ? r->body : "";
}

// The value of each alert of /api/v1/alerts by alert name.
std::map<std::string, double> AlertValues(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/v1/alerts");
  std::map<std::string, double> out;
  if (!r || r->status != 200) return out;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return out;
  for (const auto& a : j["data"]["alerts"]) {
    out[a["labels"]["alertname"].get<std::string>()] = std::stod(a["value"].get<std::string>());
  }
  return out;
}

struct Head {
  double point_bytes = -1;
  double max_point_bytes = -1;
  double retentions = -1;
  int64_t floor_ms = 0;  // 0: nothing dropped
};

Head HeadOf(int port) {
  const std::string text = MetricsText(port);
  Head h;
  h.point_bytes = MetricValue(text, "obsmon_rule_head_point_bytes").value_or(-1);
  h.max_point_bytes = MetricValue(text, "obsmon_rule_head_max_point_bytes").value_or(-1);
  h.retentions = MetricValue(text, "obsmon_rule_head_size_retentions_total").value_or(-1);
  h.floor_ms = std::llround(
      MetricValue(text, "obsmon_rule_head_size_floor_timestamp_seconds").value_or(0) * 1e3);
  return h;
}

std::string Config(const ScratchDir& dir, const std::string& max_point_bytes, int closed_port,
                   const std::string& extra_probe = "") {
  return "listen: 127.0.0.1:0\nstorage: {path: " + dir.File("obsmon.db") +
         "}\nrule_files: [rules.yml]\n"
         "alerting:\n  evaluation_interval: 1s\n  slo_alerts: false\n"
         "  head:\n    max_point_bytes: " + max_point_bytes + "\n"
         "components:\n  - name: web\n    probes:\n"
         "      - {name: health, kind: tcp, address: \"127.0.0.1:" + std::to_string(closed_port) +
         "\", interval: 1s, timeout: 150ms}\n" + extra_probe;
}

// 100 series of queue_depth, a point a second for 55 minutes up to a second ago, each point's
// value its index (so a point changes at every step and takes 9 bytes packed: about 3 MB in
// all). A restart reads the whole hour back for the rules; 1 MiB holds about a third.
TEST(OpsHeadBoundTest, AReadBackLargerThanTheBoundKeepsTheNewestPointsThroughReloadsAndKill) {
  const ClosedLoopbackPort closed;
  ScratchDir dir;
  constexpr int kPoints = 55 * 60;
  const TimestampMs now = SystemClock::Instance().NowMs();
  const TimestampMs base = now - 1'000 - (kPoints - 1) * int64_t{1'000};
  WriteBatch b;
  for (int i = 0; i < 100; ++i) {
    for (int k = 0; k < kPoints; ++k) {
      b.samples.push_back(
          {"queue_depth", Labels{{"i", std::to_string(i)}}, base + k * int64_t{1'000}, 1.0 * k});
    }
  }
  WriteThroughWriter(dir.File("obsmon.db"), SystemClock::Instance(), std::move(b));
  WriteWholeFile(dir.File("rules.yml"), kRules);
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, "1MiB", closed.port()));

  // What the rules must see once the head dropped the points before `floor_ms`: the written
  // points at or after it (all of the hour's window, the newest at `now - 1 s`).
  auto expect_truth = [&](int port, const Head& head, const std::string& when) {
    ASSERT_GT(head.floor_ms, base) << when;
    const int64_t oldest_kept = (head.floor_ms - base + 999) / 1'000;  // first k at/after it
    std::map<std::string, double> values;
    ASSERT_TRUE(WaitUntil(
        [&] {
          values = AlertValues(port);
          return values.size() == 3;
        },
        20s))
        << when;
    EXPECT_EQ(values["HeadOldest"], static_cast<double>(oldest_kept)) << when;
    EXPECT_EQ(values["HeadNewest"], kPoints - 1.0) << when;
    EXPECT_EQ(values["HeadCount"], static_cast<double>(kPoints - oldest_kept)) << when;
  };

  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_NE(port, 0) << obsmon->Output();
  const Head first = HeadOf(port);
  EXPECT_EQ(first.max_point_bytes, 1.0 * kMiB);
  // Held under the bound from the read-back on (it ran before the daemon listened).
  EXPECT_LE(first.point_bytes, 1.0 * kMiB);
  EXPECT_GT(first.point_bytes, 0.5 * kMiB);
  EXPECT_GE(first.retentions, 1);
  expect_truth(port, first, "after the start");
  EXPECT_NE(obsmon->Output().find("reached alerting.head.max_point_bytes"), std::string::npos)
      << obsmon->Output();

  // A reload with a value the config refuses: the error names the place, the bound stays.
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, "100KB", closed.port()));
  obsmon->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return obsmon->Output().find("max_point_bytes must be between 1MiB and 1TiB, got "
                                     "'100KB'") != std::string::npos;
      },
      20s))
      << obsmon->Output();
  EXPECT_NE(obsmon->Output().find("obsmon.yml:8:22: max_point_bytes must be"), std::string::npos)
      << obsmon->Output();
  EXPECT_EQ(HeadOf(port).max_point_bytes, 1.0 * kMiB);

  // Raised by a reload: what was dropped does not come back, what is held stays.
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, "64MiB", closed.port()));
  obsmon->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return HeadOf(port).max_point_bytes == 64.0 * kMiB; }, 20s))
      << obsmon->Output();
  expect_truth(port, HeadOf(port), "after raising the bound");

  // kill -9, and the same config with 1 MiB again: the read-back is bounded the same way.
  obsmon->Signal(SIGKILL);
  obsmon->Wait();
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, "1MiB", closed.port()));
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon-2.log"), &port);
  ASSERT_NE(port, 0) << obsmon->Output();
  const Head again = HeadOf(port);
  EXPECT_LE(again.point_bytes, 1.0 * kMiB);
  expect_truth(port, again, "after kill -9 and a start");
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

// A /metrics target whose every series (`i` = 0 .. series-1 of each metric) has the number of
// the scrape as its value: it counts only what it answered, so the points a rule reads of a
// series are a run of whole numbers, and a missing scrape is a gap in it.
class ScrapeCountingTarget {
 public:
  ScrapeCountingTarget(std::vector<std::string> metrics, int series) {
    server_.server().Get("/metrics", [this, metrics, series](const httplib::Request&,
                                                             httplib::Response& res) {
      const std::string n = std::to_string(++served);
      std::string body;
      for (const std::string& m : metrics) {
        body += "# TYPE " + m + " gauge\n";
        for (int i = 0; i < series; ++i) {
          body += m + "{i=\"" + std::to_string(i) + "\"} " + n + "\n";
        }
      }
      res.set_content(body, "text/plain; version=0.0.4");
    });
  }
  int Start() { return server_.Start(); }
  int port() const { return server_.port(); }

  std::atomic<int64_t> served{0};

 private:
  TestHttpServer server_;
};

// A head that grows while scrapes come in: 100 series scraped at 1 s, the clock 20 times real
// time (OBSMON_CLOCK_SPEED) so that the hour the rules read fills in three real minutes. The
// target serves the number of each scrape as every series' value, so the points the rules read
// are a run of scrape numbers: the bound must cut only the oldest of them, never one between,
// and never the last six minutes. /metrics is read every 100 ms: the head is never over it.
TEST(OpsHeadBoundTest, AHeadGrowingUnderScrapesDropsOnlyItsOldestPoints) {
  const ClosedLoopbackPort closed;
  ScratchDir dir;
  ScrapeCountingTarget target({"queue_depth"}, 100);
  ASSERT_GT(target.Start(), 0);
  const std::atomic<int64_t>& served = target.served;
  WriteWholeFile(dir.File("rules.yml"), kRules);
  WriteWholeFile(dir.File("obsmon.yml"),
                 Config(dir, "1MiB", closed.port(),
                        "      - {name: metrics, kind: scrape, url: \"http://127.0.0.1:" +
                            std::to_string(target.port()) +
                            "/metrics\", interval: 1s, timeout: 900ms}\n"));
  const ScopedEnv speed("OBSMON_CLOCK_SPEED", "20");
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_NE(port, 0) << obsmon->Output();
  double most = 0;
  Head head;
  const bool dropped = WaitUntil(
      [&] {
        head = HeadOf(port);
        most = std::max(most, head.point_bytes);
        EXPECT_LE(head.point_bytes, 1.0 * kMiB) << "at scrape " << served.load();
        if (head.retentions >= 3) return true;
        std::this_thread::sleep_for(80ms);
        return false;
      },
      240s);
  ASSERT_TRUE(dropped) << "retentions " << head.retentions << ", the most " << most
                       << " bytes, scrapes " << served.load() << "\n" << obsmon->Output();
  std::map<std::string, double> v;
  ASSERT_TRUE(WaitUntil(
      [&] {
        v = AlertValues(port);
        return v.size() == 3;
      },
      20s));
  const double oldest = v["HeadOldest"], newest = v["HeadNewest"], count = v["HeadCount"];
  EXPECT_GT(oldest, 1) << "nothing was dropped";
  EXPECT_EQ(count, newest - oldest + 1) << "a point between the oldest and the newest is missing";
  EXPECT_GE(newest - oldest, 6 * 60) << "the last six minutes were cut";
  EXPECT_LE(newest, static_cast<double>(served.load()));
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

// A reload whose rules read a metric the head did not keep reads its history back from storage.
// The scrape just before the reload had not been committed yet (the writer commits once a
// second) when it was read back, and the head had not kept it (no rule read it then): one point
// was missing from every series, for as long as the rules' range (fresh eyes, stop 68). The
// target serves the number of each scrape as the value of both metrics, so any missing scrape
// shows as a gap between the oldest and the newest value.
TEST(OpsHeadBoundTest, AReloadThatSelectsANewMetricKeepsEveryScrapeOfIt) {
  const ClosedLoopbackPort closed;
  ScratchDir dir;
  ScrapeCountingTarget target({"m", "m2"}, 20);
  ASSERT_GT(target.Start(), 0);
  // Gap: over every series, the scrapes between its oldest and newest point that it lacks.
  auto gap_rule = [](const std::string& name, const std::string& metric) {
    return "      - alert: " + name + "\n        expr: max(max_over_time(" + metric +
           "[1h]) - min_over_time(" + metric + "[1h]) + 1 - count_over_time(" + metric +
           "[1h]))\n";
  };
  const std::string head = "groups:\n  - name: gaps\n    interval: 1s\n    rules:\n";
  WriteWholeFile(dir.File("rules.yml"), head + gap_rule("GapM", "m"));
  WriteWholeFile(dir.File("obsmon.yml"),
                 Config(dir, "256MiB", closed.port(),
                        "      - {name: metrics, kind: scrape, url: \"http://127.0.0.1:" +
                            std::to_string(target.port()) +
                            "/metrics\", interval: 200ms, timeout: 150ms}\n"));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_NE(port, 0) << obsmon->Output();
  // Several reloads, each adding a metric's rule or taking it away again, between scrapes.
  for (int round = 0; round < 5; ++round) {  // the last one adds m2
    std::this_thread::sleep_for(1500ms);
    WriteWholeFile(dir.File("rules.yml"), head + gap_rule("GapM", "m") +
                                              (round % 2 == 0 ? gap_rule("GapM2", "m2") : ""));
    obsmon->Signal(SIGHUP);
  }
  std::this_thread::sleep_for(3s);
  std::map<std::string, double> v;
  ASSERT_TRUE(WaitUntil(
      [&] {
        v = AlertValues(port);
        return v.size() == 2;
      },
      20s))
      << obsmon->Output();
  EXPECT_EQ(v["GapM"], 0) << "scrapes of m missing from the head";
  EXPECT_EQ(v["GapM2"], 0) << "scrapes of m2 missing from the head after the reload";
  // Not a failed scrape (the target counts the scrapes it answered): labels in name order.
  EXPECT_EQ(MetricValue(MetricsText(port), "obsmon_probe_runs_total",
                        "probe=\"metrics\",result=\"failure\"")
                .value_or(0),
            0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon::testing
