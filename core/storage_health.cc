#include "core/storage_health.h"

namespace obsmon {

void StorageHealth::Record(const std::string& operation, const Status& status) {
  // Given up on purpose (a report whose client left): it says nothing of storage either way.
  // Counted as a failure, one report a script abandoned made /healthz 503 for 8 s (fresh eyes,
  // stop 63).
  if (status.IsCancelled()) return;
  const bool failed = !status.ok() && !status.IsNotFound() && !status.IsInvalidArgument();
  MutexLock lock(mu_);
  Entry& e = ops_[operation];
  e.last_failed = failed;
  if (failed) {
    ++e.errors_total;
    e.last_error = status.message();
    e.last_error_ms = clock_.NowMs();
  }
}

bool StorageHealth::Failing(const Entry& e, TimestampMs now) const {
  return e.last_failed && now - e.last_error_ms < hold_ms_;
}

std::vector<StorageOperationHealth> StorageHealth::Snapshot() const {
  MutexLock lock(mu_);
  const TimestampMs now = clock_.NowMs();
  std::vector<StorageOperationHealth> out;
  for (const auto& [name, e] : ops_) {
    out.push_back({name, e.errors_total, Failing(e, now), e.last_error, e.last_error_ms});
  }
  return out;
}

std::string StorageHealth::FailureSummary() const {
  std::string out;
  for (const auto& op : Snapshot()) {
    if (!op.failing) continue;
    if (!out.empty()) out += "; ";
    out += op.operation + ": " + op.last_error;
  }
  return out;
}

}  // namespace obsmon
