// SQLite persistence for alerts/: pending and firing alert state, alert history and the
// notification outbox (tables `alerts`, `alert_history`, `alert_outbox`, documented in
// docs/alerts.md). Opens its own connection to the obsmon database (WAL, so it coexists with the
// storage writer); SQLiteCpp exceptions are turned into Status values here.
// Thread-safe: one mutex serialises use of the connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/alert_records.h"
#include "core/mutex.h"
#include "core/outbox_store.h"
#include "core/status.h"

namespace SQLite {
class Database;
}

namespace obsmon::storage {

class AlertStore final : public AlertStateStore, public OutboxStore {
 public:
  // Opens (creating and migrating as needed) the database at `path`.
  // `busy_timeout_ms`: the daemon's storage.busy_timeout (its writes wait that long for another
  // connection's lock; a fixed 5 s before stop 69, whatever the config said).
  static Result<std::unique_ptr<AlertStore>> Open(const std::string& path,
                                                  int busy_timeout_ms = 5'000);
  ~AlertStore() override;

  // AlertStateStore
  Result<std::vector<Alert>> LoadAlerts() override;
  Status SaveAlerts(const std::string& group_key, const std::string& rule,
                    const std::vector<Alert>& alerts) override;
  Status AppendHistory(const std::vector<AlertHistoryEvent>& events) override;
  Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) override;
  // Also drops the ends more than kSeriesEndsKeepMs older than the newest saved, and the oldest
  // beyond kMaxSeriesEnds rows.
  Status SaveSeriesEnds(const std::vector<SeriesEnd>& ends) override;
  Result<std::vector<SeriesEnd>> SeriesEnds(int64_t from_ms, int64_t to_ms) override;
  static constexpr int64_t kSeriesEndsKeepMs = 2 * 3'600'000;
  static constexpr int64_t kMaxSeriesEnds = 200'000;

  // OutboxStore
  Status Enqueue(std::vector<OutboxEntry>* entries) override;
  Result<std::vector<OutboxEntry>> Due(int64_t now_ms, size_t limit) override;
  Status Remove(int64_t id) override;
  Status Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                    const std::string& error) override;
  Result<int64_t> Pending() override;
  Result<std::optional<int64_t>> NextAttempt() override;
  // Table outbox_once, in the same transaction as the alert_outbox row.
  Result<bool> EnqueueOnce(const std::string& once_key, OutboxEntry* entry) override;
  Result<bool> WasEnqueued(const std::string& once_key) override;

 private:
  explicit AlertStore(std::unique_ptr<SQLite::Database> db);
  Mutex mu_;
  std::unique_ptr<SQLite::Database> db_ GUARDED_BY(mu_);
};

}  // namespace obsmon::storage
