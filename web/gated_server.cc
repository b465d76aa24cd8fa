#include "web/gated_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/thread_name.h"
#include "web/request_head.h"

namespace obsmon {

namespace {

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;

constexpr char kRequestTimeout[] =
    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 33\r\n\r\nrequest not received in the time\n";
constexpr char kBadFraming[] =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 46\r\n\r\nambiguous request length (RFC 9112 section 6)\n";
constexpr char kUriTooLong[] =
    "HTTP/1.1 414 URI Too Long\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 21\r\n\r\nrequest URI too long\n";
constexpr char kLengthRequired[] =
    "HTTP/1.1 411 Length Required\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    "Content-Length: 45\r\n\r\nsend a body with Content-Length, not chunked\n";
constexpr char kOverLimits[] =
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    "Content-Type: text/plain\r\nContent-Length: 56\r\n\r\n"
    "too many connections: only health checks are let through\n";
// A connection over the limits with none to make room for it is let in on probation, at most
// this many at once and two an address (a third takes the place of its address's oldest), for
// this long: its request is read, and answered only when it is a health check (fresh eyes, stop
// 63: 512 connections of queued requests refused /healthz from anyone; then 16 silent
// connections from 4 addresses, reconnecting, held every place of a pool of 16 shared by all).
constexpr size_t kProbationConnections = 64;
constexpr size_t kProbationPerClient = 2;
constexpr std::chrono::milliseconds kProbationWait{1000};

// What the API answers for an oversized body (json_reply.h's error shape), whole.
std::string BodyTooLargeResponse(size_t max_body_bytes) {
  const std::string body = "{\"error\":\"request body larger than " +
                           std::to_string(max_body_bytes) +
                           " bytes\",\"errorType\":\"bad_data\",\"status\":\"error\"}";
  return "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}
// After an error answer the client may still be sending (a body it declared, pipelined
// requests): closing with its bytes unread would reset the connection, and a reset can destroy
// the answer before the client reads it. So the connection is half-closed and its bytes read and
// dropped for a while first, as nginx's lingering close does.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kLingerBytes = 8 << 20;
constexpr char kHeadTooLarge[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
    "Content-Type: text/plain\r\nContent-Length: 26\r\n\r\nrequest head is too large\n";

// "1.2.3.4" / "::1" and the port of a socket address.
void DescribeAddress(const sockaddr_storage& addr, std::string* ip, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  }
  *ip = text;
}

std::string TlsErrorText() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

namespace {
// The status of the response a worker thread just wrote (cpp-httplib's logger runs on that
// thread right after writing it).
thread_local int last_status = 0;
// The connection a worker thread is serving, for ServedClientGone().
thread_local const HttpConnection* served_connection = nullptr;
}  // namespace

bool GatedServer::ServedClientGone() {
  return served_connection != nullptr && PeerGone(*served_connection);
}

GatedServer::GatedServer(GateOptions options)
    : options_(options),
      limits_(options.max_connections, options.max_connections_per_client),
      output_budget_(options.output_buffer_bytes, options.output_buffer_per_client_bytes),
      body_too_large_(BodyTooLargeResponse(options.max_body_bytes)),
      probation_(kProbationConnections, kProbationPerClient) {
  set_logger([](const httplib::Request&, const httplib::Response& res) { last_status = res.status; });
  set_payload_max_length(options_.max_body_bytes);
  set_keep_alive_max_count(static_cast<size_t>(options_.keep_alive_max));
  // What httplib writes into its Keep-Alive response header.
  set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options_.idle_timeout).count()));
}

GatedServer::~GatedServer() {
  Stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (tls_) SSL_CTX_free(tls_);
}

Status GatedServer::EnableTls(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Status::Internal("cannot create a TLS context: " + TlsErrorText());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // A partial write may be retried with a moved buffer; ConnectionStream retries with the rest.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    const std::string why = TlsErrorText();
    SSL_CTX_free(ctx);
    return Status::InvalidArgument("cannot use TLS certificate '" + cert_file + "' with key '" +
                                   key_file + "' (" + why + ")");
  }
  if (tls_) SSL_CTX_free(tls_);
  tls_ = ctx;
  return Status::Ok();
}

Result<int> GatedServer::Bind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status::Unavailable(std::string("cannot resolve '") + host + "': " + gai_strerror(rc));
  }
  std::string error = "no address";
  for (addrinfo* a = found; a && listen_fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR only: a restart may bind through TIME_WAIT, but SO_REUSEPORT (cpp-httplib's
    // default) would let a second obsmon bind the same address and take half the requests.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) return Status::Unavailable(error);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string ip;
  int bound = 0;
  DescribeAddress(addr, &ip, &bound);
  return bound;
}

void GatedServer::Start() {
  if (started_ || listen_fd_ < 0) return;
  started_ = true;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  poller_ = std::thread([this] {
    NameThisThread("obsmon-http");
    PollLoop();
  });
  for (size_t i = 0; i < std::max<size_t>(1, options_.workers); ++i) {
    workers_.emplace_back([this] {
      NameThisThread("obsmon-http-w");
      WorkLoop(general_);
    });
  }
  workers_.emplace_back([this] {
    NameThisThread("obsmon-http-h");
    WorkLoop(fast_);
  });
}

void GatedServer::Stop() {
  if (!started_ || stopping_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  {
    // Under the lock, so no worker is between checking stopping_ and waiting.
    MutexLock lock(queue_mu_);
  }
  general_.cv.notify_all();
  fast_.cv.notify_all();
  // The workers first: the poller sends what their last answers left held, until it is out
  // or its write limits end it.
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  workers_done_ = true;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (poller_.joinable()) poller_.join();
  MutexLock lock(queue_mu_);
  for (Lane* lane : {&general_, &fast_}) {
    for (auto& conn : lane->ready) Uncount(*conn);
    lane->ready.clear();
  }
  for (auto& conn : returned_) Uncount(*conn);
  returned_.clear();
}

GateStats GatedServer::Stats() const {
  GateStats s;
  s.accepted = counters_.accepted;
  s.refused_per_client = counters_.refused_per_client;
  s.refused_total = counters_.refused_total;
  s.evicted = counters_.evicted;
  s.request_timeouts = counters_.request_timeouts;
  s.head_too_large = counters_.head_too_large;
  s.bad_framing = counters_.bad_framing;
  s.write_timeouts = counters_.write_timeouts;
  s.tls_handshake_failures = counters_.tls_handshake_failures;
  s.client_gone = counters_.client_gone;
  s.body_too_large = counters_.body_too_large;
  s.open = limits_.open() + probation_.open();
  s.busy = counters_.busy;
  s.output_held_bytes = output_budget_.held();
  return s;
}

// ---- the poller ----

void GatedServer::PollLoop() {
  std::vector<epoll_event> events(256);
  bool listening = true;
  for (;;) {
    if (stopping_) {
      if (listening) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        listening = false;
      }
      const bool last = workers_done_;  // read before: what they handed back is taken below
      TakeReturned();
      DropAllButAnswering();
      if (last && waiting_.empty()) break;
    }
    const SteadyTime next = NextDeadline();
    int timeout_ms = -1;
    if (next != SteadyTime::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          next - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
      if (tag == kListenTag) {
        if (!stopping_) AcceptReady();
      } else if (tag == kWakeTag) {
        uint64_t count = 0;
        (void)!::read(wake_fd_, &count, sizeof count);
        TakeReturned();
      } else {
        Progress(tag);
      }
    }
    ExpireWaiting(std::chrono::steady_clock::now());
  }
  for (auto& [id, conn] : waiting_) Uncount(*conn);
  waiting_.clear();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void GatedServer::AcceptReady() {
  // A bounded batch, so a connect flood cannot starve the requests already waiting.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the listening socket stays readable, so free one (the
      // longest-waiting connection) rather than spin; with none to free, pause briefly.
      if (errno == EMFILE || errno == ENFILE) {
        const auto idle = std::find_if(waiting_.begin(), waiting_.end(),
                                       [](const auto& w) { return !w.second->has_output(); });
        if (idle != waiting_.end()) {
          ++counters_.evicted;
          Drop(idle->first, nullptr);
          continue;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return;  // EAGAIN: all accepted
    }
    auto conn = std::make_unique<HttpConnection>();
    conn->fd = fd;
    DescribeAddress(addr, &conn->client, &conn->client_port);
    const auto verdict = limits_.Check(conn->client);
    if (verdict != ConnectionLimits::Verdict::kAdmit && !MakeRoom(conn->client, verdict)) {
      // Over its address's two, or over all places: the oldest still silent gives way (its
      // address's, or anyone's), so a health check's request, which comes with its connection,
      // outruns connections that never send one (fresh eyes, stop 63: 40 addresses x 2 silent
      // connections, reconnecting, held every place).
      const auto on_probation = probation_.Check(conn->client);
      if (on_probation != ConnectionLimits::Verdict::kAdmit) {
        DropOldestOnProbation(on_probation == ConnectionLimits::Verdict::kOverClient
                                  ? &conn->client
                                  : nullptr);
      }
      const auto over = verdict == ConnectionLimits::Verdict::kOverClient
                            ? HttpConnection::Probation::kOverClient
                            : HttpConnection::Probation::kOverTotal;
      if (probation_.Check(conn->client) != ConnectionLimits::Verdict::kAdmit) {
        CountRefused(over);
        continue;  // closed by conn's destructor
      }
      conn->probation = over;
    }
    // One on probation is counted accepted once its health check goes to a worker, else
    // refused: the two never both (fresh eyes, stop 63: the reasons summed over the accepted).
    if (conn->probation == HttpConnection::Probation::kNone) ++counters_.accepted;
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    DescribeAddress(local, &conn->local_ip, &conn->local_port);
    if (tls_) {
      conn->ssl = SSL_new(tls_);
      if (!conn->ssl) continue;
      SSL_set_fd(conn->ssl, fd);
      SSL_set_accept_state(conn->ssl);
      conn->handshake_done = false;
    }
    conn->id = next_id_++;
    conn->idle_since = std::chrono::steady_clock::now();
    if (conn->probation == HttpConnection::Probation::kNone) {
      limits_.Add(conn->client);
    } else {
      probation_.Add(conn->client);
    }
    const uint64_t id = conn->id;
    Watch(*conn, IoStatus::kWantRead, false);
    waiting_.emplace(id, std::move(conn));
    Progress(id);  // the request usually came with the connection
  }
}

// Closes the longest-waiting connection of `client` (over its own limit) or of anyone (over the
// total); false when every counted connection is being served.
bool GatedServer::MakeRoom(const std::string& client, ConnectionLimits::Verdict verdict) {
  // Connections the workers have answered and handed back still count; a client that opens its
  // next one as soon as it has read an answer (a loop of requests, each on a new connection) has
  // usually closed them. Taking them back reads their ends before anyone is evicted or refused.
  TakeReturned();
  // So may this client's answered ones whose end the poller has not read yet (their events are
  // behind the accepts): read it now, so that no live connection is evicted in their place. At
  // most its limit of reads, and none for connections that never had a whole request (a flood
  // of those costs the poller no system call each).
  if (verdict == ConnectionLimits::Verdict::kOverClient) {
    std::vector<uint64_t> answered;
    for (const auto& [id, conn] : waiting_) {
      if (conn->client == client && conn->served > 0) answered.push_back(id);
    }
    for (uint64_t id : answered) Progress(id);
  }
  if (limits_.Check(client) == ConnectionLimits::Verdict::kAdmit) return true;
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (verdict == ConnectionLimits::Verdict::kOverClient && it->second->client != client) {
      continue;
    }
    if (it->second->probation != HttpConnection::Probation::kNone) continue;  // frees no place
    if (it->second->has_output()) continue;  // being answered: as if a worker still wrote it
    // A lingering one was counted when it was answered (its error); closing it early is not a
    // second drop (fresh eyes, stop 63: the reasons added up to more than the connections).
    if (!it->second->lingering) ++counters_.evicted;
    Drop(it->first, nullptr);
    return limits_.Check(client) == ConnectionLimits::Verdict::kAdmit ||
           MakeRoom(client, limits_.Check(client));
  }
  // Every counted connection has a whole request. Those still queued for a worker whose clients
  // have gone (a reloaded page, a script's timed-out retries) hold a place for no one.
  if (ReleaseGoneQueued(verdict == ConnectionLimits::Verdict::kOverClient ? &client : nullptr) >
      0) {
    return limits_.Check(client) == ConnectionLimits::Verdict::kAdmit;
  }
  return false;
}

size_t GatedServer::ReleaseGoneQueued(const std::string* client) {
  std::vector<ConnectionPtr> gone;
  {
    MutexLock lock(queue_mu_);
    // The general lane only: a health check is answered at once, and a checker that half-closes
    // after its request (some do) still gets its answer.
    auto& ready = general_.ready;
    for (auto it = ready.begin(); it != ready.end();) {
      if ((client == nullptr || (*it)->client == *client) && PeerGone(**it)) {
        gone.push_back(std::move(*it));
        it = ready.erase(it);
      } else {
        ++it;
      }
    }
  }
  counters_.client_gone += gone.size();
  for (auto& conn : gone) Release(std::move(conn));
  return gone.size();
}

void GatedServer::Watch(HttpConnection& conn, IoStatus want, bool added) {
  epoll_event ev{};
  ev.events = want == IoStatus::kWantWrite ? EPOLLOUT : EPOLLIN;
  ev.data.u64 = conn.id;
  ::epoll_ctl(epoll_fd_, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, conn.fd, &ev);
}

void GatedServer::Progress(uint64_t id) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  HttpConnection& conn = *it->second;
  if (conn.lingering) return Linger(id);
  if (conn.has_output()) return SendHeld(id);
  IoStatus status = ContinueHandshake(conn);
  if (status == IoStatus::kError) {
    ++counters_.tls_handshake_failures;
    return Drop(id, nullptr);
  }
  const size_t cap = options_.max_head_bytes + options_.max_body_bytes;
  while (status == IoStatus::kOk) {
    const RequestHeadScan scan =
        ScanRequestHead(conn.pending(), options_.max_head_bytes, options_.max_body_bytes);
    if (scan.state == RequestHeadScan::State::kReady) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn.fd, nullptr);
      if (auto line = OriginFormRequestLine(conn.pending())) {
        conn.ReplacePendingPrefix(conn.pending().find('\n'), *line);
      }
      const std::string_view path = ReadOnlyRequestPath(conn.pending());
      const bool health = !path.empty() && std::find(options_.fast_lane_paths.begin(),
                                                     options_.fast_lane_paths.end(),
                                                     path) != options_.fast_lane_paths.end();
      if (conn.probation != HttpConnection::Probation::kNone && !health) {
        CountRefused(conn.probation);
        return Drop(id, kOverLimits);
      }
      if (conn.probation != HttpConnection::Probation::kNone) ++counters_.accepted;
      Lane& lane = health ? fast_ : general_;
      ConnectionPtr ready = std::move(it->second);
      waiting_.erase(it);
      {
        MutexLock lock(queue_mu_);
        lane.ready.push_back(std::move(ready));
      }
      lane.cv.notify_one();
      return;
    }
    if (scan.state == RequestHeadScan::State::kTooLarge) {
      ++counters_.head_too_large;
      return Drop(id, kHeadTooLarge);
    }
    if (scan.state == RequestHeadScan::State::kUriTooLong) {
      ++counters_.head_too_large;
      return Drop(id, kUriTooLong);
    }
    if (scan.state == RequestHeadScan::State::kBodyTooLarge) {
      ++counters_.body_too_large;
      return Drop(id, body_too_large_.c_str());
    }
    if (scan.state == RequestHeadScan::State::kLengthRequired) {
      ++counters_.bad_framing;
      return Drop(id, kLengthRequired);
    }
    if (scan.state == RequestHeadScan::State::kBadFraming) {
      ++counters_.bad_framing;
      return Drop(id, kBadFraming);
    }
    const bool was_empty = !conn.has_pending();
    status = ReceiveSome(conn, cap - conn.pending().size());
    if (status == IoStatus::kOk && was_empty) conn.first_byte = std::chrono::steady_clock::now();
  }
  if (status == IoStatus::kClosed || status == IoStatus::kError) return Drop(id, nullptr);
  Watch(conn, status, true);
}

void GatedServer::SendHeld(uint64_t id) {
  HttpConnection& conn = *waiting_.at(id);
  const IoStatus status = SendHeldOutput(conn);
  // A client gone before reading its answer: closed, uncounted, as when a worker's write failed.
  if (status == IoStatus::kClosed || status == IoStatus::kError) return Drop(id, nullptr);
  if (status != IoStatus::kOk) return Watch(conn, status, true);
  if (conn.close_after_output || stopping_) return Drop(id, nullptr);
  const SteadyTime now = std::chrono::steady_clock::now();
  conn.idle_since = now;
  conn.first_byte = now;  // of a pipelined request already buffered, if any
  Watch(conn, IoStatus::kWantRead, true);
  Progress(id);
}

void GatedServer::DropAllButAnswering() {
  std::vector<uint64_t> idle;
  for (const auto& [id, conn] : waiting_) {
    if (!conn->has_output()) idle.push_back(id);
  }
  for (uint64_t id : idle) Drop(id, nullptr);
}

void GatedServer::Linger(uint64_t id) {
  HttpConnection& conn = *waiting_.at(id);
  char sink[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(conn.fd, sink, sizeof sink, 0);
    if (n > 0) {
      conn.linger_bytes += static_cast<size_t>(n);
      if (conn.linger_bytes < kLingerBytes) continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // more may come; the deadline bounds the wait
    } else if (n < 0 && errno == EINTR) {
      continue;
    }
    break;  // the client's end, an error, or enough read
  }
  Drop(id, nullptr);
}

SteadyTime GatedServer::DeadlineOf(const HttpConnection& conn) const {
  if (conn.has_output()) {
    return std::min(conn.output_progress + options_.write_timeout, conn.output_deadline);
  }
  if (conn.lingering) return conn.idle_since + kLingerTime;
  if (conn.probation != HttpConnection::Probation::kNone) return conn.idle_since + kProbationWait;
  if (conn.has_pending()) return conn.first_byte + options_.request_timeout;
  // A new connection (TLS handshake included) must deliver its first request in
  // request_timeout; a kept-alive one may idle longer.
  return conn.idle_since + (conn.served == 0 ? options_.request_timeout : options_.idle_timeout);
}

SteadyTime GatedServer::NextDeadline() const {
  SteadyTime next = SteadyTime::max();
  for (const auto& [id, conn] : waiting_) next = std::min(next, DeadlineOf(*conn));
  return next;
}

void GatedServer::ExpireWaiting(SteadyTime now) {
  std::vector<uint64_t> expired;
  for (const auto& [id, conn] : waiting_) {
    if (DeadlineOf(*conn) <= now) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    HttpConnection& conn = *waiting_.at(id);
    if (conn.has_output()) {
      // Reading too slowly to open the socket again is still reading: the wait starts over
      // (within write_total). No byte read for write_timeout: the client stopped.
      const size_t unacknowledged = UnacknowledgedBytes(conn);
      if (unacknowledged < conn.unacknowledged && now < conn.output_deadline) {
        conn.output_progress = now;
        conn.unacknowledged = unacknowledged;
        continue;
      }
      ++counters_.write_timeouts;
      Drop(id, nullptr);
      continue;
    }
    if (conn.lingering) {  // answered already; its lingering is over
      Drop(id, nullptr);
      continue;
    }
    if (conn.probation != HttpConnection::Probation::kNone) {  // no health check came: refused
      CountRefused(conn.probation);
      Drop(id, nullptr);
      continue;
    }
    // Going quiet between requests is normal; stopping half-way through one is what is counted.
    const bool incomplete = conn.has_pending() || conn.served == 0;
    if (incomplete) ++counters_.request_timeouts;
    Drop(id, conn.has_pending() ? kRequestTimeout : nullptr);
  }
}

void GatedServer::Drop(uint64_t id, const char* response) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  HttpConnection& conn = *it->second;
  if (response && conn.handshake_done) {
    size_t written = 0;
    (void)SendSome(conn, response, &written);  // best effort: never wait for this client
    if (!conn.ssl && !conn.lingering && ::shutdown(conn.fd, SHUT_WR) == 0) {
      // Linger: read and drop what the client still sends (see kLingerTime). It stays among
      // the waiting, so that its limit counts it and a newcomer may evict it.
      conn.lingering = true;
      conn.idle_since = std::chrono::steady_clock::now();
      conn.Consume(conn.pending().size());
      Watch(conn, IoStatus::kWantRead, true);  // it is registered: it was waiting
      return Linger(id);
    }
  }
  ConnectionPtr gone = std::move(it->second);
  waiting_.erase(it);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, gone->fd, nullptr);
  Release(std::move(gone));
}

void GatedServer::CountRefused(HttpConnection::Probation over) {
  (over == HttpConnection::Probation::kOverClient ? counters_.refused_per_client
                                                  : counters_.refused_total)++;
}

void GatedServer::Uncount(const HttpConnection& conn) {
  if (conn.probation == HttpConnection::Probation::kNone) {
    limits_.Remove(conn.client);
  } else {
    probation_.Remove(conn.client);
  }
}

void GatedServer::DropOldestOnProbation(const std::string* client) {
  for (const auto& [id, conn] : waiting_) {  // by id: the oldest first
    if (conn->probation == HttpConnection::Probation::kNone || conn->has_output() ||
        (client != nullptr && conn->client != *client)) {
      continue;
    }
    if (!conn->lingering) {  // a lingering one was counted when it was refused with its 503
      CountRefused(conn->probation);
    }
    return Drop(id, nullptr);
  }
}

void GatedServer::Release(ConnectionPtr conn) {
  Uncount(*conn);
  conn.reset();
}

void GatedServer::TakeReturned() {
  std::vector<ConnectionPtr> back;
  {
    MutexLock lock(queue_mu_);
    back.swap(returned_);
  }
  for (auto& conn : back) {
    const uint64_t id = conn->id;
    Watch(*conn, conn->has_output() ? IoStatus::kWantWrite : IoStatus::kWantRead, false);
    waiting_.emplace(id, std::move(conn));
    Progress(id);  // a pipelined request may already be buffered
  }
}

// ---- the workers ----

void GatedServer::WorkLoop(Lane& lane) {
  // One client address is served by at most max_workers_per_client (half) of the general
  // workers at once (a client that does not read its answers holds a worker until
  // write_timeout: from one address, eight such requests a second held every worker and
  // /metrics took 3-9 s; fresh eyes, stop 63). Its next request waits while others' go first.
  const size_t per_client = std::clamp<size_t>(options_.max_workers_per_client, 1,
                                               std::max<size_t>(1, options_.workers));
  auto next = [&]() {
    queue_mu_.AssertHeld();
    if (&lane != &general_ || stopping_) return lane.ready.begin();
    return std::find_if(lane.ready.begin(), lane.ready.end(), [&](const ConnectionPtr& c) {
      queue_mu_.AssertHeld();
      const auto it = serving_.find(c->client);
      return it == serving_.end() || it->second < per_client;
    });
  };
  for (;;) {
    ConnectionPtr conn;
    {
      MutexLock lock(queue_mu_);
      lane.cv.wait(lock.native(), [&] {
        queue_mu_.AssertHeld();  // the predicate runs with the lock held
        return stopping_ || next() != lane.ready.end();
      });
      const auto it = next();
      if (it == lane.ready.end()) return;  // stopping, nothing left
      conn = std::move(*it);
      lane.ready.erase(it);
      if (&lane == &general_) ++serving_[conn->client];
    }
    const std::string client = &lane == &general_ ? conn->client : std::string();
    ServeOrDrop(std::move(conn));
    if (&lane == &general_) {
      {
        MutexLock lock(queue_mu_);
        if (--serving_[client] == 0) serving_.erase(client);
      }
      general_.cv.notify_all();  // that client's next request may go now
    }
  }
}

void GatedServer::ServeOrDrop(ConnectionPtr conn) {
  // A reset while it waited in the queue: nobody will read the answer. (A half-close is not
  // taken for gone here: `printf 'GET /metrics ...' | nc -N` gets its answer; fresh eyes, stop
  // 63. Only a report's wait, which can be long, takes it so.)
  if (PeerGone(*conn, /*half_close_counts=*/false)) {
    ++counters_.client_gone;
    return Release(std::move(conn));
  }
  Serve(std::move(conn));
}

void GatedServer::Serve(ConnectionPtr conn) {
  ++counters_.busy;
  ConnectionStream::Limits limits;
  limits.read_deadline = conn->first_byte + options_.request_timeout;
  limits.read_budget = options_.max_head_bytes + options_.max_body_bytes;
  limits.write_timeout = options_.write_timeout;
  limits.write_total = options_.write_total;
  conn->budget = &output_budget_;
  ConnectionStream stream(*conn, limits);
  served_connection = conn.get();
  const bool close_connection = stopping_ || conn->served + 1 >= options_.keep_alive_max ||
                                conn->probation != HttpConnection::Probation::kNone;
  bool connection_closed = false;
  bool ok = false;
  last_status = 0;
  try {
    ok = process_request(stream, close_connection, connection_closed, nullptr);
  } catch (...) {
    ok = false;  // handlers' exceptions are answered by the exception handler; this is I/O
  }
  served_connection = nullptr;
  ++conn->served;
  --counters_.busy;
  if (last_status == 499) ++counters_.client_gone;  // a handler gave up on a client that left
  if (stream.read_timed_out()) ++counters_.request_timeouts;
  if (stream.write_timed_out()) ++counters_.write_timeouts;
  // After a request cpp-httplib could not parse or take whole (400, 408, 413, 414, 431) the
  // rest of the bytes cannot be trusted to start a request: it would read on from inside the
  // bad one (a request smuggled in a header or body was executed that way). Close instead.
  const bool framing_error = last_status == 400 || last_status == 408 || last_status == 413 ||
                             last_status == 414 || last_status == 431;
  const bool close = connection_closed || close_connection || stopping_ || framing_error;
  // Not ok: a read or write failed or timed out, and what is held cannot make a whole answer.
  if (!ok || (close && !conn->has_output())) return Release(std::move(conn));
  const SteadyTime now = std::chrono::steady_clock::now();
  if (conn->has_output()) {  // the poller sends the rest, then reads on or closes
    conn->close_after_output = close;
    conn->output_deadline = stream.write_deadline();
    conn->output_progress = now;
    conn->unacknowledged = UnacknowledgedBytes(*conn);
  }
  conn->idle_since = now;
  conn->first_byte = now;  // of a pipelined request already buffered, if any
  {
    MutexLock lock(queue_mu_);
    returned_.push_back(std::move(conn));
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

}  // namespace obsmon
