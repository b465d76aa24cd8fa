// The real obsmon binary scraping a target that sends new series on every scrape (issue 13, N1):
// each scrape brings 10,000 series never seen before, inside every per-scrape limit. Before,
// every in-memory part kept every series it ever saw (the rules' head, the writer's series-id
// cache, the /metrics re-export), and RSS grew by 33 MB/s to 2 GB within a minute. Checked
// against truth obsmon does not compute: the target logs which scrapes it served, the kernel
// reports RSS, and sqlite3 counts what was stored.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "tests/integration/ops_support.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::kAddressSanitizer;
using testing::MetricValue;
using testing::RssKiB;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WriteWholeFile;
using Steady = std::chrono::steady_clock;

constexpr int kSeriesPerScrape = 10'000;

// Serves /metrics: scrape k has `churn{scrape="k",i="0".."9999"}` (all new) and `steady 1`.
class ChurningTarget {
 public:
  ChurningTarget() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      const int k = next_++;
      std::string body = "# TYPE churn gauge\n";
      body.reserve(kSeriesPerScrape * 40);
      for (int i = 0; i < kSeriesPerScrape; ++i) {
        body += "churn{scrape=\"" + std::to_string(k) + "\",i=\"" + std::to_string(i) + "\"} " +
                std::to_string(i) + "\n";
      }
      body += "# TYPE steady gauge\nsteady 1\n";
      res.set_content(body, "text/plain; version=0.0.4");
      std::lock_guard<std::mutex> lock(mu_);
      served_.insert(k);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    testing::WaitUntil([&] { return server_.is_running(); }, 5s);
  }
  ~ChurningTarget() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::set<int> served() const {
    std::lock_guard<std::mutex> lock(mu_);
    return served_;
  }

 private:
  httplib::Server server_;
  std::atomic<int> next_{0};
  mutable std::mutex mu_;
  std::set<int> served_;
  std::thread thread_;
  int port_ = 0;
};

std::string Query(const std::string& db, const std::string& sql, const std::string& out) {
  auto [rc, text] = RunCommand({"sqlite3", db, sql}, out);
  EXPECT_EQ(rc, 0) << text;
  return text;
}

TEST(OpsSeriesChurnTest, NewSeriesOnEveryScrapeAreAllStoredAndMemoryLevelsOff) {
  ScratchDir dir;
  ChurningTarget target;
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("rules.yml"),
                 "groups:\n"
                 "  - name: up\n"
                 "    rules:\n"
                 "      - alert: TargetDown\n"
                 "        expr: up == 0\n");
  WriteWholeFile(dir.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage:\n  path: " + db + "\n"
                 // A page cache that fills within the first ~10 scrapes even on a loaded machine
                 // (the default 64 MiB takes ~64 scrapes of 10,000 new series: the whole run).
                 "  cache_size: 16MiB\n"
                 "rule_files: [" + dir.File("rules.yml") + "]\n"
                 "components:\n"
                 "  - name: churner\n"
                 "    probes:\n"
                 "      - name: metrics\n"
                 "        kind: scrape\n"
                 "        url: http://127.0.0.1:" + std::to_string(target.port()) + "/metrics\n"
                 "        interval: 500ms\n"
                 "        timeout: 450ms\n");
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();

  // 60 s: RSS every second (120 scrapes, 1.2 million series); longer (3 minutes at most) on a
  // machine so loaded that the target has not yet served the 60 scrapes required below.
  std::vector<long> rss;
  const auto start = Steady::now();
  while (Steady::now() - start < 60s ||
         (target.served().size() < 60 && Steady::now() - start < 180s)) {
    std::this_thread::sleep_for(1s);
    rss.push_back(RssKiB(obsmon->pid()));
  }
  httplib::Client c("127.0.0.1", port);
  auto metrics = c.Get("/metrics");
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  const std::set<int> served = target.served();
  ASSERT_GE(served.size(), 60u) << "scrapes the target served in 60 s at 500 ms";

  // /metrics re-exports one scrape's series (the newest), not every scrape's.
  ASSERT_TRUE(metrics && metrics->status == 200);
  std::istringstream lines(metrics->body);
  std::string line;
  std::set<std::string> scrapes_exported;
  int churn_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("churn{", 0) != 0) continue;
    ++churn_lines;
    const auto at = line.find("scrape=\"") + 8;
    scrapes_exported.insert(line.substr(at, line.find('"', at) - at));
  }
  EXPECT_EQ(churn_lines, kSeriesPerScrape);
  ASSERT_EQ(scrapes_exported.size(), 1u);
  EXPECT_TRUE(served.count(std::stoi(*scrapes_exported.begin())));
  EXPECT_EQ(MetricValue(metrics->body, "obsmon_exported_series_refused_total"), 0);
  // The rules select `up` and the generated SLO rules a few runner series: the head keeps none
  // of the churn (before: every series, up to a million).
  EXPECT_LE(MetricValue(metrics->body, "obsmon_rule_head_series").value_or(1e9), 50);
  EXPECT_GT(MetricValue(metrics->body, "obsmon_rule_head_unselected_samples_total").value_or(0),
            kSeriesPerScrape * 10);

  // Nothing lost: every successful scrape stored all its series, and only scrapes the target
  // served are stored.
  const int ok_runs = std::stoi(Query(
      db,
      "SELECT count(*) FROM probe_runs JOIN probes ON probes.id = probe_id "
      "WHERE component = 'churner' AND success = 1",
      dir.File("q1.out")));
  EXPECT_GE(ok_runs, static_cast<int>(served.size()) * 8 / 10);
  const std::string stored = Query(
      db,
      "SELECT count(*), count(DISTINCT substr(labels, instr(labels, 'scrape=\"'))) FROM samples "
      "JOIN series ON series.id = series_id WHERE name = 'churn'",
      dir.File("q2.out"));
  EXPECT_EQ(stored, std::to_string(ok_runs * kSeriesPerScrape) + "|" + std::to_string(ok_runs) +
                        "\n");
  std::istringstream scrapes(Query(
      db,
      "SELECT DISTINCT substr(labels, instr(labels, 'scrape=\"') + 8) FROM series "
      "WHERE name = 'churn'",
      dir.File("q3.out")));
  int unknown = 0;
  while (std::getline(scrapes, line)) {
    if (!served.count(std::stoi(line.substr(0, line.find('"'))))) ++unknown;
  }
  EXPECT_EQ(unknown, 0) << "stored scrapes the target never served";

  // Memory levels off once the bounded parts are full (the writer's page cache, 16 MiB here, and
  // its 50,000 series ids, within ~20 s on a quiet machine, ~60 s on a loaded one, where the heap
  // in use also levels off at ~50 MB): the last twenty seconds add little to the twenty before.
  // Little: under 16 MiB, against the 300 MB the unbounded parts added in 20 s before the fix; a
  // one-time step of ~10 MB (a new malloc arena, a refresh) was seen on a plateau after 50 s. Before, RSS grew by about 15 MB/s here. Not under ASan, whose quarantine alone holds
  // 256 MB of freed memory.
  ASSERT_GE(rss.size(), 56u);
  const long middle = *std::max_element(rss.end() - 40, rss.end() - 20);
  const long last = *std::max_element(rss.end() - 20, rss.end());
  std::string trace;
  for (long k : rss) trace += std::to_string(k / 1024) + " ";
  ::testing::Test::RecordProperty("rss_mib_per_second", trace);
  // On a loaded machine the writer may fall behind 20,000 new series a second: its queue then
  // grows towards its own bound (500,000 rows, docs/storage.md) and RSS with it, which is
  // bounded but not flat within these 60 s; then only the bound of the whole is checked.
  const double queued = MetricValue(metrics->body, "obsmon_storage_queue_rows").value_or(-1);
  const bool writer_kept_up = queued >= 0 && queued < 2 * kSeriesPerScrape;
  if (!kAddressSanitizer) {
    if (writer_kept_up) {
      EXPECT_LT(last - middle, 16 * 1024) << "RSS MiB per second: " << trace;
    } else {
      std::cout << "writer behind (" << queued << " rows queued): flatness not checked\n";
    }
    EXPECT_LT(last, 200 * 1024) << "RSS MiB per second: " << trace << "; rows queued " << queued;
  }
}

}  // namespace
}  // namespace obsmon
