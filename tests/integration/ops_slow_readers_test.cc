// Clients that stop reading their answers, on the real binary (the gap stop 63's fresh eyes
// found: eight such requests from two addresses held every worker until write_timeout, and
// /metrics from a third address took 8.5 s). Each reader pipelines many /metrics requests on one
// connection and reads nothing: the kernel's buffers fill, and what a worker cannot write at
// once is held and sent by the poller. Meanwhile another address is served at once, the config
// is reloaded, and the readers, reading at last, get every answer they asked for, whole (their
// own count of requests is the truth); then SIGTERM with answers held sends them before exit,
// and kill -9 with answers held leaves a database the next start serves from.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <vector>

#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

// `probes` tcp probes of a closed port, hourly: /metrics of ~110 KB for 500 (a series or three
// each), and nothing else for the daemon to do.
std::string Config(const ScratchDir& dir, int probes, bool extra_component) {
  std::string yml = "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
                    "\ncomponents:\n";
  for (int c = 0; c < probes / 100; ++c) {
    yml += "  - name: c" + std::to_string(c) + "\n    probes:\n";
    for (int p = 0; p < 100; ++p) {
      yml += "      - {name: p" + std::to_string(p) +
             ", kind: tcp, address: \"127.0.0.1:1\", interval: 1h}\n";
    }
  }
  if (extra_component) {
    yml += "  - name: added\n    probes:\n"
           "      - {name: p, kind: tcp, address: \"127.0.0.1:1\", interval: 1h}\n";
  }
  return yml;
}

// One connection from `source` that sends `requests` pipelined GET /metrics at once and reads
// nothing until told to.
class StalledReader {
 public:
  StalledReader(const char* source, int port, int requests)
      : fd_(ConnectFrom(source, port)), requests_(requests) {
    std::string all;
    for (int i = 0; i < requests; ++i) all += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    sent_ = fd_ >= 0 &&
            ::send(fd_, all.data(), all.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(all.size());
  }
  StalledReader(StalledReader&& other) noexcept
      : fd_(other.fd_), requests_(other.requests_), sent_(other.sent_) {
    other.fd_ = -1;
  }
  StalledReader(const StalledReader&) = delete;
  ~StalledReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool sent() const { return sent_; }

  // Reads until every answer has come, the server closes or `wait` passes; what came.
  struct Read {
    int whole = 0;         // 200 answers with all their Content-Length bytes
    int other = 0;         // whole answers of another status
    size_t leftover = 0;   // bytes of an answer cut short
    bool closed = false;
  };
  Read ReadAll(std::chrono::milliseconds wait) {
    Read r;
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (r.whole + r.other < requests_) {
      // Take every whole answer at the front.
      for (;;) {
        const size_t head_end = in.find("\r\n\r\n");
        const size_t length_at = in.find("Content-Length: ");
        if (head_end == std::string::npos || length_at == std::string::npos ||
            length_at > head_end) {
          break;
        }
        const size_t end = head_end + 4 + std::stoul(in.substr(length_at + 16));
        if (in.size() < end) break;
        (in.rfind("HTTP/1.1 200", 0) == 0 ? r.whole : r.other)++;
        in.erase(0, end);
      }
      if (r.whole + r.other >= requests_) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[64 * 1024];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        r.closed = true;
        break;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    r.leftover = in.size();
    return r;
  }

 private:
  int fd_ = -1;
  int requests_ = 0;
  bool sent_ = false;
};

double Held(httplib::Client& client) {
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  return MetricValue(res->body, "obsmon_http_output_held_bytes").value_or(0);
}

// Until answers are held and the amount has stopped moving (every reader has stalled: the
// poller reads a connection's next request only once what it holds is out, so at most an
// answer's end a connection).
bool AllStalled(httplib::Client& client) {
  double last = -1;
  int steady = 0;
  return WaitUntil(
      [&] {
        const double held = Held(client);
        steady = held > 0 && held == last ? steady + 1 : 0;
        last = held;
        return steady >= 10;
      },
      20s);
}

TEST(OpsSlowReadersTest, ReadersThatStallHoldNoWorkerThroughAReloadAStopAndAKill) {
  constexpr int kRequests = 60;  // ~7.5 MB of answers a connection: past the kernel's ~4 MB
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, 500, false));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client client("127.0.0.1", port);  // a third address: 127.0.0.1
  client.set_read_timeout(2);  // a worker held by a stalled reader would wait 10 s
  ASSERT_TRUE(WaitUntil([&] { return Held(client) == 0; }, 20s)) << obsmon->Output();

  // Eight stalled readers, four an address: every general worker's worth.
  std::vector<StalledReader> readers;
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back(i % 2 == 0 ? "127.0.0.2" : "127.0.0.6", port, kRequests);
    ASSERT_TRUE(readers.back().sent());
  }
  ASSERT_TRUE(AllStalled(client)) << Held(client) << "\n" << obsmon->Output();
  for (int i = 0; i < 5; ++i) {
    auto res = client.Get("/api/v1/components");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  // No worker is held by them: at most the one answering this (a reader's next pipelined
  // request may be in a worker for a moment, as its answer goes to the kernel or is held).
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto metrics = client.Get("/metrics");
        return metrics && MetricValue(metrics->body, "obsmon_http_connections", "busy")
                                  .value_or(99) <= 1;
      },
      2s));

  // A reload under them.
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, 500, true));
  obsmon->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto res = client.Get("/api/v1/components");
        return res && res->body.find("\"added\"") != std::string::npos;
      },
      20s))
      << obsmon->Output();

  // Reading at last, each gets every answer it asked for, whole.
  for (auto& reader : readers) {
    const auto r = reader.ReadAll(30s);
    EXPECT_EQ(r.whole, kRequests);
    EXPECT_EQ(r.other, 0);
    EXPECT_EQ(r.leftover, 0u);
  }
  EXPECT_TRUE(WaitUntil([&] { return Held(client) == 0; }, 10s));
  EXPECT_EQ(MetricValue(client.Get("/metrics")->body, "obsmon_http_connections_dropped_total",
                        "write_timeout"),
            0);

  // SIGTERM with answers held: what was answered goes out whole before the daemon exits.
  std::vector<StalledReader> late;
  for (int i = 0; i < 4; ++i) late.emplace_back("127.0.0.2", port, kRequests);
  ASSERT_TRUE(AllStalled(client));
  obsmon->Signal(SIGTERM);
  for (auto& reader : late) {
    const auto r = reader.ReadAll(30s);
    EXPECT_GT(r.whole, 0);
    EXPECT_EQ(r.leftover, 0u) << "an answer cut short at the stop";
    EXPECT_TRUE(r.closed || r.whole == kRequests);
  }
  const auto code = obsmon->Wait(20s);
  ASSERT_TRUE(code.has_value()) << obsmon->Output();
  EXPECT_EQ(*code, 0) << obsmon->Output();

  // kill -9 with answers held, then a start on the same file serves.
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client again("127.0.0.1", port);
  again.set_read_timeout(2);
  std::vector<StalledReader> killed;
  for (int i = 0; i < 2; ++i) killed.emplace_back("127.0.0.6", port, kRequests);
  ASSERT_TRUE(AllStalled(again));
  obsmon->Signal(SIGKILL);
  obsmon->Wait(10s);
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon3.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client third("127.0.0.1", port);
  auto res = third.Get("/api/v1/components");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"added\""), std::string::npos);
}

}  // namespace
}  // namespace obsmon::testing
