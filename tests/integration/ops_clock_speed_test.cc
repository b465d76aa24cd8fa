// OBSMON_CLOCK_SPEED, the soak benchmark's sped-up clock, on the real binary: at 20 times real
// time a probe at 1 s reaches its target about 20 times a real second (the target's own count),
// obsmon counts the same runs, and the time it stamps them with runs ahead of the real clock by
// the same factor. A value that is not a whole number from 1 to 1000 stops the daemon with an
// error naming the variable: a typo must not run a soak on the real clock unnoticed.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/integration/ops_support.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

double RealNowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(OpsClockSpeedTest, ProbesRunAndAreStampedTwentyTimesFasterThanRealTime) {
  ScratchDir dir;
  HealthTarget target;
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
                     "\ncomponents:\n  - name: web\n    probes:\n      - name: health\n"
                     "        kind: http\n        url: http://127.0.0.1:" +
                     std::to_string(target.port()) +
                     "/health\n        interval: 1s\n        timeout: 900ms\n");
  ScopedEnv speed("OBSMON_CLOCK_SPEED", "20");
  const double real_start = RealNowSeconds();
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  const double real_listening = RealNowSeconds();  // its clock started before this
  EXPECT_NE(obsmon->Output().find("OBSMON_CLOCK_SPEED=20: time runs 20 times faster"),
            std::string::npos)
      << obsmon->Output();

  // Until the target has answered 100 times: 5 s of real time at 20 a second, 100 s on a real
  // clock (past the wait's bound), which the count against real time below tells apart.
  ASSERT_TRUE(WaitUntil([&] { return target.answered() >= 100; }, 60s)) << obsmon->Output();
  const double real_elapsed = RealNowSeconds() - real_start;
  httplib::Client client("127.0.0.1", port);
  // Counted by the target before and after obsmon's own count is read: obsmon counts a run
  // once it has its answer, so its count lies between the two (a run in flight at most less).
  const int64_t answered_before = target.answered();
  auto res = client.Get("/metrics");
  const int64_t answered_after = target.answered();
  ASSERT_TRUE(res && res->status == 200);
  const std::string& body = res->body;
  const double runs = MetricValue(body, "obsmon_probe_runs_total", "success").value_or(-1);
  EXPECT_GE(runs, static_cast<double>(answered_before) - 1) << body;
  EXPECT_LE(runs, static_cast<double>(answered_after)) << body;
  // At 1 s of its own clock a run, obsmon's runs outpace real seconds ~20 to 1; a real clock
  // would make one a second (the bound of 5 leaves room for a loaded machine and its start-up).
  EXPECT_GT(static_cast<double>(answered_before), 5 * real_elapsed)
      << answered_before << " runs in " << real_elapsed << " real seconds";
  EXPECT_LT(static_cast<double>(answered_before), 21 * real_elapsed + 2);
  // Stamped on the sped-up clock: the last run's time is ahead of the real clock by about 19
  // times the real time since it listened (a second of its own clock, at most, before its last
  // run).
  const double last_run = MetricValue(body, "obsmon_probe_last_run_timestamp_seconds").value_or(0);
  EXPECT_GT(last_run - RealNowSeconds(), 8 * (RealNowSeconds() - real_listening) - 1)
      << "last run " << last_run << ", real now " << RealNowSeconds();
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

TEST(OpsClockSpeedTest, AValueThatIsNotASpeedStopsTheDaemonNamingTheVariable) {
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), "listen: 127.0.0.1:0\nstorage:\n  path: " +
                                             dir.File("obsmon.db") + "\ncomponents: []\n");
  // Signs, spaces and leading zeros too (strtol would take " 20", "+20" and "020" as 20).
  for (const char* bad : {"fast", "0", "20x", "1001", "-3", " 20", "+20", "020", "20 ", "1.5"}) {
    ScopedEnv speed("OBSMON_CLOCK_SPEED", bad);
    Subprocess obsmon({kObsmonBinary, "run", "--config", dir.File("obsmon.yml")},
                      dir.File(std::string("bad-") + bad + ".log"));
    EXPECT_EQ(obsmon.Wait(), 1) << bad;
    EXPECT_NE(obsmon.Output().find(std::string("OBSMON_CLOCK_SPEED=\"") + bad +
                                   "\": not a whole number from 1 to 1000"),
              std::string::npos)
        << obsmon.Output();
  }
  // A control byte in the value is shown escaped: the error stays one line.
  ScopedEnv speed("OBSMON_CLOCK_SPEED", "20\nINFO forged");
  Subprocess obsmon({kObsmonBinary, "run", "--config", dir.File("obsmon.yml")},
                    dir.File("bad-newline.log"));
  EXPECT_EQ(obsmon.Wait(), 1);
  EXPECT_NE(obsmon.Output().find("OBSMON_CLOCK_SPEED=\"20\\x0aINFO forged\": not a whole number"),
            std::string::npos)
      << obsmon.Output();
}

}  // namespace
}  // namespace obsmon::testing
