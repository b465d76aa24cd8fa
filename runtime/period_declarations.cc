#include "runtime/period_declarations.h"

namespace obsmon {

Status ApplyDeclarations(storage::PeriodStore& store, const PeriodDeclarations& d,
                         TimestampMs now_ms, std::set<int64_t>* declared_windows) {
  for (auto p : d.periods) {
    if (p.created_ms == 0) p.created_ms = now_ms;
    auto id = store.EnsureDeclaredPeriod(p);
    if (!id.ok()) return id.status();
  }
  for (auto m : d.maintenance) {
    if (m.created_ms == 0) m.created_ms = now_ms;
    auto id = store.EnsureDeclaredMaintenance(m);
    if (!id.ok()) return id.status();
    if (declared_windows) declared_windows->insert(*id);
  }
  return Status::Ok();
}

Result<std::vector<MaintenanceRecord>> RetireUndeclaredWindows(
    storage::PeriodStore& store, const std::set<int64_t>& declared_windows) {
  auto stored = store.MaintenanceWindows("");
  if (!stored.ok()) return stored.status();
  std::vector<MaintenanceRecord> retired;
  for (const auto& w : *stored) {
    if (w.source != "config" || declared_windows.count(w.id)) continue;
    auto deleted = store.DeleteMaintenance(w.id);
    if (deleted.ok()) {
      retired.push_back(*deleted);
    } else if (!deleted.status().IsNotFound()) {  // NotFound: deleted meanwhile, as wanted
      return deleted.status();
    }
  }
  return retired;
}

}  // namespace obsmon
