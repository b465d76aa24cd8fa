// The durable outbox between the rule manager and the notifiers. Send() renders the alerts for
// every notifier and stores the bodies (OutboxStore: SQLite in production) before returning, so
// an alert decided on is never lost to a crash or an unreachable receiver. DeliverDue() (called
// by the dispatcher thread, or by tests) attempts every due row once: delivered rows are removed,
// failed ones retried with exponential backoff (backoff_initial * 2^(attempts-1), capped at
// backoff_max), one receiver's rows strictly in order (a failed row holds the later ones); rows
// older than max_age, or refused by the receiver (4xx), are dropped and counted.
//
// Thread-safe. Notifiers and the store are not owned and must outlive the outbox.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alert.h"
#include "alerts/notifier.h"
#include "core/mutex.h"
#include "core/outbox_store.h"
#include "core/clock.h"

namespace prometheus {
class Collectable;
}

namespace obsmon::alerts {

struct OutboxOptions {
  const Clock* clock = &SystemClock::Instance();
  OutboxStore* store = nullptr;      // required
  std::vector<Notifier*> notifiers;  // not owned
  int64_t backoff_initial_ms = 1'000;
  int64_t backoff_max_ms = 300'000;
  int64_t max_age_ms = 24 * 3'600'000LL;
  size_t batch = 256;       // rows per DeliverDue pass
  // The dispatcher's wait (on `clock`) while rows wait behind a failed row of their receiver,
  // or the store cannot be read.
  int64_t poll_ms = 1'000;
  // Otherwise it sleeps until the earliest row's next attempt, until Send() or
  // StoredElsewhere(), or at most this long: an idle outbox asks SQLite once in this long, not
  // every second (the empty pass cost 1.7-3.3 us a probe run at 100 probes at 1 s:
  // docs/benchmarks.md).
  int64_t idle_poll_ms = 10'000;
};

struct OutboxStats {
  uint64_t enqueued = 0;  // rows stored
  uint64_t sent = 0;      // rows delivered
  uint64_t failed = 0;    // failed delivery attempts
  uint64_t retried = 0;   // attempts of rows that had failed before
  uint64_t dropped = 0;   // rows dropped: older than max_age, or refused by the receiver (4xx)
  uint64_t store_errors = 0;
};

class Outbox final : public AlertSender {
 public:
  explicit Outbox(OutboxOptions options);
  ~Outbox() override;

  // AlertSender: persists one row per (notifier, rendered body). Never blocks on the network.
  void Send(const std::vector<OutgoingAlert>& alerts) override;

  // One delivery pass over due rows; returns how many were delivered.
  int DeliverDue();

  void Start();  // dispatcher thread calling DeliverDue() (see OutboxOptions::idle_poll_ms)
  void Stop();
  // A row for `receiver` was stored behind the outbox's back (OutboxStore::EnqueueOnce, the
  // digests): counted in obsmon_notifications_enqueued_total like Send()'s, and the dispatcher
  // makes a pass now.
  void StoredElsewhere(const std::string& receiver);

  OutboxStats Stats() const;
  // obsmon_notifications_{enqueued,sent,failed,retried,dropped}_total{receiver=...} and
  // obsmon_notifications_queue_length.
  std::shared_ptr<prometheus::Collectable> Collectable();

 private:
  struct Counters {
    std::atomic<uint64_t> enqueued{0}, sent{0}, failed{0}, retried{0}, dropped{0};
  };
  Counters& CountersFor(const std::string& receiver);
  void Loop();
  // Stores the rows Send() could not (they stay kept if the store refuses them again).
  void StoreUnsaved();
  // Keeps rows the store refused, after those kept before (at most kMaxUnsaved: the oldest
  // beyond are dropped and counted).
  void KeepUnsaved(std::vector<OutboxEntry>& rows) REQUIRES(unsaved_mu_);

  OutboxOptions options_;
  std::map<std::string, Notifier*> by_name_;
  std::map<std::string, std::unique_ptr<Counters>> counters_;  // fixed after construction
  std::atomic<uint64_t> store_errors_{0};
  // The outbox table's rows after the dispatcher's last pass (obsmon_notifications_queue_length);
  // -1 until it counted them.
  std::atomic<int64_t> stored_pending_{-1};
  Mutex deliver_mu_;  // one DeliverDue pass at a time (it guards no field: it orders the passes)
  // Rows Send() could not store (another connection held the database's write lock past
  // busy_timeout, a full disk): kept here in order and stored by the dispatcher before each
  // pass; later Sends queue behind them, so a receiver's order holds. Lost only to a crash
  // before they are stored. Fresh eyes (issue 17) found such a firing, and a resolved, lost for
  // good: the alert counted as sent, no row, no notification.
  static constexpr size_t kMaxUnsaved = 10'000;
  Mutex unsaved_mu_;
  std::deque<OutboxEntry> unsaved_ GUARDED_BY(unsaved_mu_);
  std::atomic<size_t> unsaved_count_{0};  // unsaved_.size(), for /metrics without the lock

  Mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ GUARDED_BY(run_mu_) = false;
  // Send() stored rows, or StoredElsewhere() was called, since the dispatcher's last pass.
  bool sent_ GUARDED_BY(run_mu_) = false;
  std::atomic<bool> stopping_{false};  // Stop() asked: DeliverDue starts no new send
  std::thread thread_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

}  // namespace obsmon::alerts
