// A TCP connect that respects a Deadline and says why it failed in words a human understands.
// Used by the tcp probe, and by the http probe to name the cause of a failed connection.
// Thread-safe (no shared state). Name resolution uses the system resolver (getaddrinfo), which
// cannot be interrupted: a resolver that hangs can hold the caller past the deadline.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "probes/url.h"

namespace obsmon::probes {

struct ConnectOutcome {
  enum class Kind { kConnected, kDnsFailed, kRefused, kTimeout, kUnreachable, kOther };
  Kind kind = Kind::kOther;
  int fd = -1;         // owned by the caller when kConnected (blocking mode restored); else -1
  std::string reason;  // empty when connected; "connection refused", "dns lookup failed for x"..
                       // (a timeout says just "timeout": the caller knows the configured value)
  bool ok() const { return kind == Kind::kConnected; }
};

// Resolves `target` and tries each address in turn (non-blocking connect + poll) until one
// connects or `deadline` passes. Throws when this process is out of descriptors or local ports
// (ThrowIfOutOfResources, probe_helpers.h): not the target's failure.
ConnectOutcome TcpConnect(const HostPort& target, const Deadline& deadline, const Clock& clock);

// Resolves `host` to one numeric address ("127.0.0.1", "::1"), or Unavailable with the message
// "dns lookup failed for <host>: <why>".
Result<std::string> ResolveHost(const std::string& host);

}  // namespace obsmon::probes
