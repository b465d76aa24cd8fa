// A critical line over storage's caps still fails the report's critical_lines (fresh eyes, stop
// 60): storage keeps at most `max_events_per_run` matched lines a run and 1,000 a component a UTC
// day, and the report counted only the kept lines, so a noisy error log hid every later critical
// line from the verdict while the probe's own counters had them. Truth: the lines this test wrote.
// The real daemon follows the file; `obsmon report` reads its database beside it.
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/ops_support.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

class LogCappedReportTest : public ::testing::Test {
 protected:
  // One log probe at 100 ms with the default severities and `extra` keys.
  void Start(const std::string& extra) {
    log_ = dir_.File("app.log");
    WriteWholeFile(log_, "");
    config_ = dir_.File("obsmon.yml");
    WriteWholeFile(config_, "listen: 127.0.0.1:0\nstorage:\n  path: " + dir_.File("obsmon.db") +
                                "\ncomponents:\n  - name: app\n    probes:\n      - name: logs\n"
                                "        kind: log\n        interval: 100ms\n        paths: [" +
                                log_ + "]\n" + extra);
    int port = 0;
    obsmon_ = StartObsmon(config_, dir_.File("obsmon.log"), &port);
    ASSERT_GT(port, 0) << obsmon_->Output();
    // Its first run on the empty file: the counters' starting point, which the report counts
    // from (a backlog read at a file's first run is counted by its kept lines only).
    httplib::Client client("127.0.0.1", port);
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto res = client.Get("/metrics");
          return res && res->body.find("obsmon_log_matches_total{") != std::string::npos;
        },
        20s));
    // Committed: the report reads the database.
    ASSERT_TRUE(WaitUntil([&] { return !Report().is_discarded(); }, 20s));
  }

  // `obsmon report app --format json` over the last hour; discarded when it failed.
  nlohmann::json Report() {
    auto [code, out] = RunCommand(
        {kObsmonBinary, "report", "app", "--config", config_, "--last", "1h", "--format", "json"},
        dir_.File("report.out"));
    const auto start = out.find('{');
    if (code != 0 || start == std::string::npos) return nlohmann::json::value_t::discarded;
    return nlohmann::json::parse(out.substr(start), nullptr, false);
  }

  // The report once its log lines show at least `n` lines of `severity` (20 s at most).
  nlohmann::json ReportOnce(const std::string& severity, uint64_t n) {
    nlohmann::json report;
    WaitUntil(
        [&] {
          report = Report();
          return !report.is_discarded() && report["log_lines"][severity].get<uint64_t>() >= n;
        },
        20s);
    return report;
  }

  static nlohmann::json Criterion(const nlohmann::json& report, const std::string& name) {
    for (const auto& c : report["verdict"]["criteria"]) {
      if (c["name"] == name) return c;
    }
    return nlohmann::json();
  }

  ScratchDir dir_;
  std::string log_, config_;
  std::unique_ptr<Subprocess> obsmon_;
};

TEST_F(LogCappedReportTest, ACriticalLineOverTheRunsCapFailsCriticalLines) {
  Start("        max_events_per_run: 10\n");
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    lines += "2026-12-06 10:00:00 ERROR disk slow " + std::to_string(i) + "\n";
  }
  // The 21st match; the cap of 10 is each severity's (since stop 62), so it is kept as evidence.
  lines += "2026-12-06 10:00:01 CRITICAL data loss\n";
  AppendToFile(log_, lines);
  const nlohmann::json report = ReportOnce("critical", 1);
  ASSERT_FALSE(report.is_discarded()) << obsmon_->Output();
  EXPECT_EQ(report["log_lines"]["critical"], 1) << report["log_lines"].dump();
  EXPECT_EQ(report["log_lines"]["error"], 20) << report["log_lines"].dump();
  EXPECT_EQ(report["log_lines"]["truncated"], true);  // the kept lines are fewer than counted
  EXPECT_FALSE(report["log_lines"]["first_critical"].is_null()) << report["log_lines"].dump();
  const auto c = Criterion(report, "critical_lines");
  EXPECT_EQ(c["met"], false) << c.dump();
}

TEST_F(LogCappedReportTest, CriticalLinesAfterTheDaysCapFailCriticalLines) {
  Start("");
  std::string errors;
  for (int i = 0; i < 1'000; ++i) {
    errors += "2026-12-06 10:00:00 ERROR disk slow " + std::to_string(i) + "\n";
  }
  AppendToFile(log_, errors);
  // The day's 1,000 kept lines are all errors before the critical ones come.
  ASSERT_EQ(ReportOnce("error", 1'000)["log_lines"]["error"], 1'000) << obsmon_->Output();
  AppendToFile(log_, "2026-12-06 10:00:02 CRITICAL data loss\n"
                     "2026-12-06 10:00:02 CRITICAL data loss\n"
                     "2026-12-06 10:00:02 FATAL disk gone\n"
                         "2026-12-06 10:00:03 CRITICAL data loss\n"
                         "2026-12-06 10:00:03 CRITICAL data loss\n");
  // And errors over the day's cap, counted but not kept.
  AppendToFile(log_, "2026-12-06 10:00:04 ERROR disk slow again\n"
                     "2026-12-06 10:00:04 ERROR disk slow again\n");
  const nlohmann::json report = ReportOnce("error", 1'002);
  ASSERT_FALSE(report.is_discarded()) << obsmon_->Output();
  EXPECT_EQ(report["log_lines"]["critical"], 5) << report["log_lines"].dump();
  EXPECT_EQ(report["log_lines"]["error"], 1'002);
  EXPECT_EQ(report["log_lines"]["truncated"], true);
  // Storage caps each severity apart (fresh eyes, stop 62: a day of errors had left the critical
  // lines no evidence): the first critical line is there to read.
  EXPECT_EQ(report["log_lines"]["first_critical"]["line"], "2026-12-06 10:00:02 CRITICAL data loss")
      << report["log_lines"].dump();
  // The day's row counts what the window counts (it had the kept lines only: 0 and 1,000).
  uint64_t day_critical = 0, day_error = 0;
  for (const auto& d : report["days"]) {
    day_critical += d["log_lines"]["critical"].get<uint64_t>();
    day_error += d["log_lines"]["error"].get<uint64_t>();
  }
  EXPECT_EQ(day_critical, 5u) << report["days"].dump();
  EXPECT_EQ(day_error, 1'002u);
  const auto c = Criterion(report, "critical_lines");
  EXPECT_EQ(c["met"], false) << c.dump();
}

}  // namespace
}  // namespace obsmon::testing
