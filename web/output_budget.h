// Bytes of answers the HTTP server holds for clients that read them slower than a worker wrote
// them, so that the worker goes on to the next request while the gate's poller sends the rest
// as the client reads (as nginx's event loop does). A client that never reads would otherwise
// hold a worker until write_timeout; from two addresses, every worker (fresh eyes, stop 63).
// Bounded in total and per client address: past either, a worker writes the rest itself and
// waits for the client as before. Thread-safe: workers take, the poller gives back.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "core/mutex.h"

namespace obsmon {

class OutputBudget {
 public:
  OutputBudget(size_t total, size_t per_client) : total_(total), per_client_(per_client) {}

  // Takes `bytes` for `client` if both its share and the total allow; false (nothing taken)
  // otherwise.
  bool Take(const std::string& client, size_t bytes);
  // Gives back bytes taken for `client` (sent, or dropped with their connection).
  void Give(const std::string& client, size_t bytes);

  size_t held() const;
  size_t HeldFor(const std::string& client) const;

 private:
  const size_t total_;
  const size_t per_client_;
  mutable Mutex mu_;
  size_t held_ GUARDED_BY(mu_) = 0;
  std::map<std::string, size_t> by_client_ GUARDED_BY(mu_);  // no zero entries
};

}  // namespace obsmon
