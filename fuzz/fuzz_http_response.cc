// Responses of a probed target: a loopback server thread answers every connection with the
// input's bytes and closes; the http probe (status, body match, redirects) judges them within 1 s.
// Seeds: responses with chunked, gzip and Content-Length bodies, redirects, long headers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include <re2/re2.h>

#include "core/mutex.h"
#include "probes/http_probe.h"

namespace {

obsmon::Mutex mu;
std::string response GUARDED_BY(mu);

int StartServer() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) __builtin_trap();
  ::listen(fd, 16);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread([fd] {
    for (;;) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[4096];
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 1000) > 0) (void)::recv(c, buf, sizeof buf, 0);  // the request
      std::string out;
      {
        obsmon::MutexLock lock(mu);
        out = response;
      }
      size_t sent = 0;
      while (sent < out.size()) {
        ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }).detach();
  return ntohs(addr.sin_port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon;
  static const int port = StartServer();
  static const probes::HttpProbeOptions options = [] {
    probes::HttpProbeOptions o;
    o.url = std::move(probes::ParseHttpUrl("http://127.0.0.1:" + std::to_string(port) + "/health")).value();
    o.body_match = std::make_shared<const re2::RE2>("ok|healthy");
    o.max_body_bytes = 64 << 10;
    // Redirects are followed (by the probe, a bounded client per hop): a 3xx input sends the
    // probe back to this server, which answers the same bytes again, up to the hop limit.
    o.follow_redirects = true;
    return o;
  }();
  {
    obsmon::MutexLock lock(mu);
    response.assign(reinterpret_cast<const char*>(data), size);
  }
  ProbeSpec spec;
  spec.key = {"c", "health"};
  spec.timeout_ms = 1000;
  const Clock& clock = SystemClock::Instance();
  probes::HttpProbe probe(spec, options, clock);
  (void)probe.Run(Deadline{clock.SteadyNow() + std::chrono::seconds(1)});
  return 0;
}
