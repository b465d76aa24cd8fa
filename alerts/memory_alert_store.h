// In-memory AlertStateStore and OutboxStore: for tests, `obsmon test rules`, and running
// without a database. Thread-safe. Contents are lost with the object (copy it to simulate a
// restart that keeps the database).
#pragma once

#include <map>
#include <mutex>

#include "alerts/alert.h"
#include "core/mutex.h"
#include "core/outbox_store.h"

namespace obsmon::alerts {

class MemoryAlertStore final : public AlertStateStore, public OutboxStore {
 public:
  // AlertStateStore
  Result<std::vector<Alert>> LoadAlerts() override;
  Status SaveAlerts(const std::string& group_key, const std::string& rule,
                    const std::vector<Alert>& alerts) override;
  Status AppendHistory(const std::vector<AlertHistoryEvent>& events) override;
  Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) override;
  // OutboxStore
  Status Enqueue(std::vector<OutboxEntry>* entries) override;
  Result<std::vector<OutboxEntry>> Due(int64_t now_ms, size_t limit) override;
  Status Remove(int64_t id) override;
  Status Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                    const std::string& error) override;
  Result<int64_t> Pending() override;
  Result<std::optional<int64_t>> NextAttempt() override;

  // Test switch: while set, every call fails with Unavailable.
  void SetFailing(bool failing);

 private:
  mutable Mutex mu_;
  bool failing_ GUARDED_BY(mu_) = false;
  std::map<std::pair<std::string, std::string>, std::vector<Alert>> alerts_ GUARDED_BY(mu_);
  std::vector<AlertHistoryEvent> history_ GUARDED_BY(mu_);
  std::map<int64_t, OutboxEntry> outbox_ GUARDED_BY(mu_);
  int64_t next_id_ GUARDED_BY(mu_) = 1;
};

}  // namespace obsmon::alerts
