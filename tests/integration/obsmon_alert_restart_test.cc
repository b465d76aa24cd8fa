// Alerts across kill -9 of the real obsmon (issue 14, item 1), checked at the receiver, the
// only truth that matters to whoever is paged: a target kept down the whole time, a rule
// `up == 0 for: ...`, a webhook that records every notification. Killed while firing, obsmon must
// send no "resolved" and keep the alert's startsAt; killed while pending, it must fire when the
// original `for` ends, not a whole `for` after the restart.
#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/time_format.h"
#include "tests/integration/ops_support.h"
#include "tests/support/alert_webhook.h"
#include "tests/support/loopback.h"
#include "tests/support/storage_writer.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

// Refused for the whole test program, so no other test's server can take the port.
const testing::ClosedLoopbackPort kClosed;

// The `components:` of a config: `web` (job web), probing a closed port (always down) every
// `interval`.
std::string DownComponentYaml(const std::string& interval) {
  return "components:\n"
         "  - name: web\n"
         "    labels: {job: web}\n"
         "    probes:\n"
         "      - {name: health, kind: tcp, role: health, address: \"127.0.0.1:" +
         std::to_string(kClosed.port()) + "\", interval: " + interval +
         ", timeout: 150ms}\n";
}

// A config with one component probing a closed port (always down) every 200 ms, the rule
// `TargetDown: up == 0 for: <for_>` evaluated every second, and the webhook.
void WriteSetup(const ScratchDir& dir, int receiver_port, const std::string& for_) {
  WriteWholeFile(dir.File("rules.yml"), "groups:\n  - name: web\n    interval: 1s\n    rules:\n"
                                        "      - alert: TargetDown\n"
                                        "        expr: up{job=\"web\"} == 0\n"
                                        "        for: " + for_ + "\n");
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + dir.File("obsmon.db") + "}\n"
                 "rule_files: [rules.yml]\n"
                 "alerting:\n"
                 "  evaluation_interval: 1s\n"
                 "  resend_delay: 1s\n"
                 "  webhooks:\n"
                 "    - {name: ops, repeat_interval: 2s, url: \"http://127.0.0.1:" +
                     std::to_string(receiver_port) + "/hook\"}\n"
                 "  outbox: {backoff_initial: 100ms, backoff_max: 1s}\n" +
                     DownComponentYaml("200ms"));
}

std::unique_ptr<Subprocess> Start(const ScratchDir& dir, const std::string& log) {
  int port = 0;
  auto p = StartObsmon(dir.File("obsmon.yml"), dir.File(log), &port);
  EXPECT_GT(port, 0) << p->Output();
  return p;
}

TEST(ObsmonAlertRestartTest, KillNineWhileFiringSendsNoResolveAndKeepsStartsAt) {
  ScratchDir dir;
  testing::AlertWebhook hook;
  WriteSetup(dir, hook.port(), "2s");
  auto first = Start(dir, "first.log");
  ASSERT_TRUE(WaitUntil([&] { return !hook.Received("TargetDown").empty(); }, 15s)) << first->Output();
  const std::string starts_at = hook.Received("TargetDown").front().starts_at;
  ASSERT_EQ(hook.Received("TargetDown").front().status, "firing");
  first->Signal(SIGKILL);
  first->Wait();
  std::this_thread::sleep_for(2s);  // down for a while, target still down
  const size_t before = hook.Received("TargetDown").size();
  auto second = Start(dir, "second.log");
  // Reminders (repeat_interval 2s) over the next seconds: all firing, all with the first
  // startsAt; no "resolved" in between.
  ASSERT_TRUE(WaitUntil([&] { return hook.Received("TargetDown").size() >= before + 2; }, 15s))
      << second->Output();
  std::this_thread::sleep_for(2s);
  const auto seen = hook.Received("TargetDown");
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].status, "firing") << "notification " << i << " of " << seen.size();
    EXPECT_EQ(seen[i].starts_at, starts_at) << "notification " << i << " of " << seen.size();
  }
  EXPECT_NE(second->Output().find("samples of the last"), std::string::npos) << second->Output();
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(), 0);
}

TEST(ObsmonAlertRestartTest, KillNineWhilePendingFiresWhenTheOriginalForEnds) {
  ScratchDir dir;
  testing::AlertWebhook hook;
  WriteSetup(dir, hook.port(), "8s");
  auto first = Start(dir, "first.log");
  int port = 0;
  {
    const std::string out = first->Output();
    port = std::stoi(out.substr(out.find("(port ") + 6));
  }
  // Pending: read its activeAt from the API, as Prometheus shows it.
  std::string active_at;
  ASSERT_TRUE(WaitUntil([&] {
    httplib::Client api("127.0.0.1", port);
    auto res = api.Get("/api/v1/alerts");
    if (!res) return false;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded()) return false;
    for (const auto& a : j["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "TargetDown" && a["state"] == "pending") {
        active_at = a.value("activeAt", "");
        return true;
      }
    }
    return false;
  }, 15s)) << first->Output();
  // Killed once a run is committed: a kill -9 loses the runs of the group commit's wait
  // (storage.commit_interval, 1 s), and with none of the series read back at the restart the
  // first evaluation would find `up` absent and drop the pending alert, as Prometheus drops one
  // its first evaluation after a restart does not see (a kill within a second of the start).
  ASSERT_TRUE(WaitUntil([&] {
    auto [rc, out] = testing::RunCommand(
        {"sqlite3", "-readonly", dir.File("obsmon.db"), "SELECT count(*) FROM probe_runs"},
        dir.File("runs.out"));
    return rc == 0 && std::atoi(out.c_str()) > 0;
  }, 15s)) << first->Output();
  first->Signal(SIGKILL);
  first->Wait();
  std::this_thread::sleep_for(1s);
  auto second = Start(dir, "second.log");
  ASSERT_TRUE(WaitUntil([&] { return !hook.Received("TargetDown").empty(); }, 20s)) << second->Output();
  // The first page's startsAt is when it fired (Prometheus sends FiredAt): 8 s after the
  // original activeAt, at the first evaluation from then on, not 8 s after the restart.
  EXPECT_EQ(hook.Received("TargetDown").front().status, "firing");
  const auto active = ParseTimestamp(active_at);
  const auto starts = ParseTimestamp(hook.Received("TargetDown").front().starts_at);
  ASSERT_TRUE(active && starts) << active_at << " " << hook.Received("TargetDown").front().starts_at;
  EXPECT_GE(*starts - *active, 8000);
  EXPECT_LE(*starts - *active, 9000);
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(), 0);
}

// The rules' head is refilled at start for as far back as the rules look, not the 6 minutes
// every metric keeps (fresh eyes, issue 17: a restart read back 6 minutes, and
// `count_over_time(x[10m])` was 353 where storage held 592). The truth is what the test wrote
// into the database before obsmon started: one sample a second for 20 minutes; the rule counts
// those of the last 15, and shows the count as a label.
TEST(ObsmonAlertRestartTest, TheFirstEvaluationSeesTheWholeRangeTheRulesRead) {
  ScratchDir dir;
  const TimestampMs now = SystemClock::Instance().NowMs();
  WriteBatch history;
  for (int i = 0; i < 1'200; ++i) {
    history.samples.push_back({"history_total", Labels{{"job", "web"}}, now - 1'200'000 + i * 1'000, 1.0});
  }
  testing::WriteThroughWriter(dir.File("obsmon.db"), SystemClock::Instance(), std::move(history));
  WriteWholeFile(dir.File("rules.yml"), "groups:\n  - name: web\n    interval: 1s\n    rules:\n"
                                        "      - alert: Counted\n"
                                        "        expr: count_over_time(history_total[15m]) > 0\n"
                                        "        labels: {n: \"{{ $value }}\"}\n");
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + dir.File("obsmon.db") + "}\n"
                 "rule_files: [rules.yml]\n"
                 "alerting: {evaluation_interval: 1s, slo_alerts: false}\n" +
                     DownComponentYaml("1s"));
  auto obsmon = Start(dir, "obsmon.log");
  const std::string out = obsmon->Output();
  const int port = std::stoi(out.substr(out.find("(port ") + 6));
  int counted = -1;
  TimestampMs evaluated_by = 0;
  ASSERT_TRUE(WaitUntil([&] {
    httplib::Client api("127.0.0.1", port);
    auto res = api.Get("/api/v1/alerts");
    evaluated_by = SystemClock::Instance().NowMs();
    if (!res) return false;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded()) return false;
    for (const auto& a : j["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "Counted") {
        counted = std::stoi(a["labels"]["n"].get<std::string>());
        return true;
      }
    }
    return false;
  }, 20s)) << obsmon->Output();
  // Written: one a second up to `now`; the window ends at the evaluation, at most
  // evaluated_by, so it holds those of the last 15 minutes before it: 900 less one per second
  // since `now`.
  const int elapsed_s = static_cast<int>((evaluated_by - now) / 1'000);
  EXPECT_LE(counted, 900) << obsmon->Output();
  EXPECT_GE(counted, 900 - elapsed_s - 1) << "evaluated within " << elapsed_s << " s of the write\n"
                                          << obsmon->Output();
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

}  // namespace
}  // namespace obsmon
