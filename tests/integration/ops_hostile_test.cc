// The real obsmon binary among hostile peers at once (issue 13): targets that answer with a 10 MB
// header line, endless headers, an endless chunked body, a 2 GB body or nothing at all, and, on
// its own API, a slowloris flood (hundreds of connections trickling their headers from one
// address, dozens more from another). Checked against truth obsmon does not compute: the healthy
// target counts the requests it answered, the kernel reports obsmon's RSS, and a client measures
// /healthz from outside. Every hostile run must be down with its reason, the healthy probe must
// keep its schedule, /healthz must answer throughout, and memory must level off.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>

#include "tests/integration/ops_support.h"
#include "tests/probes/raw_responder.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ConnectFrom;
using testing::kAddressSanitizer;
using testing::MetricValue;
using testing::RssKiB;
using testing::RawResponder;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WriteWholeFile;
using Steady = std::chrono::steady_clock;

// A /health endpoint that counts what it answered: the truth the stored runs are checked against.
class CountingTarget {
 public:
  CountingTarget() {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.set_content("OK", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    testing::WaitUntil([&] { return server_.is_running(); }, 5s);
  }
  ~CountingTarget() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int hits() const { return hits_; }

 private:
  httplib::Server server_;
  std::atomic<int> hits_{0};
  std::thread thread_;
  int port_ = 0;
};

// Sends `chunk` until the peer hangs up (obsmon's deadline) or the test stops.
RawResponder::Respond Endless(std::string first, std::string chunk) {
  return [first = std::move(first), chunk = std::move(chunk)](int fd, const std::atomic<bool>& stop) {
    if (!RawResponder::SendAll(fd, first, stop)) return;
    while (RawResponder::SendAll(fd, chunk, stop)) {
    }
  };
}

// Reads the request, answers nothing, waits for the peer to give up.
void Silent(int fd, const std::atomic<bool>& stop) {
  char buf[4096];
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0 && ::recv(fd, buf, sizeof buf, 0) <= 0) return;
  }
}

TEST(OpsHostileTest, HostileTargetsAndASlowlorisFloodStopNeitherProbingNorHealthzNorGrowMemory) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = std::min<rlim_t>(r.rlim_max, 4096);
  ::setrlimit(RLIMIT_NOFILE, &r);
  const int flood = r.rlim_cur >= 2048 ? 600 : 300;

  ScratchDir dir;
  CountingTarget good;
  const std::string chunk(64 * 1024, 'a');
  RawResponder header_line(Endless("HTTP/1.1 200 OK\r\nX-Big: ", chunk));
  RawResponder many_headers(Endless("HTTP/1.1 200 OK\r\n", [] {
    std::string h;
    while (h.size() < 64 * 1024) h += "X-Many: v\r\n";
    return h;
  }()));
  RawResponder chunked(Endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                               "10000\r\n" + chunk + "\r\n"));
  RawResponder huge_body(
      Endless("HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n", chunk));
  RawResponder silent(Silent);
  RawResponder scrape_headers(Endless("HTTP/1.1 200 OK\r\n", [] {
    std::string h;
    while (h.size() < 64 * 1024) h += "X-Many: v\r\n";
    return h;
  }()));

  const std::string db = dir.File("obsmon.db");
  std::string config =
      "listen: 127.0.0.1:0\n"
      "storage:\n  path: " + db + "\n"
      "web:\n  request_timeout: 2s\n"
      "components:\n"
      "  - name: good\n"
      "    probes:\n"
      "      - name: health\n"
      "        kind: http\n"
      "        role: health\n"
      "        url: http://127.0.0.1:" + std::to_string(good.port()) + "/health\n"
      "        interval: 200ms\n"
      "        timeout: 150ms\n"
      "  - name: hostile\n"
      "    probes:\n";
  const std::map<std::string, const RawResponder*> hostile = {
      {"header_line", &header_line}, {"many_headers", &many_headers}, {"chunked", &chunked},
      {"huge_body", &huge_body},     {"silent", &silent}};
  for (const auto& [name, target] : hostile) {
    config += "      - name: " + name + "\n        kind: http\n        url: " + target->Url("/") +
              "\n        interval: 1s\n        timeout: 500ms\n";
  }
  config += "      - name: scrape\n        kind: scrape\n        url: " +
            scrape_headers.Url("/metrics") + "\n        interval: 1s\n        timeout: 500ms\n";
  WriteWholeFile(dir.File("obsmon.yml"), config);
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  const int hits_at_start = good.hits();

  // The flood: `flood` connections from 127.0.0.2 and 40 from 127.0.0.3, each trickling a byte
  // of an endless header every ~second, reconnecting when obsmon closes them.
  std::atomic<bool> stop{false};
  std::thread flooder([&] {
    std::vector<std::pair<const char*, int>> conns;
    for (int i = 0; i < flood + 40; ++i) conns.emplace_back(i < flood ? "127.0.0.2" : "127.0.0.3", -1);
    while (!stop) {
      for (auto& [source, fd] : conns) {
        if (stop) break;
        if (fd < 0) {
          fd = ConnectFrom(source, port);
          if (fd >= 0) ::send(fd, "GET /api/v1/components HTTP/1.1\r\nX-Drip: ", 42, MSG_NOSIGNAL);
          continue;
        }
        if (::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
          ::close(fd);
          fd = -1;
        }
      }
      std::this_thread::sleep_for(1s);
    }
    for (auto& [source, fd] : conns) {
      if (fd >= 0) ::close(fd);
    }
  });

  // 24 s of /healthz from outside every 250 ms, and obsmon's RSS every second.
  std::vector<long> rss;
  int health_failures = 0, health_checks = 0;
  const auto start = Steady::now();
  auto next_rss = start;
  while (Steady::now() - start < 24s) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(2, 0);
    auto res = c.Get("/healthz");
    ++health_checks;
    if (!res || res->status != 200) ++health_failures;
    if (Steady::now() >= next_rss) {
      rss.push_back(RssKiB(obsmon->pid()));
      next_rss += 1s;
    }
    std::this_thread::sleep_for(250ms);
  }
  httplib::Client c("127.0.0.1", port);
  auto metrics = c.Get("/metrics");
  stop = true;
  flooder.join();
  const int hits = good.hits() - hits_at_start;
  obsmon->Signal(SIGTERM);
  const auto term = Steady::now();
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  // Under ASan the leak checker's scan at exit is part of the time, not obsmon's shutdown.
  EXPECT_LT(Steady::now() - term, kAddressSanitizer ? 20s : 10s) << "SIGTERM during the attack";

  EXPECT_EQ(health_failures, 0) << "of " << health_checks << " /healthz checks";
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_GT(MetricValue(metrics->body, "obsmon_http_connections_dropped_total",
                        "reason=\"evicted\"").value_or(0), 0);
  EXPECT_GT(MetricValue(metrics->body, "obsmon_http_connections_dropped_total",
                        "reason=\"request_timeout\"").value_or(0), 0);

  // Memory levels off: the last ten seconds add little to what the first ten reached, and the
  // whole stays far below what one 10 MB header line used to cost (228 MB).
  ASSERT_GE(rss.size(), 20u);
  const long first_ten = *std::max_element(rss.begin(), rss.begin() + 10);
  const long last_ten = *std::max_element(rss.end() - 10, rss.end());
  std::string trace;
  for (long k : rss) trace += std::to_string(k / 1024) + " ";
  ::testing::Test::RecordProperty("rss_mib_per_second", trace);
  ::testing::Test::RecordProperty("healthz_checks", health_checks);
  ::testing::Test::RecordProperty("healthy_target_hits", hits);
  // Not under ASan: it keeps freed memory in quarantine (256 MB by default) besides shadow and
  // redzones, so RSS climbs to ~380 MiB there whatever obsmon does; the normal build, which CI
  // runs too, checks the bounds, the sanitized one everything else.
  if (!kAddressSanitizer) {
    EXPECT_LT(last_ten - first_ten, 16 * 1024) << "RSS MiB per second: " << trace;
    EXPECT_LT(last_ten, 120 * 1024) << "RSS MiB per second: " << trace;
  }

  // The healthy probe kept its schedule (200 ms), and every run the target answered is stored.
  EXPECT_GE(hits, 24 * 5 * 8 / 10) << "runs the healthy target answered in 24 s";
  // A run the target answered is stored even if the answer came after its 150 ms timeout (a
  // loaded sanitized run): every answer has a run, every success an answer.
  auto [rc, stored] = RunCommand(
      {"sqlite3", db,
       "SELECT count(*) || ' ' || coalesce(sum(success = 1), 0) FROM probe_runs JOIN probes "
       "ON probes.id = probe_id WHERE component = 'good'"},
      dir.File("sqlite.out"));
  ASSERT_EQ(rc, 0) << stored;
  const int stored_runs = std::stoi(stored);
  const int stored_up = std::stoi(stored.substr(stored.find(' ') + 1));
  EXPECT_GE(stored_runs, hits) << stored;
  EXPECT_LE(stored_up, good.hits()) << stored;

  // Every run of a hostile head is down with the reason the docs give; a silent target is a
  // timeout. Endless bodies are judged on their first max_body_bytes (1 MiB), as documented:
  // the status was 200, so those runs are up, and took no longer than reading 1 MiB.
  auto [rc2, reasons] = RunCommand(
      {"sqlite3", db,
       "SELECT probe || '|' || success || '|' || reason FROM probe_runs "
       "JOIN probes ON probes.id = probe_id "
       "WHERE component = 'hostile' GROUP BY probe, success, reason ORDER BY probe"},
      dir.File("sqlite2.out"));
  ASSERT_EQ(rc2, 0) << reasons;
  const std::string head = "0|response head larger than 65536 bytes (status line and headers)\n";
  EXPECT_EQ(reasons, "chunked|1|\n"
                     "header_line|" + head +
                     "huge_body|1|\n"
                     "many_headers|" + head +
                     "scrape|" + head +
                     "silent|0|timeout after 500ms\n");
}

}  // namespace
}  // namespace obsmon
