// Counts places per client address and in total: the connection gate's open connections, the
// HTTP server's reports asked for. A client may hold at most `per_client` places and all clients
// together `total`; what happens to the one that would exceed a limit (refuse it, or close an
// idle connection to make room) is the caller's choice. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "core/mutex.h"

namespace obsmon {

class ConnectionLimits {
 public:
  enum class Verdict { kAdmit, kOverClient, kOverTotal };

  ConnectionLimits(size_t total, size_t per_client) : total_(total), per_client_(per_client) {}

  // Whether one more connection from `client` fits now.
  Verdict Check(const std::string& client) const;
  void Add(const std::string& client);
  // Check and, when it fits, Add, at once (two threads cannot both take the last place); with
  // both limits reached, kOverTotal.
  Verdict TryAdd(const std::string& client);
  void Remove(const std::string& client);

  size_t open() const;
  size_t OpenBy(const std::string& client) const;
  size_t total_limit() const { return total_; }
  size_t per_client_limit() const { return per_client_; }

 private:
  const size_t total_;
  const size_t per_client_;
  mutable Mutex mu_;
  size_t open_ GUARDED_BY(mu_) = 0;
  std::map<std::string, size_t> by_client_ GUARDED_BY(mu_);  // no zero entries
};

}  // namespace obsmon
