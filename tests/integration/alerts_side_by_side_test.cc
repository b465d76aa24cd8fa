// The same flapping target and the same rule file, watched at once by the real Prometheus 2.42
// and by the real obsmon, each delivering to its own real Alertmanager 0.25, both Alertmanagers
// to one webhook (issue 14, "the live side-by-side becomes an integration test"). obsmon is
// killed with SIGKILL while the alert fires and again while it is pending, and both Alertmanagers
// go away while the alert resolves. What the person on call would receive is the truth: obsmon's
// notifications must equal Prometheus's, in count and in state sequence, with one startsAt per
// episode.
#include <httplib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "core/time_format.h"
#include "tests/integration/ops_support.h"
#include "tests/support/alert_webhook.h"
#include "tests/support/loopback.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

// /metrics that answers 200 with a valid exposition while up, 503 while down: Prometheus's
// scrape and obsmon's http health probe judge the same thing.
class FlappingTarget {
 public:
  FlappingTarget() {
    server_.server().Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      if (up_) {
        res.set_content("# TYPE flap_ok gauge\nflap_ok 1\n", "text/plain; version=0.0.4");
      } else {
        res.status = 503;
        res.set_content("down\n", "text/plain");
      }
    });
    EXPECT_GT(server_.Start(), 0);
  }
  void Set(bool up) { up_ = up; }
  int port() const { return server_.port(); }

 private:
  std::atomic<bool> up_{true};
  testing::TestHttpServer server_;  // after up_: stopped (its handler joined) before up_ goes
};

// What the webhook behind both Alertmanagers got on one path (/prometheus, /obsmon): every
// FlapDown alert of every notification, in arrival order.
using Seen = std::vector<testing::ReceivedAlert>;
Seen Of(testing::AlertWebhook& hook, const std::string& who) {
  return hook.Received("FlapDown", "/" + who);
}

class Alertmanager {
 public:
  Alertmanager(const ScratchDir& dir, const std::string& name, int webhook_port)
      : dir_(dir), name_(name), port_(testing::FreeLoopbackPort()) {
    WriteWholeFile(dir.File("am-" + name + ".yml"),
                   "route:\n  receiver: hook\n  group_by: [alertname]\n"
                   "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
                   "receivers:\n  - name: hook\n    webhook_configs:\n"
                   "      - url: http://127.0.0.1:" + std::to_string(webhook_port) + "/" + name +
                       "\n        send_resolved: true\n");
  }
  bool Start() {
    process_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kAlertmanager, "--config.file=" + dir_.File("am-" + name_ + ".yml"),
                                 "--storage.path=" + dir_.File("am-" + name_ + "-data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address=", "--log.level=warn"},
        dir_.File("am-" + name_ + "-" + std::to_string(++starts_) + ".log"));
    httplib::Client c("127.0.0.1", port_);
    return WaitUntil(
        [&] {
          auto r = c.Get("/-/ready");
          return r && r->status == 200;
        },
        30s);
  }
  // SIGTERM: Alertmanager writes its notification log, so a restart knows what it sent.
  void Stop() {
    process_->Signal(SIGTERM);
    process_->Wait();
  }
  int port() const { return port_; }
  std::string Log() const { return process_ ? process_->Output() : ""; }

 private:
  const ScratchDir& dir_;
  std::string name_;
  int port_;
  int starts_ = 0;
  std::unique_ptr<Subprocess> process_;
};

std::string Statuses(const Seen& seen) {
  std::string out;
  for (const auto& a : seen) out += a.status + " ";
  return out;
}

// For failure messages: every notification with its startsAt.
std::string Detail(const Seen& seen) {
  std::string out;
  for (const auto& a : seen) out += a.status + "@" + a.starts_at + " ";
  return out;
}

// Each firing..resolved episode keeps one startsAt: a second page would have a new one.
void ExpectOneStartsAtPerEpisode(const Seen& seen, const std::string& who) {
  for (size_t i = 1; i < seen.size(); ++i) {
    if (seen[i - 1].status == "firing") {
      EXPECT_EQ(seen[i].starts_at, seen[i - 1].starts_at) << who << " notification " << i;
    }
  }
}

TEST(AlertsSideBySideTest, ObsmonNotifiesAsPrometheusDoesThroughKillsAndAnOutage) {
  if (::access(testing::kPrometheusBinary.c_str(), X_OK) != 0 ||
      ::access(kAlertmanager, X_OK) != 0) {
    GTEST_SKIP() << "prometheus or prometheus-alertmanager is not installed";
  }
  // Both send firing alerts with endsAt = now + 4 x resend_delay, as Prometheus does: the
  // Alertmanager resolves an alert nobody re-sent by then. With 1 s that is 4 s, less than a
  // kill -9 and restart (either tool would be "resolved" by its Alertmanager); 5 s gives 20 s.
  ScratchDir dir;
  FlappingTarget target;
  testing::AlertWebhook hook;
  Alertmanager am_prometheus(dir, "prometheus", hook.port());
  Alertmanager am_obsmon(dir, "obsmon", hook.port());
  ASSERT_TRUE(am_prometheus.Start());
  ASSERT_TRUE(am_obsmon.Start());

  // The recording rule and the alert share `min by (job) (up{job="flap"})`: obsmon computes it
  // once per evaluation and gives the alert a copy (alerts/promql_shared_subexpressions.h), so
  // the kept value goes through the kills below too; Prometheus evaluates it twice.
  WriteWholeFile(dir.File("rules.yml"),
                 "groups:\n  - name: flap\n    rules:\n"
                 "      - record: job:up:min\n"
                 "        expr: min by (job) (up{job=\"flap\"})\n"
                 "      - alert: FlapDown\n"
                 "        expr: min by (job) (up{job=\"flap\"}) == 0\n"
                 "        for: 6s\n");
  const std::string target_address = "127.0.0.1:" + std::to_string(target.port());
  int prometheus_port = 0;
  auto prometheus = testing::StartPrometheus(
      dir,
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
      "  evaluation_interval: 1s\n"
      "rule_files: [" + dir.File("rules.yml") + "]\n"
      "alerting:\n  alertmanagers:\n    - static_configs:\n"
      "        - targets: ['127.0.0.1:" + std::to_string(am_prometheus.port()) + "']\n"
      "scrape_configs:\n  - job_name: flap\n    static_configs:\n"
      "      - targets: ['" + target_address + "']\n",
      &prometheus_port, {"--rules.alert.resend-delay=5s", "--log.level=warn"});
  ASSERT_TRUE(prometheus->started());

  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + dir.File("obsmon.db") + "}\n"
                 "rule_files: [" + dir.File("rules.yml") + "]\n"
                 "alerting:\n"
                 "  evaluation_interval: 1s\n"
                 "  resend_delay: 5s\n"
                 "  slo_alerts: false\n"
                 "  alertmanagers:\n"
                 "    - url: http://127.0.0.1:" + std::to_string(am_obsmon.port()) + "\n"
                 "  outbox: {backoff_initial: 200ms, backoff_max: 1s}\n"
                 "components:\n"
                 "  - name: flap\n"
                 "    labels: {job: flap}\n"
                 "    probes:\n"
                 "      - {name: health, kind: http, role: health, url: \"http://" +
                     target_address + "/metrics\", interval: 1s, timeout: 900ms}\n");
  int obsmon_port = 0;
  int starts = 0;
  auto start_obsmon = [&] {
    auto p = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon-" + std::to_string(++starts) + ".log"),
                         &obsmon_port);
    EXPECT_GT(obsmon_port, 0) << p->Output();
    return p;
  };
  auto obsmon = start_obsmon();
  auto kill_nine = [&](std::unique_ptr<Subprocess>& p, std::chrono::seconds down) {
    p->Signal(SIGKILL);
    p->Wait();
    std::this_thread::sleep_for(down);
    p = start_obsmon();
  };

  // Prometheus has scraped the target up.
  httplib::Client prom("127.0.0.1", prometheus_port);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = prom.Get("/api/v1/query", httplib::Params{{"query", "up{job=\"flap\"} == 1"}},
                          httplib::Headers{});
        if (!r || r->status != 200) return false;
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        return !j.is_discarded() && !j["data"]["result"].empty();
      },
      60s))
      << testing::ReadWholeFile(dir.File("prometheus.log"));
  std::this_thread::sleep_for(3s);

  auto both_have = [&](size_t n, std::chrono::seconds within) {
    return WaitUntil(
        [&] { return Of(hook, "prometheus").size() >= n && Of(hook, "obsmon").size() >= n; },
        within);
  };

  std::string events;  // what the test did, when (for failure messages)
  auto note = [&](const std::string& what) {
    events += FormatRfc3339(SystemClock::Instance().NowMs()) + " " + what + "\n";
  };
  // 1. Down: both fire. obsmon is killed while firing and back 3 s later: no resolve, no page.
  target.Set(false);
  note("target down");
  ASSERT_TRUE(both_have(1, 40s)) << Statuses(Of(hook, "prometheus")) << "| "
                                 << Statuses(Of(hook, "obsmon"));
  note("kill -9 obsmon (firing)");
  kill_nine(obsmon, 3s);
  note("obsmon restarted");
  std::this_thread::sleep_for(8s);
  // 2. Up: both resolve.
  target.Set(true);
  note("target up");
  ASSERT_TRUE(both_have(2, 40s)) << Statuses(Of(hook, "prometheus")) << "| "
                                 << Statuses(Of(hook, "obsmon"));
  std::this_thread::sleep_for(3s);
  // 3. Down again: obsmon is killed while the alert is pending (2 s into `for: 6s`) and back
  // 2 s later; both fire.
  target.Set(false);
  note("target down");
  std::this_thread::sleep_for(2s);
  note("kill -9 obsmon (pending)");
  kill_nine(obsmon, 2s);
  note("obsmon restarted");
  ASSERT_TRUE(both_have(3, 40s)) << Statuses(Of(hook, "prometheus")) << "| "
                                 << Statuses(Of(hook, "obsmon"));
  std::this_thread::sleep_for(3s);
  // 4. Both Alertmanagers go away; the target recovers while they are gone; they come back.
  am_prometheus.Stop();
  am_obsmon.Stop();
  note("both alertmanagers stopped");
  target.Set(true);
  note("target up");
  std::this_thread::sleep_for(12s);
  ASSERT_TRUE(am_prometheus.Start()) << am_prometheus.Log();
  ASSERT_TRUE(am_obsmon.Start()) << am_obsmon.Log();
  note("both alertmanagers started");
  ASSERT_TRUE(both_have(4, 60s)) << Statuses(Of(hook, "prometheus")) << "| "
                                 << Statuses(Of(hook, "obsmon"));
  std::this_thread::sleep_for(5s);  // anything late would arrive now

  const auto from_prometheus = Of(hook, "prometheus");
  const auto from_obsmon = Of(hook, "obsmon");
  EXPECT_EQ(Statuses(from_prometheus), "firing resolved firing resolved ")
      << Detail(from_prometheus) << "\n" << events;
  EXPECT_EQ(Statuses(from_obsmon), Statuses(from_prometheus))
      << "obsmon: " << Detail(from_obsmon) << "\nprometheus: " << Detail(from_prometheus) << "\n"
      << events;
  ExpectOneStartsAtPerEpisode(from_prometheus, "prometheus");
  ExpectOneStartsAtPerEpisode(from_obsmon, "obsmon");
  ::testing::Test::RecordProperty("prometheus", Statuses(from_prometheus));
  ::testing::Test::RecordProperty("obsmon", Statuses(from_obsmon));

  // The shared subexpression was answered from the kept value (once per evaluation since the
  // last restart), not merely configured.
  httplib::Client own("127.0.0.1", obsmon_port);
  auto metrics = own.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  const auto hits = metrics->body.find("\nobsmon_rule_shared_subexpression_hits_total ");
  ASSERT_NE(hits, std::string::npos) << metrics->body;
  EXPECT_GE(std::stod(metrics->body.substr(hits + 45)), 5.0);
  // `min by (job)` keeps its series' groups between cycles, and /metrics says what they hold.
  const std::string kept_name = "\nobsmon_rule_evaluation_memory_bytes ";
  const auto kept = metrics->body.find(kept_name);
  ASSERT_NE(kept, std::string::npos) << metrics->body;
  EXPECT_GT(std::stod(metrics->body.substr(kept + kept_name.size())), 0.0);

  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  prometheus->Signal(SIGTERM);
  prometheus->Wait();
}

}  // namespace
}  // namespace obsmon
