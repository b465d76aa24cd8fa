#include "runtime/maintenance_calendar.h"

#include <fmt/format.h>

#include <algorithm>

#include "storage/period_store.h"

namespace obsmon {

void MaintenanceCalendar::Set(std::vector<MaintenanceRecord> windows,
                              const std::vector<ComponentConfig>& components) {
  std::sort(windows.begin(), windows.end(), [](const auto& a, const auto& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.id < b.id;
  });
  AlertComponents of = AlertComponentsOf(components);
  MutexLock lock(mu_);
  windows_ = std::move(windows);
  components_ = std::move(of);
}

Status MaintenanceCalendar::Refresh(const std::string& db_path,
                                    const std::vector<ComponentConfig>& components,
                                    TimestampMs now_ms) {
  auto store = storage::PeriodStore::OpenReadOnly(db_path);
  if (!store.ok()) return store.status();
  auto windows = (*store)->Maintenance("", now_ms, now_ms + kLookaheadMs);
  if (!windows.ok()) return windows.status();
  Set(std::move(*windows), components);
  return Status::Ok();
}

std::string MaintenanceCalendar::SuppressedBy(const Labels& labels, TimestampMs ts_ms) const {
  MutexLock lock(mu_);
  const std::string component = components_.Of(labels);
  if (component.empty()) return "";
  for (const auto& w : windows_) {
    if (w.start_ms > ts_ms) break;
    if (w.component == component && ts_ms < w.end_ms) {
      return fmt::format("maintenance #{} of {}: {}", w.id, w.component, w.reason);
    }
  }
  return "";
}

}  // namespace obsmon
