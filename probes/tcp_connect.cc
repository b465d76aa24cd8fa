#include "probes/tcp_connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "probes/probe_helpers.h"

namespace obsmon::probes {

namespace {

using AddrInfoPtr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

Result<AddrInfoPtr> Resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it ignores loopback, so "localhost" would not resolve on a host whose
  // only interface is lo (containers, CI sandboxes).
  addrinfo* result = nullptr;
  std::string service = port > 0 ? std::to_string(port) : std::string();
  int rc = getaddrinfo(host.c_str(), service.empty() ? nullptr : service.c_str(), &hints, &result);
  if (rc == EAI_SYSTEM) ThrowIfOutOfResources("getaddrinfo", errno);
  if (rc != 0 || result == nullptr) {
    return Status::Unavailable("dns lookup failed for " + host + ": " + gai_strerror(rc));
  }
  return AddrInfoPtr(result, &freeaddrinfo);
}

ConnectOutcome FromErrno(int err) {
  ConnectOutcome out;
  switch (err) {
    case ECONNREFUSED:
      out.kind = ConnectOutcome::Kind::kRefused;
      out.reason = "connection refused";
      break;
    case ETIMEDOUT:
      out.kind = ConnectOutcome::Kind::kTimeout;
      out.reason = "timeout";
      break;
    case EHOSTUNREACH:
      out.kind = ConnectOutcome::Kind::kUnreachable;
      out.reason = "no route to host";
      break;
    case ENETUNREACH:
      out.kind = ConnectOutcome::Kind::kUnreachable;
      out.reason = "network unreachable";
      break;
    default:
      out.kind = ConnectOutcome::Kind::kOther;
      out.reason = std::string("connect failed: ") + strerror(err);
  }
  return out;
}

// One non-blocking connect attempt bounded by `deadline`.
ConnectOutcome ConnectOne(const addrinfo& ai, const Deadline& deadline, const Clock& clock) {
  int fd = socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) {
    const int err = errno;
    ThrowIfOutOfResources("socket", err);
    return FromErrno(err);
  }
  int rc = connect(fd, ai.ai_addr, ai.ai_addrlen);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    ThrowIfOutOfResources("connect", err);
    return FromErrno(err);
  }
  while (rc != 0) {
    auto left = deadline.Remaining(clock);
    if (left.count() <= 0) {
      close(fd);
      return FromErrno(ETIMEDOUT);
    }
    pollfd p{fd, POLLOUT, 0};
    int n = PollOrCancel(&p, 1, static_cast<int>(left.count()), deadline);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;  // loop re-checks the deadline
    int err = 0;
    socklen_t len = sizeof err;
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      close(fd);
      return FromErrno(err);
    }
    rc = 0;
  }
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  ConnectOutcome out;
  out.kind = ConnectOutcome::Kind::kConnected;
  out.fd = fd;
  return out;
}

}  // namespace

ConnectOutcome TcpConnect(const HostPort& target, const Deadline& deadline, const Clock& clock) {
  Result<AddrInfoPtr> resolved = Resolve(target.host, target.port);
  if (!resolved.ok()) {
    ConnectOutcome out;
    out.kind = ConnectOutcome::Kind::kDnsFailed;
    out.reason = resolved.status().message();
    return out;
  }
  const AddrInfoPtr& addrs = *resolved;
  ConnectOutcome last = FromErrno(ETIMEDOUT);
  for (const addrinfo* ai = addrs.get(); ai != nullptr; ai = ai->ai_next) {
    if (deadline.Expired(clock)) return FromErrno(ETIMEDOUT);
    last = ConnectOne(*ai, deadline, clock);
    if (last.ok() || last.kind == ConnectOutcome::Kind::kTimeout) return last;
  }
  return last;
}

Result<std::string> ResolveHost(const std::string& host) {
  Result<AddrInfoPtr> resolved = Resolve(host, 0);
  if (!resolved.ok()) return resolved.status();
  const AddrInfoPtr& addrs = *resolved;
  char buf[INET6_ADDRSTRLEN] = {};
  // Prefer IPv4: "localhost" often lists ::1 first while services listen on 127.0.0.1 only.
  const addrinfo* ai = addrs.get();
  for (const addrinfo* p = addrs.get(); p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      ai = p;
      break;
    }
  }
  const void* src =
      ai->ai_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr);
  if (inet_ntop(ai->ai_family, src, buf, sizeof buf) == nullptr) {
    return Status::Unavailable("dns lookup failed for " + host + ": " + strerror(errno));
  }
  return std::string(buf);
}

}  // namespace obsmon::probes
