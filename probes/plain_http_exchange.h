// obsmon's own client for the http probe's common case: plain http to a numeric address, no
// redirects followed. One exchange is one non-blocking socket driven by its caller's poll():
// socket(SOCK_NONBLOCK), one setsockopt (below), connect, send, recvmsg until the response is
// complete, close. Nothing else: no fcntl pairs, no shutdown, no thread of its own
// (cpp-httplib's path costs 17 syscalls a run more, docs/benchmarks.md, "Probing"), so that one
// thread can drive many exchanges at once (the scheduler's batches, runtime/scheduler.h).
//
// The response is read by HttpResponseParser with the probe's bounds. The deadline is the
// caller's: it calls TimedOut() when it passes. Everything else (https, redirects, host names
// to resolve) goes through cpp-httplib (http_probe.cc).
//
// With the probe's keep_alive, an exchange may start on the connection of the probe's previous
// run (Start(fd)) and hand its own back when the response allows it (TakeReusable()); a kept
// connection the peer closed meanwhile is replaced by a fresh one within the same run, as Go's
// and curl's clients do, so a server's idle timeout never makes a run down.
//
// The socket asks the kernel to timestamp what it receives (SO_TIMESTAMPNS, one setsockopt per
// connection): answer_waited() is how long the response's last bytes sat in the socket before
// they were read, which the runner takes off the run's duration, so that the worker's wake-up
// (late on a busy machine, or while it ends other runs of its batch first) does not lengthen
// the latency obsmon reports.
//
// Not thread-safe: one thread drives an exchange. The exchange owns its socket and closes it
// when it finishes or is destroyed, unless TakeReusable() took it.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "probes/http_response_parser.h"
#include "probes/url.h"

namespace obsmon::probes {

// What every run of one probe sends, and where: built once per probe.
struct PlainHttpTarget {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string request;  // the request's bytes: head and body
  bool head_request = false;
  // The request lets the connection carry the next one (keep_alive set, no "Connection: close"
  // among the configured headers).
  bool persistent = false;
};

// The target for `url` when obsmon's client can serve it (http to a numeric IPv4 or IPv6
// address); nullopt otherwise. The request carries Host, Accept: */*, User-Agent: obsmon and
// Connection: close (none with `keep_alive`: HTTP/1.1 keeps the connection by default) unless
// `headers` sets them, then `headers`, then the body with its Content-Length (and Content-Type:
// text/plain unless set), as cpp-httplib's path sends them.
std::optional<PlainHttpTarget> PreparePlainHttp(const HttpUrl& url, const std::string& method,
                                                const std::map<std::string, std::string>& headers,
                                                const std::optional<std::string>& body,
                                                bool keep_alive = false);

class PlainHttpExchange {
 public:
  // `target` must outlive the exchange.
  PlainHttpExchange(const PlainHttpTarget& target, HttpParseLimits limits);
  ~PlainHttpExchange();
  PlainHttpExchange(const PlainHttpExchange&) = delete;
  PlainHttpExchange& operator=(const PlainHttpExchange&) = delete;

  // Opens the socket, connects and sends what it can without waiting. With `kept_fd` >= 0 (a
  // connection TakeReusable() gave, now owned by the exchange) it sends on that one instead,
  // unless the peer has closed it or sent something unasked (then a fresh one).
  void Start(int kept_fd = -1);
  // The socket to poll and for what (POLLOUT while connecting or sending, POLLIN while
  // reading); -1 once finished.
  int fd() const { return done_ ? -1 : fd_; }
  short events() const;
  // poll() reported `revents` on fd(): moves the exchange on as far as it can without waiting.
  void OnReady(short revents);
  // The deadline passed: the exchange ends, timed out.
  void TimedOut();

  bool done() const { return done_; }
  bool timed_out() const { return timed_out_; }
  // Why there is no response to judge ("connection refused", "response head larger than ...",
  // "connection closed before a response"); "" when there is one (or when timed out).
  const std::string& failure() const { return failure_; }
  // The response; complete (or capped at max_body_bytes) when done with no failure.
  HttpResponseParser& response() { return parser_; }
  // The request went on a kept connection (not a fresh one).
  bool reused() const { return reused_; }
  // Once done: the connection, for the probe's next run, when both the request and the
  // response allow it (the caller owns it then); else -1.
  int TakeReusable();
  // Once done with a response: how long its last bytes waited in the socket before they were
  // read (the kernel's receive timestamp against the time of the read); 0 when not known.
  std::chrono::nanoseconds answer_waited() const { return answer_waited_; }
  // The kernel timed the arrival of the response's last bytes (answer_waited() is known).
  bool answer_stamped() const { return answer_stamped_; }
  // The response's bytes read so far, head and body.
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  enum class Phase { kSending, kReading };
  void Send();
  void Receive();
  void Finish(std::string failure);
  void Connect();
  // A kept connection failed before a byte of the response came (the peer closed it as the
  // request went): true when the request was sent again on a fresh connection.
  bool RetryFresh();

  const PlainHttpTarget& target_;
  const HttpParseLimits limits_;
  HttpResponseParser parser_;
  int fd_ = -1;
  int kept_fd_ = -1;  // the socket, held past Finish() when the exchange may hand it on
  bool reused_ = false;
  bool got_bytes_ = false;  // a byte of the response arrived
  Phase phase_ = Phase::kSending;
  size_t sent_ = 0;
  bool connected_ = false;  // a byte was sent: errors from here on are not the connect's
  bool done_ = false;
  bool timed_out_ = false;
  std::chrono::nanoseconds answer_waited_{0};
  bool answer_stamped_ = false;
  uint64_t bytes_received_ = 0;
  std::string failure_;
};

}  // namespace obsmon::probes
