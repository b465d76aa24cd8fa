// Test support: loopback networking helpers. Header-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace obsmon::testing {

// A TCP socket bound to 127.0.0.1 at a port the kernel chose (not listening); sets *port.
// `flags` are added to socket()'s type (e.g. SOCK_CLOEXEC).
inline int BindLoopback(int* port, int flags = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port that was free a moment ago on 127.0.0.1 (for programs that cannot be told port 0).
inline int FreeLoopbackPort() {
  int port = 0;
  close(BindLoopback(&port));
  return port;
}

// A socket listening on 127.0.0.1 at a port the kernel chose, with `backlog`; sets *port.
// `flags` are added to socket()'s type (e.g. SOCK_CLOEXEC).
inline int ListenLoopback(int backlog, int* port, int flags = 0) {
  const int fd = BindLoopback(port, flags);
  listen(fd, backlog);
  return fd;
}

// A TCP connection from `source` (any 127.x.y.z is loopback on Linux, so one test can play
// several client addresses) to 127.0.0.1:port; the socket, or -1 when it could not connect.
inline int ConnectFrom(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A port on 127.0.0.1 where connections are refused for as long as this object lives: a socket
// bound there that never listens. Unlike a port that was free a moment ago, no other test can
// start listening on it meanwhile (a probe of a "closed" port then succeeding was a race the
// flake audit found). The kernel refuses a connect() to it (RST), as for a port nobody bound.
class ClosedLoopbackPort {
 public:
  ClosedLoopbackPort() : fd_(BindLoopback(&port_, SOCK_CLOEXEC)) {}
  ~ClosedLoopbackPort() { close(fd_); }
  ClosedLoopbackPort(const ClosedLoopbackPort&) = delete;
  ClosedLoopbackPort& operator=(const ClosedLoopbackPort&) = delete;

  int port() const { return port_; }

 private:
  int port_ = 0;  // before fd_: set by the constructor's BindLoopback
  int fd_;
};

}  // namespace obsmon::testing
