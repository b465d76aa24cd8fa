// The real obsmon ends a probe's series the way Prometheus ends a target's (stale markers), so
// an alert on a series that is gone resolves within seconds instead of firing on for the
// 5-minute lookback:
//  - a probe removed by SIGHUP (Prometheus: a target dropped from service discovery), two of
//    its intervals after the reload;
//  - a series a scraped target stops exposing (Prometheus: a series missing from a scrape), at
//    the next evaluation;
// and a rename that keeps the series sends no false "resolved", and ends survive kill -9.
// The truth is outside obsmon: the moment the test sent SIGHUP, and the moment the target itself
// logged that it first served a page without the series; the webhook receiver's arrival times
// are compared with them.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <thread>

#include "tests/integration/ops_support.h"
#include "tests/support/alert_webhook.h"
#include "tests/support/test_http_server.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::AlertWebhook;
using testing::MetricValue;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WallMs;
using testing::WriteWholeFile;


// How many alerts named `name` with label `label`=`value` arrived with `status`, and the
// arrival time of the first (0 if none).
std::pair<size_t, int64_t> Arrived(AlertWebhook& hook, const std::string& name,
                                   const std::string& label, const std::string& value,
                                   const std::string& status) {
  size_t n = 0;
  int64_t first = 0;
  for (const auto& a : hook.Received(name)) {
    if (a.status != status || a.labels.value(label, "") != value) continue;
    if (n++ == 0) first = a.wall_ms;
  }
  return {n, first};
}

std::string AlertingYaml(const ScratchDir& dir, const AlertWebhook& hook) {
  return "listen: 127.0.0.1:0\n"
         "storage: {path: " + dir.File("obsmon.db") + "}\n"
         "rule_files: [" + dir.File("rules.yml") + "]\n"
         "alerting:\n"
         "  evaluation_interval: 1s\n"
         "  webhooks:\n"
         "    - {name: ops, url: \"" + hook.Url() + "\"}\n"
         "  outbox: {backoff_initial: 100ms, backoff_max: 1s}\n";
}

// `up == 0` for a second, evaluated every second.
constexpr const char* kDownRule = R"(groups:
  - name: g
    interval: 1s
    rules:
      - alert: Down
        expr: up == 0
        for: 1s
)";

// A component whose health probe is down: its target answers 503. `job` defaults to its name.
std::string DownComponentYaml(const std::string& name, int port, std::string job = "",
                              const std::string& interval = "500ms") {
  if (job.empty()) job = name;
  return "  - name: " + name + "\n"
         "    labels: {job: " + job + "}\n"
         "    probes:\n"
         "      - {name: health, kind: http, url: \"http://127.0.0.1:" + std::to_string(port) +
         "/health\", interval: " + interval + ", timeout: 400ms}\n";
}

TEST(ObsmonAlertStalenessTest, AProbeRemovedBySighupResolvesItsAlertTwoIntervalsLater) {
  ScratchDir dir;
  testing::TestHttpServer target;
  target.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("FAILING", "text/plain");
  });
  ASSERT_GT(target.Start(), 0);
  AlertWebhook hook;
  WriteWholeFile(dir.File("rules.yml"), kDownRule);
  const std::string head = AlertingYaml(dir, hook) + "components:\n";
  WriteWholeFile(dir.File("obsmon.yml"), head + DownComponentYaml("web", target.port()) +
                                             DownComponentYaml("db", target.port()));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] {
    return Arrived(hook, "Down", "job", "web", "firing").first > 0 &&
           Arrived(hook, "Down", "job", "db", "firing").first > 0;
  }, 30s)) << obsmon->Output();

  // `web` goes from the config; `db` stays (and stays down).
  WriteWholeFile(dir.File("obsmon.yml"), head + DownComponentYaml("db", target.port()));
  const int64_t reloaded_ms = WallMs();
  obsmon->Signal(SIGHUP);
  // Prometheus's semantics: the series ends two of its intervals (1 s) after the reload, so the
  // evaluation after that finds no `up == 0` for web and the alert resolves. Without the stale
  // marker it fires on for the 5-minute lookback, so 20 s is a bound only a fix meets.
  ASSERT_TRUE(WaitUntil([&] { return Arrived(hook, "Down", "job", "web", "resolved").first > 0; },
                        20s))
      << obsmon->Output();
  const int64_t resolved_after_ms = Arrived(hook, "Down", "job", "web", "resolved").second -
                                    reloaded_ms;
  EXPECT_LT(resolved_after_ms, 10'000) << "resolved " << resolved_after_ms << " ms after SIGHUP";

  // The component kept keeps firing: ending web's series did not touch db's.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(Arrived(hook, "Down", "job", "db", "resolved").first, 0u);
  httplib::Client api("127.0.0.1", port);
  auto alerts = api.Get("/api/v1/alerts");
  ASSERT_TRUE(alerts && alerts->status == 200);
  EXPECT_NE(alerts->body.find("\"job\":\"db\""), std::string::npos) << alerts->body;
  EXPECT_EQ(alerts->body.find("\"job\":\"web\""), std::string::npos) << alerts->body;
  EXPECT_EQ(MetricValue(api.Get("/metrics")->body, "obsmon_config_last_reload_successful"), 1.0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

TEST(ObsmonAlertStalenessTest, ASeriesTheTargetStopsExposingEndsAtTheNextScrape) {
  ScratchDir dir;
  std::atomic<bool> stuck{true};
  std::atomic<int64_t> first_page_without_ms{0};  // the target's own log of the change
  testing::TestHttpServer target;
  target.server().Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    std::string page = "# TYPE jobs_done counter\njobs_done_total 7\n";
    if (stuck) {
      page += "# TYPE queue_stuck gauge\nqueue_stuck 1\n";
    } else {
      int64_t expected = 0;
      first_page_without_ms.compare_exchange_strong(expected, WallMs());
    }
    res.set_content(page, "text/plain; version=0.0.4");
  });
  ASSERT_GT(target.Start(), 0);
  AlertWebhook hook;
  WriteWholeFile(dir.File("rules.yml"), R"(groups:
  - name: g
    interval: 1s
    rules:
      - alert: QueueStuck
        expr: queue_stuck == 1
)");
  WriteWholeFile(dir.File("obsmon.yml"),
                 AlertingYaml(dir, hook) +
                     "components:\n"
                     "  - name: worker\n"
                     "    probes:\n"
                     "      - {name: metrics, kind: scrape, url: \"http://127.0.0.1:" +
                     std::to_string(target.port()) +
                     "/metrics\", interval: 500ms, timeout: 400ms}\n");
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& a : hook.Received("QueueStuck")) {
      if (a.status == "firing") return true;
    }
    return false;
  }, 30s)) << obsmon->Output();

  stuck = false;
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& a : hook.Received("QueueStuck")) {
      if (a.status == "resolved") return true;
    }
    return false;
  }, 20s)) << "still firing 20 s after the target stopped exposing queue_stuck\n"
           << obsmon->Output();
  int64_t resolved_ms = 0;
  for (const auto& a : hook.Received("QueueStuck")) {
    if (a.status == "resolved" && resolved_ms == 0) resolved_ms = a.wall_ms;
  }
  ASSERT_GT(first_page_without_ms.load(), 0);
  // One scrape (500 ms) brings the marker, the next evaluation (1 s) sees it, the outbox sends.
  EXPECT_LT(resolved_ms - first_page_without_ms.load(), 10'000);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

TEST(ObsmonAlertStalenessTest, RenamingAComponentSendsNoFalseResolved) {
  // The component is renamed, its job label and probes kept: each `up{job,instance,probe}` is
  // the same series before and after, the outage goes on, and nothing may say it ended (fresh
  // eyes: a "resolved" then a new "firing" with a new startsAt, which also restarts every
  // `for`). Six probes 5 s apart: the renamed probes' first runs are spread over the interval
  // (runtime/scheduler.h), so evaluations fall between the reload and most of them.
  ScratchDir dir;
  testing::TestHttpServer target;
  target.server().Get(R"(/health/\d)", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
  });
  ASSERT_GT(target.Start(), 0);
  AlertWebhook hook;
  WriteWholeFile(dir.File("rules.yml"), kDownRule);
  auto component = [&](const std::string& name) {
    std::string yaml = "  - name: " + name + "\n    labels: {job: web}\n    probes:\n";
    for (int i = 0; i < 6; ++i) {
      yaml += "      - {name: health-" + std::to_string(i) +
              ", kind: http, url: \"http://127.0.0.1:" + std::to_string(target.port()) +
              "/health/" + std::to_string(i) + "\", interval: 5s, timeout: 400ms}\n";
    }
    return yaml;
  };
  const std::string head = AlertingYaml(dir, hook) + "components:\n";
  WriteWholeFile(dir.File("obsmon.yml"), head + component("web"));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  auto firing = [&] {
    std::map<std::string, std::string> starts;  // probe -> startsAt
    for (const auto& a : hook.Received("Down")) {
      if (a.status == "firing") starts[a.labels.value("probe", "")] = a.starts_at;
    }
    return starts;
  };
  ASSERT_TRUE(WaitUntil([&] { return firing().size() == 6; }, 30s)) << obsmon->Output();
  const auto before = firing();
  WriteWholeFile(dir.File("obsmon.yml"), head + component("web-renamed"));
  obsmon->Signal(SIGHUP);
  // Two intervals (10 s) and a few evaluations past the reload.
  std::this_thread::sleep_for(12s);
  for (const auto& a : hook.Received("Down")) {
    EXPECT_EQ(a.status, "firing") << a.labels.dump();
    EXPECT_EQ(a.starts_at, before.at(a.labels.value("probe", "")))
        << "the alert started again at the rename: " << a.labels.dump();
  }
  httplib::Client api("127.0.0.1", port);
  auto components = api.Get("/api/v1/components");
  ASSERT_TRUE(components && components->status == 200);
  EXPECT_NE(components->body.find("web-renamed"), std::string::npos) << "the reload did not apply";
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

TEST(ObsmonAlertStalenessTest, EndedSeriesStayEndedAcrossKillNineAndRestart) {
  // Fresh eyes: the ends were not stored, so the samples read back at a restart brought ended
  // series back for the lookback and their alerts fired again, where Prometheus replays its
  // stale markers. Two ends: a gauge the target stopped exposing, and a component a reload
  // removed. Then kill -9 and a restart: neither alert may fire again.
  ScratchDir dir;
  std::atomic<bool> stuck{true};
  testing::TestHttpServer target;
  target.server().Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(stuck ? "queue_stuck 1\njobs_total 3\n" : "jobs_total 3\n",
                    "text/plain; version=0.0.4");
  });
  target.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
  });
  ASSERT_GT(target.Start(), 0);
  AlertWebhook hook;
  WriteWholeFile(dir.File("rules.yml"), R"(groups:
  - name: g
    interval: 1s
    rules:
      - alert: QueueStuck
        expr: queue_stuck == 1
      - alert: Down
        expr: up{job="db"} == 0
        for: 1s
)");
  const std::string worker =
      "  - name: worker\n"
      "    probes:\n"
      "      - {name: metrics, kind: scrape, url: \"http://127.0.0.1:" +
      std::to_string(target.port()) + "/metrics\", interval: 500ms, timeout: 400ms}\n";
  const std::string head = AlertingYaml(dir, hook) + "components:\n" + worker;
  WriteWholeFile(dir.File("obsmon.yml"), head + DownComponentYaml("db", target.port()));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  auto count = [&](const std::string& name, const std::string& status) {
    size_t n = 0;
    for (const auto& a : hook.Received(name)) n += a.status == status;
    return n;
  };
  ASSERT_TRUE(WaitUntil(
      [&] { return count("QueueStuck", "firing") > 0 && count("Down", "firing") > 0; }, 30s))
      << obsmon->Output();
  stuck = false;
  WriteWholeFile(dir.File("obsmon.yml"), head);  // db removed
  obsmon->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil([&] {
    return count("QueueStuck", "resolved") > 0 && count("Down", "resolved") > 0;
  }, 20s)) << obsmon->Output();
  // The tick that resolved them stores the ends after queueing the notifications, which may
  // arrive first, and its transaction may wait for the writer's: kill only once another process
  // reads both ends (ends never stored now fail here rather than at the restart).
  auto end_stored = [&](const std::string& labels_like) {
    auto [rc, n] = testing::RunCommand(
        {"sqlite3", dir.File("obsmon.db"),
         "SELECT count(*) FROM series_ends WHERE labels LIKE '" + labels_like + "'"},
        dir.File("ends.out"));
    return rc == 0 && std::atoi(n.c_str()) > 0;
  };
  ASSERT_TRUE(WaitUntil([&] {
    return end_stored("%queue_stuck%") && end_stored("%job=\"db\"%");
  }, 20s)) << obsmon->Output();
  obsmon->Signal(SIGKILL);
  obsmon->Wait();
  const size_t fired_stuck = count("QueueStuck", "firing");
  const size_t fired_down = count("Down", "firing");

  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  // Within the 5-minute lookback of the last samples: without the stored ends both fire again
  // within a few seconds of the start.
  std::this_thread::sleep_for(8s);
  EXPECT_EQ(count("QueueStuck", "firing"), fired_stuck) << obsmon->Output();
  EXPECT_EQ(count("Down", "firing"), fired_down) << obsmon->Output();
  // The restart read back stored ends (the log says how many).
  const std::string out = obsmon->Output();
  const auto at = out.find(" of them ends)");
  ASSERT_NE(at, std::string::npos) << out;
  const auto open = out.rfind('(', at);
  ASSERT_NE(open, std::string::npos) << out;
  EXPECT_GT(std::stol(out.substr(open + 1, at - open - 1)), 0) << out;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon
