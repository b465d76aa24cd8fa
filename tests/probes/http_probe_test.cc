#include "probes/http_probe.h"
#include "probes/pending_run.h"
#include "probes/probe_helpers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "core/config_node.h"
#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"
#include "tests/probes/raw_responder.h"
#include "tests/support/test_http_server.h"

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;
using testing::TestHttpServer;

ProbeSpec Spec(int64_t timeout_ms) {
  ProbeSpec spec;
  spec.key = {"carbon", "health"};
  spec.kind = "http";
  spec.timeout_ms = timeout_ms;
  spec.labels = Labels{{"job", "carbon"}, {"env", "staging"}};
  return spec;
}

// Builds a probe from YAML through the registry's factory; errors land in `errors`.
std::unique_ptr<Probe> Make(const std::string& yaml, ConfigErrors* errors,
                            int64_t timeout_ms = 2000) {
  ConfigNode node(YAML::Load(yaml), "probes.yml", errors);
  return MakeHttpProbe(Spec(timeout_ms), node, SystemClock::Instance());
}

struct Timed {
  ProbeResult result;
  milliseconds elapsed;
};

Timed RunFor(Probe& probe, int64_t timeout_ms) {
  const Clock& clock = SystemClock::Instance();
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = probe.Run(Deadline{clock.SteadyNow() + milliseconds(timeout_ms)});
  auto elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  return {std::move(r), elapsed};
}

const Sample* FindSample(const ProbeResult& r, const std::string& name) {
  for (const auto& s : r.samples) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The reason names the timeout as configured, to the millisecond (fresh eyes, stop 41: 1250ms
// read "timeout after 1.2s", 1999ms "2.0s").
TEST(HttpProbeTest, TimeoutReasonSaysTheConfiguredTimeout) {
  EXPECT_EQ(TimeoutReason(500), "timeout after 500ms");
  EXPECT_EQ(TimeoutReason(1000), "timeout after 1s");
  EXPECT_EQ(TimeoutReason(1250), "timeout after 1.25s");
  EXPECT_EQ(TimeoutReason(1500), "timeout after 1.5s");
  EXPECT_EQ(TimeoutReason(1999), "timeout after 1.999s");
  EXPECT_EQ(TimeoutReason(1001), "timeout after 1.001s");
  EXPECT_EQ(TimeoutReason(61'050), "timeout after 61.05s");
  EXPECT_EQ(TimeoutReason(120'000), "timeout after 2m");
}

TEST(HttpProbeTest, UpOn200WithStatusSampleAndLabels) {
  TestHttpServer srv;
  srv.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"OK\"}", "application/json");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/health") + "\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  EXPECT_EQ(probe->Instance(), "127.0.0.1:" + std::to_string(srv.port()));
  ProbeResult r = RunFor(*probe, 2000).result;
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.reason, "");
  const Sample* status = FindSample(r, "probe_http_status_code");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->value, 200);
  EXPECT_EQ(status->labels.Get("component"), "carbon");
  EXPECT_EQ(status->labels.Get("probe"), "health");
  EXPECT_EQ(status->labels.Get("job"), "carbon");
  EXPECT_EQ(status->labels.Get("env"), "staging");
  EXPECT_EQ(status->labels.Get("instance"), probe->Instance());
  const Sample* length = FindSample(r, "probe_http_content_length_bytes");
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length->value, 15);  // strlen("{\"status\":\"OK\"}")
}

TEST(HttpProbeTest, LocalhostResolvesToLoopbackListener) {
  TestHttpServer srv;  // listens on 127.0.0.1 only
  srv.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("OK", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: http://localhost:" + std::to_string(srv.port()) + "/health\n", &errors);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->Instance(), "localhost:" + std::to_string(srv.port()));
  ProbeResult r = RunFor(*probe, 2000).result;
  EXPECT_TRUE(r.success) << r.reason;
}

TEST(HttpProbeTest, DownOn503WithStatusReason) {
  TestHttpServer srv;
  srv.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("unavailable", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/health") + "\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunFor(*probe, 2000).result;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "status 503");
  ASSERT_NE(FindSample(r, "probe_http_status_code"), nullptr);
  EXPECT_EQ(FindSample(r, "probe_http_status_code")->value, 503);
}

TEST(HttpProbeTest, ExpectedStatusRangesAndCodes) {
  TestHttpServer srv;
  srv.server().Get(R"(/code/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    res.status = std::stoi(req.matches[1]);
    res.set_content("x", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  struct Case {
    int code;
    bool up;
  };
  for (Case c : {Case{200, true}, Case{204, true}, Case{205, false}, Case{404, true},
                 Case{301, true}, Case{500, false}}) {
    ConfigErrors errors;
    auto probe = Make("url: " + srv.Url("/code/" + std::to_string(c.code)) +
                          "\nexpect_status: [\"200-204\", 404, 3xx]\n",
                      &errors);
    ASSERT_NE(probe, nullptr) << errors.ToString();
    ProbeResult r = RunFor(*probe, 2000).result;
    EXPECT_EQ(r.success, c.up) << c.code << ": " << r.reason;
    if (!c.up) {
      EXPECT_EQ(r.reason, "status " + std::to_string(c.code));
    }
  }
  // Without 3xx in the list, a redirect is a failure like any other unexpected status.
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/code/302") + "\nexpect_status: 200-299\n", &errors);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(RunFor(*probe, 2000).result.reason, "status 302");
}

TEST(HttpProbeTest, ParseStatusRangeAcceptsCodesRangesAndClasses) {
  EXPECT_EQ(ParseStatusRange("200"), (StatusRange{200, 200}));
  EXPECT_EQ(ParseStatusRange("200-299"), (StatusRange{200, 299}));
  EXPECT_EQ(ParseStatusRange(" 301 - 308 "), (StatusRange{301, 308}));
  EXPECT_EQ(ParseStatusRange("4xx"), (StatusRange{400, 499}));
  EXPECT_FALSE(ParseStatusRange("299-200"));
  EXPECT_FALSE(ParseStatusRange("99"));
  EXPECT_FALSE(ParseStatusRange("600"));
  EXPECT_FALSE(ParseStatusRange("abc"));
  EXPECT_FALSE(ParseStatusRange("6xx"));
}

TEST(HttpProbeTest, BodyMatchAndNotMatch) {
  TestHttpServer srv;
  srv.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\": \"degraded\", \"db\": \"ok\"}", "application/json");
  });
  ASSERT_GT(srv.Start(), 0);
  const std::string url = "url: " + srv.Url("/health") + "\n";
  ConfigErrors errors;
  auto match_ok = Make(url + "body_match: '\"db\": \"ok\"'\n", &errors);
  auto match_bad = Make(url + "body_match: '\"status\": \"OK\"'\n", &errors);
  auto forbid_hit = Make(url + "body_not_match: degraded|down\n", &errors);
  auto forbid_miss = Make(url + "body_not_match: '\"status\": \"down\"'\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  EXPECT_TRUE(RunFor(*match_ok, 2000).result.success);
  EXPECT_EQ(RunFor(*match_bad, 2000).result.reason, "body did not match /\"status\": \"OK\"/");
  EXPECT_EQ(RunFor(*forbid_hit, 2000).result.reason, "body matched forbidden /degraded|down/");
  EXPECT_TRUE(RunFor(*forbid_miss, 2000).result.success);
}

TEST(HttpProbeTest, TimeoutIsRecordedAsDown) {
  TestHttpServer srv;
  srv.server().Get("/slow", [&srv](const httplib::Request&, httplib::Response& res) {
    srv.WaitStopped(milliseconds(10'000));
    res.set_content("late", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/slow") + "\n", &errors, 500);
  ASSERT_NE(probe, nullptr);
  Timed t = RunFor(*probe, 500);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "timeout after 500ms");
  EXPECT_GE(t.elapsed.count(), 450);
  EXPECT_LT(t.elapsed.count(), 1500);
}

TEST(HttpProbeTest, TricklingServerCannotHoldProbePastDeadline) {
  TestHttpServer srv;
  // One byte every 50 ms, forever: every read succeeds, so only the deadline can end it.
  srv.server().Get("/trickle", [&srv](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&srv](size_t, httplib::DataSink& sink) {
      if (srv.WaitStopped(milliseconds(50))) return false;
      return sink.write("x", 1);
    });
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/trickle") + "\n", &errors, 700);
  ASSERT_NE(probe, nullptr);
  Timed t = RunFor(*probe, 700);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "timeout after 700ms");
  EXPECT_LT(t.elapsed.count(), 1700);
}

// A raw server that answers with a status line and then one header line every 50 ms, forever:
// every read succeeds and the body never starts, so only the probe's watchdog can end it.
TEST(HttpProbeTest, ServerTricklingHeadersCannotHoldProbePastDeadline) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    std::string status = "HTTP/1.1 200 OK\r\n";
    send(c, status.data(), status.size(), MSG_NOSIGNAL);
    for (int i = 0; !stop && i < 400; ++i) {  // at most 20 s, so a broken probe fails, not hangs
      std::string header = "X-Slow-" + std::to_string(i) + ": y\r\n";
      if (send(c, header.data(), header.size(), MSG_NOSIGNAL) < 0) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    close(c);
  });
  ConfigErrors errors;
  auto probe =
      Make("url: http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/\n", &errors, 600);
  ASSERT_NE(probe, nullptr);
  Timed t = RunFor(*probe, 600);
  stop = true;
  shutdown(listener, SHUT_RDWR);
  server.join();
  close(listener);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "timeout after 600ms");
  EXPECT_LT(t.elapsed.count(), 1600);
}

// Regression (fresh eyes, issue 17): httplib runs the TLS handshake under its own per-wait
// timeouts and its socket mutex, which httplib's stop() waits on too, so a server sending its
// handshake a byte at a time held an https probe (its worker, remote_write's windows, the
// shutdown) 120 s past a 2 s timeout. The bounded client shuts the socket down at the deadline.
TEST(HttpProbeTest, ATrickledTlsHandshakeEndsAtTheDeadline) {
  testing::RawResponder tls(&testing::RawResponder::TrickleTlsHandshake);
  ConfigErrors errors;
  auto probe = Make("url: " + tls.HttpsUrl("/health") + "\ntls_skip_verify: true\n", &errors, 600);
  ASSERT_NE(probe, nullptr);
  Timed t = RunFor(*probe, 600);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "timeout after 600ms");
  EXPECT_LT(t.elapsed.count(), 1600);
}

TEST(HttpProbeTest, ClosedPortIsConnectionRefused) {
  const testing::ClosedLoopbackPort closed;
  const int port = closed.port();
  ConfigErrors errors;
  auto probe = Make("url: http://127.0.0.1:" + std::to_string(port) + "/health\n", &errors);
  ASSERT_NE(probe, nullptr);
  Timed t = RunFor(*probe, 2000);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "connection refused");
  EXPECT_LT(t.elapsed.count(), 1000);
}

TEST(HttpProbeTest, HttpsAgainstPlainServerIsTlsHandshakeFailure) {
  TestHttpServer srv;
  srv.server().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("OK", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make(
      "url: https://127.0.0.1:" + std::to_string(srv.port()) + "/health\ntls_skip_verify: true\n",
      &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  Timed t = RunFor(*probe, 2000);
  EXPECT_FALSE(t.result.success);
  EXPECT_EQ(t.result.reason, "tls handshake failed");
  EXPECT_LT(t.elapsed.count(), 1500);
}

TEST(HttpProbeTest, UnresolvableHostIsDnsFailure) {
  ConfigErrors errors;
  auto probe = Make("url: http://no-such-host.invalid/health\n", &errors);
  ASSERT_NE(probe, nullptr);
  ProbeResult r = RunFor(*probe, 3000).result;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason.rfind("dns lookup failed for no-such-host.invalid", 0), 0u) << r.reason;
}

TEST(HttpProbeTest, HugeBodyIsCappedNotFailed) {
  TestHttpServer srv;
  const std::string huge = std::string(8 << 20, 'a') + "END";
  srv.server().Get("/big", [&huge](const httplib::Request&, httplib::Response& res) {
    res.set_content(huge, "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  const std::string url = "url: " + srv.Url("/big") + "\nmax_body_bytes: 4096\n";
  ConfigErrors errors;
  auto plain = Make(url, &errors);
  // The marker sits after the cap, so a capped read cannot see it.
  auto wants_end = Make(url + "body_match: END\n", &errors);
  auto wants_a = Make(url + "body_match: '^a+$'\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ProbeResult r = RunFor(*plain, 5000).result;
  EXPECT_TRUE(r.success) << r.reason;
  ASSERT_NE(FindSample(r, "probe_http_content_length_bytes"), nullptr);
  EXPECT_EQ(FindSample(r, "probe_http_content_length_bytes")->value, huge.size());
  EXPECT_EQ(RunFor(*wants_end, 5000).result.reason, "body did not match /END/");
  EXPECT_TRUE(RunFor(*wants_a, 5000).result.success);
}

// A run tells its batch when its answer is expected (PendingRun::ExpectedAnswer(), so that the
// batch reads its answers in one wake-up) only from a previous run whose answer the kernel timed
// and that fits the socket's buffer, on a connection kept for it: nothing before the first run,
// after a timeout or after an answer over 16 KiB, which a late reader would hold up in the
// sender.
TEST(HttpProbeTest, ARunExpectsItsAnswerWhenThePreviousOneWasSmallAndTimed) {
  TestHttpServer srv;
  std::atomic<int> calls{0};
  // Answers in turn: small at once, 20 KiB, small after 30 ms, after 500 ms, small.
  srv.server().Get("/varies", [&calls](const httplib::Request&, httplib::Response& res) {
    const int call = ++calls;
    if (call == 3) std::this_thread::sleep_for(milliseconds(30));
    if (call == 4) std::this_thread::sleep_for(milliseconds(500));
    res.set_content(call == 2 ? std::string(20 * 1024, 'a') : "ok", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/varies") + "\nkeep_alive: 1m\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  const Clock& clock = SystemClock::Instance();
  const auto ToEnd = [&](PendingRun& run, int64_t timeout_ms = 2000) {
    return RunToEnd(run, Deadline{clock.SteadyNow() + milliseconds(timeout_ms)}, clock);
  };
  auto first = probe->Start();
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(first->ExpectedAnswer().has_value()) << "nothing known before a first run";
  EXPECT_TRUE(ToEnd(*first).success);
  auto second = probe->Start();
  EXPECT_TRUE(second->ExpectedAnswer().has_value()) << "after a small answer";
  EXPECT_TRUE(ToEnd(*second).success);
  auto third = probe->Start();
  EXPECT_FALSE(third->ExpectedAnswer().has_value()) << "20 KiB could fill the socket's buffer";
  EXPECT_TRUE(ToEnd(*third).success);
  auto fourth = probe->Start();
  const auto expected = fourth->ExpectedAnswer();
  ASSERT_TRUE(expected.has_value());
  EXPECT_GE(*expected, milliseconds(30)) << "the server held that answer 30 ms";
  EXPECT_LT(*expected, milliseconds(2000));
  EXPECT_FALSE(ToEnd(*fourth, 100).success);
  auto fifth = probe->Start();
  EXPECT_FALSE(fifth->ExpectedAnswer().has_value()) << "after a timeout";
  EXPECT_TRUE(ToEnd(*fifth).success);
  EXPECT_EQ(calls.load(), 5);
}

// On a connection the server closes after its answer, nothing is expected: read late, the
// answer would be stamped with the close's arrival (the kernel gives coalesced segments the
// later one's timestamp), and a server that closes 2 ms after answering made 0.8 ms runs 3.5 ms
// (fresh eyes, stop 55).
TEST(HttpProbeTest, ARunOnAFreshConnectionExpectsNoAnswerTime) {
  TestHttpServer srv;
  srv.server().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/ok") + "\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  const Clock& clock = SystemClock::Instance();
  for (int i = 0; i < 3; ++i) {
    auto run = probe->Start();
    ASSERT_NE(run, nullptr);
    EXPECT_FALSE(run->ExpectedAnswer().has_value()) << "run " << i;
    EXPECT_TRUE(RunToEnd(*run, Deadline{clock.SteadyNow() + milliseconds(2000)}, clock).success);
  }
}

TEST(HttpProbeTest, SendsMethodHeadersAndBody) {
  TestHttpServer srv;
  srv.server().Post("/check", [](const httplib::Request& req, httplib::Response& res) {
    bool good = req.get_header_value("X-Token") == "abc" && req.body == "ping";
    res.status = good ? 200 : 400;
    res.set_content(good ? "pong" : "bad", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto good = Make("url: " + srv.Url("/check") +
                       "\nmethod: post\nheaders: {X-Token: abc}\nbody: ping\nbody_match: pong\n",
                   &errors);
  auto wrong = Make("url: " + srv.Url("/check") + "\nmethod: POST\nbody: ping\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  EXPECT_TRUE(RunFor(*good, 2000).result.success);
  EXPECT_EQ(RunFor(*wrong, 2000).result.reason, "status 400");
}

TEST(HttpProbeTest, RedirectsFollowedOnlyWhenAsked) {
  TestHttpServer srv;
  srv.server().Get(
      "/old", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/new"); });
  srv.server().Get("/new", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("moved here", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto stay = Make("url: " + srv.Url("/old") + "\n", &errors);
  auto follow =
      Make("url: " + srv.Url("/old") + "\nfollow_redirects: true\nbody_match: moved\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  EXPECT_EQ(RunFor(*stay, 2000).result.reason, "status 302");
  ProbeResult r = RunFor(*follow, 2000).result;
  EXPECT_TRUE(r.success) << r.reason;
}

// Peak RSS of this process so far, in MiB.
long PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Answers with a status line and then `header` repeated until `bytes` are sent or the probe
// hangs up.
testing::RawResponder::Respond HeadOf(std::string header, size_t bytes) {
  return [header = std::move(header), bytes](int fd, const std::atomic<bool>& stop) {
    if (!testing::RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\n", stop)) return;
    std::string chunk;
    while (chunk.size() < 64 * 1024) chunk += header;
    for (size_t sent = 0; sent < bytes; sent += chunk.size()) {
      if (!testing::RawResponder::SendAll(fd, chunk, stop)) return;
    }
  };
}

// Regression (issue 13): a 10 MB header line cost obsmon 228 MB, 100k headers 140 MB. The head is
// now cut at max_header_bytes and the run is down with that reason.
TEST(HttpProbeTest, TenMegabyteHeaderLineIsDownAtTheHeadLimitNotAMemoryBlowUp) {
  const long before = PeakRssMiB();
  testing::RawResponder target([](int fd, const std::atomic<bool>& stop) {
    testing::RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\nX-Big: ", stop);
    const std::string chunk(64 * 1024, 'a');
    for (int i = 0; i < 160 && testing::RawResponder::SendAll(fd, chunk, stop); ++i) {
    }
  });
  ConfigErrors errors;
  auto probe = Make("url: " + target.Url("/") + "\n", &errors, 5000);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunFor(*probe, 5000).result;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "response head larger than 65536 bytes (status line and headers)");
  EXPECT_LT(PeakRssMiB() - before, 32) << "peak RSS grew from " << before << " MiB";
}

TEST(HttpProbeTest, HundredThousandHeadersAreDownAtTheConfiguredHeadLimit) {
  testing::RawResponder target(HeadOf("X-Many: v\r\n", 1'100'000));
  ConfigErrors errors;
  auto probe = Make("url: " + target.Url("/") + "\nmax_header_bytes: 4096\n", &errors, 5000);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunFor(*probe, 5000).result;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "response head larger than 4096 bytes (status line and headers)");
  // Within the limit, many headers are fine.
  testing::RawResponder fine([](int fd, const std::atomic<bool>& stop) {
    std::string response = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 100; ++i) response += "X-" + std::to_string(i) + ": v\r\n";
    response += "Content-Length: 2\r\nConnection: close\r\n\r\nok";
    testing::RawResponder::SendAll(fd, response, stop);
  });
  auto ok = Make("url: " + fine.Url("/") + "\n", &errors, 5000);
  ProbeResult good = RunFor(*ok, 5000).result;
  EXPECT_TRUE(good.success) << good.reason;
}

TEST(HttpProbeTest, RedirectToAnotherOriginIsFollowedWithTheSameBounds) {
  testing::RawResponder hostile(HeadOf("X-Many: v\r\n", 1'100'000));
  TestHttpServer srv;
  const std::string to = hostile.Url("/elsewhere");
  srv.server().Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(to);
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/") + "\nfollow_redirects: true\n", &errors, 5000);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunFor(*probe, 5000).result;
  EXPECT_EQ(r.reason, "response head larger than 65536 bytes (status line and headers)");
  EXPECT_EQ(hostile.connections(), 1);
}

TEST(HttpProbeTest, RedirectLoopStopsAfterTenHops) {
  TestHttpServer srv;
  std::atomic<int> hits{0};
  srv.server().Get("/loop", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.set_redirect("/loop");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/loop") + "\nfollow_redirects: true\n", &errors);
  ProbeResult r = RunFor(*probe, 2000).result;
  EXPECT_EQ(r.reason, "too many redirects (more than 10)");
  EXPECT_EQ(hits, 11);
}

TEST(HttpProbeTest, SeeOtherAfterPostContinuesWithGetToTheRelativeLocation) {
  TestHttpServer srv;
  std::string seen;
  srv.server().Post("/a/b", [](const httplib::Request&, httplib::Response& res) {
    res.status = 303;
    res.set_header("Location", "c?x=1");
  });
  srv.server().Get("/a/c", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.method + " " + req.path + " x=" + req.get_param_value("x") + " body=" + req.body;
    res.set_content("arrived", "text/plain");
  });
  ASSERT_GT(srv.Start(), 0);
  ConfigErrors errors;
  auto probe = Make("url: " + srv.Url("/a/b") +
                        "\nmethod: POST\nbody: hello\nfollow_redirects: true\nbody_match: arrived\n",
                    &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunFor(*probe, 2000).result;
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(seen, "GET /a/c x=1 body=");
}

// Each bad setting is reported at the position of its value, and the factory refuses the probe.
TEST(HttpProbeTest, BadConfigReportsFileLineColumn) {
  struct Case {
    std::string yaml;
    std::string expected;  // the whole first error, "file:line:column: message" prefix
  };
  const Case cases[] = {
      {"url: ftp://x/\n", "probes.yml:1:6: unsupported url scheme 'ftp'"},
      {"url: http:///path\n", "probes.yml:1:6: bad url 'http:///path': missing host"},
      {"url: http://h:99999/\n", "probes.yml:1:6: bad url 'http://h:99999/': bad port '99999'"},
      {"url: localhost:8080\n", "probes.yml:1:6: url must start with http:// or https://"},
      {"url: http://h/\nmethod: FETCH\n", "probes.yml:2:9: unsupported method 'FETCH'"},
      {"url: http://h/\nexpect_status: [200, 7xx]\n",
       "probes.yml:2:16: bad status '7xx' in expect_status"},
      {"url: http://h/\nbody_match: 'a(b'\n", "probes.yml:2:13: invalid body_match pattern /a(b/"},
      {"url: http://h/\nbody_not_match: '[z'\n",
       "probes.yml:2:17: invalid body_not_match pattern /[z/"},
      {"url: http://h/\nmax_body_bytes: 0\n",
       "probes.yml:2:17: max_body_bytes must be between 1 and 268435456"},
      {"url: http://h/\nmax_body_bytes: 100000000000000\n",
       "probes.yml:2:17: max_body_bytes must be between 1 and 268435456"},
      {"url: http://h/\nfollow_redirects: maybe\n",
       "probes.yml:2:19: 'follow_redirects' must be true or false"},
      {"url: http://h/\nheaders: [a, b]\n", "probes.yml:2:10: 'headers' must be a mapping"},
      {"method: GET\n", "probes.yml:1:1: missing required key 'url'"},
  };
  for (const Case& c : cases) {
    ConfigErrors errors;
    auto probe = Make(c.yaml, &errors);
    EXPECT_EQ(probe, nullptr) << c.yaml;
    ASSERT_FALSE(errors.empty()) << c.yaml;
    EXPECT_EQ(errors.errors()[0].ToString().rfind(c.expected, 0), 0u)
        << "yaml: " << c.yaml << "got: " << errors.errors()[0].ToString();
  }
}

TEST(HttpProbeTest, UrlDefaultsPortFromScheme) {
  ConfigErrors errors;
  auto probe = Make("url: https://example.org/health?x=1#frag\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  EXPECT_EQ(probe->Instance(), "example.org:443");
  auto& http = static_cast<HttpProbe&>(*probe);
  EXPECT_EQ(http.options().url.path, "/health?x=1");
  auto v6 = Make("url: http://[::1]:8080\n", &errors);
  ASSERT_NE(v6, nullptr) << errors.ToString();
  EXPECT_EQ(v6->Instance(), "[::1]:8080");
  EXPECT_EQ(static_cast<HttpProbe&>(*v6).options().url.path, "/");
}

}  // namespace
}  // namespace obsmon::probes
