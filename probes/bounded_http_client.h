// cpp-httplib's HTTP client with a bound on what a target's response may cost before obsmon's
// own checks see it. httplib reads the status line and headers into growing strings and a map
// with no limit: a target answering with a 10 MB header line took 228 MB of obsmon's memory, 100k
// headers 140 MB. Here every byte httplib reads passes through a stream that counts: a response
// head (status line and headers, each interim 1xx head included) may be at most
// `max_head_bytes`; after it, at most `max_after_head_bytes` (body, chunk framing, trailers).
// Past either, the read fails and Overflow() says why. The probes bound the body they keep
// themselves (max_body_bytes, body_size_limit); this bounds what httplib keeps.
//
// The TLS handshake is not read through that stream: httplib's SSLClient runs it under its own
// per-wait timeouts, holding the client's socket mutex (so httplib's stop() waits for it too).
// A server sending its handshake a byte every 0.3 s held an https probe 120 s past a 2 s timeout,
// its worker, remote_write's windows and obsmon's shutdown (fresh eyes, issue 17). So the budget
// also keeps the client's socket and shuts it down once its deadline passes, from a watchdog
// thread: the handshake then fails at once, as a timeout.
//
// Redirects: a client made here follows none itself (httplib would make an unbounded client for
// another origin); the http probe follows them with a new bounded client per hop.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "core/mutex.h"
#include "probes/deadline_watchdog.h"

namespace obsmon::probes {

struct ResponseLimits {
  size_t max_head_bytes = 64 * 1024;
  size_t max_after_head_bytes = 16u << 20;
  // No read or write waits past this, however the bytes trickle: httplib's timeouts are per
  // read, and a target sending a header byte every 0.3 s (or "100 Continue" for ever) held a
  // scrape, its worker and obsmon's shutdown for good.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // When set and cancelled (the daemon stopping), the cut comes at once, not at `deadline`.
  const Cancellation* cancellation = nullptr;
};

// What the streams of one client read, shared with the client; thread-safe (a watchdog may ask).
class ResponseBudget {
 public:
  explicit ResponseBudget(ResponseLimits limits) : limits_(limits) {}
  ~ResponseBudget();
  ResponseBudget(const ResponseBudget&) = delete;
  ResponseBudget& operator=(const ResponseBudget&) = delete;
  const ResponseLimits& limits() const { return limits_; }
  // "" while within the limits; otherwise why the response was cut.
  std::string Overflow() const;
  void SetOverflow(std::string reason);
  // The client made a socket (called on the client's thread, before it connects): the budget
  // keeps a duplicate of it, ours to close, so that the cut at the deadline can never reach
  // another socket that took the number, and arms the cut (once) for limits().deadline.
  void TrackSocket(int fd);

 private:
  void Cut();

  const ResponseLimits limits_;
  mutable Mutex mu_;
  std::string overflow_ GUARDED_BY(mu_);
  int socket_ GUARDED_BY(mu_) = -1;
  bool cut_ GUARDED_BY(mu_) = false;
  std::unique_ptr<DeadlineWatchdog::Watch> watch_;  // the client's thread only
};

// A client for "http" or "https" to host:port whose reads are bounded by `budget` (which must
// outlive it). Redirects are not followed.
std::unique_ptr<httplib::ClientImpl> MakeBoundedClient(const std::string& scheme,
                                                       const std::string& host, int port,
                                                       ResponseBudget& budget);

}  // namespace obsmon::probes
