// Reports asked for while users do what they do beside the daemon (issue 17; the gap stop 62's
// note named): several clients ask for reports over and over on fresh connections, some giving
// up after a few milliseconds, while the config is reloaded with SIGHUP, the daemon is killed
// with -9 and started again, and sqlite3 reads and backs up its file. Every answer must be whole
// and true or a clear 503 with Retry-After, and every report's incidents must equal the
// target's own count of its outages (the independent truth), before, across and after the kill.
#include <signal.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/flapping_target.h"
#include "tests/integration/ops_support.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

std::string Config(const ScratchDir& dir, int target_port, bool with_api) {
  const std::string probe = "        kind: http\n        url: http://127.0.0.1:" +
                            std::to_string(target_port) + "/health\n";
  std::string yml = "listen: 127.0.0.1:0\nuptime_refresh: 200ms\nstorage:\n  path: " +
                    dir.File("obsmon.db") + "\ncomponents:\n  - name: web\n    probes:\n" +
                    "      - name: health\n" + probe +
                    "        interval: 100ms\n        timeout: 90ms\n";
  if (with_api) {
    yml += "  - name: api\n    probes:\n      - name: health\n" + probe +
           "        interval: 200ms\n        timeout: 150ms\n";
  }
  return yml;
}

// The incidents a JSON report counts, listed and not; -1 when it is not a report.
int64_t CountedIncidents(const std::string& body) {
  const auto r = nlohmann::json::parse(body, nullptr, false);
  if (!r.is_object() || !r.contains("incidents")) return -1;
  return static_cast<int64_t>(r["incidents"].size()) + r.value("incidents_not_listed", int64_t{0});
}

bool Lists(httplib::Client& client, const std::string& name) {
  auto res = client.Get("/api/v1/components");
  return res && res->status == 200 && res->body.find("\"" + name + "\"") != std::string::npos;
}

// What the clients saw, by phase.
struct Seen {
  std::atomic<int> whole{0};   // 200 with the true count
  std::atomic<int> busy{0};    // 503 with Retry-After
  std::atomic<int> failed{0};  // no answer (the daemon was down, or the client gave up)
  std::mutex mu;
  std::vector<std::string> wrong;  // anything else, for the failure message
};

TEST(OpsReportUnderOperationTest, ReportsAskedThroughAReloadAKillAndABackupAreWholeAndTrue) {
  ScratchDir dir;
  FlappingTarget target;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), false));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client client("127.0.0.1", port);

  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.outages() >= 30; }, 30s));
  target.Flap(false);
  ASSERT_TRUE(WaitUntil([&] { return !target.failing(); }, 10s));
  const int64_t outages = target.outages();
  // All of them committed: the report reads the database.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto res = client.Get("/api/v1/components/web/report?format=json");
        return res && res->status == 200 && CountedIncidents(res->body) == outages;
      },
      20s))
      << outages << " outages\n" << obsmon->Output();

  std::atomic<int> live_port{port};
  std::atomic<bool> stop{false};
  Seen seen;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, impatient = i % 2 == 1] {
      while (!stop) {
        httplib::Client c("127.0.0.1", live_port);  // a fresh connection for every report
        c.set_connection_timeout(1);
        if (impatient) c.set_read_timeout(0, 3000);  // gives up after 3 ms
        else c.set_read_timeout(10);
        auto res = c.Get("/api/v1/components/web/report?format=json");
        if (!res) {
          ++seen.failed;
          continue;
        }
        if (res->status == 200 && CountedIncidents(res->body) == outages) {
          ++seen.whole;
        } else if (res->status == 503 && res->get_header_value("Retry-After") == "1") {
          ++seen.busy;
        } else {
          std::lock_guard<std::mutex> lock(seen.mu);
          seen.wrong.push_back(std::to_string(res->status) + ": " + res->body.substr(0, 200));
        }
      }
    });
  }
  auto whole_after = [&](int before) {
    return WaitUntil([&] { return seen.whole > before + 5; }, 30s);
  };

  // Reports given up by their clients are no storage failure: /healthz stays 200 (fresh eyes,
  // stop 63: one abandoned report made it 503 for 8 s).
  ASSERT_TRUE(whole_after(0));
  for (int i = 0; i < 10; ++i) {
    auto health = client.Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << health->body;
    std::this_thread::sleep_for(50ms);
  }
  // A reload that adds a component, under the requests.
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), true));
  obsmon->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return Lists(client, "api"); }, 20s)) << obsmon->Output();
  ASSERT_TRUE(whole_after(seen.whole));

  // sqlite3 reads and backs the file up beside the daemon, as users do.
  auto [check_code, check] = RunCommand(
      {"sqlite3", dir.File("obsmon.db"), "PRAGMA quick_check;"}, dir.File("sqlite.out"));
  EXPECT_EQ(check_code, 0) << check;
  EXPECT_EQ(check, "ok\n");
  auto [backup_code, backup] = RunCommand(
      {"sqlite3", dir.File("obsmon.db"), ".backup " + dir.File("copy.db")}, dir.File("sqlite.out"));
  EXPECT_EQ(backup_code, 0) << backup;
  ASSERT_TRUE(whole_after(seen.whole));

  // kill -9 with requests in flight, then a start on the same file.
  obsmon->Signal(SIGKILL);
  obsmon->Wait();
  const int whole_before_restart = seen.whole;
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  live_port = port;
  httplib::Client after("127.0.0.1", port);
  ASSERT_TRUE(WaitUntil([&] { return Lists(after, "api"); }, 20s));
  ASSERT_TRUE(whole_after(whole_before_restart)) << obsmon->Output();
  stop = true;
  for (auto& t : clients) t.join();

  {
    std::lock_guard<std::mutex> lock(seen.mu);
    EXPECT_TRUE(seen.wrong.empty()) << seen.wrong.size() << " wrong answers, the first: "
                                    << seen.wrong.front();
  }
  EXPECT_GT(seen.whole, whole_before_restart);
  std::printf("answers: %d whole and true, %d busy (503), %d not answered\n", seen.whole.load(),
              seen.busy.load(), seen.failed.load());
  // The target's outages are what every view counts, after all that: the report, and the copy.
  auto res = after.Get("/api/v1/components/web/report?format=json");
  ASSERT_TRUE(res);
  EXPECT_EQ(CountedIncidents(res->body), outages) << res->body.substr(0, 400);
  auto [copy_code, copy_check] = RunCommand(
      {"sqlite3", dir.File("copy.db"), "PRAGMA integrity_check;"}, dir.File("sqlite.out"));
  EXPECT_EQ(copy_code, 0) << copy_check;
  EXPECT_EQ(copy_check, "ok\n");
  // The daemon counted the impatient clients it did not answer, if any reached it: the counter
  // is there for a user's alert either way.
  auto m = after.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_TRUE(MetricValue(m->body, "obsmon_http_connections_dropped_total",
                          "reason=\"client_gone\"")
                  .has_value());
  EXPECT_EQ(MetricValue(m->body, "obsmon_http_connections_refused_total",
                        "reason=\"per_client\""),
            0.0);
  EXPECT_EQ(MetricValue(m->body, "obsmon_storage_errors_total", "operation=\"read\"").value_or(0),
            0.0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon::testing
