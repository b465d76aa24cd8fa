// The shipped deploy/ files against the real tools: the Debian Prometheus scrapes a real obsmon
// (with bearer auth, as docs/operations.md sets it up) and loads the shipped alerting rules;
// promtool accepts the rules and the scrape config; every query of the Grafana dashboard returns
// data from that Prometheus; systemd-analyze accepts the unit (install_test.cc checks what
// `cmake --install` puts in place).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthTarget;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

const std::string kSource = OBSMON_SOURCE_DIR;

// Every PromQL expression of the dashboard, with Grafana's variables replaced as Grafana would
// for "All" components and a short rate interval.
std::vector<std::string> DashboardQueries() {
  auto dash =
      nlohmann::json::parse(ReadWholeFile(kSource + "/deploy/grafana/obsmon-dashboard.json"));
  std::vector<std::string> out;
  for (const auto& panel : dash["panels"]) {
    if (!panel.contains("targets")) continue;
    for (const auto& t : panel["targets"]) {
      std::string expr = t["expr"];
      for (auto [from, to] :
           {std::pair<std::string, std::string>{"$__rate_interval", "30s"}, {"$component", ".*"}}) {
        for (size_t at; (at = expr.find(from)) != std::string::npos;)
          expr.replace(at, from.size(), to);
      }
      out.push_back(expr);
    }
  }
  return out;
}

TEST(OpsPrometheusTest, RealPrometheusScrapesObsmonAndEveryDashboardQueryReturnsData) {
  if (!std::filesystem::exists("/usr/bin/prometheus") ||
      !std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "prometheus / promtool not installed";
  }
  const std::string rules = kSource + "/deploy/prometheus/obsmon-rules.yml";
  ScratchDir dir;
  auto [rc, rules_out] = RunCommand({"promtool", "check", "rules", rules}, dir.File("rules.out"));
  ASSERT_EQ(rc, 0) << rules_out;
  EXPECT_NE(rules_out.find("SUCCESS: 19 rules found"), std::string::npos) << rules_out;
  auto [crc, config_out] =
      RunCommand({"promtool", "check", "config", kSource + "/deploy/prometheus/prometheus.yml"},
                 dir.File("config.out"));
  EXPECT_EQ(crc, 0) << config_out;

  // obsmon with a health probe, a failing probe and a log probe, so every series exists.
  HealthTarget target;
  const std::string log_file = dir.File("app.log");
  WriteWholeFile(log_file, "INFO start\nERROR disk\nCRITICAL boom\nERROR again\n");
  WriteWholeFile(dir.File("token"), "prom-token\n");
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config,
                 "listen: 127.0.0.1:0\n"
                 "uptime_refresh: 500ms\n"
                 "web:\n  auth:\n    bearer_token_file: token\n"
                 "storage:\n  path: " +
                     dir.File("obsmon.db") +
                     "\n"
                     "components:\n"
                     "  - name: web\n"
                     "    objective: {uptime: 99.5, window: 1h}\n"
                     "    probes:\n"
                     "      - name: health\n"
                     "        kind: http\n"
                     "        url: http://127.0.0.1:" +
                     std::to_string(target.port()) +
                     "/health\n"
                     "        interval: 200ms\n"
                     "        timeout: 150ms\n"
                     "      - name: closed-port\n"
                     "        kind: tcp\n"
                     "        role: none\n"
                     "        address: 127.0.0.1:1\n"
                     "        interval: 500ms\n"
                     "        timeout: 200ms\n"
                     "      - name: errors\n"
                     "        kind: log\n"
                     "        interval: 200ms\n"
                     "        paths: [" +
                     log_file +
                     "]\n"
                     "        severities:\n"
                     "          critical: '\\bCRITICAL\\b'\n"
                     "          error: '\\bERROR\\b'\n");
  int obsmon_port = 0;
  auto obsmon = StartObsmon(config, dir.File("obsmon.log"), &obsmon_port);
  ASSERT_GT(obsmon_port, 0) << obsmon->Output();

  // The live exposition, log counters and all, passes promtool's lint.
  {
    httplib::Client c("127.0.0.1", obsmon_port);
    c.set_bearer_token_auth("prom-token");
    std::string body;
    ASSERT_TRUE(WaitUntil([&] {
      auto res = c.Get("/metrics");
      body = res && res->status == 200 ? res->body : "";
      return body.find("obsmon_log_matches_total{") != std::string::npos;
    })) << body;
    WriteWholeFile(dir.File("metrics.txt"), body);
    auto [mcode, lint] = RunCommand(
        {"sh", "-c", "promtool check metrics < " + dir.File("metrics.txt")}, dir.File("lint.out"));
    EXPECT_EQ(mcode, 0) << lint;
    EXPECT_EQ(lint, "") << lint;
  }
  int prom_port = 0;
  auto prometheus = testing::StartPrometheus(
      dir,
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n  - " + rules + "\n"
      "scrape_configs:\n"
      "  - job_name: obsmon\n"
      "    authorization:\n      type: Bearer\n      credentials_file: " + dir.File("token") + "\n"
      "    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(obsmon_port) + "']\n",
      &prom_port);
  ASSERT_TRUE(prometheus->started());
  httplib::Client prom("127.0.0.1", prom_port);
  prom.set_read_timeout(10);

  auto query = [&](const std::string& expr) -> nlohmann::json {
    auto res = prom.Get("/api/v1/query", httplib::Params{{"query", expr}}, httplib::Headers{});
    if (!res || res->status != 200) return nlohmann::json();
    return nlohmann::json::parse(res->body, nullptr, false);
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto j = query("up{job=\"obsmon\"} == 1");
        return !j.is_discarded() && j.is_object() && !j["data"]["result"].empty();
      },
      60s))
      << ReadWholeFile(dir.File("prometheus.log")).substr(0, 4000);

  // Every query of the dashboard returns data (a few scrapes are needed for rate()).
  const auto queries = DashboardQueries();
  ASSERT_GE(queries.size(), 15u);
  for (const std::string& expr : queries) {
    nlohmann::json j;
    const bool ok = WaitUntil(
        [&] {
          j = query(expr);
          return !j.is_discarded() && j.is_object() && j["status"] == "success" &&
                 !j["data"]["result"].empty();
        },
        60s);
    EXPECT_TRUE(ok) << "dashboard query returned no data: " << expr << "\n" << j.dump();
  }
  // The log errors panel counts what was written: 2 ERROR and 1 CRITICAL line.
  auto logs = query("sum by (severity) (obsmon_log_matches_total{component=\"web\"})");
  double errors = -1, critical = -1;
  for (const auto& r : logs["data"]["result"]) {
    const double v = std::stod(r["value"][1].get<std::string>());
    if (r["metric"]["severity"] == "error") errors = v;
    if (r["metric"]["severity"] == "critical") critical = v;
  }
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(critical, 1);

  // Prometheus loaded the shipped rules, and obsmon's own health rules are not firing.
  auto rules_res = prom.Get("/api/v1/rules");
  ASSERT_TRUE(rules_res);
  auto rj = nlohmann::json::parse(rules_res->body);
  size_t loaded = 0;
  for (const auto& g : rj["data"]["groups"]) {
    for (const auto& r : g["rules"]) {
      ++loaded;
      EXPECT_NE(r["health"], "err") << r.dump();
      const std::string name = r["name"];
      if (name == "ObsmonDown" || name == "ObsmonStorageWriteErrors" ||
          name == "ObsmonStorageUnhealthy" ||
          name == "ObsmonConfigReloadFailed" || name == "ObsmonStorageDroppedBatches" ||
          name == "ObsmonStorageDroppedLateRuns" || name == "ObsmonLogLinesUnreadable" ||
          name == "ObsmonLogFilesMissed") {
        EXPECT_NE(r["state"], "firing") << name;
      }
    }
  }
  EXPECT_EQ(loaded, 19u);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// promtool is the oracle for the shipped self-alerts: deploy/prometheus/obsmon-rules.test.yml
// says when ObsmonStorageUnhealthy fires and stops.
TEST(OpsPrometheusTest, ShippedRulesPassTheirPromtoolUnitTests) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool not installed";
  ScratchDir dir;
  auto [rc, out] = RunCommand(
      {"promtool", "test", "rules", kSource + "/deploy/prometheus/obsmon-rules.test.yml"},
      dir.File("test.out"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

TEST(OpsPrometheusTest, SystemdAnalyzeVerifiesTheUnit) {
  if (!std::filesystem::exists("/usr/bin/systemd-analyze")) {
    GTEST_SKIP() << "systemd-analyze not installed (Debian package systemd)";
  }
  ScratchDir dir;
  // The unit names /usr/local/bin/obsmon; point it at the built binary, which verify requires
  // to exist and be executable.
  std::string unit = ReadWholeFile(kSource + "/deploy/obsmon.service");
  for (size_t at; (at = unit.find("/usr/local/bin/obsmon")) != std::string::npos;) {
    unit.replace(at, std::string("/usr/local/bin/obsmon").size(), testing::kObsmonBinary);
  }
  WriteWholeFile(dir.File("obsmon.service"), unit);
  auto [code, out] =
      RunCommand({"systemd-analyze", "verify", dir.File("obsmon.service")}, dir.File("verify.out"));
  if (out.find("System has not been booted with systemd") != std::string::npos) {
    GTEST_SKIP() << "systemd-analyze cannot run here: " << out;
  }
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("obsmon.service:"), std::string::npos) << out;
  for (const char* key : {"ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                          "ProtectHome=", "CapabilityBoundingSet=\n",
                          "RestrictAddressFamilies=", "SystemCallFilter=@system-service",
                          "ReadWritePaths=/var/lib/obsmon", "ExecReload=/bin/kill -HUP $MAINPID",
                          "Restart=on-failure", "User=obsmon", "Type=notify\n",
                          "NotifyAccess=main"}) {
    EXPECT_NE(unit.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace obsmon
