// Observation periods and maintenance windows as stored: plain records the config declares,
// storage keeps (storage/period_store.h) and the report reads (report/periods.h gives them
// behaviour).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"

namespace obsmon {

// One observation period as stored. Plain data; report/periods.h gives it behaviour.
struct PeriodRecord {
  int64_t id = 0;  // assigned by the store
  std::string component;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;           // planned end (start + days)
  TimestampMs stopped_ms = 0;       // 0 unless stopped early (`obsmon observe stop`)
  double objective_percent = 99.5;  // uptime objective, percent
  double min_coverage_percent = 99.0;
  std::optional<double> latency_p95_ms;  // SLA on p95 of successful health runs, if any
  double degradation_tolerance = 0.25;   // last-day p95 may exceed first-day p95 by this ratio
  std::string source = "cli";            // "cli" | "config"
  TimestampMs created_ms = 0;
  std::string note;
  // IANA zone whose calendar days are the period's days ("Europe/Berlin"); "" for 24 h days from
  // the start (report/period_days.h).
  std::string time_zone;
};

// The longest maintenance window (or occurrence of a recurring one) of a component that has no
// observation period to bound it (docs/report.md, "Maintenance windows").
inline constexpr int64_t kMaxMaintenanceWithoutPeriodMs = 31LL * 86'400'000;

// The end of a recurring window that was given no end (--until): 9999-12-31T00:00:00Z.
inline constexpr TimestampMs kMaintenanceNoEndMs = 253'402'214'400'000;

// One maintenance window as stored: excluded from uptime, listed in reports.
// A one-off window is [start_ms, end_ms). A RECURRING one (recurrence not empty) is a rule: an
// occurrence starts at the local time `recurrence` names ("weekly sun 02:00", core/recurrence.h)
// in `time_zone`, lasts `duration_ms`, and counts when it starts in [start_ms, end_ms)
// (end_ms = kMaintenanceNoEndMs: for ever). storage::PeriodStore::Maintenance returns the
// occurrences, each a record with its rule's id, reason and recurrence and the occurrence's
// start_ms and end_ms.
struct MaintenanceRecord {
  int64_t id = 0;
  std::string component;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  std::string reason;
  std::string source = "cli";  // "cli" | "config"
  TimestampMs created_ms = 0;
  std::string recurrence;   // "" for a one-off window
  std::string time_zone;    // IANA name (Europe/Berlin); "" for UTC
  int64_t duration_ms = 0;  // of each occurrence; 0 for a one-off window

  bool recurring() const { return !recurrence.empty(); }
};

}  // namespace obsmon
