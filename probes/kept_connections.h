// How many connections the http probes' keep_alive may hold open between runs, process-wide:
// half the soft open-files limit the daemon runs with (read at the first keep), less 64. A kept
// connection is an open file for as long as it waits; past this budget a run closes its
// connection as it would without keep_alive, so kept connections never starve the database,
// the HTTP listener or the fresh connections of other probes of descriptors (fresh eyes: 100
// probes with keep_alive under a hard limit of 64 made runs fail with "Too many open files"
// and the database unopenable). /metrics shows both figures.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace obsmon::probes {

class KeptConnections {
 public:
  // The process's budget.
  static KeptConnections& Instance();

  // Counts one more kept connection; false when the budget is spent (the caller closes it).
  bool TryKeep();
  // A kept connection was taken by a run, or closed.
  void Release();

  int64_t kept() const;
  int64_t limit() const;

 private:
  KeptConnections() = default;
  std::atomic<int64_t> kept_{0};
};

}  // namespace obsmon::probes
