// Issue 16, item 2, operated as a user runs it: two obsmon replicas (same config, each its own
// database, as two sites or a hot standby would) send to a two-peer Alertmanager cluster; every
// replica sends every alert to every Alertmanager, with identical labels and no replica label,
// so the cluster deduplicates and the person behind the webhook is paged once. Then one
// Alertmanager is killed with -9: the other still holds the alert, and nobody is paged again.
// The truth is the cluster's own API and what its webhook received.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/ops_support.h"
#include "tests/support/alert_webhook.h"
#include "tests/support/loopback.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

// The WebDown alerts an Alertmanager holds (its API v2), or nullopt when it does not answer.
std::optional<json> HeldAlerts(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/v2/alerts?filter=alertname%3D%22WebDown%22");
  if (!r || r->status != 200) return std::nullopt;
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

TEST(AlertmanagerHaTest, TwoReplicasToATwoPeerClusterPageOnceAndSurviveAPeerKilled) {
  if (::access(kAlertmanager, X_OK) != 0) GTEST_SKIP() << "prometheus-alertmanager not installed";
  ScratchDir dir;
  AlertWebhook hook;
  WriteWholeFile(dir.File("am.yml"),
                 "route:\n  receiver: hook\n  group_by: [alertname]\n"
                 "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
                 "receivers:\n  - name: hook\n    webhook_configs:\n"
                 "      - url: " + hook.Url("/hook") + "\n        send_resolved: true\n");
  const int web[2] = {FreeLoopbackPort(), FreeLoopbackPort()};
  const int gossip[2] = {FreeLoopbackPort(), FreeLoopbackPort()};
  std::unique_ptr<Subprocess> peers[2];
  for (int i = 0; i < 2; ++i) {
    const std::string data = dir.File("am" + std::to_string(i));
    std::filesystem::create_directories(data);
    peers[i] = std::make_unique<Subprocess>(
        std::vector<std::string>{kAlertmanager, "--config.file=" + dir.File("am.yml"),
                                 "--storage.path=" + data,
                                 "--web.listen-address=127.0.0.1:" + std::to_string(web[i]),
                                 "--cluster.listen-address=127.0.0.1:" + std::to_string(gossip[i]),
                                 "--cluster.peer=127.0.0.1:" + std::to_string(gossip[1 - i]),
                                 "--cluster.peer-timeout=2s", "--cluster.settle-timeout=5s",
                                 "--log.level=warn"},
        dir.File("am" + std::to_string(i) + ".log"));
  }
  for (int i = 0; i < 2; ++i) {
    httplib::Client c("127.0.0.1", web[i]);
    ASSERT_TRUE(WaitUntil([&] { auto r = c.Get("/-/ready"); return r && r->status == 200; }, 30s))
        << peers[i]->Output();
  }
  // Ready is not joined: "paged once" below relies on the peers gossiping, so wait until each
  // sees both members (a loaded machine may take longer than the settle timeout to connect).
  for (int i = 0; i < 2; ++i) {
    httplib::Client c("127.0.0.1", web[i]);
    ASSERT_TRUE(WaitUntil([&] {
      auto r = c.Get("/api/v2/status");
      if (!r || r->status != 200) return false;
      const json status = json::parse(r->body, nullptr, false);
      return status.is_object() && status.contains("cluster") &&
             status["cluster"].value("peers", json::array()).size() == 2;
    }, 30s)) << peers[i]->Output();
  }

  // The target is down from the start: a port nobody listens on.
  const ClosedLoopbackPort dead;
  const int dead_port = dead.port();
  WriteWholeFile(dir.File("rules.yml"), R"(groups:
  - name: web
    interval: 1s
    rules:
      - alert: WebDown
        expr: up{job="web-staging"} == 0
        for: 2s
        labels: {severity: critical}
)");
  std::unique_ptr<Subprocess> replicas[2];
  for (int r = 0; r < 2; ++r) {
    const std::string cfg = dir.File("obsmon" + std::to_string(r) + ".yml");
    WriteWholeFile(cfg, "listen: 127.0.0.1:0\n"
                        "storage: {path: " + dir.File("obsmon" + std::to_string(r) + ".db") + "}\n"
                        "rule_files: [rules.yml]\n"
                        "alerting:\n"
                        "  evaluation_interval: 1s\n"
                        "  slo_alerts: false\n"
                        "  alertmanagers:\n"
                        "    - url: http://127.0.0.1:" + std::to_string(web[0]) + "\n"
                        "    - url: http://127.0.0.1:" + std::to_string(web[1]) + "\n"
                        "  outbox: {backoff_initial: 100ms, backoff_max: 1s}\n"
                        "components:\n"
                        "  - name: web\n"
                        "    labels: {job: web-staging}\n"
                        "    probes:\n"
                        "      - {name: health, kind: http, url: \"http://127.0.0.1:" +
                            std::to_string(dead_port) + "/health\", interval: 200ms, timeout: 150ms}\n");
    int port = 0;
    replicas[r] = StartObsmon(cfg, dir.File("obsmon" + std::to_string(r) + ".log"), &port);
    ASSERT_NE(port, 0) << replicas[r]->Output();
  }

  // Both peers hold exactly one WebDown: the replicas' two copies are one alert to the cluster.
  for (int i = 0; i < 2; ++i) {
    std::optional<json> held;
    ASSERT_TRUE(WaitUntil([&] { held = HeldAlerts(web[i]); return held && held->size() == 1; }, 30s))
        << "alertmanager " << i << " holds " << (held ? held->dump() : "nothing");
    const json& labels = (*held)[0]["labels"];
    EXPECT_EQ(labels.value("job", ""), "web-staging");
    EXPECT_EQ(labels.value("instance", ""), "127.0.0.1:" + std::to_string(dead_port));
    for (const auto& [k, v] : labels.items()) {
      EXPECT_TRUE(k == "alertname" || k == "job" || k == "instance" || k == "probe" ||
                  k == "severity")
          << "unexpected label " << k << "=" << v << ": a replica-specific label would split "
          << "the alert in two";
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return !hook.Received("WebDown").empty(); }, 30s));
  std::this_thread::sleep_for(5s);  // group_interval 1s and peer-timeout 2s, several times over
  auto got = hook.Received("WebDown");
  ASSERT_EQ(got.size(), 1u) << "paged more than once";
  EXPECT_EQ(got[0].status, "firing");

  // A peer killed with -9: the other keeps the alert (both replicas still send to it), and the
  // notification log gossiped before the crash keeps anyone from being paged again.
  peers[0]->Signal(SIGKILL);
  peers[0]->Wait();
  std::this_thread::sleep_for(5s);
  auto held = HeldAlerts(web[1]);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->size(), 1u) << held->dump();
  EXPECT_EQ(hook.Received("WebDown").size(), 1u) << "a peer's crash paged again";
  for (auto& r : replicas) {
    r->Signal(SIGTERM);
    r->Wait();
  }
  peers[1]->Signal(SIGTERM);
  peers[1]->Wait();
}

}  // namespace
}  // namespace obsmon::testing
