// obsmon_uptime_live_report_bytes on the real binary beside a flapping target (issue 17, item 1:
// memory bounded by design, and /metrics names what holds it). The daemon keeps each component's
// live report compacted (report/overview_report.h): what it holds must not grow with the
// incidents, while the overview page still counts every one. Truth: the target's own count of the
// 503s it answered, each between two 200s, so each is one incident.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "report/report.h"
#include "tests/integration/ops_support.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

// /health answers 200, or while flapping 503 and 200 in turn; counts the 503s it answered.
class FlappingTarget {
 public:
  FlappingTarget() {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (flapping_ && (answered_++ % 2 == 1)) {
        res.status = 503;
        ++failed_;
      }
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, 5s);
  }
  ~FlappingTarget() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void Flap(bool on) { flapping_ = on; }
  int64_t failed() const { return failed_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> flapping_{false};
  std::atomic<int64_t> answered_{0};
  std::atomic<int64_t> failed_{0};
  int port_ = 0;
};

std::optional<double> ReportBytes(httplib::Client& client) {
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return std::nullopt;
  return MetricValue(res->body, "obsmon_uptime_live_report_bytes");
}

size_t Incidents(httplib::Client& client) {
  auto res = client.Get("/api/v1/components/web/report?format=json");
  if (!res || res->status != 200) return 0;
  const auto json = nlohmann::json::parse(res->body, nullptr, false);
  const auto& r = json.contains("data") ? json["data"] : json;
  return r.contains("incidents") ? r["incidents"].size() : 0;
}

// The overview page's incident count ("Incidents" figure), or -1.
int64_t OverviewIncidents(httplib::Client& client) {
  auto res = client.Get("/");
  if (!res || res->status != 200) return -1;
  const std::string marker = "data-figure=\"incidents\">";
  const size_t at = res->body.find(marker);
  if (at == std::string::npos) return -1;
  return std::strtoll(res->body.c_str() + at + marker.size(), nullptr, 10);
}

TEST(OpsReportMemoryTest, TheLiveReportHoldsTheSameBytesAfterAFlappingTargetsIncidents) {
  ScratchDir dir;
  FlappingTarget target;
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\nuptime_refresh: 200ms\nstorage:\n  path: " +
                     dir.File("obsmon.db") +
                     "\ncomponents:\n  - name: web\n    probes:\n      - name: health\n"
                     "        kind: http\n        url: http://127.0.0.1:" +
                     std::to_string(target.port()) +
                     "/health\n        interval: 100ms\n        timeout: 90ms\n");
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client client("127.0.0.1", port);

  // A first incident, so that the kept report holds each kind of span it may hold.
  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.failed() >= 1; }, 20s));
  target.Flap(false);
  ASSERT_TRUE(WaitUntil([&] { return OverviewIncidents(client) == target.failed(); }, 20s))
      << OverviewIncidents(client) << " incidents on the page, the target answered "
      << target.failed() << " 503s\n" << obsmon->Output();
  std::optional<double> one;
  ASSERT_TRUE(WaitUntil([&] { return (one = ReportBytes(client)) && *one > 0; }, 10s));

  // 120 more, then steady again: the truth stops moving.
  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.failed() >= 121; }, 60s));
  target.Flap(false);
  const int64_t failed = target.failed();
  // Every failure one incident, on the page and in the report a user asks for.
  ASSERT_TRUE(WaitUntil([&] { return OverviewIncidents(client) == failed; }, 20s))
      << OverviewIncidents(client) << " incidents on the page, the target answered " << failed
      << " 503s";
  EXPECT_EQ(Incidents(client), static_cast<size_t>(failed));
  const std::optional<double> many = ReportBytes(client);
  ASSERT_TRUE(many);
  // The whole report would hold every incident (~120 x 200 B and more); the kept one the same
  // few hundred bytes of figures (a criterion's sentence may gain a digit).
  EXPECT_LT(*many, *one + 256) << "after 1 incident " << *one << " B, after " << failed << " "
                               << *many << " B";
  EXPECT_LT(*many, 16 * 1024) << *many;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon::testing
