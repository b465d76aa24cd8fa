#include "probes/bounded_http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace obsmon::probes {

std::string ResponseBudget::Overflow() const {
  MutexLock lock(mu_);
  return overflow_;
}

void ResponseBudget::SetOverflow(std::string reason) {
  MutexLock lock(mu_);
  if (overflow_.empty()) overflow_ = std::move(reason);
}

namespace {
// One thread for every budget's cut; its time is the real clock's, as limits().deadline is.
DeadlineWatchdog& CutWatchdog() {
  static DeadlineWatchdog watchdog(SystemClock::Instance());
  return watchdog;
}
}  // namespace

ResponseBudget::~ResponseBudget() {
  watch_.reset();  // from here the cut neither runs nor will run
  MutexLock lock(mu_);
  if (socket_ >= 0) ::close(socket_);
}

void ResponseBudget::TrackSocket(int fd) {
  {
    MutexLock lock(mu_);
    if (socket_ >= 0) ::close(socket_);  // a reconnect: the new socket is the one to cut
    socket_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (cut_ && socket_ >= 0) ::shutdown(socket_, SHUT_RD);
  }
  if (!watch_ && (limits_.deadline != std::chrono::steady_clock::time_point::max() ||
                  limits_.cancellation != nullptr)) {
    watch_ = CutWatchdog().Arm(Deadline{limits_.deadline, limits_.cancellation}, [this] { Cut(); });
  }
}

void ResponseBudget::Cut() {
  MutexLock lock(mu_);
  cut_ = true;
  // Reads only: a read (and the wait before it) ends at once, as end of stream; OpenSSL may
  // still write its alert, which a write shut-down would turn into SIGPIPE in a process (a
  // test, a CLI command) that does not ignore it as the daemon does. Writes are bounded by the
  // stream's deadline already.
  if (socket_ >= 0) ::shutdown(socket_, SHUT_RD);
}

namespace {

// Waits up to sec/usec, and never past `deadline`, for `events` on `sock`; false on timeout or
// error.
bool WaitSocket(int sock, short events, time_t sec, time_t usec,
                std::chrono::steady_clock::time_point deadline) {
  pollfd p{sock, events, 0};
  int64_t left_ms = 3'600'000;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
    if (left_ms <= 0) return false;
  }
  const int ms = static_cast<int>(std::min<int64_t>(sec * 1000 + usec / 1000, left_ms));
  for (;;) {
    const int rc = ::poll(&p, 1, ms);
    if (rc >= 0) return rc > 0;
    if (errno != EINTR) return false;
  }
}

// httplib's view of a client socket (plain, or TLS over `ssl`), reading through a buffer and
// counting every byte against the budget. The response head ends at its empty line; a 1xx head
// is followed by another head, counted afresh.
class CountingStream final : public httplib::Stream {
 public:
  struct Timeouts {
    time_t read_sec, read_usec, write_sec, write_usec;
  };
  CountingStream(int sock, SSL* ssl, Timeouts t, ResponseBudget& budget)
      : sock_(sock), ssl_(ssl), t_(t), budget_(budget) {}

  bool is_readable() const override {
    if (pos_ < buf_.size() || (ssl_ && SSL_pending(ssl_) > 0)) return true;
    return WaitSocket(sock_, POLLIN, t_.read_sec, t_.read_usec, budget_.limits().deadline);
  }
  bool is_writable() const override {
    return WaitSocket(sock_, POLLOUT, t_.write_sec, t_.write_usec, budget_.limits().deadline);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == buf_.size() && !Fill()) return fill_result_;
    const size_t n = std::min(size, buf_.size() - pos_);
    if (!Count(buf_.data() + pos_, n)) return -1;
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    if (ssl_) {
      ERR_clear_error();
      const int rc = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
      if (rc <= 0) ERR_clear_error();
      return rc;
    }
    return ::send(sock_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  // Refills the buffer; false (with fill_result_: 0 closed, -1 error or timeout) when it cannot.
  bool Fill() {
    buf_.resize(16 * 1024);
    pos_ = 0;
    ssize_t got = 0;
    if (ssl_) {
      if (SSL_pending(ssl_) <= 0 &&
          !WaitSocket(sock_, POLLIN, t_.read_sec, t_.read_usec, budget_.limits().deadline)) {
        got = -1;
      } else {
        ERR_clear_error();
        const int rc = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
        got = rc > 0 ? rc : (SSL_get_error(ssl_, rc) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
        ERR_clear_error();
      }
    } else if (!WaitSocket(sock_, POLLIN, t_.read_sec, t_.read_usec,
                           budget_.limits().deadline)) {
      got = -1;
    } else {
      got = ::recv(sock_, buf_.data(), buf_.size(), 0);
    }
    buf_.resize(got > 0 ? static_cast<size_t>(got) : 0);
    fill_result_ = got > 0 ? 0 : (got == 0 ? 0 : -1);
    return got > 0;
  }

  // Counts bytes handed to httplib; false once a limit is passed.
  bool Count(const char* p, size_t n) {
    const ResponseLimits& limits = budget_.limits();
    size_t i = 0;
    for (; i < n && in_head_; ++i) {
      const char c = p[i];
      if (status_prefix_.size() < 12) status_prefix_ += c;  // "HTTP/1.1 1xx"
      ++head_bytes_;
      // An empty line ends the head: "\n" right after "\n" (ignoring "\r" between).
      if (c == '\n') {
        if (line_empty_ && head_bytes_ > 2) EndHead();
        line_empty_ = true;
      } else if (c != '\r') {
        line_empty_ = false;
      }
      if (head_bytes_ > limits.max_head_bytes) {
        budget_.SetOverflow("response head larger than " + std::to_string(limits.max_head_bytes) +
                            " bytes (status line and headers)");
        return false;
      }
    }
    after_head_ += n - i;  // the bytes of this read past the head's end
    if (after_head_ > limits.max_after_head_bytes) {
      budget_.SetOverflow("response larger than " + std::to_string(limits.max_after_head_bytes) +
                          " bytes after its head (body, chunk framing and trailers)");
      return false;
    }
    return true;
  }

  // A head ended: an interim one (1xx, e.g. 100 Continue) is followed by another head.
  void EndHead() {
    const bool interim = status_prefix_.size() >= 10 && status_prefix_[9] == '1';
    head_bytes_ = 0;
    status_prefix_.clear();
    if (!interim) in_head_ = false;
  }

  void Address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int rc = remote ? ::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len)
                          : ::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    ip.clear();
    port = 0;
    if (rc != 0) return;
    char text[64] = "";
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  const int sock_;
  SSL* const ssl_;
  const Timeouts t_;
  ResponseBudget& budget_;
  std::string buf_;
  size_t pos_ = 0;
  ssize_t fill_result_ = 0;
  bool in_head_ = true;
  bool line_empty_ = true;  // at the start of a line with nothing but "\r" on it so far
  size_t head_bytes_ = 0;
  size_t after_head_ = 0;
  std::string status_prefix_;
};

// The two client kinds with their stream replaced. process_socket is a private virtual of
// httplib's clients: overriding it is allowed, and it is where a connected socket meets the
// parser.
class BoundedPlainClient final : public httplib::ClientImpl {
 public:
  BoundedPlainClient(const std::string& host, int port, ResponseBudget& budget)
      : ClientImpl(host, port), budget_(budget) {}

 private:
  bool process_socket(const Socket& socket,
                      std::function<bool(httplib::Stream& strm)> callback) override {
    CountingStream stream(socket.sock, nullptr,
                          {read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                           write_timeout_usec_},
                          budget_);
    return callback(stream);
  }
  ResponseBudget& budget_;
};

class BoundedTlsClient final : public httplib::SSLClient {
 public:
  BoundedTlsClient(const std::string& host, int port, ResponseBudget& budget)
      : SSLClient(host, port), budget_(budget) {}

 private:
  bool process_socket(const Socket& socket,
                      std::function<bool(httplib::Stream& strm)> callback) override {
    CountingStream stream(socket.sock, socket.ssl,
                          {read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                           write_timeout_usec_},
                          budget_);
    return callback(stream);
  }
  ResponseBudget& budget_;
};

}  // namespace

std::unique_ptr<httplib::ClientImpl> MakeBoundedClient(const std::string& scheme,
                                                       const std::string& host, int port,
                                                       ResponseBudget& budget) {
  std::unique_ptr<httplib::ClientImpl> client;
  if (scheme == "https") {
    client = std::make_unique<BoundedTlsClient>(host, port, budget);
  } else {
    client = std::make_unique<BoundedPlainClient>(host, port, budget);
  }
  client->set_follow_location(false);
  client->set_socket_options([&budget](socket_t fd) { budget.TrackSocket(fd); });
  return client;
}

}  // namespace obsmon::probes
