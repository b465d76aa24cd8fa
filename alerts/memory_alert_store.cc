#include "alerts/memory_alert_store.h"

#include <set>

#include <algorithm>

namespace obsmon::alerts {

#define OBSMON_FAIL_IF_FAILING() \
  if (failing_) return Status::Unavailable("memory store set to fail")

Result<std::vector<Alert>> MemoryAlertStore::LoadAlerts() {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  std::vector<Alert> out;
  for (const auto& [k, v] : alerts_) out.insert(out.end(), v.begin(), v.end());
  return out;
}

Status MemoryAlertStore::SaveAlerts(const std::string& group_key, const std::string& rule,
                                    const std::vector<Alert>& alerts) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  alerts_[{group_key, rule}] = alerts;
  return Status::Ok();
}

Status MemoryAlertStore::AppendHistory(const std::vector<AlertHistoryEvent>& events) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  history_.insert(history_.end(), events.begin(), events.end());
  return Status::Ok();
}

Result<std::vector<AlertHistoryEvent>> MemoryAlertStore::History(int64_t from_ms, int64_t to_ms) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  std::vector<AlertHistoryEvent> out;
  for (const auto& e : history_) {
    if (e.ts_ms >= from_ms && e.ts_ms < to_ms) out.push_back(e);
  }
  return out;
}

Status MemoryAlertStore::Enqueue(std::vector<OutboxEntry>* entries) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  for (auto& e : *entries) {
    e.id = next_id_++;
    outbox_[e.id] = e;
  }
  return Status::Ok();
}

Result<std::vector<OutboxEntry>> MemoryAlertStore::Due(int64_t now_ms, size_t limit) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  std::vector<OutboxEntry> out;
  std::set<std::string> waiting;  // receivers whose oldest entries are not due yet
  for (const auto& [id, e] : outbox_) {  // id order
    if (out.size() >= limit) break;
    if (waiting.count(e.receiver)) continue;
    if (e.next_attempt_ms <= now_ms) {
      out.push_back(e);
    } else {
      waiting.insert(e.receiver);
    }
  }
  return out;
}

Status MemoryAlertStore::Remove(int64_t id) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  outbox_.erase(id);
  return Status::Ok();
}

Status MemoryAlertStore::Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                                    const std::string& error) {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  auto it = outbox_.find(id);
  if (it == outbox_.end()) return Status::NotFound("no outbox row " + std::to_string(id));
  it->second.attempts = attempts;
  it->second.next_attempt_ms = next_attempt_ms;
  it->second.last_error = error;
  return Status::Ok();
}

Result<int64_t> MemoryAlertStore::Pending() {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  return static_cast<int64_t>(outbox_.size());
}

Result<std::optional<int64_t>> MemoryAlertStore::NextAttempt() {
  MutexLock lock(mu_);
  OBSMON_FAIL_IF_FAILING();
  std::optional<int64_t> earliest;
  for (const auto& [id, e] : outbox_) {
    if (!earliest || e.next_attempt_ms < *earliest) earliest = e.next_attempt_ms;
  }
  return earliest;
}

void MemoryAlertStore::SetFailing(bool failing) {
  MutexLock lock(mu_);
  failing_ = failing;
}

}  // namespace obsmon::alerts
