#include "web/http_connection.h"

#include <openssl/err.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace obsmon {

namespace {

// What an SSL_* call's return value means here. The error queue is per thread and must be empty
// before the next call on this thread, or a stale error is reported against it.
IoStatus TlsStatus(SSL* ssl, int rc) {
  const int error = SSL_get_error(ssl, rc);
  ERR_clear_error();
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return IoStatus::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return IoStatus::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return IoStatus::kClosed;
    case SSL_ERROR_SYSCALL:
      return errno == 0 || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    default:
      return IoStatus::kError;
  }
}

IoStatus SocketStatus(ssize_t rc) {
  if (rc == 0) return IoStatus::kClosed;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IoStatus::kWantRead;
  if (errno == ECONNRESET || errno == EPIPE) return IoStatus::kClosed;
  return IoStatus::kError;
}

int MillisUntil(SteadyTime deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 3'600'000));
}

}  // namespace

HttpConnection::~HttpConnection() {
  if (budget) budget->Give(client, held_output());
  if (ssl) {
    // One non-blocking close_notify, no waiting for the peer's: the socket is closed next.
    if (handshake_done) {
      SSL_shutdown(ssl);
      ERR_clear_error();
    }
    SSL_free(ssl);
  }
  if (fd >= 0) ::close(fd);
}

IoStatus ContinueHandshake(HttpConnection& conn) {
  if (conn.handshake_done) return IoStatus::kOk;
  ERR_clear_error();
  const int rc = SSL_do_handshake(conn.ssl);
  if (rc == 1) {
    conn.handshake_done = true;
    return IoStatus::kOk;
  }
  const IoStatus status = TlsStatus(conn.ssl, rc);
  return status == IoStatus::kClosed ? IoStatus::kError : status;
}

void HttpConnection::Consume(size_t n) {
  in_pos_ = std::min(in_.size(), in_pos_ + n);
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
}

void HttpConnection::ReplacePendingPrefix(size_t n, std::string_view line) {
  in_.replace(in_pos_, std::min(n, in_.size() - in_pos_), line);
}

IoStatus ReceiveSome(HttpConnection& conn, size_t max_bytes) {
  if (max_bytes == 0) return IoStatus::kOk;
  std::string& in = conn.in_;
  if (conn.in_pos_ > 0) {  // room at the front: drop what was consumed
    in.erase(0, conn.in_pos_);
    conn.in_pos_ = 0;
  }
  const size_t old = in.size();
  const size_t chunk = std::min<size_t>(max_bytes, 16 * 1024);
  in.resize(old + chunk);
  ssize_t got = 0;
  IoStatus status = IoStatus::kOk;
  if (conn.ssl) {
    ERR_clear_error();
    const int rc = SSL_read(conn.ssl, in.data() + old, static_cast<int>(chunk));
    if (rc > 0) {
      got = rc;
    } else {
      status = TlsStatus(conn.ssl, rc);
    }
  } else {
    const ssize_t rc = ::recv(conn.fd, in.data() + old, chunk, 0);
    if (rc > 0) {
      got = rc;
    } else {
      status = SocketStatus(rc);
    }
  }
  in.resize(old + static_cast<size_t>(got));
  return status;
}

IoStatus SendSome(HttpConnection& conn, std::string_view data, size_t* written) {
  *written = 0;
  if (data.empty()) return IoStatus::kOk;
  if (conn.ssl) {
    ERR_clear_error();
    const int size = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
    const int rc = SSL_write(conn.ssl, data.data(), size);
    if (rc > 0) {
      *written = static_cast<size_t>(rc);
      return IoStatus::kOk;
    }
    return TlsStatus(conn.ssl, rc);
  }
  // MSG_NOSIGNAL: a client that went away is an EPIPE here, not a SIGPIPE for the process.
  const ssize_t rc = ::send(conn.fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (rc > 0) {
    *written = static_cast<size_t>(rc);
    return IoStatus::kOk;
  }
  const IoStatus status = SocketStatus(rc == 0 ? -1 : rc);
  return status == IoStatus::kWantRead ? IoStatus::kWantWrite : status;
}

bool HoldOutput(HttpConnection& conn, std::string_view data) {
  if (conn.budget == nullptr || !conn.budget->Take(conn.client, data.size())) return false;
  if (conn.out_pos_ == conn.out_.size()) {
    conn.out_.clear();
    conn.out_pos_ = 0;
  }
  conn.out_.append(data);
  return true;
}

IoStatus SendHeldOutput(HttpConnection& conn) {
  while (conn.has_output()) {
    size_t written = 0;
    const IoStatus status =
        SendSome(conn, std::string_view(conn.out_).substr(conn.out_pos_), &written);
    if (written > 0) {
      conn.out_pos_ += written;
      conn.budget->Give(conn.client, written);
      conn.output_progress = std::chrono::steady_clock::now();
      conn.unacknowledged = UnacknowledgedBytes(conn);
    }
    if (status != IoStatus::kOk) return status;
  }
  conn.out_.clear();
  conn.out_.shrink_to_fit();  // an answer of megabytes is not kept for the next one
  conn.out_pos_ = 0;
  return IoStatus::kOk;
}

size_t UnacknowledgedBytes(const HttpConnection& conn) {
  int queued = 0;
  return ::ioctl(conn.fd, SIOCOUTQ, &queued) == 0 && queued > 0 ? static_cast<size_t>(queued) : 0;
}

bool PeerGone(const HttpConnection& conn, bool half_close_counts) {
  pollfd p{conn.fd, POLLRDHUP, 0};
  const short gone = static_cast<short>(POLLHUP | POLLERR | (half_close_counts ? POLLRDHUP : 0));
  return ::poll(&p, 1, 0) > 0 && (p.revents & gone) != 0;
}

bool WaitFor(const HttpConnection& conn, IoStatus want, SteadyTime deadline) {
  pollfd p{conn.fd, static_cast<short>(want == IoStatus::kWantWrite ? POLLOUT : POLLIN), 0};
  for (;;) {
    const int rc = ::poll(&p, 1, MillisUntil(deadline));
    if (rc > 0) return true;  // ready, or an error the next call reports
    if (rc == 0) return false;
    if (errno != EINTR) return true;
  }
}

bool ConnectionStream::is_readable() const {
  if (conn_.has_pending()) return true;
  if (conn_.ssl && SSL_pending(conn_.ssl) > 0) return true;
  return WaitFor(conn_, IoStatus::kWantRead, limits_.read_deadline);
}

bool ConnectionStream::is_writable() const {
  const SteadyTime deadline =
      std::min(std::chrono::steady_clock::now() + limits_.write_timeout,
               writing_ ? write_deadline_ : SteadyTime::max());
  return WaitFor(conn_, IoStatus::kWantWrite, deadline);
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (size == 0) return 0;
  if (!conn_.has_pending()) {
    if (read_so_far_ >= limits_.read_budget) return -1;  // more than any request may carry
    for (;;) {
      // At least a buffer's worth: httplib asks for one byte at a time while it reads lines.
      const size_t want = std::max<size_t>(size, 4096);
      const IoStatus status =
          ReceiveSome(conn_, std::min(want, limits_.read_budget - read_so_far_));
      if (status == IoStatus::kOk && conn_.has_pending()) break;
      if (status == IoStatus::kClosed) return 0;
      if (status == IoStatus::kError) return -1;
      if (status == IoStatus::kOk) continue;
      if (!WaitFor(conn_, status, limits_.read_deadline)) {
        read_timed_out_ = true;
        return -1;
      }
    }
  }
  const std::string_view pending = conn_.pending();
  const size_t n = std::min(size, pending.size());
  std::memcpy(ptr, pending.data(), n);
  conn_.Consume(n);
  read_so_far_ += n;
  return static_cast<ssize_t>(n);
}

namespace {
// cpp-httplib 0.11 names no reason for 499 and writes "Internal Server Error"; nginx's is this.
constexpr std::string_view kUnnamed499 = "HTTP/1.1 499 Internal Server Error\r\n";
constexpr std::string_view kNamed499 = "HTTP/1.1 499 Client Closed Request\r\n";
}  // namespace

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  const auto now = std::chrono::steady_clock::now();
  std::string_view rest(ptr, size);
  std::string renamed;
  if (!writing_) {
    writing_ = true;
    write_deadline_ = now + limits_.write_total;
    if (rest.substr(0, kUnnamed499.size()) == kUnnamed499) {  // the status line, whole
      renamed = std::string(kNamed499) + std::string(rest.substr(kUnnamed499.size()));
      rest = renamed;
    }
  }
  if (conn_.has_output()) {  // earlier bytes of the answer are held: these go after them
    if (HoldOutput(conn_, rest)) return static_cast<ssize_t>(size);
    if (!SendHeldWaiting()) return -1;
  }
  while (!rest.empty()) {
    size_t written = 0;
    const IoStatus status = SendSome(conn_, rest, &written);
    rest.remove_prefix(written);
    if (status == IoStatus::kOk) continue;
    if (status == IoStatus::kClosed || status == IoStatus::kError) return -1;
    // The client reads slower than this: the poller sends the rest, if the budget lends it.
    // (A TLS record the socket took in part is sent again from the same bytes, as SSL_write
    // requires: the held output starts with them.)
    if (HoldOutput(conn_, rest)) return static_cast<ssize_t>(size);
    if (!WaitWritable(status)) return -1;
  }
  return static_cast<ssize_t>(size);
}

bool ConnectionStream::SendHeldWaiting() {
  for (;;) {
    const IoStatus status = SendHeldOutput(conn_);
    if (status == IoStatus::kOk) return true;
    if (status == IoStatus::kClosed || status == IoStatus::kError) return false;
    if (!WaitWritable(status)) return false;
  }
}

bool ConnectionStream::WaitWritable(IoStatus want) {
  for (;;) {
    const size_t unacknowledged = UnacknowledgedBytes(conn_);
    const auto now = std::chrono::steady_clock::now();
    if (WaitFor(conn_, want, std::min(now + limits_.write_timeout, write_deadline_))) return true;
    const bool reading = UnacknowledgedBytes(conn_) < unacknowledged;
    if (!reading || std::chrono::steady_clock::now() >= write_deadline_) break;
  }
  write_timed_out_ = true;
  return false;
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = conn_.client;
  port = conn_.client_port;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = conn_.local_ip;
  port = conn_.local_port;
}

}  // namespace obsmon
