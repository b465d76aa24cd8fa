// SQLite persistence of observation periods and maintenance windows (tables `periods` and
// `maintenance`, documented in docs/report.md), plus the read of `alert_history` a report needs.
// Opens its own connection to the obsmon database (WAL, so it coexists with the storage writer
// and readers); SQLiteCpp exceptions become Status values here.
// Thread-safe: one mutex serialises use of the connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/alert_component.h"
#include "core/clock.h"
#include "core/mutex.h"
#include "core/period_records.h"
#include "core/status.h"
#include "storage/storage.h"

namespace SQLite {
class Database;
}

namespace obsmon::storage {

// One row of alert_history that concerns a component.
struct AlertHistoryRow {
  TimestampMs ts_ms = 0;
  std::string event;    // "firing" | "resolved"
  std::string rule;     // alert name
  std::string group_key;  // the rule's group (file and name): two groups may hold one alert name
  std::string labels;   // canonical Prometheus text form
  std::string summary;  // the `summary` annotation's text form, or "" (raw annotations text)
};

class PeriodStore {
 public:
  // Opens (creating and migrating as needed) the database at `path`.
  // `busy_timeout_ms` as AlertStore::Open's (the daemon's storage.busy_timeout).
  static Result<std::unique_ptr<PeriodStore>> Open(const std::string& path,
                                                   int busy_timeout_ms = 5'000);
  // Opens an existing database read-only (reports: they must work for a user who may only read
  // the file, and must never create or migrate one). NotFound for a missing file; the writing
  // methods then fail with a Status. `memory`: what the connection may hold (storage.h).
  static Result<std::unique_ptr<PeriodStore>> OpenReadOnly(const std::string& path,
                                                           const ReadMemory& memory = {});
  ~PeriodStore();

  // Inserts a period; returns its id. InvalidArgument when end <= start or the objective is not in
  // (0, 100]; InvalidArgument too when it overlaps another period of the component that is not
  // stopped (one active period at a time per component).
  Result<int64_t> AddPeriod(const PeriodRecord& period);
  // Marks the component's period covering `now_ms` (or the latest not yet finished one) as stopped
  // at now_ms. NotFound when there is none.
  Result<PeriodRecord> StopPeriod(const std::string& component, TimestampMs now_ms);
  // Periods, newest start first; `component` empty means all.
  Result<std::vector<PeriodRecord>> Periods(const std::string& component = "");
  Result<PeriodRecord> Period(int64_t id);
  // Inserts a config-declared period unless one of the same component and start exists already
  // (whatever its source): idempotent across restarts. Returns the id of the existing or new row.
  Result<int64_t> EnsureDeclaredPeriod(const PeriodRecord& period);

  // Inserts a window (one-off or recurring, core/period_records.h); returns its id.
  // InvalidArgument when it is empty, or a recurrence that does not parse or whose duration is
  // not shorter than its interval. Bounds that depend on the component (its period, whether it
  // exists) are the caller's (cmd/obsmon/cli_periods.cc, config/period_config.cc).
  Result<int64_t> AddMaintenance(const MaintenanceRecord& window);
  // Idempotent like EnsureDeclaredPeriod: the same component, start, end, recurrence, time zone
  // and duration mean the same window.
  Result<int64_t> EnsureDeclaredMaintenance(const MaintenanceRecord& window);
  // One window as stored (a recurring one as its rule). NotFound when there is none.
  Result<MaintenanceRecord> MaintenanceWindow(int64_t id);
  // Replaces everything but the source and creation time of window `window.id` (checked as by
  // AddMaintenance). NotFound when there is none.
  Status UpdateMaintenance(const MaintenanceRecord& window);
  // Deletes window `id` and returns it as it was. NotFound when there is none.
  Result<MaintenanceRecord> DeleteMaintenance(int64_t id);
  // The windows as stored (recurring ones as rules) of `component` (all when empty), by start.
  Result<std::vector<MaintenanceRecord>> MaintenanceWindows(const std::string& component);

  // THE read of maintenance for every use (reports, live figures, alert suppression): the
  // concrete windows of `component` (all when empty) overlapping [from_ms, to_ms), by start:
  // one-off windows as stored, and each occurrence of a recurring one (its start and end; id,
  // reason and recurrence of its rule), expanded in its time zone (core/recurrence.h).
  // InvalidArgument when a recurring window would expand to more than kMaxOccurrences in the
  // range or its time zone cannot be loaded (the message names the window).
  Result<std::vector<MaintenanceRecord>> Maintenance(const std::string& component,
                                                     TimestampMs from_ms, TimestampMs to_ms);

  // alert_history rows in [from_ms, to_ms) of alerts that were `component`'s: by the component
  // the row recorded when it was written (since stop 69), else (older rows) as `components`
  // tells (core/alert_component.h: the maintenance suppression's rule); and every `resolved`
  // row, which closes an alert only where the caller's pairing has one open, up to
  // `resolved_to_ms` (>= to_ms: an alert that fired in the window may resolve after it). Oldest
  // first, each handed to `fn` as it is read (false stops): a week of a flapping alert is
  // hundreds of thousands of rows, which a report counts without holding them.
  Status ForEachAlertHistory(const std::string& component, const AlertComponents& components,
                             TimestampMs from_ms, TimestampMs to_ms, TimestampMs resolved_to_ms,
                             const std::function<bool(AlertHistoryRow&&)>& fn);
  // The same rows collected, at most `limit`.
  Result<std::vector<AlertHistoryRow>> AlertHistory(const std::string& component,
                                                    const AlertComponents& components,
                                                    TimestampMs from_ms, TimestampMs to_ms,
                                                    size_t limit = 1000);

 private:
  explicit PeriodStore(std::unique_ptr<SQLite::Database> db);
  Mutex mu_;
  // Whether the schema has the recurrence columns (a database opened read-only may predate them).
  const bool has_recurrence_;
  // Whether alert_history has the component column (likewise).
  const bool has_alert_component_;
  // The periods' column list, with or without time_zone (likewise).
  const char* const period_columns_;
  std::unique_ptr<SQLite::Database> db_ GUARDED_BY(mu_);
};

}  // namespace obsmon::storage
