// obsmon_uptime_live_report_bytes on the real binary beside a flapping target (issue 17, item 1:
// memory bounded by design, and /metrics names what holds it). The daemon keeps each component's
// live report compacted (report/overview_report.h): what it holds must not grow with the
// incidents, while the overview page still counts every one. A report a user asks for (API, CLI)
// lists the longest `max_listed` incidents and counts the rest. Truth: the target's own count of
// its outages (a 503 after a 200 opens one: flapping, each 503 is one; down, a run of them).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "report/report.h"
#include "tests/integration/flapping_target.h"
#include "tests/integration/ops_support.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

std::optional<double> ReportBytes(httplib::Client& client) {
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return std::nullopt;
  return MetricValue(res->body, "obsmon_uptime_live_report_bytes");
}

// The JSON report the API gives for `query`, or null.
nlohmann::json ApiReport(httplib::Client& client, const std::string& query) {
  auto res = client.Get("/api/v1/components/web/report?format=json" + query);
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, false);
}

// The JSON report `obsmon report` prints with these flags, run beside the daemon, or null.
nlohmann::json CliReport(const ScratchDir& dir, const std::vector<std::string>& flags) {
  std::vector<std::string> argv{kObsmonBinary, "report", "web", "--config", dir.File("obsmon.yml"),
                                "--format", "json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto [code, out] = RunCommand(argv, dir.File("cli.out"));
  if (code != 0 || out.find('{') == std::string::npos) return nullptr;
  return nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
}

// The incidents a JSON report counts: listed and not.
int64_t CountedIncidents(const nlohmann::json& r) {
  if (!r.is_object() || !r.contains("incidents")) return -1;
  return static_cast<int64_t>(r["incidents"].size()) + r.value("incidents_not_listed", int64_t{0});
}

// The overview page's incident count ("Incidents" figure), or -1.
int64_t OverviewIncidents(httplib::Client& client) {
  auto res = client.Get("/");
  if (!res || res->status != 200) return -1;
  const std::string marker = "data-figure=\"incidents\">";
  const size_t at = res->body.find(marker);
  if (at == std::string::npos) return -1;
  return std::strtoll(res->body.c_str() + at + marker.size(), nullptr, 10);
}

TEST(OpsReportMemoryTest, TheLiveReportHoldsTheSameBytesAfterAFlappingTargetsIncidents) {
  ScratchDir dir;
  FlappingTarget target;
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\nuptime_refresh: 200ms\nstorage:\n  path: " +
                     dir.File("obsmon.db") +
                     "\ncomponents:\n  - name: web\n    probes:\n      - name: health\n"
                     "        kind: http\n        url: http://127.0.0.1:" +
                     std::to_string(target.port()) +
                     "/health\n        interval: 100ms\n        timeout: 90ms\n");
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client client("127.0.0.1", port);

  // A first incident, so that the kept report holds each kind of span it may hold.
  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.outages() >= 1; }, 20s));
  target.Flap(false);
  ASSERT_TRUE(WaitUntil([&] { return OverviewIncidents(client) == target.outages(); }, 20s))
      << OverviewIncidents(client) << " incidents on the page, the target had "
      << target.outages() << " outages\n" << obsmon->Output();
  std::optional<double> one;
  ASSERT_TRUE(WaitUntil([&] { return (one = ReportBytes(client)) && *one > 0; }, 10s));

  // 120 more, one outage of 15 runs, then steady again: the truth stops moving.
  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.outages() >= 121; }, 60s));
  target.Flap(false);
  ASSERT_TRUE(WaitUntil([&] { return !target.failing(); }, 20s));  // a 200 between
  const int64_t long_one = target.outages() + 1;
  const int64_t failed_before = target.failed();
  target.Down(true);
  ASSERT_TRUE(WaitUntil([&] { return target.failed() >= failed_before + 15; }, 20s));
  target.Down(false);
  const int64_t outages = target.outages();
  ASSERT_EQ(outages, long_one);
  // Every outage one incident, on the page and in the reports a user asks for.
  ASSERT_TRUE(WaitUntil([&] { return OverviewIncidents(client) == outages; }, 20s))
      << OverviewIncidents(client) << " incidents on the page, the target had " << outages
      << " outages";
  // The long outage's last runs committed (the writer commits once a second; the page counts an
  // incident from its first failed run on).
  ASSERT_TRUE(WaitUntil(
      [&] {
        const nlohmann::json r = ApiReport(client, "&max_listed=1");
        return r.is_object() && r["incidents"].size() == 1 &&
               r["incidents"][0]["duration_ms"].get<int64_t>() >= target.down_ms() - 50;
      },
      20s));
  const nlohmann::json all = ApiReport(client, "&max_listed=10000");
  EXPECT_EQ(CountedIncidents(all), outages);
  EXPECT_EQ(all["incidents"].size(), static_cast<size_t>(outages));
  // The longest is listed first of all, numbered where it came; the rest counted, per day too.
  for (const nlohmann::json& r : {ApiReport(client, "&max_listed=1"),
                                  CliReport(dir, {"--max-listed", "1"})}) {
    ASSERT_TRUE(r.is_object()) << obsmon->Output();
    ASSERT_EQ(r["incidents"].size(), 1u) << r.dump();
    EXPECT_EQ(r["incidents"][0]["number"], long_one);
    // At least from its first failing run to its last (arrival jitter aside).
    EXPECT_GE(r["incidents"][0]["duration_ms"].get<int64_t>(), target.down_ms() - 50);
    EXPECT_EQ(r["incidents_not_listed"], outages - 1);
    int64_t by_day = 0;
    for (const auto& d : r["days"]) by_day += d["incidents"].get<int64_t>();
    EXPECT_EQ(by_day, outages);
  }
  // The default lists up to 1,000: all of these.
  EXPECT_EQ(CliReport(dir, {})["incidents"].size(), static_cast<size_t>(outages));
  auto bad = client.Get("/api/v1/components/web/report?max_listed=-1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("parameter 'max_listed'"), std::string::npos) << bad->body;
  // The CLI refuses what the API does (CLI11 alone took -1 as "all" and 0x10 as 16).
  for (const char* value : {"-1", "0x10", ""}) {
    auto [code, out] = RunCommand({kObsmonBinary, "report", "web", "--config",
                                   dir.File("obsmon.yml"), "--max-listed", value},
                                  dir.File("cli.out"));
    EXPECT_EQ(code, 2) << value << ": " << out;
    EXPECT_NE(out.find("--max-listed"), std::string::npos) << out;
  }
  const std::optional<double> many = ReportBytes(client);
  ASSERT_TRUE(many);
  // The whole report would hold every incident (~120 x 200 B and more); the kept one the same
  // few hundred bytes of figures (a criterion's sentence may gain a digit).
  EXPECT_LT(*many, *one + 256) << "after 1 incident " << *one << " B, after " << outages << " "
                               << *many << " B";
  EXPECT_LT(*many, 16 * 1024) << *many;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon::testing
