// cpp-httplib's request handling behind obsmon's own accept loop: the connection gate.
//
// cpp-httplib 0.11 (Debian 12) gives each accepted connection a worker thread from the start and
// bounds only each read: a client that sends a header byte every few seconds keeps a worker for
// ever, and a thousand such clients lock out every other request, /healthz included. Here one
// poller thread accepts and holds connections while their requests arrive, cheaply, and a worker
// sees a connection only once its whole request is buffered. Bounded, each with a counter:
//   - time from a request's first byte (or from accept) to the whole request: request_timeout;
//   - time a kept-alive connection may wait for its next request: idle_timeout;
//   - open connections per client address and in total: a new connection over a limit takes the
//     place of that client's (or, over the total, anyone's) longest-waiting idle or incomplete
//     one; when there is none it is let in on probation (a few at once, briefly) and answered
//     only if its request is a health check; a request that has arrived is never dropped;
//   - the size of a request head (431 beyond) and of a body read (httplib's 413 beyond);
//   - writing a response: each wait and the whole. What a client does not read at once is held
//     (bounded in total and per client, web/output_budget.h) and sent by the poller, so that a
//     client that does not read holds no worker; past the bound the worker waits, as before.
// Routing, parsing and answering stay cpp-httplib's (Server::process_request), so behaviour is
// unchanged for well-behaved clients. TLS (OpenSSL) is driven the same way, handshake included.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "web/connection_limits.h"
#include "web/gate_options.h"
#include "web/http_connection.h"
#include "web/output_budget.h"

namespace obsmon {

class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(GateOptions options);
  ~GatedServer() override;

  // Serve HTTPS only, with this certificate chain and key (PEM). Before Bind().
  Status EnableTls(const std::string& cert_file, const std::string& key_file);
  // Binds and listens (SO_REUSEADDR only, so a second obsmon cannot share the port); port 0
  // picks one. Returns the port.
  Result<int> Bind(const std::string& host, int port);
  // Starts the poller and the workers.
  void Start();
  // Stops accepting, closes waiting connections, lets requests being served finish and their
  // answers go out (bounded by the write limits) and joins every thread. Idempotent.
  void Stop();

  GateStats Stats() const;

  // On a worker serving a request: whether its client has closed the connection since (see
  // PeerGone), so that a handler with a long wait ahead can give up on it. False elsewhere.
  static bool ServedClientGone();

 private:
  using ConnectionPtr = std::unique_ptr<HttpConnection>;

  void PollLoop();
  void AcceptReady();
  bool MakeRoom(const std::string& client, ConnectionLimits::Verdict verdict);
  // Reads what has arrived; hands the connection to a worker once its request is whole.
  void Progress(uint64_t id);
  void Watch(HttpConnection& conn, IoStatus want, bool added);
  void ExpireWaiting(SteadyTime now);
  SteadyTime NextDeadline() const;
  SteadyTime DeadlineOf(const HttpConnection& conn) const;
  // Closes a waiting connection, first telling the client why in one non-blocking write (then
  // lingers: half-closes and reads what the client still sends, for a while, before closing).
  void Drop(uint64_t id, const char* response);
  // Reads and drops what a lingering connection's client sends; closes it at the client's end.
  void Linger(uint64_t id);
  void Release(ConnectionPtr conn);
  void TakeReturned();
  // Sends what the connection holds of its answer; then reads its next request, or closes it.
  void SendHeld(uint64_t id);
  // At stop: closes every waiting connection but those whose answers are still going out.
  void DropAllButAnswering();
  // Closes the queued connections (of `client`, or of anyone when null) whose clients have gone
  // before a worker took them; how many.
  size_t ReleaseGoneQueued(const std::string* client);

  struct Lane {
    std::condition_variable cv;
    // Whole requests for workers. Guarded by GatedServer::queue_mu_, unchecked: an annotation in
    // a nested struct cannot name the enclosing object's mutex.
    std::deque<ConnectionPtr> ready;
  };
  void WorkLoop(Lane& lane);
  // Serves a connection taken from a lane, or drops it when its client reset it meanwhile.
  void ServeOrDrop(ConnectionPtr conn);
  void Serve(ConnectionPtr conn);
  // A connection refused for the limit it was over (per_client or total).
  void CountRefused(HttpConnection::Probation over);
  // Gives back the connection's place: in the limits, or on probation.
  void Uncount(const HttpConnection& conn);
  // Closes the oldest connection on probation still waiting for its request, of `client` or of
  // anyone (null); it is counted refused.
  void DropOldestOnProbation(const std::string* client);

  const GateOptions options_;
  ConnectionLimits limits_;
  OutputBudget output_budget_;  // before the connections, which give its bytes back
  const std::string body_too_large_;  // the whole 413 answer
  SSL_CTX* tls_ = nullptr;  // owned; null: plain HTTP
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop, or connections returned by workers
  std::atomic<bool> stopping_{false};
  std::atomic<bool> workers_done_{false};  // at stop: no worker will hand back a connection
  bool started_ = false;
  std::thread poller_;
  std::vector<std::thread> workers_;
  uint64_t next_id_ = 2;  // 0 and 1 tag the listening socket and the wake fd in epoll
  // Connections let in over the limits for a health check (not in limits_). Any thread releases.
  ConnectionLimits probation_;

  // Waiting for their requests; only the poller touches this.
  std::map<uint64_t, ConnectionPtr> waiting_;

  Mutex queue_mu_;
  Lane general_;
  Lane fast_;  // health checks (GateOptions::fast_lane_paths), one worker of their own
  std::vector<ConnectionPtr> returned_ GUARDED_BY(queue_mu_);  // kept alive, back to the poller
  std::map<std::string, size_t> serving_ GUARDED_BY(queue_mu_);  // general workers per client

  struct Counters {
    std::atomic<uint64_t> accepted{0}, refused_per_client{0}, refused_total{0}, evicted{0},
        request_timeouts{0}, head_too_large{0}, bad_framing{0}, write_timeouts{0},
        tls_handshake_failures{0}, client_gone{0}, body_too_large{0};
    std::atomic<size_t> busy{0};
  };
  Counters counters_;
};

}  // namespace obsmon
