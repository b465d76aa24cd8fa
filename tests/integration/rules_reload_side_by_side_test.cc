// A reload that changes rules, seen at once by the real Prometheus 2.42 and the real obsmon on
// the same target and the same rule files (fresh eyes, stop 59): a recording rule whose `by`
// changes under the same name, a recording rule removed from a group that stays, and a whole
// group removed. Prometheus ends the series the old rules wrote (at the group's next evaluation,
// or two intervals after a group's removal); obsmon kept them for the 5-minute lookback, and the
// alerts reading them went on firing on values nobody computed any more. The truth is what
// Prometheus's alerts say once both have evaluated the new rules a few times.
#include <httplib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <thread>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"
#include "tests/support/test_http_server.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

// Rules reading what other rules recorded, so that an old series that lives on shows as an alert.
const char* kRulesBefore =
    "groups:\n"
    "  - name: g\n    interval: 1s\n    rules:\n"
    "      - record: r:sum\n        expr: sum by (k) (g)\n"
    "      - record: r:gone\n        expr: max by (k) (g)\n"
    "      - alert: ShowSum\n        expr: r:sum\n"
    "      - alert: ShowGone\n        expr: r:gone\n"
    "      - alert: ShowOther\n        expr: r:other\n"
    "  - name: removed\n    interval: 1s\n    rules:\n"
    "      - record: r:other\n        expr: min by (t) (g)\n";
const char* kRulesAfter =
    "groups:\n"
    "  - name: g\n    interval: 1s\n    rules:\n"
    "      - record: r:sum\n        expr: sum by (t) (g)\n"
    "      - alert: ShowSum\n        expr: r:sum\n"
    "      - alert: ShowGone\n        expr: r:gone\n"
    "      - alert: ShowOther\n        expr: r:other\n";

// The alerts of /api/v1/alerts as "labels state value" lines, the same shape from both tools.
std::set<std::string> Alerts(int port) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/v1/alerts");
  if (!r || r->status != 200) return {"(no answer)"};
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return {"(not JSON)"};
  std::set<std::string> out;
  for (const auto& a : j["data"]["alerts"]) {
    nlohmann::json labels = a["labels"];
    labels.erase("instance");  // obsmon's scrape and Prometheus's name the target alike, but
    labels.erase("job");       // the job is each tool's own configuration
    // The value as each API prints it: Prometheus's is Go's FormatFloat(v, 'e', -1, 64).
    out.insert(labels.dump() + " " + a["state"].get<std::string>() + " " +
               a["value"].get<std::string>());
  }
  return out;
}

std::string Lines(const std::set<std::string>& s) {
  std::string out;
  for (const auto& l : s) out += "  " + l + "\n";
  return out;
}

TEST(RulesReloadSideBySideTest, AReloadEndsTheSeriesOfRulesChangedOrGoneAsPrometheusDoes) {
  if (::access(testing::kPrometheusBinary.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "prometheus is not installed";
  }
  ScratchDir dir;
  testing::TestHttpServer target;
  target.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("# TYPE g gauge\ng{k=\"a\",t=\"1\"} 1\ng{k=\"b\",t=\"1\"} 2\n"
                    "g{k=\"b\",t=\"2\"} 3\n",
                    "text/plain; version=0.0.4");
  });
  ASSERT_GT(target.Start(), 0);
  const std::string target_address = "127.0.0.1:" + std::to_string(target.port());
  WriteWholeFile(dir.File("rules.yml"), kRulesBefore);
  int prometheus_port = 0;
  auto prometheus = testing::StartPrometheus(
      dir,
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n"
      "rule_files: [" + dir.File("rules.yml") + "]\n"
      "scrape_configs:\n  - job_name: t\n    static_configs:\n"
      "      - targets: ['" + target_address + "']\n",
      &prometheus_port, {"--log.level=warn"});
  ASSERT_TRUE(prometheus->started());
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + dir.File("obsmon.db") + "}\n"
                 "rule_files: [" + dir.File("rules.yml") + "]\n"
                 "alerting: {evaluation_interval: 1s, slo_alerts: false}\n"
                 "components:\n"
                 "  - name: t\n    labels: {job: t}\n    probes:\n"
                 "      - {name: metrics, kind: scrape, url: \"http://" + target_address +
                     "/metrics\", interval: 1s, timeout: 900ms}\n");
  int obsmon_port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &obsmon_port);
  ASSERT_GT(obsmon_port, 0) << obsmon->Output();

  // Before: both fire ShowSum and ShowGone per k, ShowOther per t (6 alerts), and agree.
  auto both_agree_on = [&](size_t n, std::chrono::seconds within) {
    return WaitUntil(
        [&] {
          const auto p = Alerts(prometheus_port);
          return p.size() == n && Alerts(obsmon_port) == p;
        },
        within);
  };
  ASSERT_TRUE(both_agree_on(6, 60s)) << "prometheus:\n" << Lines(Alerts(prometheus_port))
                                     << "obsmon:\n" << Lines(Alerts(obsmon_port));

  // The reload, in both at once.
  WriteWholeFile(dir.File("rules.yml"), kRulesAfter);
  prometheus->Signal(SIGHUP);
  obsmon->Signal(SIGHUP);
  // After: ShowSum per t only; ShowGone ends with r:gone's series at the group's next
  // evaluation; ShowOther ends two intervals after its group's removal. Both have evaluated
  // the new rules several times by then, well inside the 5-minute lookback that kept them.
  std::this_thread::sleep_for(8s);
  const auto from_prometheus = Alerts(prometheus_port);
  const auto from_obsmon = Alerts(obsmon_port);
  EXPECT_EQ(from_prometheus.size(), 2u) << Lines(from_prometheus);
  EXPECT_EQ(from_obsmon, from_prometheus) << "prometheus:\n" << Lines(from_prometheus)
                                          << "obsmon:\n" << Lines(from_obsmon)
                                          << obsmon->Output();
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  prometheus->Signal(SIGTERM);
  prometheus->Wait();
}

}  // namespace
}  // namespace obsmon
