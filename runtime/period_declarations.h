// Periods and maintenance windows declared in the config (config/period_config.h), stored in
// the database beside those added by the CLI, so that both kinds are read the same way.
#pragma once

#include "config/period_config.h"
#include "core/clock.h"
#include "core/status.h"
#include "storage/period_store.h"

namespace obsmon {

// Stores declared periods and windows that are not stored yet (idempotent: run at every start).
Status ApplyDeclarations(storage::PeriodStore& store, const PeriodDeclarations& declarations,
                         TimestampMs now_ms);

}  // namespace obsmon
