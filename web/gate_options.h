// The limits of obsmon's HTTP connection gate (web/gated_server.h) and its counters, apart
// from the gate itself so that configuring it needs neither cpp-httplib nor OpenSSL.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace obsmon {

struct GateOptions {
  size_t max_connections = 512;
  size_t max_connections_per_client = 64;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{10'000};  // each wait for the client to read
  std::chrono::milliseconds write_total{60'000};    // a whole response
  // Answers held for clients that read them slower than they were written, sent by the poller
  // so that the worker is free (web/output_budget.h): in all, and for one client address.
  size_t output_buffer_bytes = 64 << 20;
  size_t output_buffer_per_client_bytes = 16 << 20;
  size_t workers = 8;
  // Of the general workers, how many one client address may hold at once (its other requests
  // wait while others' go first). Behind a reverse proxy every client is the proxy: set workers.
  size_t max_workers_per_client = 4;
  size_t max_head_bytes = 64 * 1024;
  size_t max_body_bytes = 64 * 1024;
  int keep_alive_max = 100;  // requests per connection
  // GET/HEAD requests for these paths are answered by a worker of their own, so that a queue of
  // heavy requests (a 10 MB /metrics, reports) never delays a health check behind it.
  std::vector<std::string> fast_lane_paths = {"/healthz", "/-/healthy", "/-/ready"};
};

// Counters since start, and what is open now.
struct GateStats {
  uint64_t accepted = 0;
  uint64_t refused_per_client = 0;  // over the per-client limit with nothing to make room
  uint64_t refused_total = 0;       // over the total limit with nothing to make room
  uint64_t evicted = 0;             // idle or incomplete connections closed to make room
  uint64_t request_timeouts = 0;    // a request not whole within request_timeout (408)
  uint64_t head_too_large = 0;      // 431
  uint64_t body_too_large = 0;      // 413: a declared length over max_body_bytes
  uint64_t bad_framing = 0;         // 400: ambiguous request length (RFC 9112 §6.3)
  uint64_t write_timeouts = 0;
  uint64_t tls_handshake_failures = 0;
  uint64_t client_gone = 0;         // closed by the client before a worker answered its request
  size_t open = 0;
  size_t busy = 0;  // being served by a worker
  size_t output_held_bytes = 0;  // answers' ends held for their clients (output_buffer_bytes)
  // Reports answered 503: the address had its share of the places, all places were taken, or
  // no slot came within the wait (filled in by HttpServer, which owns the report places).
  uint64_t reports_refused_per_client = 0;
  uint64_t reports_refused_total = 0;
  uint64_t reports_refused_wait = 0;
};

}  // namespace obsmon
