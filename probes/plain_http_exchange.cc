#include "probes/plain_http_exchange.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "core/ascii_case.h"
#include "probes/probe_helpers.h"
#include "probes/receive_timestamps.h"

namespace obsmon::probes {

namespace {

bool HasHeader(const std::map<std::string, std::string>& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreAsciiCase(key, name)) return true;
  }
  return false;
}

// As tcp_connect.cc words them, so a run reads the same whichever client made it.
std::string ConnectFailure(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused";
    case EHOSTUNREACH:
      return "no route to host";
    case ENETUNREACH:
      return "network unreachable";
    default:
      return std::string("connect failed: ") + strerror(err);
  }
}

HttpParseLimits WithHeadRequest(HttpParseLimits limits, bool head_request) {
  limits.head_request = head_request;
  return limits;
}

// A kept connection can carry the next request: the peer has neither closed it nor sent
// anything unasked (either shows as readable), checked without waiting.
bool PeerIdle(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 0;
}

}  // namespace

std::optional<PlainHttpTarget> PreparePlainHttp(const HttpUrl& url, const std::string& method,
                                                const std::map<std::string, std::string>& headers,
                                                const std::optional<std::string>& body,
                                                bool keep_alive) {
  if (url.scheme != "http") return std::nullopt;
  PlainHttpTarget t;
  const auto port = htons(static_cast<uint16_t>(url.target.port));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&t.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
  if (inet_pton(AF_INET, url.target.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    t.addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, url.target.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    t.addr_len = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;  // a name to resolve: cpp-httplib's path
  }
  KeepReceiveTimestampsOn();
  t.head_request = method == "HEAD";
  t.persistent = keep_alive;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreAsciiCase(name, "Connection") && ConnectionHasToken(value, "close")) {
      t.persistent = false;
    }
  }
  std::string& r = t.request;
  r = method + " " + url.path + " HTTP/1.1\r\n";
  if (!HasHeader(headers, "Host")) {
    const bool v6_host = url.target.host.find(':') != std::string::npos;
    std::string host = v6_host ? "[" + url.target.host + "]" : url.target.host;
    if (url.target.port != 80) host += ":" + std::to_string(url.target.port);
    r += "Host: " + host + "\r\n";
  }
  if (!HasHeader(headers, "Accept")) r += "Accept: */*\r\n";
  if (!HasHeader(headers, "User-Agent")) r += "User-Agent: obsmon\r\n";
  if (!HasHeader(headers, "Connection") && !keep_alive) r += "Connection: close\r\n";
  for (const auto& [name, value] : headers) r += name + ": " + value + "\r\n";
  if (body) {
    if (!HasHeader(headers, "Content-Type")) r += "Content-Type: text/plain\r\n";
    r += "Content-Length: " + std::to_string(body->size()) + "\r\n\r\n";
    r += *body;
  } else {
    if (method == "POST" || method == "PUT" || method == "PATCH") r += "Content-Length: 0\r\n";
    r += "\r\n";
  }
  return t;
}

PlainHttpExchange::PlainHttpExchange(const PlainHttpTarget& target, HttpParseLimits limits)
    : target_(target),
      limits_(WithHeadRequest(limits, target.head_request)),
      parser_(limits_) {}

PlainHttpExchange::~PlainHttpExchange() {
  if (fd_ >= 0) ::close(fd_);
  if (kept_fd_ >= 0) ::close(kept_fd_);
}

int PlainHttpExchange::TakeReusable() {
  const int fd = kept_fd_;
  kept_fd_ = -1;
  return fd;
}

short PlainHttpExchange::events() const {
  return phase_ == Phase::kSending ? POLLOUT : POLLIN;
}

void PlainHttpExchange::Finish(std::string failure) {
  failure_ = std::move(failure);
  done_ = true;
  if (fd_ >= 0 && failure_.empty() && !timed_out_ && target_.persistent && parser_.Reusable()) {
    kept_fd_ = fd_;
  } else if (fd_ >= 0) {
    ::close(fd_);  // no shutdown(): close ends the connection as well
  }
  fd_ = -1;
}

void PlainHttpExchange::Start(int kept_fd) {
  if (kept_fd >= 0) {
    if (PeerIdle(kept_fd)) {
      fd_ = kept_fd;
      reused_ = true;
      connected_ = true;
      Send();
      return;
    }
    ::close(kept_fd);  // closed by the peer (its idle timeout), or out of step: a fresh one
  }
  Connect();
}

bool PlainHttpExchange::RetryFresh() {
  if (!reused_ || got_bytes_) return false;
  ::close(fd_);
  fd_ = -1;
  reused_ = false;  // once: a fresh connection that fails is the run's failure
  connected_ = false;
  sent_ = 0;
  phase_ = Phase::kSending;
  parser_ = HttpResponseParser(limits_);
  answer_waited_ = std::chrono::nanoseconds(0);
  answer_stamped_ = false;
  bytes_received_ = 0;
  Connect();
  return true;
}

void PlainHttpExchange::Connect() {
  fd_ = ::socket(target_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    const int err = errno;
    ThrowIfOutOfResources("socket", err);
    Finish(std::string("connect failed: ") + strerror(err));
    return;
  }
  // The kernel timestamps what the socket receives (answer_waited()); without it (it cannot
  // fail on a TCP socket) the duration is the read's, as before.
  const int on = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&target_.addr), target_.addr_len) != 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    ThrowIfOutOfResources("connect", err);  // fd_ is closed by the destructor
    Finish(ConnectFailure(err));
    return;
  }
  // Loopback and LAN connects often complete at once: send now, and wait only if it cannot.
  Send();
}

void PlainHttpExchange::OnReady(short revents) {
  if (done_) return;
  if (phase_ == Phase::kSending) {
    Send();
  } else if (revents & (POLLIN | POLLHUP | POLLERR)) {
    Receive();
  }
}

void PlainHttpExchange::TimedOut() {
  if (done_) return;
  timed_out_ = true;
  Finish("");
}

void PlainHttpExchange::Send() {
  const std::string& req = target_.request;
  while (sent_ < req.size()) {
    const ssize_t n = ::send(fd_, req.data() + sent_, req.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      connected_ = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Not connected yet (or the send buffer is full): poll for POLLOUT.
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    const int err = errno;
    if (RetryFresh()) return;
    if (!connected_ && err != EPIPE && err != ECONNRESET) {
      Finish(ConnectFailure(err));
    } else {
      Finish("error sending the request");
    }
    return;
  }
  phase_ = Phase::kReading;
}

void PlainHttpExchange::Receive() {
  std::array<char, 16 * 1024> buf;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control;
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd_, &msg, 0);
    HttpResponseParser::State state;
    if (n > 0) {
      got_bytes_ = true;
      bytes_received_ += static_cast<uint64_t>(n);
      // Until the response is complete, each read's stamp replaces the last: the wait that
      // counts is that of its last bytes. Clamped at 0 (a wall clock stepped back).
      const auto arrived = ReceiveTimestamp(msg);
      answer_waited_ = arrived ? std::max(std::chrono::nanoseconds(0),
                                          std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::system_clock::now() - *arrived))
                               : std::chrono::nanoseconds(0);
      answer_stamped_ = arrived.has_value();
      state = parser_.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      if (RetryFresh()) return;      // a kept connection closed under the request
      state = parser_.FeedEof();  // closed, or reset: what arrived is all there is
    } else if (errno == EINTR) {
      continue;
    } else {
      return;  // nothing more for now
    }
    if (state == HttpResponseParser::State::kDone) return Finish("");
    if (state == HttpResponseParser::State::kError) return Finish(parser_.error());
    // A full buffer may have more behind it; a short read was all there was.
    if (static_cast<size_t>(n) < buf.size()) return;
  }
}

}  // namespace obsmon::probes
