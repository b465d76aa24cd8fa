#include "probes/receive_timestamps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include "core/unique_fd.h"

namespace obsmon::probes {

namespace {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

enum class Exchange { kStamped, kUnstamped, kNoLoopback };

// What is left until `end`, at most 100 ms and at least 1 ms (a bound of 0 means none).
timeval StepBound(SteadyTime end) {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      end - std::chrono::steady_clock::now());
  const auto step = std::clamp(left, std::chrono::microseconds(1'000),
                               std::chrono::microseconds(100'000));
  return timeval{0, static_cast<suseconds_t>(step.count())};
}

// One loopback TCP exchange, as a probe's: whether the byte it receives comes stamped. A failure
// on the way (a signal, a full queue) counts as unstamped, to be tried again; a host without
// IPv4 loopback is kNoLoopback, where waiting would not help. Each blocking step ends by `end`
// (Linux ends connect() after SO_SNDTIMEO and accept() after SO_RCVTIMEO), so a firewall that
// drops loopback packets cannot hold the caller, the daemon loading its config, for minutes.
Exchange LoopbackExchange(SteadyTime end) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener.get() < 0 ||
      ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Exchange::kNoLoopback;
  }
  const timeval connect_bound = StepBound(end);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  if (client.get() < 0 ||
      ::setsockopt(client.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
      ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &connect_bound,
                   sizeof connect_bound) != 0) {
    return Exchange::kUnstamped;
  }
  if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno == ENETUNREACH || errno == EADDRNOTAVAIL || errno == EHOSTUNREACH
               ? Exchange::kNoLoopback
               : Exchange::kUnstamped;
  }
  const timeval accept_bound = StepBound(end);
  ::setsockopt(listener.get(), SOL_SOCKET, SO_RCVTIMEO, &accept_bound, sizeof accept_bound);
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (server.get() < 0 || ::send(server.get(), "x", 1, MSG_NOSIGNAL) != 1) {
    return Exchange::kUnstamped;
  }
  const timeval read_bound = StepBound(end);
  pollfd p{client.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(read_bound.tv_usec / 1000)) != 1) return Exchange::kUnstamped;
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control;
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(client.get(), &msg, MSG_DONTWAIT) != 1) return Exchange::kUnstamped;
  return ReceiveTimestamp(msg).has_value() ? Exchange::kStamped : Exchange::kUnstamped;
}

// A socket of `family` that asks for stamps, or -1.
int StampingSocket(int family) {
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  if (fd.get() < 0 || ::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    return -1;
  }
  return fd.release();
}

}  // namespace

// The kernel stamps arriving packets only while some socket asks for it, and it turns stamping
// on for the first such socket later, from a work queue (net_enable_timestamp() in
// net/core/dev.c): with no other such socket open, about half the answers came unstamped (151
// and 164 of 300 fresh loopback connections), their durations then fell back to the read's
// time, and the next run could not be read with its batch. One socket that asks for stamps for
// the whole life of the process keeps them on (0 of 300), and each connection's own request
// takes effect at once. Until the work queue has run, though, a process's first answers still
// came unstamped (a test that read one answer late as its process's first saw no wait, once in
// a run of the suite on CI): so the call that opens the socket waits, on loopback exchanges of
// its own, until the kernel stamps, for about 200 ms at most. A call that could not open it (no
// descriptor left, IPv4 not allowed) leaves it to the next call.
void KeepReceiveTimestampsOn() {
  static std::mutex mu;
  static int keeper = -1;
  const std::lock_guard<std::mutex> lock(mu);
  if (keeper >= 0) return;
  keeper = StampingSocket(AF_INET);
  if (keeper < 0) keeper = StampingSocket(AF_INET6);  // either family's request turns it on
  if (keeper < 0) return;
  const SteadyTime end = std::chrono::steady_clock::now() + milliseconds(200);
  for (;;) {
    const Exchange e = LoopbackExchange(end);
    if (e != Exchange::kUnstamped || std::chrono::steady_clock::now() >= end) return;
    std::this_thread::sleep_for(milliseconds(1));
  }
}

std::optional<std::chrono::system_clock::time_point> ReceiveTimestamp(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec ts;
    memcpy(&ts, CMSG_DATA(c), sizeof ts);
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<
        std::chrono::system_clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                             std::chrono::nanoseconds(ts.tv_nsec)));
  }
  return std::nullopt;
}

}  // namespace obsmon::probes
