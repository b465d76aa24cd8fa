// The HTTP server in-process on 127.0.0.1:0 against a fake backend: authentication on and off,
// TLS with a certificate made by the openssl CLI, POST /-/reload, and hostile requests (huge
// bodies, very long or invalid-UTF-8 or NUL-carrying parameters) that must get a clear 4xx and
// never crash the server.
#include "web/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "tests/support/loopback.h"
#include "tests/support/self_signed_cert.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using testing::ScratchDir;

class FakeBackend final : public ApiBackend {
 public:
  std::string MetricsText() override { return "obsmon_build_info{version=\"t\"} 1\n"; }
  nlohmann::json Components() override { return nlohmann::json::array({"web"}); }
  std::optional<nlohmann::json> ComponentJson(const std::string& name) override {
    if (name != "web") return std::nullopt;
    return nlohmann::json{{"name", "web"}};
  }
  std::optional<int64_t> ObjectiveWindowMs(const std::string& name) override {
    if (name != "web") return std::nullopt;
    return 7LL * 86'400'000;
  }
  Result<HttpBody> Report(const ReportQuery& query) override {
    {
      std::unique_lock<std::mutex> lock(gate_mu);
      ++inside;
      // As a build asks between its chunks: a client that left ends it.
      while (!gate_cv.wait_for(lock, std::chrono::milliseconds(5), [&] { return !gate_closed; })) {
        if (query.cancelled && query.cancelled()) {
          --inside;
          ++cancelled;
          return Status::Cancelled("given up");
        }
      }
      --inside;
    }
    ++reports;
    std::lock_guard<std::mutex> lock(mu);
    last = query;
    if (query.day && *query.day > 7) {
      return Status::InvalidArgument("day 9 is out of range: the period has days 1 to 7");
    }
    return HttpBody{"application/json", "{\"ok\":true}"};
  }
  std::string HealthFailure() override {
    std::lock_guard<std::mutex> lock(mu);
    return failure;
  }
  std::atomic<int> reports{0};
  std::atomic<int> cancelled{0};  // builds given up because the client left
  ReportQuery last;
  // While closed, reports wait inside Report (`inside` of them).
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gate_closed = false;
  int inside = 0;
  std::mutex mu;
  std::string failure;  // what HealthFailure() says
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(std::move(options), backend_, clock_);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }
  // Whether `n` reports came to wait inside the backend (its gate closed) within 10 s.
  bool WaitForReportsInside(int n) {
    return testing::WaitUntil(
        [&] {
          std::lock_guard<std::mutex> lock(backend_.gate_mu);
          return backend_.inside == n;
        },
        std::chrono::seconds(10));
  }
  // While `hold`, reports wait inside the backend; false lets them all go on.
  void HoldReportsInside(bool hold) {
    {
      std::lock_guard<std::mutex> lock(backend_.gate_mu);
      backend_.gate_closed = hold;
    }
    backend_.gate_cv.notify_all();
  }
  // Asks for web's report on a raw connection from `source` (for a test to close it, or to
  // read the answer with AnswerOn); the socket, or -1.
  int AskForReportRaw(const char* source = "127.0.0.1") {
    const int fd = testing::ConnectFrom(source, server_->port());
    const std::string ask =
        "GET /api/v1/components/web/report HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (fd >= 0 &&
        ::send(fd, ask.data(), ask.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(ask.size())) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  // What arrives on `fd` until the server closes it (10 s at most); closes it.
  static std::string AnswerOn(int fd) {
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return in;
  }
  static nlohmann::json Json(const httplib::Result& res) {
    return nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  }

  FakeClock clock_;
  FakeBackend backend_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, WithoutAuthEverythingIsOpen) {
  Start({});
  auto c = Client();
  EXPECT_EQ(c.Get("/metrics")->status, 200);
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  EXPECT_EQ(c.Get("/api/v1/components")->status, 200);
  EXPECT_EQ(c.Get("/api/v1/components/web/report?last=1h")->status, 200);
}

// ?max_listed=N reaches the backend; the daemon lists at most kMaxListedOverApi (its memory stays
// bounded: "all", 0, is the CLI's), and anything else is a 400 naming the parameter.
TEST_F(HttpServerTest, MaxListedIsACountTheDaemonCanHold) {
  Start({});
  auto c = Client();
  ASSERT_EQ(c.Get("/api/v1/components/web/report?max_listed=25")->status, 200);
  EXPECT_EQ(backend_.last.max_listed, 25u);
  ASSERT_EQ(c.Get("/api/v1/components/web/report?max_listed=10000")->status, 200);
  EXPECT_EQ(backend_.last.max_listed, kMaxListedOverApi);
  ASSERT_EQ(c.Get("/api/v1/components/web/report")->status, 200);
  EXPECT_FALSE(backend_.last.max_listed.has_value());
  const int before = backend_.reports;
  for (const char* bad : {"0", "10001", "-1", "0x10", "", "1e3", "%201", "999999999999"}) {
    auto res = c.Get(std::string("/api/v1/components/web/report?max_listed=") + bad);
    ASSERT_TRUE(res) << bad;
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_NE(res->body.find("parameter 'max_listed'"), std::string::npos) << res->body;
  }
  EXPECT_EQ(backend_.reports, before);
}

// Reports are built reports_building at a time with reports_waiting more waiting; one more is a
// 503 with Retry-After at once, and never reaches the backend (a report of a flapping week holds
// tens of MB while built: eight at once took the daemon to 1.5 GB).
TEST_F(HttpServerTest, ReportsAreBuiltAFewAtATime) {
  HttpServerOptions options;
  options.reports_building = 2;
  options.reports_waiting = 1;
  options.gate.max_workers_per_client = options.gate.workers;  // one address may ask them all
  Start(options);
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    backend_.gate_closed = true;
  }
  std::atomic<int> ok{0}, busy{0};
  std::string busy_body, retry_after;
  std::mutex results_mu;
  auto ask = [&] {
    auto res = Client().Get("/api/v1/components/web/report");
    ASSERT_TRUE(res);
    if (res->status == 200) ++ok;
    if (res->status == 503) {
      ++busy;
      std::lock_guard<std::mutex> lock(results_mu);
      busy_body = res->body;
      retry_after = res->get_header_value("Retry-After");
    }
  };
  std::vector<std::thread> first;
  for (int i = 0; i < 2; ++i) first.emplace_back(ask);
  ASSERT_TRUE(WaitForReportsInside(2));
  // Two more: one waits for a slot, the other is refused.
  std::vector<std::thread> more;
  for (int i = 0; i < 2; ++i) more.emplace_back(ask);
  ASSERT_TRUE(testing::WaitUntil([&] { return busy == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(retry_after, "1");
  EXPECT_NE(busy_body.find("too many reports"), std::string::npos) << busy_body;
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    EXPECT_EQ(backend_.inside, 2);  // the refused one never reached the backend
    backend_.gate_closed = false;
  }
  backend_.gate_cv.notify_all();
  for (auto& t : first) t.join();
  for (auto& t : more) t.join();
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(busy, 1);
  EXPECT_EQ(backend_.reports, 3);
  EXPECT_EQ(server_->ConnectionStats().reports_refused_total, 1u);
  EXPECT_EQ(Client().Get("/api/v1/components/web/report")->status, 200);  // all slots free again
}

// A client that closes its connection while its report waits for a slot (a reloaded page, a
// script's timeout) is neither waited for nor built for: its place goes to the next, and the
// gate counts it (client_gone). Before, it kept its place and then a slot, for no one.
TEST_F(HttpServerTest, AReportWhoseClientLeftIsNotBuilt) {
  HttpServerOptions options;
  options.reports_building = 1;
  options.reports_waiting = 2;
  options.gate.max_workers_per_client = options.gate.workers;  // one address may ask them all
  Start(options);
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    backend_.gate_closed = true;
  }
  std::atomic<int> ok{0};
  std::thread first([&] {
    auto res = Client().Get("/api/v1/components/web/report");
    if (res && res->status == 200) ++ok;
  });
  ASSERT_TRUE(WaitForReportsInside(1));
  // The second asks on a raw connection and closes it: it waits for the slot, then leaves.
  const int fd = AskForReportRaw();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::WaitUntil([&] { return server_->ConnectionStats().busy == 2; },
                                 std::chrono::seconds(10)));
  ::close(fd);
  ASSERT_TRUE(testing::WaitUntil([&] { return server_->ConnectionStats().client_gone == 1; },
                                 std::chrono::seconds(10)));
  // A third is served after the first: the one that left holds no place.
  std::thread third([&] {
    auto res = Client().Get("/api/v1/components/web/report");
    if (res && res->status == 200) ++ok;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return server_->ConnectionStats().busy == 2; },
                                 std::chrono::seconds(10)));
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    backend_.gate_closed = false;
  }
  backend_.gate_cv.notify_all();
  first.join();
  third.join();
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(backend_.reports, 2);  // the first and the third; none for the client that left
  EXPECT_EQ(server_->ConnectionStats().client_gone, 1u);
}

// A client that leaves while its report is being built ends the build (the backend is asked
// between chunks), and the slot goes to the next at once (fresh eyes, stop 63: a script giving
// up after 50 ms kept the daemon building reports for nobody, 1.6 cores).
TEST_F(HttpServerTest, AReportWhoseClientLeavesWhileItIsBuiltIsGivenUp) {
  HttpServerOptions options;
  options.reports_building = 1;
  Start(options);
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    backend_.gate_closed = true;
  }
  const int fd = AskForReportRaw();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitForReportsInside(1));
  ::close(fd);
  ASSERT_TRUE(testing::WaitUntil([&] { return backend_.cancelled == 1; },
                                 std::chrono::seconds(10)));
  ASSERT_TRUE(testing::WaitUntil([&] { return server_->ConnectionStats().client_gone == 1; },
                                 std::chrono::seconds(10)));
  {
    std::lock_guard<std::mutex> lock(backend_.gate_mu);
    backend_.gate_closed = false;
  }
  backend_.gate_cv.notify_all();
  EXPECT_EQ(Client().Get("/api/v1/components/web/report")->status, 200);  // the slot is free
  EXPECT_EQ(backend_.reports, 1);
}

// One address holds at most half the report places (the two built and two waiting): a script
// asking and giving up over and over kept everyone else's reports at 503 (stop 63's note).
TEST_F(HttpServerTest, OneAddressHoldsAtMostHalfTheReportPlaces) {
  Start({});
  HoldReportsInside(true);
  const int a1 = AskForReportRaw("127.0.0.2");
  const int a2 = AskForReportRaw("127.0.0.2");
  ASSERT_TRUE(WaitForReportsInside(2));
  const std::string refused = AnswerOn(AskForReportRaw("127.0.0.2"));
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("this address has 2 reports"), std::string::npos) << refused;
  EXPECT_EQ(server_->ConnectionStats().reports_refused_per_client, 1u);
  EXPECT_EQ(server_->ConnectionStats().reports_refused_total, 0u);
  // Another address still finds a place: it waits for a slot, not a 503.
  const int b = AskForReportRaw("127.0.0.3");
  ASSERT_TRUE(testing::WaitUntil([&] { return server_->ConnectionStats().busy == 3; },
                                 std::chrono::seconds(10)));
  HoldReportsInside(false);
  for (const int fd : {a1, a2, b}) EXPECT_EQ(AnswerOn(fd).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(backend_.reports, 3);
  // All places are free again, for that address too.
  EXPECT_EQ(AnswerOn(AskForReportRaw("127.0.0.2")).rfind("HTTP/1.1 200", 0), 0u);
}

// Regression (fresh eyes, stop 64): a page reloaded three times quickly got an immediate 503, its
// own two abandoned requests still holding the address's places for the 0.1 s they take to
// leave. A request over its address's share waits a little for one of them.
TEST_F(HttpServerTest, AnAddressWhoseEarlierRequestsWereAbandonedGetsTheirPlace) {
  Start({});
  HoldReportsInside(true);
  const int a1 = AskForReportRaw("127.0.0.2");
  const int a2 = AskForReportRaw("127.0.0.2");
  ASSERT_TRUE(WaitForReportsInside(2));
  ::close(a1);
  ::close(a2);
  const int a3 = AskForReportRaw("127.0.0.2");  // at once: the two builds are still being given up
  ASSERT_TRUE(testing::WaitUntil([&] { return backend_.cancelled == 2; },
                                 std::chrono::seconds(10)));
  ASSERT_TRUE(WaitForReportsInside(1));
  HoldReportsInside(false);
  EXPECT_EQ(AnswerOn(a3).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(server_->ConnectionStats().reports_refused_per_client, 0u);
}

// A client that half-closes after asking (`nc -N`) is taken for gone while its report is built,
// and can still read why: 499 with nginx's reason phrase (cpp-httplib 0.11 wrote "Internal
// Server Error" for it).
TEST_F(HttpServerTest, AReportGivenUpIsAnswered499ClientClosedRequest) {
  Start({});
  HoldReportsInside(true);
  const int fd = AskForReportRaw("127.0.0.2");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitForReportsInside(1));
  ::shutdown(fd, SHUT_WR);
  const std::string answer = AnswerOn(fd);
  HoldReportsInside(false);
  EXPECT_EQ(answer.rfind("HTTP/1.1 499 Client Closed Request\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"errorType\":\"canceled\""), std::string::npos) << answer;
  EXPECT_EQ(backend_.cancelled, 1);
}

// Issue 15: ?day=N reaches the backend as a number; anything else is a 400 naming the parameter.
TEST_F(HttpServerTest, DayParameterIsADayNumber) {
  Start({});
  auto c = Client();
  auto ok = c.Get("/api/v1/components/web/report?day=3&format=markdown&period=2");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  ASSERT_TRUE(backend_.last.day.has_value());
  EXPECT_EQ(*backend_.last.day, 3);
  EXPECT_EQ(backend_.last.format, "markdown");
  const int before = backend_.reports;
  for (const char* bad : {"0", "-1", "x", "99999", ""}) {
    auto res = c.Get(std::string("/api/v1/components/web/report?day=") + bad);
    ASSERT_TRUE(res) << bad;
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_NE(Json(res)["error"].get<std::string>().find("parameter 'day'"), std::string::npos)
        << res->body;
  }
  EXPECT_EQ(backend_.reports, before);

  // day alone is markdown (as the CLI's --day); another format is refused before the backend.
  ASSERT_EQ(c.Get("/api/v1/components/web/report?day=2")->status, 200);
  EXPECT_EQ(backend_.last.format, "markdown");
  auto json_day = c.Get("/api/v1/components/web/report?day=2&format=json");
  EXPECT_EQ(json_day->status, 400);
  EXPECT_NE(Json(json_day)["error"].get<std::string>().find("markdown only"), std::string::npos);
  // The backend's refusal of the day (out of range, not begun) is the caller's mistake: 400.
  auto out_of_range = c.Get("/api/v1/components/web/report?day=9");
  EXPECT_EQ(out_of_range->status, 400);
  EXPECT_NE(Json(out_of_range)["error"].get<std::string>().find("out of range"),
            std::string::npos);
}

TEST_F(HttpServerTest, BearerTokenRequiredForApiAndMetricsButNotHealth) {
  HttpServerOptions o;
  o.auth.bearer_token = "s3cret-token";
  Start(o);
  auto c = Client();
  for (const char* path : {"/api/v1/components", "/metrics", "/api/v1/components/web/report"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"obsmon\"") << path;
    EXPECT_EQ(Json(res)["status"], "error");
    // The secret is never echoed back.
    EXPECT_EQ(res->body.find("s3cret"), std::string::npos);
  }
  EXPECT_EQ(backend_.reports, 0) << "an unauthorized request reached the backend";
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  EXPECT_EQ(c.Get("/-/ready")->status, 200);

  c.set_bearer_token_auth("wrong-token!");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 401);
  c.set_bearer_token_auth("s3cret-token");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 200);
  EXPECT_EQ(c.Get("/metrics")->status, 200);
}

TEST_F(HttpServerTest, BasicAuthAndSeparatelyConfigurableMetricsAndHealth) {
  HttpServerOptions o;
  o.auth.basic_username = "prometheus";
  o.auth.basic_password = "pa:ss word";
  o.auth.protect_metrics = false;
  o.auth.protect_health = true;
  Start(o);
  auto c = Client();
  EXPECT_EQ(c.Get("/metrics")->status, 200);  // protect_metrics: false
  auto health = c.Get("/healthz");
  EXPECT_EQ(health->status, 401);  // protect_health: true
  EXPECT_EQ(health->get_header_value("WWW-Authenticate"),
            "Basic realm=\"obsmon\", charset=\"UTF-8\"");
  c.set_basic_auth("prometheus", "wrong");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 401);
  c.set_basic_auth("other", "pa:ss word");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 401);
  c.set_basic_auth("prometheus", "pa:ss word");  // ':' in a password is legal
  EXPECT_EQ(c.Get("/api/v1/components")->status, 200);
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  // A bearer header is not accepted when only basic auth is configured.
  httplib::Headers bearer{{"Authorization", "Bearer pa:ss word"}};
  EXPECT_EQ(Client().Get("/api/v1/components", bearer)->status, 401);
  // Garbage in the header is a 401, not a crash.
  httplib::Headers junk{{"Authorization", std::string("Basic \xff\xfe=\x01", 9)}};
  EXPECT_EQ(Client().Get("/api/v1/components", junk)->status, 401);
}

TEST_F(HttpServerTest, SetAuthChangesCredentialsAtRunTime) {
  HttpServerOptions o;
  o.auth.bearer_token = "old";
  Start(o);
  auto c = Client();
  c.set_bearer_token_auth("old");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 200);
  HttpAuthOptions next;
  next.bearer_token = "new";
  server_->SetAuth(next);
  EXPECT_EQ(c.Get("/api/v1/components")->status, 401);
  c.set_bearer_token_auth("new");
  EXPECT_EQ(c.Get("/api/v1/components")->status, 200);
  server_->SetAuth({});  // auth off
  EXPECT_EQ(Client().Get("/api/v1/components")->status, 200);
}

TEST_F(HttpServerTest, ReloadEndpointCallsBackendAndReportsFailure) {
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  HttpServerOptions o;
  o.reload = [&]() -> Status {
    ++calls;
    return fail ? Status::InvalidArgument("obsmon.yml:3:5: bad duration") : Status::Ok();
  };
  Start(o);
  auto c = Client();
  EXPECT_EQ(c.Post("/-/reload", "", "text/plain")->status, 200);
  EXPECT_EQ(calls, 1);
  fail = true;
  auto res = c.Post("/-/reload", "", "text/plain");
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(Json(res)["error"].get<std::string>().find("obsmon.yml:3:5: bad duration"),
            std::string::npos);
  EXPECT_EQ(calls, 2);
  auto get = c.Get("/-/reload");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(calls, 2) << "GET must not reload";
}

TEST_F(HttpServerTest, ReloadEndpointForbiddenWithoutHookAndProtectedByAuth) {
  Start({});
  EXPECT_EQ(Client().Post("/-/reload", "", "text/plain")->status, 403);
  server_->Stop();
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.auth.bearer_token = "t";
  o.reload = [&] {
    ++calls;
    return Status::Ok();
  };
  Start(o);
  EXPECT_EQ(Client().Post("/-/reload", "", "text/plain")->status, 401);
  EXPECT_EQ(calls, 0);
  auto c = Client();
  c.set_bearer_token_auth("t");
  EXPECT_EQ(c.Post("/-/reload", "", "text/plain")->status, 200);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpServerTest, HostileParametersGetClear400AndServerSurvives) {
  Start({});
  auto c = Client();
  const std::string base = "/api/v1/components/web/report";
  struct Case {
    std::string query;
    std::string expect;  // a piece of the error message
  };
  const std::vector<Case> cases = {
      {"?last=" + std::string(4000, '9') + "d", "parameter 'last'"},
      {"?from=%ff%fe%00%01", "parameter 'from'"},
      {"?to=2025-01-01%00T00:00:00Z", "parameter 'to'"},
      {"?format=%c3%28", "parameter 'format'"},
      {"?%00=1", "unknown parameter '\\x00'"},
      {"?last=1h&last=2h", "more than once"},
      {"?last=-5m", "parameter 'last'"},
      {"?from=1e400", "parameter 'from'"},
  };
  for (const auto& k : cases) {
    auto res = c.Get((base + k.query).c_str());
    ASSERT_TRUE(res) << k.query.substr(0, 80);
    EXPECT_EQ(res->status, 400) << k.query.substr(0, 80);
    auto j = Json(res);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << res->body.substr(0, 200);
    EXPECT_EQ(j["status"], "error");
    EXPECT_NE(j["error"].get<std::string>().find(k.expect), std::string::npos)
        << j["error"].get<std::string>().substr(0, 200);
    // Echoed text is bounded.
    EXPECT_LT(res->body.size(), 400u);
  }
  EXPECT_EQ(backend_.reports, 0);
  // A component name with invalid UTF-8 and NUL: 404 with valid JSON.
  auto res = c.Get("/api/v1/components/%ff%00web");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_FALSE(Json(res).is_discarded());
  // A URI beyond the server's limit is refused (414), not processed.
  auto longest = c.Get((base + "?last=" + std::string(20000, '1')).c_str());
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->status, 414);
  // Still serving normally afterwards.
  EXPECT_EQ(c.Get((base + "?last=1h").c_str())->status, 200);
  EXPECT_EQ(backend_.reports, 1);
}

TEST_F(HttpServerTest, HugeBodyIsRefusedWith413) {
  HttpServerOptions o;
  o.max_request_bytes = 1024;
  std::atomic<int> calls{0};
  o.reload = [&] {
    ++calls;
    return Status::Ok();
  };
  Start(o);
  auto res = Client().Post("/-/reload", std::string(64 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, ServesTlsWithSelfSignedCertificate) {
  if (!std::filesystem::exists("/usr/bin/openssl")) GTEST_SKIP() << "openssl CLI not installed";
  ScratchDir dir;
  auto [code, out] = testing::MakeSelfSignedCertificate(dir);
  ASSERT_EQ(code, 0) << out;
  HttpServerOptions o;
  o.tls_cert_file = dir.File("cert.pem");
  o.tls_key_file = dir.File("key.pem");
  o.auth.bearer_token = "tls-token";
  Start(o);
  EXPECT_TRUE(server_->tls());

  httplib::SSLClient tls("127.0.0.1", server_->port());
  tls.set_ca_cert_path(dir.File("cert.pem").c_str());
  tls.enable_server_certificate_verification(true);
  tls.set_bearer_token_auth("tls-token");
  // The certificate names localhost, not 127.0.0.1: verify the chain with the CA, and check the
  // name separately below, as a client connecting to "localhost" would.
  tls.enable_server_certificate_verification(false);
  auto res = tls.Get("/api/v1/components");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);

  httplib::SSLClient verified("localhost", server_->port());
  verified.set_ca_cert_path(dir.File("cert.pem").c_str());
  verified.enable_server_certificate_verification(true);
  auto health = verified.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);

  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(2);
  auto p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status != 200);
}

TEST_F(HttpServerTest, TlsWithMissingOrMismatchedFilesFailsClearly) {
  ScratchDir dir;
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = dir.File("nope.pem");
  o.tls_key_file = dir.File("nope.key");
  HttpServer missing(o, backend_, clock_);
  Status s = missing.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nope.pem"), std::string::npos) << s.message();

  testing::WriteWholeFile(dir.File("junk.pem"), "not a certificate");
  o.tls_cert_file = dir.File("junk.pem");
  o.tls_key_file = dir.File("junk.pem");
  HttpServer junk(o, backend_, clock_);
  s = junk.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot use TLS certificate"), std::string::npos) << s.message();

  o.tls_key_file = "";
  HttpServer half(o, backend_, clock_);
  EXPECT_FALSE(half.Start().ok());
}

// /healthz and /-/ready tell whether obsmon can keep its evidence (503 with the reason);
// /-/healthy stays liveness, as in Prometheus.
TEST_F(HttpServerTest, HealthEndpointsReportStorageFailureWithTheReason) {
  Start({});
  auto c = Client();
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  {
    std::lock_guard<std::mutex> lock(backend_.mu);
    backend_.failure = "storage: write: database file x was deleted";
  }
  for (const char* path : {"/healthz", "/-/ready"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 503) << path;
    EXPECT_EQ(res->body, "unhealthy: storage: write: database file x was deleted\n") << path;
  }
  EXPECT_EQ(c.Get("/-/healthy")->status, 200);
  {
    std::lock_guard<std::mutex> lock(backend_.mu);
    backend_.failure.clear();
  }
  EXPECT_EQ(c.Get("/healthz")->status, 200);
}

// One daemon per listen address: a second server on a taken port fails to start, saying why,
// instead of sharing it through SO_REUSEPORT (requests would alternate between the two).
TEST(HttpServerPortTest, ATakenPortIsRefusedWithAddressInUse) {
  FakeClock clock;
  FakeBackend backend;
  HttpServerOptions first_options;
  first_options.listen = "127.0.0.1:0";
  HttpServer first(first_options, backend, clock);
  ASSERT_TRUE(first.Start().ok());
  HttpServerOptions second_options;
  second_options.listen = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(second_options, backend, clock);
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Address already in use"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(second_options.listen), std::string::npos) << s.message();
  // The first still serves (and is surely listening before Stop(), which cpp-httplib needs).
  httplib::Client c("127.0.0.1", first.port());
  c.set_read_timeout(10);
  auto res = c.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  first.Stop();
}

TEST(ListenAddressTest, ParsesHostPortAndRefusesTheRest) {
  const auto a = ParseListenAddress("127.0.0.1:9950");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9950);
  const auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  const auto any = ParseListenAddress(":65535");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 65535);
  for (const char* bad : {"", "9950", "host:", "host:65536", "host:99999999999", "host:9x", "host:-1"}) {
    EXPECT_FALSE(ParseListenAddress(bad)) << bad;
  }
}

TEST(EchoSafeTest, EscapesControlAndNonAsciiAndBoundsLength) {
  EXPECT_EQ(EchoSafe("abc"), "abc");
  EXPECT_EQ(EchoSafe(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EchoSafe("\xff\n"), "\\xff\\x0a");
  EXPECT_EQ(EchoSafe(std::string(100, 'x'), 10), std::string(10, 'x') + "...(100 bytes)");
}

}  // namespace
}  // namespace obsmon
