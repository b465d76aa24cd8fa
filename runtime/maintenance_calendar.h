// The maintenance windows in force now or soon, as the rule manager asks about them: is this
// alert's component in maintenance at this instant, and under which window? Filled by the
// daemon from the period store at start and at every uptime refresh, so that a window added by
// `obsmon maintenance add` (another process) holds back alerts within one refresh, as it counts
// in the uptime figures within one refresh. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/alert_component.h"
#include "core/clock.h"
#include "core/labels.h"
#include "core/mutex.h"
#include "core/period_records.h"
#include "core/status.h"
#include "config/config.h"

namespace obsmon {

class MaintenanceCalendar {
 public:
  // How far ahead Refresh reads windows: a window that starts before the next refresh must be
  // known when it starts (refreshes are at most 1 h apart, config.md).
  static constexpr int64_t kLookaheadMs = 2 * 3'600'000;

  // Replaces the windows (any order) and the components they are matched against.
  void Set(std::vector<MaintenanceRecord> windows, const std::vector<ComponentConfig>& components);

  // Reads the windows overlapping [now, now + kLookahead) from the database at `db_path` and
  // Sets them (a recurring window as its occurrences: storage::PeriodStore::Maintenance). On a
  // failed read the previous windows stay (a storage hiccup must not page everyone in maintenance)
  // and the Status says why.
  Status Refresh(const std::string& db_path, const std::vector<ComponentConfig>& components,
                 TimestampMs now_ms);

  // "" unless the component of an alert with `labels` (core/alert_component.h: its `component`
  // label, else the one component whose job is its `job` label) has a window with start <=
  // ts_ms < end; then the window, "maintenance #3 of carbon: DB upgrade" (the first by start
  // when several).
  std::string SuppressedBy(const Labels& labels, TimestampMs ts_ms) const;

 private:
  mutable Mutex mu_;
  std::vector<MaintenanceRecord> windows_ GUARDED_BY(mu_);       // by start
  AlertComponents components_ GUARDED_BY(mu_);
};

}  // namespace obsmon
