#include "runtime/period_declarations.h"

namespace obsmon {

Status ApplyDeclarations(storage::PeriodStore& store, const PeriodDeclarations& d,
                         TimestampMs now_ms) {
  for (auto p : d.periods) {
    if (p.created_ms == 0) p.created_ms = now_ms;
    auto id = store.EnsureDeclaredPeriod(p);
    if (!id.ok()) return id.status();
  }
  for (auto m : d.maintenance) {
    if (m.created_ms == 0) m.created_ms = now_ms;
    auto id = store.EnsureDeclaredMaintenance(m);
    if (!id.ok()) return id.status();
  }
  return Status::Ok();
}

}  // namespace obsmon
