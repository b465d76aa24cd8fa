// The live figures' refresh is paced by its own cost (uptime_refresh_max_cpu_percent): a refresh
// rebuilds each component's report over its whole window, so a week into an observation it costs
// seconds, and unpaced the refresher ran back to back. The real obsmon starts on a database that
// already holds a day of 10 probes' 1-second runs (written through the real writer), with
// uptime_refresh 100 ms and a cap of 1 % of a core. The truth is the kernel's: the refresher
// thread's CPU from /proc over 20 s of real time. Unpaced, each ~20 ms refresh would follow the
// last after 100 ms (about 17 % of a core).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

#include "core/clock.h"
#include "storage/storage.h"
#include "tests/integration/ops_support.h"
#include "tests/support/storage_writer.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthTarget;
using testing::MetricValue;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

constexpr int kProbes = 10;

// CPU ticks (utime + stime) of `pid`'s threads named `name`.
long ThreadTicks(int pid, const std::string& name) {
  long ticks = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) +
                                                              "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14 || i == 15) ticks += std::stol(f);
    }
  }
  return ticks;
}

// A day of 1-second runs of carbon/health-0 .. health-<kProbes-1>, ending now, all up.
void WriteADay(const std::string& db) {
  SystemClock clock;
  storage::StorageOptions o;
  o.path = db;
  o.clock = &clock;
  auto writer = testing::StartWriterOrFail(o);
  ASSERT_NE(writer, nullptr);
  const TimestampMs end = clock.NowMs() / 1000 * 1000;
  WriteBatch batch;
  for (TimestampMs ts = end - 86'400'000; ts < end; ts += 1000) {
    for (int p = 0; p < kProbes; ++p) {
      ProbeRun& r = batch.runs.emplace_back();
      r.key = {"carbon", "health-" + std::to_string(p)};
      r.role = ProbeRole::kHealth;
      r.ts_ms = ts;
      r.success = true;
      r.duration_seconds = 0.005 + static_cast<double>((ts / 1000 + p) % 97) / 1e4;
      r.valid_for_ms = 1500;
    }
    if (batch.runs.size() >= 10'000) {
      while (!writer->Enqueue(batch)) ASSERT_TRUE(writer->Flush().ok());
      batch.runs.clear();
    }
  }
  ASSERT_TRUE(writer->Enqueue(batch));
  ASSERT_TRUE(writer->Flush().ok());
  writer->Stop();
}

TEST(OpsRefreshPacingTest, TheRefresherKeepsToItsShareOfACore) {
  ScratchDir dir;
  const std::string db = dir.File("obsmon.db");
  WriteADay(db);
  if (HasFatalFailure()) return;
  HealthTarget target;
  std::string config = "listen: 127.0.0.1:0\n"
                       "storage: {path: " + db + "}\n"
                       "uptime_refresh: 100ms\n"
                       "uptime_refresh_max_cpu_percent: 1\n"
                       "components:\n"
                       "  - name: carbon\n"
                       "    probes:\n";
  for (int p = 0; p < kProbes; ++p) {
    config += "      - {name: health-" + std::to_string(p) +
              ", kind: http, url: \"http://127.0.0.1:" + std::to_string(target.port()) +
              "/health\", interval: 1s, timeout: 500ms}\n";
  }
  WriteWholeFile(dir.File("obsmon.yml"), config);
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client api("127.0.0.1", port);
  auto metrics = [&] {
    auto r = api.Get("/metrics");
    return r && r->status == 200 ? r->body : std::string();
  };
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(metrics(), "obsmon_uptime_refreshes_total").value_or(0) >= 1;
  }, 30s)) << obsmon->Output();
  // The window spans about three of the waits the refresher chose: a refresh costs more in the
  // sanitized build (its wait with it), and the figures must be seen to move in any build.
  const double first_wait = MetricValue(metrics(), "obsmon_uptime_refresh_interval_seconds")
                                .value_or(0);
  const auto window = std::chrono::milliseconds(
      std::clamp<int64_t>(static_cast<int64_t>(3000 * first_wait), 20'000, 150'000));
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(metrics(), "obsmon_uptime_refreshes_total").value_or(0) >= 2;
  }, window)) << obsmon->Output();

  const std::string before = metrics();
  const long ticks_before = ThreadTicks(obsmon->pid(), "obsmon-uptime");
  const auto wall_before = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  const long ticks_after = ThreadTicks(obsmon->pid(), "obsmon-uptime");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                    wall_before).count();
  const std::string after = metrics();

  const double share =
      static_cast<double>(ticks_after - ticks_before) / static_cast<double>(sysconf(_SC_CLK_TCK)) /
      wall;
  // 1 % for the figures, plus the maintenance windows read every 100 ms and /proc's 10 ms ticks.
  EXPECT_LT(share, 0.05) << "the refresher thread used " << share * 100 << " % of a core";
  const double refreshes = *MetricValue(after, "obsmon_uptime_refreshes_total") -
                           *MetricValue(before, "obsmon_uptime_refreshes_total");
  const double cpu = *MetricValue(after, "obsmon_uptime_refresh_cpu_seconds_total") -
                     *MetricValue(before, "obsmon_uptime_refresh_cpu_seconds_total");
  // Still refreshing: the figures move, less often. (A day of 10 probes costs ~10-40 ms a refresh
  // here, so a wait of 1-4 s: 5 to 20 refreshes in 20 s; about 3 in the sanitized build's
  // longer window.)
  EXPECT_GE(refreshes, 2) << after;
  ASSERT_GT(cpu, 0) << after;
  // The wait it reports follows its cost: 99 x the last refresh's CPU, or uptime_refresh.
  const double interval = *MetricValue(after, "obsmon_uptime_refresh_interval_seconds");
  EXPECT_GT(interval, 0.1) << after;
  EXPECT_GT(interval, 20 * cpu / refreshes) << after;
  EXPECT_TRUE(MetricValue(after, "obsmon_component_uptime_ratio").has_value()) << after;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon
