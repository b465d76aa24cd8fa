// Issue 15, item 3, with the real obsmon: a period started (by the real CLI) 26 hours ago, so its
// Day 1 has ended; obsmon posts Day 1's comment to a loopback webhook once it runs, and a
// restart posts nothing again (the exactly-once key is in the database). The receiver is the
// truth: it counts what arrived.
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/time_format.h"
#include "tests/integration/ops_support.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/loopback.h"
#include "tests/support/storage_writer.h"
#include "tests/support/test_http_server.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary
using testing::ScratchDir;
using testing::StartObsmon;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

class Hook {
 public:
  Hook() {
    server_.server().Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(req.body);
      res.status = 200;
    });
    server_.Start();
  }
  std::vector<std::string> Bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  int port() const { return server_.port(); }

 private:
  testing::TestHttpServer server_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
};

TEST(ObsmonDigestTest, TheRealDaemonPostsAnEndedDayOnceAcrossARestart) {
  ScratchDir dir;
  Hook hook;
  ASSERT_GT(hook.port(), 0);
  const std::string db = dir.File("obsmon.db");
  const int64_t now = SystemClock::Instance().NowMs();
  const int64_t start = (now - 26 * kHour) / kMinute * kMinute;
  // What obsmon would have stored of carbon since the start: a health probe every minute.
  WriteBatch batch;
  for (int64_t ts = start - kMinute; ts < now - kMinute; ts += kMinute) {
    batch.runs.push_back(MakeRun("health", ts, true, 90 * kSecond, "", 0.02));
  }
  testing::WriteThroughWriter(db, SystemClock::Instance(), std::move(batch));
  Subprocess cli({testing::kObsmonBinary, "observe", "start", "carbon", "--db", db, "--days", "2",
                  "--start", FormatRfc3339(start)},
                 dir.File("cli.log"));
  ASSERT_EQ(cli.Wait(), 0) << cli.Output();
  const testing::ClosedLoopbackPort closed;  // the component is down throughout
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + db + "}\n"
                 "components:\n"
                 "  - name: carbon\n"
                 "    probes:\n"
                 "      - {name: health, kind: tcp, role: health, address: \"127.0.0.1:" +
                     std::to_string(closed.port()) +
                     "\", interval: 1s, timeout: 500ms}\n"
                 "    digest:\n"
                 "      - kind: webhook\n"
                 "        url: \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hook\"\n"
                 "        body_template: '{\"t\": \"{{title}}\", \"m\": \"{{text}}\"}'\n");
  int port = 0;
  auto first = StartObsmon(dir.File("obsmon.yml"), dir.File("first.log"), &port);
  ASSERT_GT(port, 0) << first->Output();
  ASSERT_TRUE(WaitUntil([&] { return !hook.Bodies().empty(); }, 20s)) << first->Output();
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(hook.Bodies().size(), 1u);
  const auto j = nlohmann::json::parse(hook.Bodies()[0]);
  EXPECT_EQ(j["t"], "carbon: observation period #1, Day 1");
  const std::string m = j["m"];
  EXPECT_EQ(m.rfind("### Day 1 (" + FormatRfc3339(start).substr(0, 10) + ")\n", 0), 0u) << m;
  EXPECT_NE(m.find("- Uptime: 100.000 % (down 0ms, unknown 0ms)"), std::string::npos) << m;
  // Counted as the alerts' notifications are: one stored, one sent (stored stayed 0 before:
  // the digests store their rows behind the outbox's back).
  const auto digest_counter = [&](const char* name) {
    httplib::Client api("127.0.0.1", port);
    auto r = api.Get("/metrics");
    return r && r->status == 200
               ? testing::MetricValue(r->body, name, "receiver=\"digest:carbon:").value_or(-1)
               : -2;
  };
  EXPECT_EQ(digest_counter("obsmon_notifications_enqueued_total"), 1);
  EXPECT_EQ(digest_counter("obsmon_notifications_sent_total"), 1);
  first->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(), 0);

  auto second = StartObsmon(dir.File("obsmon.yml"), dir.File("second.log"), &port);
  ASSERT_GT(port, 0) << second->Output();
  std::this_thread::sleep_for(3s);  // its first look at the periods happens at start
  EXPECT_EQ(hook.Bodies().size(), 1u) << second->Output();
  EXPECT_EQ(digest_counter("obsmon_notifications_enqueued_total"), 0) << "stored once, not again";
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(), 0);
}

}  // namespace
}  // namespace obsmon
