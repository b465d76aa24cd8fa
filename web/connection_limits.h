// Counts open connections per client address and in total, for the connection gate. A client may
// hold at most `per_client` connections and all clients together `total`; what happens to the
// connection that would exceed a limit (refuse it, or close an idle one to make room) is the
// gate's choice. Thread-safe: the gate's poller adds, any worker may remove.
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
