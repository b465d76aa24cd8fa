// Requests to obsmon's own HTTP API: each input is sent as raw bytes on a fresh connection to a
// server (started once, on a free loopback port) and the response is read until the server
// closes or 2 s pass. The backend is a stub: what is fuzzed is the request handling.
// Seeds: requests for /metrics, /healthz, /api/v1/components/x/report?last=1h, POST /-/reload.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "web/http_server.h"

namespace {

class StubBackend final : public obsmon::ApiBackend {
 public:
  std::string MetricsText() override { return "up 1\n"; }
  nlohmann::json Components() override { return nlohmann::json::array(); }
  std::optional<nlohmann::json> ComponentJson(const std::string& name) override {
    if (name != "carbon") return std::nullopt;
    return nlohmann::json{{"name", name}};
  }
  std::optional<int64_t> ObjectiveWindowMs(const std::string& name) override {
    if (name != "carbon") return std::nullopt;
    return 7 * 86'400'000LL;
  }
  obsmon::Result<obsmon::HttpBody> Report(const obsmon::ReportQuery& q) override {
    return obsmon::HttpBody{"text/plain", q.component + " " + q.format};
  }
};

int ServerPort() {
  static StubBackend backend;
  static std::unique_ptr<obsmon::HttpServer> server = [] {
    obsmon::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.reload = [] { return obsmon::Status::Ok(); };
    auto s = std::make_unique<obsmon::HttpServer>(options, backend,
                                                  obsmon::SystemClock::Instance());
    if (!s->Start().ok()) __builtin_trap();
    return s;
  }();
  return server->port();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int port = ServerPort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Thousands of connections a second: the first campaign's one "crash" (after 520,347 inputs;
  // its input passed alone) was connect() failing for want of a free local port, so the harness
  // waits for one (up to 5 s) instead, and retries a connect a signal interrupted. A server
  // that stopped listening still ends the run.
  int fd = -1;
  for (int attempt = 0;; ++attempt) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    const int err = errno;
    ::close(fd);
    // EINTR: libFuzzer's own timer signal (-timeout) interrupted the connect.
    if ((err != EADDRNOTAVAIL && err != EAGAIN && err != EINTR) || attempt == 500) {
      std::fprintf(stderr, "fuzz_http_request: connect to the server failed: %s\n",
                   std::strerror(err));
      __builtin_trap();
    }
    ::usleep(10'000);
  }
  // Closed with a reset, so that the client side leaves no TIME_WAIT behind to use up ports.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 2000) > 0) {
    if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
  }
  ::close(fd);
  return 0;
}
