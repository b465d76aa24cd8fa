// The actions on observation periods and maintenance windows, with their validation, in one place
// for both ways in: the CLI (`obsmon observe`, `obsmon maintenance`, cmd/obsmon/cli_periods.h)
// and the HTTP API (/api/v1/periods, /api/v1/maintenance, cmd/obsmon/manage_api.h).
//
// A PeriodManager is where the actions go: LocalPeriodManager validates and writes the database
// (the CLI without a daemon, and the daemon itself answering the API); the CLI's daemon client
// (cmd/obsmon/daemon_client.h) sends them to a running daemon, which runs them locally.
//
// Failures: InvalidArgument is the caller's mistake (CLI exit 2, HTTP 400); its message names
// the CLI flag (`--from`), which is the API's JSON field without the dashes (`from`). NotFound:
// no such period or window (exit 1, HTTP 404). Anything else is obsmon's or storage's trouble.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/period_records.h"
#include "core/status.h"

namespace obsmon {

// Where the database and the objective come from: --config (storage.path and the component's
// objective) or --db.
struct PeriodCliTarget {
  std::string config_path;
  std::string db_path;
  bool verbose = false;  // say whether the command went to the daemon or the database
};

struct ObserveStartArgs {
  PeriodCliTarget target;  // the CLI's; the actions ignore it
  std::string component;
  int days = 7;
  std::optional<double> objective_percent;  // default: the config's, else 99.5
  std::optional<double> min_coverage_percent;
  std::string latency_p95;  // a duration such as 250ms; empty: the config's SLA, if any
  std::optional<double> degradation_tolerance;
  std::string start;  // RFC 3339 / Unix time / "now" (default)
  std::string note;
  std::string time_zone;  // IANA zone whose calendar days are the period's days; "" = 24 h days
};

// Where a window may be added or moved to (docs/report.md, "Maintenance windows"):
// - its component must be known: in the config when there is one; without, a component with
//   stored runs or an observation period (a misspelt name would exclude nothing);
// - it must end after it starts, and be no longer than the component's current observation
//   period (stored, else declared in the config), or kMaxMaintenanceWithoutPeriodMs (31 days,
//   core/period_records.h) without one; a recurring window's occurrences likewise, and shorter
//   than their interval (a day, a week).
struct MaintenanceAddArgs {
  PeriodCliTarget target;  // the CLI's; the actions ignore it
  std::string component;
  std::string from, to, reason;
  // Recurring: one of weekly ("sun 02:00") or daily ("02:00"), with duration ("2h"); from
  // (default now) and until (default never) bound when occurrences start.
  std::string weekly, daily, duration, time_zone, until;
};

// Changes the given fields of window `id`; the others stay. A one-off window takes from, to,
// reason; a recurring one weekly/daily, duration, timezone, from, until, reason. Windows declared
// in the config are changed there, not here (refused).
struct MaintenanceEditArgs {
  PeriodCliTarget target;  // the CLI's; the actions ignore it
  int64_t id = 0;
  std::optional<std::string> from, to, until, weekly, daily, duration, time_zone, reason;
};

struct EditedWindow {
  MaintenanceRecord window;  // as stored now
  MaintenanceRecord was;
};

class PeriodManager {
 public:
  virtual ~PeriodManager() = default;
  // The new period as stored (with its id).
  virtual Result<PeriodRecord> StartPeriod(const ObserveStartArgs& args) = 0;
  // The period stopped (storage::PeriodStore::StopPeriod picks it).
  virtual Result<PeriodRecord> StopPeriod(const std::string& component) = 0;
  // Newest start first; `component` empty: all.
  virtual Result<std::vector<PeriodRecord>> Periods(const std::string& component) = 0;
  virtual Result<MaintenanceRecord> AddWindow(const MaintenanceAddArgs& args) = 0;
  virtual Result<EditedWindow> EditWindow(const MaintenanceEditArgs& args) = 0;
  // The window as it was.
  virtual Result<MaintenanceRecord> DeleteWindow(int64_t id) = 0;
  // As stored (recurring ones as rules), by start; `component` empty: all.
  virtual Result<std::vector<MaintenanceRecord>> Windows(const std::string& component) = 0;
};

// What the local actions check against.
struct PeriodScope {
  std::string db_path;
  // The config's components, or empty with `has_config` false (--db only).
  bool has_config = false;
  std::vector<ComponentConfig> components;
  std::string config_name;  // for "unknown component 'x' in <config_name>"
  // What the stored rows' `source` says made them: "cli", or "api" for the daemon's HTTP API
  // (whoever sent it, the CLI through the daemon included).
  std::string source = "cli";
  // How long its writes wait for another connection's lock (the config's storage.busy_timeout).
  int busy_timeout_ms = 5'000;
};

// Validates and writes the database at scope.db_path. Each call opens the store afresh (cheap,
// and safe from any thread: nothing is shared between calls). `clock` outlives the manager.
std::unique_ptr<PeriodManager> LocalPeriodManager(PeriodScope scope, const Clock& clock);

// "2025-10-16 02:00:00 -> 2025-10-16 03:30:00 UTC (1h 30m)" or
// "weekly sun 02:00 Europe/Berlin for 2h, from 2025-10-16 00:00:00 UTC".
std::string DescribeWindow(const MaintenanceRecord& m);

}  // namespace obsmon
