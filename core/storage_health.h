// Whether obsmon can read and write its database, as every part that touches storage saw it.
//
// The writer is not the only user of the database: reports, the uptime refresher, restoring a
// probe's state, the period store and the alert store read and write it too. Each records the
// outcome of its operations here under a name ("write", "read", "periods", "alerts"); /metrics
// exports the counts and /healthz answers 503 with the reason while any of them is failing. An
// operation is failing from a failed attempt until a later attempt of it succeeds, or until
// `failure_hold_ms` has passed without another failure (so that a one-off failed report does not
// mark obsmon unhealthy forever, while a failing writer, which retries every second, stays
// unhealthy). Thread-safe; time comes from the injected clock.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace obsmon {

struct StorageOperationHealth {
  std::string operation;
  uint64_t errors_total = 0;    // failed attempts since start
  bool failing = false;         // see the header comment
  std::string last_error;       // the last failure's message (kept after recovery)
  TimestampMs last_error_ms = 0;
};

class StorageHealth {
 public:
  explicit StorageHealth(const Clock& clock, int64_t failure_hold_ms = 5 * 60'000)
      : clock_(clock), hold_ms_(failure_hold_ms) {}

  // Records one attempt of `operation`. NotFound and InvalidArgument are answers, not storage
  // failures (an unknown component, a database without obsmon's schema yet): they count as
  // success. Cancelled (given up on purpose) is not recorded at all.
  void Record(const std::string& operation, const Status& status);

  // Every operation seen so far, by name.
  std::vector<StorageOperationHealth> Snapshot() const;

  // Empty when healthy; otherwise "operation: message" of each failing operation, "; "-joined.
  std::string FailureSummary() const;

 private:
  struct Entry {
    uint64_t errors_total = 0;
    bool last_failed = false;
    std::string last_error;
    TimestampMs last_error_ms = 0;
  };
  bool Failing(const Entry& e, TimestampMs now) const;

  const Clock& clock_;
  const int64_t hold_ms_;
  mutable Mutex mu_;
  std::map<std::string, Entry> ops_ GUARDED_BY(mu_);
};

}  // namespace obsmon
