// The alert store as the rules and the outbox use it, with every outcome recorded in the
// daemon's StorageHealth under "alerts": a database that refuses alert state or outbox rows
// makes /healthz unhealthy, as a failing writer does. Thread-safe as the wrapped store is.
#pragma once

#include <memory>

#include "core/storage_health.h"
#include "storage/alert_store.h"

namespace obsmon {

class RecordingAlertStore final : public AlertStateStore, public OutboxStore {
 public:
  RecordingAlertStore(std::unique_ptr<storage::AlertStore> store,
                      std::shared_ptr<StorageHealth> health)
      : store_(std::move(store)), health_(std::move(health)) {}

  Result<std::vector<Alert>> LoadAlerts() override { return Seen(store_->LoadAlerts()); }
  Status SaveAlerts(const std::string& group_key, const std::string& rule,
                    const std::vector<Alert>& alerts) override {
    return Seen(store_->SaveAlerts(group_key, rule, alerts));
  }
  Status AppendHistory(const std::vector<AlertHistoryEvent>& events) override {
    return Seen(store_->AppendHistory(events));
  }
  Result<std::vector<AlertHistoryEvent>> History(int64_t from_ms, int64_t to_ms) override {
    return Seen(store_->History(from_ms, to_ms));
  }
  Status SaveSeriesEnds(const std::vector<SeriesEnd>& ends) override {
    return Seen(store_->SaveSeriesEnds(ends));
  }
  Result<std::vector<SeriesEnd>> SeriesEnds(int64_t from_ms, int64_t to_ms) override {
    return Seen(store_->SeriesEnds(from_ms, to_ms));
  }
  Status Enqueue(std::vector<OutboxEntry>* entries) override {
    return Seen(store_->Enqueue(entries));
  }
  Result<std::vector<OutboxEntry>> Due(int64_t now_ms, size_t limit) override {
    return Seen(store_->Due(now_ms, limit));
  }
  Status Remove(int64_t id) override { return Seen(store_->Remove(id)); }
  Result<bool> EnqueueOnce(const std::string& once_key, OutboxEntry* entry) override {
    return Seen(store_->EnqueueOnce(once_key, entry));
  }
  Result<bool> WasEnqueued(const std::string& once_key) override {
    return Seen(store_->WasEnqueued(once_key));
  }
  Status Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                    const std::string& error) override {
    return Seen(store_->Reschedule(id, attempts, next_attempt_ms, error));
  }
  Result<int64_t> Pending() override { return Seen(store_->Pending()); }
  Result<std::optional<int64_t>> NextAttempt() override { return Seen(store_->NextAttempt()); }

 private:
  Status Seen(Status s) {
    if (health_) health_->Record("alerts", s);
    return s;
  }
  template <typename T>
  Result<T> Seen(Result<T> r) {
    if (health_) health_->Record("alerts", r.status());
    return r;
  }

  std::unique_ptr<storage::AlertStore> store_;
  std::shared_ptr<StorageHealth> health_;
};

}  // namespace obsmon
