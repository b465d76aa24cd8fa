// Persistence of the delivery outbox: one row per (receiver, payload) still to be delivered.
// Implemented with SQLite in storage/alert_store and in memory in alerts/memory_alert_store; an
// interface in core/ so that storage need not depend on alerts/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace obsmon {

struct OutboxEntry {
  int64_t id = 0;        // assigned by the store
  std::string receiver;  // Notifier::name()
  std::string payload;   // the HTTP body, rendered when the alert was sent
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;
  int attempts = 0;        // failed deliveries so far
  std::string last_error;  // of the last failed delivery (never contains credentials)
};

// Called from the outbox's threads (Enqueue from the rule evaluator, the rest from the
// dispatcher); implementations must be thread-safe.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // Stores the entries atomically and sets their ids.
  virtual Status Enqueue(std::vector<OutboxEntry>* entries) = 0;
  // Entries with next_attempt_ms <= now_ms, oldest first, at most `limit`, and of each receiver
  // only those older than its oldest entry that is not due: a receiver gets its notifications in
  // the order they were made, so an old "firing" retried after an outage can never arrive after
  // the "resolved" that followed it.
  virtual Result<std::vector<OutboxEntry>> Due(int64_t now_ms, size_t limit) = 0;
  virtual Status Remove(int64_t id) = 0;
  virtual Status Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                            const std::string& error) = 0;
  virtual Result<int64_t> Pending() = 0;  // rows waiting
  // The earliest next_attempt_ms of any row; nullopt when there is none. The outbox's
  // dispatcher sleeps until then instead of asking Due() every second.
  virtual Result<std::optional<int64_t>> NextAttempt() = 0;

  // Exactly-once enqueueing (the digests: one "Day 3" comment per period and destination, across
  // restarts): stores `entry` (setting its id) unless something was stored under `once_key`
  // before, delivered since or not, in one transaction with the record of the key. True when
  // stored now, false when the key was already recorded. Stores that cannot remember keys
  // durably do not override these and return Internal.
  virtual Result<bool> EnqueueOnce(const std::string& once_key, OutboxEntry* entry) {
    (void)once_key;
    (void)entry;
    return Status::Internal("this outbox store has no exactly-once enqueueing");
  }
  // Whether something was stored under `once_key` (cheap check before rendering a body).
  virtual Result<bool> WasEnqueued(const std::string& once_key) {
    (void)once_key;
    return Status::Internal("this outbox store has no exactly-once enqueueing");
  }
};

}  // namespace obsmon
