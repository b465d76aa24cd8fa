// Test support: a maintenance window record by its fields. Header-only.
#pragma once

#include <cstdint>
#include <string>

#include "core/period_records.h"

namespace obsmon::testing {

// A one-off window (no missing-initializer warning for the recurrence fields).
inline MaintenanceRecord Window(const std::string& component, int64_t start, int64_t end,
                                const std::string& reason, const std::string& source,
                                int64_t created) {
  MaintenanceRecord m;
  m.component = component;
  m.start_ms = start;
  m.end_ms = end;
  m.reason = reason;
  m.source = source;
  m.created_ms = created;
  return m;
}

}  // namespace obsmon::testing
