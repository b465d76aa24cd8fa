// Periods and maintenance windows declared in the config (config/period_config.h), stored in
// the database beside those added by the CLI, so that both kinds are read the same way.
#pragma once

#include <set>

#include "config/period_config.h"
#include "core/clock.h"
#include "core/status.h"
#include "storage/period_store.h"

namespace obsmon {

// Stores declared periods and windows that are not stored yet (idempotent: run at every start).
// The ids of the declared windows (stored now or before) are added to `declared_windows`.
Status ApplyDeclarations(storage::PeriodStore& store, const PeriodDeclarations& declarations,
                         TimestampMs now_ms, std::set<int64_t>* declared_windows = nullptr);

// Deletes the windows stored from the config (source "config") that the config no longer
// declares (their ids are not in `declared_windows`): a window taken out of the config stops
// excluding time and holding back alerts, as it was put in. Returns the deleted windows.
Result<std::vector<MaintenanceRecord>> RetireUndeclaredWindows(
    storage::PeriodStore& store, const std::set<int64_t>& declared_windows);

}  // namespace obsmon
