#include "probes/receive_timestamps.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>

namespace obsmon::probes {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// One loopback TCP exchange, as a probe's: whether the byte it receives comes stamped. False
// also when loopback cannot be used (then waiting longer would not help either).
bool LoopbackAnswerIsStamped(bool* loopback_usable) {
  *loopback_usable = false;
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener.get() < 0 ||
      ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return false;
  }
  // Bounded: a firewall that drops loopback packets would hold a connect for minutes, and this
  // runs as the daemon loads its config. Linux ends connect() and accept() after these.
  const timeval bound{0, 100'000};
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int on = 1;
  if (client.get() < 0 ||
      ::setsockopt(client.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
      ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound) != 0 ||
      ::setsockopt(listener.get(), SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0 ||
      ::connect(client.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return false;
  }
  Fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  pollfd p{client.get(), POLLIN, 0};
  if (server.get() < 0 || ::send(server.get(), "x", 1, MSG_NOSIGNAL) != 1 ||
      ::poll(&p, 1, 100) != 1) {
    return false;
  }
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control;
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(client.get(), &msg, 0) != 1) return false;
  *loopback_usable = true;
  return ReceiveTimestamp(msg).has_value();
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
// a run of the suite on CI): so the first call waits, on a loopback exchange of its own, until
// the kernel stamps.
void KeepReceiveTimestampsOn() {
  static const int keeper = [] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) return fd;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    for (;;) {
      bool loopback_usable = false;
      if (LoopbackAnswerIsStamped(&loopback_usable) || !loopback_usable ||
          std::chrono::steady_clock::now() >= give_up) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return fd;
  }();
  (void)keeper;
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
