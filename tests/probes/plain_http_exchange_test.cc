// obsmon's own plain-http client against real loopback servers: what it sends, what it reads,
// how it fails, and several exchanges driven by one thread where one target hangs.
#include "probes/plain_http_exchange.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/config_node.h"
#include "probes/http_probe.h"
#include "tests/probes/raw_responder.h"
#include "tests/support/descriptor_limit.h"
#include "tests/support/loopback.h"
#include "tests/support/test_http_server.h"

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;
using testing::RawResponder;
using testing::TestHttpServer;

HttpUrl Url(const std::string& text) { return ParseHttpUrl(text).value(); }

using SteadyPoint = std::chrono::steady_clock::time_point;

// Drives the exchanges on this thread, each until it is done or its own deadline has passed;
// returns when all have ended, with when each ended.
std::vector<SteadyPoint> DriveEach(const std::vector<PlainHttpExchange*>& xs,
                                   const std::vector<SteadyPoint>& deadlines) {
  std::vector<SteadyPoint> ended(xs.size());
  std::vector<bool> over(xs.size(), false);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> who;
    SteadyPoint next = SteadyPoint::max();
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!over[i] && !xs[i]->done() && now >= deadlines[i]) xs[i]->TimedOut();
      if (!over[i] && xs[i]->done()) {
        over[i] = true;
        ended[i] = now;
      }
      if (over[i]) continue;
      next = std::min(next, deadlines[i]);
      fds.push_back({xs[i]->fd(), xs[i]->events(), 0});
      who.push_back(i);
    }
    if (fds.empty()) return ended;
    const auto left = std::chrono::ceil<milliseconds>(next - now);
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) continue;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents) xs[who[k]]->OnReady(fds[k].revents);
    }
  }
}

void DriveAll(std::vector<PlainHttpExchange*> xs, SteadyPoint deadline) {
  DriveEach(xs, std::vector<SteadyPoint>(xs.size(), deadline));
}

// A server's side: reads a request up to the end of its head (at most 1 s between reads).
std::string ReadRequestHead(int fd) {
  std::string seen;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (seen.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 1000) > 0) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  return seen;
}

TEST(PlainHttpExchangeTest, PreparedRequestCarriesMethodHostHeadersAndBody) {
  auto t = PreparePlainHttp(Url("http://127.0.0.1:8080/a?b=1"), "POST",
                            {{"X-Token", "t1"}, {"user-agent", "mine"}}, std::string("payload"));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->request,
            "POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n"
            "Connection: close\r\nX-Token: t1\r\nuser-agent: mine\r\n"
            "Content-Type: text/plain\r\nContent-Length: 7\r\n\r\npayload");
  auto v6 = PreparePlainHttp(Url("http://[::1]:80/"), "HEAD", {}, std::nullopt);
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->head_request);
  EXPECT_EQ(v6->request.substr(0, 32), "HEAD / HTTP/1.1\r\nHost: [::1]\r\nAc");
}

TEST(PlainHttpExchangeTest, OnlyPlainHttpToNumericAddresses) {
  EXPECT_FALSE(PreparePlainHttp(Url("https://127.0.0.1/"), "GET", {}, std::nullopt));
  EXPECT_FALSE(PreparePlainHttp(Url("http://localhost:80/"), "GET", {}, std::nullopt));
  ConfigErrors errors;
  ConfigNode plain(YAML::Load("url: http://127.0.0.1:1/\n"), "p.yml", &errors);
  ConfigNode follow(YAML::Load("url: http://127.0.0.1:1/\nfollow_redirects: true\n"), "p.yml",
                    &errors);
  ConfigNode named(YAML::Load("url: http://localhost:1/\n"), "p.yml", &errors);
  ProbeSpec spec;
  spec.key = {"c", "p"};
  spec.timeout_ms = 1000;
  EXPECT_TRUE(MakeHttpProbe(spec, plain, SystemClock::Instance())->Startable());
  EXPECT_FALSE(MakeHttpProbe(spec, follow, SystemClock::Instance())->Startable());
  EXPECT_FALSE(MakeHttpProbe(spec, named, SystemClock::Instance())->Startable());
}

TEST(PlainHttpExchangeTest, SendsTheRequestAndReadsTheResponse) {
  std::string seen;
  RawResponder server([&seen](int fd, const std::atomic<bool>& stop) {
    seen = ReadRequestHead(fd);
    RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  auto target = PreparePlainHttp(Url(server.Url("/health")), "GET", {}, std::nullopt);
  ASSERT_TRUE(target.has_value());
  PlainHttpExchange x(*target, HttpParseLimits{});
  x.Start();
  DriveAll({&x}, std::chrono::steady_clock::now() + milliseconds(2000));
  ASSERT_TRUE(x.done());
  EXPECT_EQ(x.failure(), "");
  EXPECT_FALSE(x.timed_out());
  EXPECT_EQ(x.response().status(), 200);
  EXPECT_EQ(x.response().body(), "ok");
  EXPECT_EQ(seen.substr(0, 22), "GET /health HTTP/1.1\r\n");
  EXPECT_NE(seen.find("Connection: close\r\n"), std::string::npos);
}

// Of `n` exchanges with `target` made one after another, how many answers carried the kernel's
// receive timestamp (-1 when one failed).
int StampedAnswers(const PlainHttpTarget& target, int n) {
  int stamped = 0;
  for (int i = 0; i < n; ++i) {
    PlainHttpExchange x(target, HttpParseLimits{});
    x.Start();
    DriveAll({&x}, std::chrono::steady_clock::now() + milliseconds(2000));
    if (!x.failure().empty()) return -1;
    if (x.answer_stamped()) ++stamped;
  }
  return stamped;
}

// The kernel's receive timestamp: an answer read late (the worker woke late, or ended other
// runs of its batch first) reports how long it waited in the socket, which the runner takes off
// the run's duration. The truth is the server's own record of when it had sent the answer: the
// wait is at least the time from then to the read (loopback delivers within the send), and at
// most the time from then to the read's end.
TEST(PlainHttpExchangeTest, AnAnswerReadLateSaysHowLongItWaitedInTheSocket) {
  std::atomic<int64_t> sent_ns{0};
  RawResponder server([&sent_ns](int fd, const std::atomic<bool>& stop) {
    ReadRequestHead(fd);
    RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
    sent_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  });
  auto target = PreparePlainHttp(Url(server.Url("/late")), "GET", {}, std::nullopt);
  ASSERT_TRUE(target.has_value());
  PlainHttpExchange x(*target, HttpParseLimits{});
  x.Start();
  pollfd p{x.fd(), POLLIN, 0};
  while (x.events() != POLLIN) {  // connect and send first
    p = {x.fd(), x.events(), 0};
    ASSERT_GT(::poll(&p, 1, 2000), 0);
    x.OnReady(p.revents);
  }
  p = {x.fd(), POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 2000), 0);  // the answer is there; read it late
  for (int i = 0; i < 200 && sent_ns.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_NE(sent_ns.load(), 0);
  std::this_thread::sleep_for(milliseconds(150));
  const auto before = std::chrono::steady_clock::now().time_since_epoch();
  x.OnReady(POLLIN);
  const auto after = std::chrono::steady_clock::now().time_since_epoch();
  ASSERT_TRUE(x.done());
  EXPECT_EQ(x.response().body(), "ok");
  const auto sent = std::chrono::nanoseconds(sent_ns.load());
  EXPECT_GE(x.answer_waited(), before - sent - milliseconds(2));
  EXPECT_LE(x.answer_waited(), after - sent + milliseconds(2));
  EXPECT_GE(x.answer_waited(), milliseconds(150));
}

// Every answer carries the kernel's receive timestamp, the process's first included (ctest runs
// each test in a process of its own; KeepReceiveTimestampsOn() waits at most 200 ms), even on
// connections made one at a time with none open in between: the kernel turns stamping on for
// the first socket that asks only later, from a work queue. Without the socket
// PreparePlainHttp() keeps asking for the whole process (receive_timestamps.cc) about half of
// such answers came unstamped, and without its first call's wait until the kernel stamps, now
// and then the first (run alone; a stamping socket of another process, such as a daemon under
// test beside it, hides both).
TEST(PlainHttpExchangeTest, EveryAnswerIsStampedByTheKernel) {
  RawResponder server([](int fd, const std::atomic<bool>& stop) {
    ReadRequestHead(fd);
    RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  auto target = PreparePlainHttp(Url(server.Url("/")), "GET", {}, std::nullopt);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(StampedAnswers(*target, 100), 100);
}

// A first call that cannot open the socket that keeps stamping on (no descriptor left: a
// process at its RLIMIT_NOFILE) leaves it to the next call, which opens it and waits until the
// kernel stamps; had the first call's failure been kept, none would ever be open and about half
// of these answers would come unstamped (the test above).
TEST(PlainHttpExchangeTest, AFirstCallWithNoDescriptorLeftLeavesStampingToTheNext) {
  RawResponder server([](int fd, const std::atomic<bool>& stop) {
    ReadRequestHead(fd);
    RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  testing::NoDescriptorLeft limit;
  ASSERT_TRUE(limit.limited());
  const int refused = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int refused_errno = errno;
  auto starved = PreparePlainHttp(Url(server.Url("/")), "GET", {}, std::nullopt);
  ASSERT_TRUE(limit.Restore());
  ASSERT_LT(refused, 0) << "the limit left a descriptor free";
  EXPECT_EQ(refused_errno, EMFILE);
  ASSERT_TRUE(starved.has_value()) << "the target is prepared all the same";

  auto target = PreparePlainHttp(Url(server.Url("/")), "GET", {}, std::nullopt);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(StampedAnswers(*target, 100), 100);
}

// No descriptor left for the run's socket (obsmon at its RLIMIT_NOFILE) is obsmon's failure,
// not the target's: the exchange throws, which the runner counts and logs as an internal error
// and stores nothing (the time stays unknown). Fresh eyes, stop 55: 60 silent probes under a
// limit of 64 stored 33 runs of healthy probes as down "connect failed: Too many open files".
TEST(PlainHttpExchangeTest, NoDescriptorLeftIsObsmonsFailureNotADownRun) {
  if (testing::kSanitizerNeedsDescriptors) {
    GTEST_SKIP() << "the sanitizer's vptr check needs a descriptor (see descriptor_limit.h)";
  }
  RawResponder server([](int fd, const std::atomic<bool>& stop) {
    ReadRequestHead(fd);
    RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  auto target = PreparePlainHttp(Url(server.Url("/")), "GET", {}, std::nullopt);
  ASSERT_TRUE(target.has_value());
  testing::NoDescriptorLeft limit;
  ASSERT_TRUE(limit.limited());
  std::string thrown;
  bool done = false;
  {
    PlainHttpExchange x(*target, HttpParseLimits{});
    try {
      x.Start();
      done = x.done();
    } catch (const std::runtime_error& e) {
      thrown = e.what();
    }
  }
  ASSERT_TRUE(limit.Restore());
  EXPECT_FALSE(done) << "a down run";
  EXPECT_NE(thrown.find("out of resources"), std::string::npos) << thrown;
  EXPECT_NE(thrown.find("Too many open files"), std::string::npos) << thrown;
  // With the descriptors back, the same target answers.
  PlainHttpExchange again(*target, HttpParseLimits{});
  again.Start();
  DriveAll({&again}, std::chrono::steady_clock::now() + milliseconds(2000));
  EXPECT_TRUE(again.done());
  EXPECT_EQ(again.failure(), "");
}

TEST(PlainHttpExchangeTest, ClosedPortIsConnectionRefused) {
  const testing::ClosedLoopbackPort closed;
  const int port = closed.port();
  auto target = PreparePlainHttp(Url("http://127.0.0.1:" + std::to_string(port) + "/"), "GET", {},
                                 std::nullopt);
  PlainHttpExchange x(*target, HttpParseLimits{});
  x.Start();
  DriveAll({&x}, std::chrono::steady_clock::now() + milliseconds(2000));
  EXPECT_TRUE(x.done());
  EXPECT_EQ(x.failure(), "connection refused");
}

TEST(PlainHttpExchangeTest, PeerClosingWithoutAnswerIsClosedBeforeAResponse) {
  RawResponder server([](int, const std::atomic<bool>&) {});  // accept, then close
  auto target = PreparePlainHttp(Url(server.Url("/")), "GET", {}, std::nullopt);
  PlainHttpExchange x(*target, HttpParseLimits{});
  x.Start();
  DriveAll({&x}, std::chrono::steady_clock::now() + milliseconds(2000));
  EXPECT_EQ(x.failure(), "connection closed before a response");
}

// One thread, several exchanges: the hanging target's exchange times out, the others are done
// long before (a hanging target holds only its own run).
TEST(PlainHttpExchangeTest, OneThreadDrivesManyAndAHangingTargetHoldsOnlyItsOwn) {
  TestHttpServer srv;
  srv.server().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("fine", "text/plain");
  });
  srv.server().Get("/hang", [&srv](const httplib::Request&, httplib::Response& res) {
    srv.WaitStopped(milliseconds(5000));
    res.set_content("late", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  auto ok = PreparePlainHttp(Url(srv.Url("/ok")), "GET", {}, std::nullopt);
  auto hang = PreparePlainHttp(Url(srv.Url("/hang")), "GET", {}, std::nullopt);
  std::vector<std::unique_ptr<PlainHttpExchange>> xs;
  std::vector<PlainHttpExchange*> all;
  // Six at once: cpp-httplib's server listens with a backlog of 5, and a connect beyond its
  // queue waits a second for the SYN to be sent again.
  for (int i = 0; i < 6; ++i) {
    xs.push_back(std::make_unique<PlainHttpExchange>(i == 3 ? *hang : *ok, HttpParseLimits{}));
    xs.back()->Start();
    all.push_back(xs.back().get());
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<SteadyPoint> deadlines(6, start + milliseconds(3000));
  deadlines[3] = start + milliseconds(700);
  const std::vector<SteadyPoint> ended = DriveEach(all, deadlines);
  for (int i = 0; i < 6; ++i) {
    if (i == 3) continue;
    EXPECT_FALSE(xs[i]->timed_out()) << i;
    EXPECT_EQ(xs[i]->response().body(), "fine") << i;
    EXPECT_LT(ended[i], deadlines[3]) << i;  // not held by the hanging one
  }
  EXPECT_TRUE(xs[3]->timed_out());
  EXPECT_GE(ended[3], deadlines[3]);
  srv.Stop();
}

}  // namespace
}  // namespace obsmon::probes
