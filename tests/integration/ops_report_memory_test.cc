// obsmon_uptime_live_report_bytes on the real binary beside a flapping target (issue 17, item 1:
// /metrics names what holds memory). The live report of a component keeps every incident of its
// window: the figure must grow with them. Truth: the target's own count of the 503s it answered,
// each between two 200s, so each is one incident in obsmon's report.
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

TEST(OpsReportMemoryTest, TheLiveReportsBytesGrowWithTheIncidentsOfAFlappingTarget) {
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

  // Steady first: a live report with no incident.
  std::optional<double> steady;
  ASSERT_TRUE(WaitUntil([&] { return (steady = ReportBytes(client)) && *steady > 0; }, 20s))
      << obsmon->Output();
  EXPECT_EQ(Incidents(client), 0u);

  // 80 incidents, then steady again: the truth stops moving.
  target.Flap(true);
  ASSERT_TRUE(WaitUntil([&] { return target.failed() >= 80; }, 60s));
  target.Flap(false);
  const int64_t failed = target.failed();
  // Every failure one incident, once the refresher has read the last of them.
  ASSERT_TRUE(WaitUntil([&] { return Incidents(client) == static_cast<size_t>(failed); }, 20s))
      << Incidents(client) << " incidents, the target answered " << failed << " 503s";
  std::optional<double> flapped;
  ASSERT_TRUE(WaitUntil([&] {
    flapped = ReportBytes(client);
    return flapped && *flapped >= *steady + static_cast<double>(failed * sizeof(Incident));
  }, 10s)) << "steady " << *steady << " B, after " << failed << " incidents "
           << flapped.value_or(-1) << " B";
  // Each incident's probe names and reason on top of the struct, not kilobytes.
  EXPECT_LT(*flapped, *steady + static_cast<double>(failed) * 1'000) << *flapped;
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon::testing
