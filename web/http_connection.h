// One accepted client connection of obsmon's HTTP server and the non-blocking I/O on it (plain or
// TLS), for the connection gate (web/gated_server.h). A connection is owned by exactly one
// thread at a time: the gate's poller while its request arrives, then one worker while it is
// served. ConnectionStream lets cpp-httplib parse and answer a request over it with deadlines
// for the whole request, not per read.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "web/output_budget.h"

namespace obsmon {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class IoStatus {
  kOk,          // some bytes moved
  kWantRead,    // nothing now; wait for the socket to be readable
  kWantWrite,   // nothing now; wait for it to be writable (TLS renegotiation, full buffer)
  kClosed,      // the peer closed
  kError,
};

struct HttpConnection;
// Appends up to `max_bytes` that can be read now to the connection's pending bytes.
IoStatus ReceiveSome(HttpConnection& conn, size_t max_bytes);
// Keeps `data` to be sent after what the connection already holds, if its budget lends the
// bytes for its client; false (nothing kept) when there is no budget or it is spent.
bool HoldOutput(HttpConnection& conn, std::string_view data);
// Sends what it can of the held output now, giving the bytes sent back to the budget: kOk once
// all is out, kWantWrite (or kWantRead, TLS) when the socket takes no more, else kClosed/kError.
IoStatus SendHeldOutput(HttpConnection& conn);

struct HttpConnection {
  HttpConnection() = default;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  // Closes (TLS: sends close_notify if it can, without waiting); held output is given back to
  // the budget unsent.
  ~HttpConnection();

  uint64_t id = 0;
  int fd = -1;            // non-blocking
  SSL* ssl = nullptr;     // TLS connections only; owned
  bool handshake_done = true;
  std::string client;     // remote IP: the unit of the per-client limit
  int client_port = 0;
  std::string local_ip;
  int local_port = 0;
  // Received but not yet consumed by the request parser: what the gate scans for a whole
  // request, and what a pipelined next request leaves behind. cpp-httplib reads a request line
  // by line, a byte per call: consuming advances an offset, it never moves the rest.
  std::string_view pending() const { return std::string_view(in_).substr(in_pos_); }
  bool has_pending() const { return in_pos_ < in_.size(); }
  void Consume(size_t n);
  // Puts `line` in place of the pending bytes' first `n` (a request line rewritten in place).
  void ReplacePendingPrefix(size_t n, std::string_view line);
  SteadyTime idle_since{};   // waiting for the first byte of a request since then
  SteadyTime first_byte{};   // the current request's first byte arrived then (while has_pending())
  int served = 0;            // requests answered on this connection
  // Let in over a limit (GatedServer's probation): answered only for a health check.
  enum class Probation { kNone, kOverClient, kOverTotal };
  Probation probation = Probation::kNone;
  bool lingering = false;    // answered with an error and half-closed; its bytes are dropped
  size_t linger_bytes = 0;   // dropped so far

  // The end of an answer its client has not read yet (web/output_budget.h), which the gate's
  // poller sends as the socket takes it; `budget` lent the bytes.
  bool has_output() const { return out_pos_ < out_.size(); }
  size_t held_output() const { return out_.size() - out_pos_; }
  OutputBudget* budget = nullptr;
  bool close_after_output = false;  // the answer is the connection's last
  SteadyTime output_deadline{};     // the whole answer must be out by then (write_total)
  SteadyTime output_progress{};     // bytes last went out or were read then (write_timeout)
  size_t unacknowledged = 0;        // UnacknowledgedBytes() at output_progress

 private:
  friend IoStatus ReceiveSome(HttpConnection& conn, size_t max_bytes);
  friend bool HoldOutput(HttpConnection& conn, std::string_view data);
  friend IoStatus SendHeldOutput(HttpConnection& conn);
  std::string in_;
  size_t in_pos_ = 0;
  std::string out_;
  size_t out_pos_ = 0;
};

// Advances a TLS handshake; kOk once done (plain connections are always done).
IoStatus ContinueHandshake(HttpConnection& conn);
// Writes what it can of `data` now; `*written` says how much.
IoStatus SendSome(HttpConnection& conn, std::string_view data, size_t* written);
// Bytes written to the socket that the client has not acknowledged yet (SIOCOUTQ). When it
// shrinks, the client is reading: a client reading slowly gets no writable event until half the
// kernel's buffer (megabytes) has drained, and was taken for one that stopped (fresh eyes, stop
// 64: 50 KiB/s was cut at write_timeout).
size_t UnacknowledgedBytes(const HttpConnection& conn);
// Whether the client has closed the connection, or at least its sending half, or reset it: a
// look at the socket that neither waits nor reads. A client waiting for an answer does neither,
// but for one that half-closes after its request (`nc -N`): nginx takes the same sign for
// "client closed request" (its 499) while a request waits on something slow. With
// `half_close_counts` false, only a reset (or both halves shut) counts.
bool PeerGone(const HttpConnection& conn, bool half_close_counts = true);
// Waits until `want` (kWantRead/kWantWrite) is possible or `deadline` passes; false on timeout.
bool WaitFor(const HttpConnection& conn, IoStatus want, SteadyTime deadline);

// cpp-httplib's view of a connection while a worker serves one request on it. Reads come from
// the pending bytes first; together they may not exceed `read_budget` bytes nor go past `read_deadline`
// (the whole request, however slowly it trickles); each write waits at most `write_timeout`
// and the whole response must be out by `write_deadline`, counted from its first byte. What the
// client does not take at once is held on the connection while the connection's budget allows
// (HoldOutput), for the gate's poller to send; past the budget a write waits as above.
class ConnectionStream final : public httplib::Stream {
 public:
  struct Limits {
    SteadyTime read_deadline;
    size_t read_budget = 0;
    std::chrono::milliseconds write_timeout{10'000};
    std::chrono::milliseconds write_total{60'000};
  };

  ConnectionStream(HttpConnection& conn, Limits limits) : conn_(conn), limits_(limits) {}

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return conn_.fd; }

  // Once the request is parsed and answered: whether a read or write hit a limit (the
  // connection is then closed, and the gate counts why).
  bool read_timed_out() const { return read_timed_out_; }
  bool write_timed_out() const { return write_timed_out_; }
  // When the whole response must be out (from its first byte); SteadyTime{} before any write.
  SteadyTime write_deadline() const { return write_deadline_; }

 private:
  // Sends the connection's held output, waiting for the client within the write limits.
  bool SendHeldWaiting();
  // Waits until the socket takes more, while the client keeps reading (write_timeout without
  // it reading anything ends the wait) and until the whole answer's deadline.
  bool WaitWritable(IoStatus want);

  HttpConnection& conn_;
  Limits limits_;
  size_t read_so_far_ = 0;
  bool writing_ = false;
  SteadyTime write_deadline_{};
  bool read_timed_out_ = false;
  bool write_timed_out_ = false;
};

}  // namespace obsmon
