// The http probe's keep_alive against loopback servers that count their own connections and
// requests (the truth the assertions use): a kept connection carries the runs until keep_alive
// has passed since its connect; a server that closes it (its idle timeout, or just as the
// request goes) costs a fresh connection, never a down run; a response that forbids reuse, a
// failed run and unasked bytes close it; the key is refused where it cannot work.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/config_node.h"
#include "probes/http_probe.h"
#include "probes/pending_run.h"
#include "tests/probes/raw_responder.h"

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;
using testing::RawResponder;

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// What the server does with the n-th request (from 1) of a connection: the bytes it answers
// with ("" answers nothing) and whether it closes the connection after them.
struct Answer {
  Answer(std::string b, bool close = false, std::string l = "")
      : bytes(std::move(b)), close_after(close), later(std::move(l)) {}
  std::string bytes;
  bool close_after;
  std::string later;  // sent 50 ms after `bytes`, unasked
};
using Policy = std::function<Answer(int nth_on_connection)>;

// A server that reads request after request on each connection (one connection at a time, as
// RawResponder serves them) and answers as `policy` says. It counts what it got.
class CountingServer {
 public:
  explicit CountingServer(Policy policy)
      : policy_(std::move(policy)),
        responder_([this](int fd, const std::atomic<bool>& stop) { Serve(fd, stop); }) {}

  std::string Url(const std::string& path) const { return responder_.Url(path); }
  int connections() const { return responder_.connections(); }
  int requests() const { return requests_; }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }

 private:
  void Serve(int fd, const std::atomic<bool>& stop) {
    for (int nth = 1; !stop; ++nth) {
      std::string head;
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (stop) return;
        if (::poll(&p, 1, 50) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;  // the client closed the connection
        head.append(buf, static_cast<size_t>(n));
      }
      ++requests_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        heads_.push_back(head);
      }
      const Answer answer = policy_(nth);
      if (!answer.bytes.empty() && !RawResponder::SendAll(fd, answer.bytes, stop)) return;
      if (!answer.later.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!RawResponder::SendAll(fd, answer.later, stop)) return;
      }
      if (answer.close_after) return;
    }
  }

  Policy policy_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<std::string> heads_;
  RawResponder responder_;  // last: its thread stops before the members it uses go
};

ProbeSpec Spec() {
  ProbeSpec spec;
  spec.key = {"c", "kept"};
  spec.kind = "http";
  spec.timeout_ms = 2000;
  return spec;
}

std::unique_ptr<Probe> Make(const std::string& yaml, const Clock& clock,
                            ConfigErrors* errors) {
  ConfigNode node(YAML::Load(yaml), "probes.yml", errors);
  return MakeHttpProbe(Spec(), node, clock);
}

// A probe of `server`'s "/" with keep_alive: 1m and `extra` keys.
std::unique_ptr<Probe> Kept(const CountingServer& server, const Clock& clock,
                            const std::string& extra = "") {
  ConfigErrors errors;
  auto probe = Make("url: " + server.Url("/") + "\nkeep_alive: 1m\n" + extra, clock, &errors);
  EXPECT_TRUE(probe) << errors.ToString();
  return probe;
}

ProbeResult RunOnce(Probe& probe, const Clock& clock) {
  return probe.Run(Deadline{clock.SteadyNow() + milliseconds(2000)});
}

TEST(HttpKeepAliveTest, OneConnectionCarriesTheRunsUntilKeepAliveHasPassedSinceItsConnect) {
  CountingServer server([](int) { return Answer{kOk}; });
  FakeClock clock;
  ConfigErrors errors;
  auto probe = Make("url: " + server.Url("/health") + "\nkeep_alive: 10s\n", clock, &errors);
  ASSERT_TRUE(probe) << errors.ToString();
  for (int run = 0; run < 10; ++run) {  // at 0, 1, ... 9 s: one connection
    EXPECT_TRUE(RunOnce(*probe, clock).success) << run;
    clock.Advance(1000);
  }
  EXPECT_EQ(server.requests(), 10);
  EXPECT_EQ(server.connections(), 1);
  // At 10 s the connection has been used for keep_alive: the run connects afresh, and that
  // connection's 10 s start there.
  for (int run = 0; run < 10; ++run) {
    EXPECT_TRUE(RunOnce(*probe, clock).success) << run;
    clock.Advance(1000);
  }
  EXPECT_EQ(server.requests(), 20);
  EXPECT_EQ(server.connections(), 2);
  for (const std::string& head : server.heads()) {
    EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
  }
}

TEST(HttpKeepAliveTest, WithoutKeepAliveEveryRunConnectsAndAsksTheServerToClose) {
  CountingServer server([](int) { return Answer{kOk}; });
  FakeClock clock;
  ConfigErrors errors;
  for (const std::string extra : {"", "keep_alive: 0s\n"}) {
    auto probe = Make("url: " + server.Url("/") + "\n" + extra, clock, &errors);
    ASSERT_TRUE(probe) << errors.ToString();
    for (int run = 0; run < 3; ++run) EXPECT_TRUE(RunOnce(*probe, clock).success);
  }
  EXPECT_EQ(server.requests(), 6);
  EXPECT_EQ(server.connections(), 6);
  for (const std::string& head : server.heads()) {
    EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos) << head;
  }
}

// The server closes each connection after one answer, at once or a moment later (an idle
// timeout shorter than the interval): each run finds its kept connection closed and connects
// afresh. No run is down for it.
TEST(HttpKeepAliveTest, AConnectionTheServerClosedIsReplacedNotADownRun) {
  CountingServer server([](int) { return Answer{kOk, /*close_after=*/true}; });
  FakeClock clock;
  auto probe = Kept(server, clock);
  ASSERT_TRUE(probe);
  for (int run = 0; run < 8; ++run) {
    ProbeResult r = RunOnce(*probe, clock);
    EXPECT_TRUE(r.success) << run << ": " << r.reason;
    clock.Advance(1000);
  }
  EXPECT_EQ(server.requests(), 8);
  EXPECT_EQ(server.connections(), 8);
}

// The server reads the next request on a kept connection and closes it without an answer, as a
// server whose idle timeout fires just as the request arrives does: the run sends the request
// again on a fresh connection and is up.
TEST(HttpKeepAliveTest, AKeptConnectionClosedUnderTheRequestIsRetriedOnceOnAFreshOne) {
  CountingServer server([](int nth) {
    if (nth == 1) return Answer{kOk};
    return Answer{"", /*close_after=*/true};
  });
  FakeClock clock;
  auto probe = Kept(server, clock);
  ASSERT_TRUE(probe);
  for (int run = 0; run < 5; ++run) {
    ProbeResult r = RunOnce(*probe, clock);
    EXPECT_TRUE(r.success) << run << ": " << r.reason;
  }
  // Run 1: connection 1. Each later run: its request on the kept connection (closed unanswered),
  // then again on a fresh one, which answers and is kept for the next run.
  EXPECT_EQ(server.connections(), 5);
  EXPECT_EQ(server.requests(), 9);
}

// A run on a kept connection expects its answer (it may be read late: no FIN follows it), but
// not once that connection was found closed and the run went on afresh: the server closes that
// one after answering, and its FIN, arrived before a late read, would be stamped as the
// answer's arrival (fresh eyes, stop 55).
TEST(HttpKeepAliveTest, ARunRemadeOnAFreshConnectionNoLongerExpectsItsAnswer) {
  CountingServer server([](int nth) {
    if (nth == 1) return Answer{kOk};
    return Answer{"", /*close_after=*/true};
  });
  const Clock& clock = SystemClock::Instance();
  auto probe = Kept(server, clock);
  ASSERT_TRUE(probe);
  const auto ToEnd = [&](PendingRun& run) {
    return RunToEnd(run, Deadline{clock.SteadyNow() + milliseconds(2000)}, clock);
  };
  auto first = probe->Start();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(ToEnd(*first).success);
  auto second = probe->Start();
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->ExpectedAnswer().has_value()) << "on the kept connection";
  EXPECT_TRUE(ToEnd(*second).success);
  EXPECT_FALSE(second->ExpectedAnswer().has_value()) << "remade on a fresh connection";
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

// A fresh connection that the server closes without an answer is the run's failure: the retry
// is only for a kept connection, and only once.
TEST(HttpKeepAliveTest, AFreshConnectionClosedWithoutAnAnswerIsDownNotRetried) {
  CountingServer server([](int) { return Answer{"", /*close_after=*/true}; });
  FakeClock clock;
  auto probe = Kept(server, clock);
  ASSERT_TRUE(probe);
  ProbeResult r = RunOnce(*probe, clock);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "connection closed before a response");
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests(), 1);
}

// Responses after which a connection carries nothing more: each next run connects afresh.
TEST(HttpKeepAliveTest, ResponsesThatForbidReuseAndFailedRunsCloseTheConnection) {
  const std::vector<std::string> answers = {
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
      // A status the probe does not expect: a down run, and the connection goes with it.
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 X\r\n",  // bytes after it
  };
  for (const std::string& answer : answers) {
    CountingServer server([&answer](int) { return Answer{answer}; });
    FakeClock clock;
    auto probe = Kept(server, clock);
    ASSERT_TRUE(probe);
    for (int run = 0; run < 3; ++run) {
      ProbeResult r = RunOnce(*probe, clock);
      EXPECT_TRUE(r.success) << answer << ": " << r.reason;
    }
    EXPECT_EQ(server.connections(), 3) << answer;
    EXPECT_EQ(server.requests(), 3) << answer;
  }
  // A timed-out run closes its connection: the next one does not read the late answer.
  CountingServer slow([](int nth) {
    if (nth == 2) std::this_thread::sleep_for(milliseconds(300));
    return Answer{kOk};
  });
  FakeClock clock;
  ConfigErrors errors;
  ConfigNode node(YAML::Load("url: " + slow.Url("/") + "\nkeep_alive: 1m\n"), "p.yml", &errors);
  ProbeSpec spec = Spec();
  spec.timeout_ms = 100;
  auto probe = MakeHttpProbe(spec, node, SystemClock::Instance());
  auto run = [&] {
    return probe->Run(Deadline{SystemClock::Instance().SteadyNow() + milliseconds(100)});
  };
  EXPECT_TRUE(run().success);
  ProbeResult late = run();
  EXPECT_FALSE(late.success);
  EXPECT_EQ(late.reason, "timeout after 100ms");
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_TRUE(run().success);
  EXPECT_EQ(slow.connections(), 2);
  EXPECT_EQ(slow.requests(), 3);
}

// A down run (a status or body the probe does not accept) closes its connection: the next run
// connects afresh (fresh eyes: alternating 200 and 503 kept one connection for 11 runs).
TEST(HttpKeepAliveTest, ADownRunClosesItsConnection) {
  CountingServer server([](int nth) {
    if (nth % 2 == 1) return Answer{kOk};
    return Answer{"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\ndown"};
  });
  CountingServer body([](int nth) {
    if (nth % 2 == 1) return Answer{kOk};
    return Answer{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad"};
  });
  FakeClock clock;
  auto status = Kept(server, clock);
  auto matched = Kept(body, clock, "body_match: ok\n");
  ASSERT_TRUE(status && matched);
  for (int run = 0; run < 6; ++run) {
    EXPECT_EQ(RunOnce(*status, clock).success, run % 2 == 0) << run;
    EXPECT_EQ(RunOnce(*matched, clock).success, run % 2 == 0) << run;
  }
  // Up on a fresh connection, down on it, closed: a connection for each pair of runs.
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(body.connections(), 3);
  EXPECT_EQ(server.requests(), 6);
}

TEST(HttpKeepAliveTest, UnaskedBytesOnAKeptConnectionMakeTheNextRunConnectAfresh) {
  // 50 ms after its answer the server sends a stray response nobody asked for; a run that read
  // it as its own would be judged on it (status 500).
  CountingServer server([](int) {
    return Answer{kOk, false, "HTTP/1.1 500 Stray\r\nContent-Length: 0\r\n\r\n"};
  });
  FakeClock clock;
  auto probe = Kept(server, clock);
  ASSERT_TRUE(probe);
  for (int run = 0; run < 3; ++run) {
    ProbeResult r = RunOnce(*probe, clock);
    EXPECT_TRUE(r.success) << run << ": " << r.reason;
    std::this_thread::sleep_for(milliseconds(150));  // the stray bytes arrive meanwhile
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpKeepAliveTest, RefusedWhereItCannotWorkWithTheKeysPlace) {
  FakeClock clock;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"url: https://127.0.0.1:1/\nkeep_alive: 1m\n", "plain http:// URL to a numeric address"},
      {"url: http://localhost:1/\nkeep_alive: 1m\n", "plain http:// URL to a numeric address"},
      {"url: http://127.0.0.1:1/\nfollow_redirects: true\nkeep_alive: 1m\n",
       "does not work with follow_redirects"},
      {"url: http://127.0.0.1:1/\nmethod: post\nkeep_alive: 1m\n", "idempotent method"},
      {"url: http://127.0.0.1:1/\nmethod: PATCH\nkeep_alive: 1m\n", "idempotent method"},
      {"url: http://127.0.0.1:1/\nkeep_alive: 25h\n", "between 0 (off) and 24h"},
      {"url: http://127.0.0.1:1/\nkeep_alive: often\n", "keep_alive"},
  };
  for (const auto& [yaml, words] : bad) {
    ConfigErrors errors;
    EXPECT_FALSE(Make(yaml, clock, &errors)) << yaml;
    const std::string text = errors.ToString();
    EXPECT_NE(text.find("probes.yml:"), std::string::npos) << text;
    EXPECT_NE(text.find(words), std::string::npos) << text;
  }
  for (const std::string ok : {"method: PUT\n", "method: HEAD\n", "method: DELETE\n", ""}) {
    ConfigErrors errors;
    EXPECT_TRUE(Make("url: http://[::1]:1/\nkeep_alive: 30s\n" + ok, clock, &errors))
        << ok << errors.ToString();
  }
}

}  // namespace
}  // namespace obsmon::probes
