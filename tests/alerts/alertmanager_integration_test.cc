// End to end with the REAL Alertmanager (Debian's prometheus-alertmanager) on loopback:
// up goes to 0, CarbonComponentDown reaches Alertmanager after its 2m `for` (simulated with a
// FakeClock), then resolves; and with Alertmanager down during the outage the alert still
// arrives from the outbox once Alertmanager is back. Alertmanager forwards to a webhook served
// by this test, so the resolved notification is checked too.
//
// The FakeClock runs ten minutes in the past of the real clock so that the alert's resolve time
// is already past for Alertmanager (which uses the real clock); resend_delay is 1h so the firing
// alert's endsAt (valid-until) lies in the real future.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerts/http_notifier.h"
#include "alerts/memory_alert_store.h"
#include "alerts/outbox.h"
#include "alerts/rule_file.h"
#include "alerts/rule_manager.h"
#include "storage/alert_store.h"
#include "tests/support/loopback.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

#include "tests/support/test_http_server.h"

namespace obsmon::alerts {
namespace {

using nlohmann::json;
const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr int64_t kMin = 60'000;

// Polls `cond` for up to `seconds` of real time (Alertmanager is a real process).
bool WaitFor(const std::function<bool()>& cond, double seconds) {
  return ::obsmon::testing::WaitUntil(
      cond, std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
}

// The webhook Alertmanager notifies.
class Hook {
 public:
  Hook() {
    server_.server().Post("/hook", [this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard lock(mu_);
      messages_.push_back(json::parse(req.body, nullptr, false));
    });
    EXPECT_GT(server_.Start(), 0);
  }
  int port() const { return server_.port(); }
  int Count(const std::string& status) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& m : messages_) {
      n += m.is_object() && m.value("status", "") == status &&
           m["commonLabels"].value("alertname", "") == "CarbonComponentDown";
    }
    return n;
  }
  bool Got(const std::string& status) {
    std::lock_guard lock(mu_);
    for (const auto& m : messages_) {
      if (m.is_object() && m.value("status", "") == status &&
          m["commonLabels"].value("alertname", "") == "CarbonComponentDown") {
        return true;
      }
    }
    return false;
  }

 private:
  testing::TestHttpServer server_;
  std::mutex mu_;
  std::vector<json> messages_;
};

class AlertmanagerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kAlertmanager, X_OK) != 0) GTEST_SKIP() << "prometheus-alertmanager not installed";
    std::filesystem::create_directories(dir_ / "data");
    port_ = ::obsmon::testing::FreeLoopbackPort();
    std::ofstream(dir_ / "am.yml")
        << "route:\n  receiver: hook\n  group_by: [alertname]\n"
           "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
           "receivers:\n  - name: hook\n    webhook_configs:\n"
           "      - url: http://127.0.0.1:"
        << hook_.port() << "/hook\n        send_resolved: true\n";
    ConfigErrors errors;
    groups_ =
        LoadRuleFiles({std::string(OBSMON_SOURCE_DIR) + "/tests/alerts/testdata/seed_rules.yml"},
                      &errors)
            .value();
    auto store = storage::AlertStore::Open((dir_ / "obsmon.db").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    ReceiverConfig rc;
    rc.name = "am";
    rc.url = "http://127.0.0.1:" + std::to_string(port_);
    rc.timeout_ms = 2'000;
    notifier_ = std::make_unique<AlertmanagerNotifier>(rc);
    // Ten minutes in the past, on a minute boundary.
    const int64_t now = SystemClock().NowMs();
    clock_ = std::make_unique<FakeClock>(now - now % kMin - 10 * kMin);
    OutboxOptions oo;
    oo.clock = clock_.get();
    oo.store = store_.get();
    oo.notifiers = {notifier_.get()};
    outbox_ = std::make_unique<Outbox>(oo);
    RuleManagerOptions ro;
    ro.clock = clock_.get();
    ro.store = &series_;
    ro.state_store = store_.get();
    ro.sender = outbox_.get();
    ro.resend_delay_ms = 3'600'000;
    ro.external_url = "http://obsmon.test:9950";
    rules_ = std::make_unique<RuleManager>(ro, groups_);
  }

  void TearDown() override {
    if (alertmanager_ && HasFailure()) {
      std::cerr << "alertmanager's log:\n" << alertmanager_->Output();
    }
    StopAlertmanager();
  }

  void StartAlertmanager() {
    alertmanager_ = std::make_unique<::obsmon::testing::Subprocess>(
        std::vector<std::string>{kAlertmanager, "--config.file=" + (dir_ / "am.yml").string(),
                                 "--storage.path=" + (dir_ / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address=", "--log.level=warn"},
        (dir_ / "alertmanager.log").string());
    ASSERT_TRUE(alertmanager_->started()) << "cannot start " << kAlertmanager;
    httplib::Client c("127.0.0.1", port_);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = c.Get("/-/ready");
          return r && r->status == 200;
        },
        30))
        << "alertmanager did not become ready";
  }

  // SIGTERM, as a service manager stops it; killed if it has not ended after 30 s.
  void StopAlertmanager() {
    if (!alertmanager_) return;
    alertmanager_->Signal(SIGTERM);
    alertmanager_->Wait();
    alertmanager_.reset();
  }

  // Active alerts named CarbonComponentDown in Alertmanager.
  json ActiveInAlertmanager() {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/v2/alerts?filter=alertname%3D%22CarbonComponentDown%22");
    if (!r || r->status != 200) return json::array();
    return json::parse(r->body, nullptr, false);
  }

  std::string AlertmanagerMetrics() {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
  }

  // Alertmanager's own count of the alerts it was sent with this status (all API versions).
  int ReceivedByAlertmanager(const std::string& status) {
    std::istringstream in(AlertmanagerMetrics());
    int total = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("alertmanager_alerts_received_total{", 0) == 0 &&
          line.find("status=\"" + status + "\"") != std::string::npos) {
        total += static_cast<int>(std::stod(line.substr(line.rfind(' ') + 1)));
      }
    }
    return total;
  }

  // One simulated minute: the probe reports up, rules evaluate, the outbox tries to deliver.
  void Minute(double up) {
    series_.Append(Sample{"up", Labels{{"job", "tta-staging-carbon"}, {"instance", "carbon:8080"}},
                          clock_->NowMs(), up});
    rules_->Tick();
    outbox_->DeliverDue();
    clock_->Advance(kMin);
  }

  Hook hook_;
  ::obsmon::testing::ScratchDir scratch_;  // removed with its files
  std::filesystem::path dir_{scratch_.path()};
  int port_ = 0;
  std::unique_ptr<::obsmon::testing::Subprocess> alertmanager_;
  std::vector<RuleGroupSpec> groups_;
  std::unique_ptr<storage::AlertStore> store_;
  std::unique_ptr<AlertmanagerNotifier> notifier_;
  std::unique_ptr<FakeClock> clock_;
  SeriesStore series_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<RuleManager> rules_;
};

TEST_F(AlertmanagerIntegrationTest, DownAlertArrivesAfterForAndResolves) {
  StartAlertmanager();
  const int64_t t0 = clock_->NowMs();
  Minute(1);  // t0 up
  Minute(0);  // t1 pending
  Minute(0);  // t2 pending (1m)
  EXPECT_EQ(outbox_->Stats().sent, 0u);
  EXPECT_TRUE(ActiveInAlertmanager().empty());
  Minute(0);  // t3: 2m since t1: firing, delivered
  EXPECT_EQ(outbox_->Stats().sent, 1u);
  json active = ActiveInAlertmanager();
  ASSERT_EQ(active.size(), 1u) << active.dump();
  EXPECT_EQ(active[0]["labels"]["severity"], "critical");
  EXPECT_EQ(active[0]["labels"]["instance"], "carbon:8080");
  EXPECT_EQ(active[0]["annotations"]["summary"], "Carbon component is down");
  EXPECT_EQ(active[0]["startsAt"].get<std::string>().substr(0, 19),
            Rfc3339(t0 + 3 * kMin).substr(0, 19));
  EXPECT_EQ(active[0]["generatorURL"].get<std::string>().rfind("http://obsmon.test:9950/api/v1/alerts", 0),
            0u);
  EXPECT_TRUE(WaitFor([&] { return hook_.Got("firing"); }, 60)) << "no firing webhook";
  Minute(1);  // t4: resolved, endsAt t4 (in the real past)
  EXPECT_EQ(outbox_->Stats().sent, 2u);
  EXPECT_TRUE(ActiveInAlertmanager().empty()) << ActiveInAlertmanager().dump();
  EXPECT_TRUE(WaitFor([&] { return hook_.Got("resolved"); }, 60)) << "no resolved webhook";
}

TEST_F(AlertmanagerIntegrationTest, AlertmanagerDownDuringOutageStillGetsTheAlert) {
  Minute(1);
  Minute(0);
  Minute(0);
  Minute(0);  // firing: delivery fails (nothing listens), the row stays in the outbox
  EXPECT_EQ(outbox_->Stats().sent, 0u);
  EXPECT_GE(outbox_->Stats().failed, 1u);
  EXPECT_EQ(*store_->Pending(), 1);
  Minute(0);  // still down: retried with backoff, still kept
  EXPECT_EQ(*store_->Pending(), 1);
  StartAlertmanager();
  clock_->Advance(10 * kMin - kMin);  // past any backoff (max 5m)
  outbox_->DeliverDue();
  EXPECT_EQ(*store_->Pending(), 0);
  EXPECT_EQ(outbox_->Stats().sent, 1u);
  EXPECT_GE(outbox_->Stats().retried, 1u);
  json active = ActiveInAlertmanager();
  ASSERT_EQ(active.size(), 1u) << active.dump();
  EXPECT_EQ(active[0]["labels"]["alertname"], "CarbonComponentDown");
  EXPECT_TRUE(WaitFor([&] { return hook_.Got("firing"); }, 60));
}

// Alertmanager down while an alert fired and resolved: once it is back, it must end with the
// alert resolved (issue 14, item 2). The order of delivery itself is checked where it can be
// observed, in outbox_test (AfterAnOutage...); this passed before that fix too, in this short
// sequence, so it guards the end state with the real Alertmanager rather than the order.
TEST_F(AlertmanagerIntegrationTest, OutageAcrossFiringAndResolveEndsResolvedInAlertmanager) {
  Minute(1);
  Minute(0);
  Minute(0);
  Minute(0);  // firing: delivery fails (nothing listens)
  Minute(0);
  Minute(0);  // still down, backing off
  Minute(1);  // resolved, queued behind the firing row
  EXPECT_GE(*store_->Pending(), 2);
  StartAlertmanager();
  for (int i = 0; i < 30 && *store_->Pending() > 0; ++i) {
    clock_->Advance(kMin);
    outbox_->DeliverDue();
  }
  EXPECT_EQ(*store_->Pending(), 0);
  EXPECT_TRUE(ActiveInAlertmanager().empty()) << ActiveInAlertmanager().dump();
  // Alertmanager got both: the firing alert and its resolve.
  EXPECT_GE(ReceivedByAlertmanager("firing"), 1) << AlertmanagerMetrics();
  EXPECT_GE(ReceivedByAlertmanager("resolved"), 1) << AlertmanagerMetrics();
  // Nobody is left with an open page. Alertmanager notifies "resolved" only for a group it has
  // notified as firing (its dedup stage: no entry in the notification log and no firing alert:
  // nothing to say). Here the firing and the resolve arrive within milliseconds, so whether the
  // group was flushed in between (a "firing" page, then its "resolved") or not (no page at all)
  // depends on Alertmanager's goroutines: on a loaded machine both happen. Either is right;
  // a "firing" page without its "resolved" is not.
  WaitFor([&] { return hook_.Got("firing") || hook_.Got("resolved"); }, 5);
  if (hook_.Got("firing")) {
    EXPECT_TRUE(WaitFor([&] { return hook_.Got("resolved"); }, 60)) << "a firing page was left open";
  }
}

// Two Alertmanagers clustered on loopback: obsmon sends every alert to both (a batch counts as
// sent per receiver, as Prometheus's notifier sends to every Alertmanager), and the cluster
// deduplicates: the person behind the webhook is paged once.
TEST(AlertmanagerClusterTest, TwoPeersGetTheAlertAndNotifyOnce) {
  if (::access(kAlertmanager, X_OK) != 0) GTEST_SKIP() << "prometheus-alertmanager not installed";
  Hook hook;
  ::obsmon::testing::ScratchDir scratch;
  const std::filesystem::path dir = scratch.path();
  std::ofstream(dir / "am.yml")
      << "route:\n  receiver: hook\n  group_by: [alertname]\n"
         "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
         "receivers:\n  - name: hook\n    webhook_configs:\n"
         "      - url: http://127.0.0.1:"
      << hook.port() << "/hook\n        send_resolved: true\n";
  const int web[2] = {::obsmon::testing::FreeLoopbackPort(), ::obsmon::testing::FreeLoopbackPort()};
  const int gossip[2] = {::obsmon::testing::FreeLoopbackPort(), ::obsmon::testing::FreeLoopbackPort()};
  std::unique_ptr<::obsmon::testing::Subprocess> peers[2];
  // SIGTERM, as a service manager stops them; killed if not ended after 30 s.
  auto stop = [&] {
    for (auto& p : peers) {
      if (!p) continue;
      p->Signal(SIGTERM);
      p->Wait();
      p.reset();
    }
  };
  for (int i = 0; i < 2; ++i) {
    std::filesystem::create_directories(dir / ("data" + std::to_string(i)));
    peers[i] = std::make_unique<::obsmon::testing::Subprocess>(
        std::vector<std::string>{kAlertmanager, "--config.file=" + (dir / "am.yml").string(),
                                 "--storage.path=" + (dir / ("data" + std::to_string(i))).string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(web[i]),
                                 "--cluster.listen-address=127.0.0.1:" + std::to_string(gossip[i]),
                                 "--cluster.peer=127.0.0.1:" + std::to_string(gossip[1 - i]),
                                 "--cluster.peer-timeout=2s", "--cluster.settle-timeout=5s",
                                 "--log.level=warn"},
        (dir / ("alertmanager" + std::to_string(i) + ".log")).string());
    ASSERT_TRUE(peers[i]->started()) << "cannot start " << kAlertmanager;
  }
  for (int i = 0; i < 2; ++i) {
    httplib::Client c("127.0.0.1", web[i]);
    const bool ready = WaitFor(
        [&] {
          auto r = c.Get("/-/ready");
          return r && r->status == 200;
        },
        30);
    ASSERT_TRUE(ready) << "alertmanager " << i << " did not become ready:\n" << peers[i]->Output();
  }

  ConfigErrors errors;
  auto groups =
      LoadRuleFiles({std::string(OBSMON_SOURCE_DIR) + "/tests/alerts/testdata/seed_rules.yml"},
                    &errors)
          .value();
  MemoryAlertStore store;
  std::vector<std::unique_ptr<AlertmanagerNotifier>> notifiers;
  for (int i = 0; i < 2; ++i) {
    ReceiverConfig rc;
    rc.name = "am" + std::to_string(i);
    rc.url = "http://127.0.0.1:" + std::to_string(web[i]);
    rc.timeout_ms = 2'000;
    notifiers.push_back(std::make_unique<AlertmanagerNotifier>(rc));
  }
  const int64_t now = SystemClock().NowMs();
  FakeClock clock(now - now % kMin - 10 * kMin);
  OutboxOptions oo;
  oo.clock = &clock;
  oo.store = &store;
  oo.notifiers = {notifiers[0].get(), notifiers[1].get()};
  Outbox outbox(oo);
  SeriesStore series;
  RuleManagerOptions ro;
  ro.clock = &clock;
  ro.store = &series;
  ro.sender = &outbox;
  ro.resend_delay_ms = 3'600'000;
  ro.external_url = "http://obsmon.test:9950";
  RuleManager rules(ro, groups);
  for (double up : {1.0, 0.0, 0.0, 0.0}) {  // CarbonComponentDown: for 2m, fires at the 4th
    series.Append(Sample{"up", Labels{{"job", "tta-staging-carbon"}, {"instance", "carbon:8080"}},
                         clock.NowMs(), up});
    rules.Tick();
    outbox.DeliverDue();
    clock.Advance(kMin);
  }
  EXPECT_EQ(outbox.Stats().sent, 2u) << "one body to each Alertmanager";
  for (int i = 0; i < 2; ++i) {
    httplib::Client c("127.0.0.1", web[i]);
    auto r = c.Get("/api/v2/alerts?filter=alertname%3D%22CarbonComponentDown%22");
    ASSERT_TRUE(r && r->status == 200);
    EXPECT_EQ(json::parse(r->body, nullptr, false).size(), 1u) << "alertmanager " << i;
  }
  // group_wait 1s, then the second peer waits peer-timeout (2s) and finds the first one's
  // notification in the gossiped log: one message in all.
  EXPECT_TRUE(WaitFor([&] { return hook.Count("firing") >= 1; }, 60));
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_EQ(hook.Count("firing"), 1);
  if (HasFailure()) {
    for (auto& p : peers) std::cerr << "alertmanager's log:\n" << p->Output();
  }
  stop();
}

}  // namespace
}  // namespace obsmon::alerts
