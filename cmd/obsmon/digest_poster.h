// Posts the digests of observation periods (docs/digest.md): for every component with `digest:`
// destinations, each Day N comment once Day N has ended and the final assessment once the period
// has ended, exactly once per (period, destination, item), through the durable outbox.
//
// Exactly once: an item is enqueued with OutboxStore::EnqueueOnce under the key
// "digest:<period id>:<destination id>:day<N>" (or ":final"), which stores the outbox row and the
// key in one transaction: a crash before it leaves nothing (the next tick enqueues it), a crash
// after it leaves both (the next tick skips it, the outbox delivers it). A receiver outage is the
// outbox's business (retries with backoff for DigestNotifier::kMaxAgeMs).
//
// After a restart, Tick() enqueues what ended while obsmon was down. Periods that ended more than
// kMaxLateMs ago are left alone (a digest added to an old config does not post last year's days).
// Tick is called by one thread: the poster's own (Start) in the daemon, or a test; not both.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/digest_notifier.h"
#include "core/clock.h"
#include "core/mutex.h"
#include "core/alert_component.h"
#include "core/objective.h"
#include "core/outbox_store.h"
#include "core/period_records.h"
#include "core/status.h"

namespace obsmon {

// One component's destination and the notifier delivering to it (not owned).
struct DigestTarget {
  std::string component;
  Objective objective;                     // the component's (config) objective
  std::vector<std::string> health_probes;  // its configured health probes
  AlertComponents alert_components;        // every component's job, to tell its alerts
  DigestDestination destination;
  alerts::DigestNotifier* notifier = nullptr;
};

class DigestPoster {
 public:
  static constexpr int64_t kMaxLateMs = alerts::DigestNotifier::kMaxAgeMs;

  // `store` (not owned) must outlive the poster; `db_path` is read for periods and reports.
  DigestPoster(std::string db_path, OutboxStore* store, std::vector<DigestTarget> targets);
  ~DigestPoster();  // Stop()

  // A thread calling Tick(clock.NowMs()) every poll_ms on `clock` (not owned, must outlive the
  // poster); `on_error` hears of a failed tick (the next one tries again), `on_stored` of each
  // item stored, with its receiver (the outbox's StoredElsewhere(): it counts the item and makes
  // a pass, as it does not poll an empty table). Both run on the poster's thread.
  void Start(const Clock& clock, int64_t poll_ms, std::function<void(const Status&)> on_error,
             std::function<void(const std::string& receiver)> on_stored = {});
  void Stop();

  // Enqueues every item due at now_ms and not enqueued before; returns how many it enqueued,
  // or the first error (naming period and destination) after trying every other period: a
  // period's items go in order and stop at its first failure (the next tick tries again).
  Result<int> Tick(TimestampMs now_ms);

  // "digest:<period id>:<destination id>:<item>", item "day<N>" or "final".
  static std::string OnceKey(int64_t period_id, const std::string& destination_id,
                             const std::string& item);
  // The outbox receiver of a target: "digest:<component>:<destination id>".
  static std::string ReceiverName(const std::string& component, const DigestDestination& d);

 private:
  Result<int> TickPeriod(const DigestTarget& target, const PeriodRecord& period,
                         TimestampMs now_ms);
  Result<bool> EnqueueItem(const DigestTarget& target, const PeriodRecord& period,
                           const std::string& item, std::optional<int> day, TimestampMs now_ms);

  std::string db_path_;
  OutboxStore* store_;
  std::vector<DigestTarget> targets_;
  std::function<void(const std::string& receiver)> on_stored_;  // set by Start()
  Mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ GUARDED_BY(run_mu_) = false;
  std::thread thread_;
};

}  // namespace obsmon
