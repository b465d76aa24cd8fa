// The `observe`, `maintenance` and `rules slo` commands of the obsmon CLI:
//
//   obsmon observe start COMPONENT [--days 7] [--objective 99.5] [--start T] [--timezone Z]
//                        [--config F | --db P]
//   obsmon observe list [COMPONENT]       obsmon observe stop COMPONENT
//   obsmon observe report COMPONENT [--period ID] [--format text|markdown|json|html] [-o FILE]
//                         [--day N]    (Day N's comment, markdown)
//   obsmon maintenance add COMPONENT --from T --to T --reason TEXT
//   obsmon maintenance add COMPONENT (--weekly "sun 02:00" | --daily 02:00) --duration 2h
//                          [--timezone Europe/Berlin] [--from T] [--until T] --reason TEXT
//   obsmon maintenance list [COMPONENT]
//   obsmon maintenance edit ID [--from T] [--to T] [--until T] [--weekly S | --daily S]
//                          [--duration D] [--timezone Z] [--reason TEXT]
//   obsmon maintenance delete ID
//   obsmon rules slo --config F [--component C]
//
// Each command is a plain function over its arguments, a clock and two streams (tested without a
// process); AddPeriodCommands registers them on the CLI11 app. Exit codes: 0 ok, 1 failure,
// 2 usage.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "core/clock.h"

namespace obsmon {

// Where the database and the objective come from: --config (storage.path and the component's
// objective) or --db.
struct PeriodCliTarget {
  std::string config_path;
  std::string db_path;
};

struct ObserveStartArgs {
  PeriodCliTarget target;
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
int CmdObserveStart(const ObserveStartArgs& args, const Clock& clock, std::ostream& out,
                    std::ostream& err);
int CmdObserveList(const PeriodCliTarget& target, const std::string& component, const Clock& clock,
                   std::ostream& out, std::ostream& err);
int CmdObserveStop(const PeriodCliTarget& target, const std::string& component, const Clock& clock,
                   std::ostream& out, std::ostream& err);

struct ObserveReportArgs {
  PeriodCliTarget target;
  std::string component;
  std::optional<int64_t> period_id;
  std::string format = "text";
  std::string output;  // file to write; empty: `out`
  std::optional<int> day;  // only Day N's comment (markdown)
};
int CmdObserveReport(const ObserveReportArgs& args, const Clock& clock, std::ostream& out,
                     std::ostream& err);

// Where a window may be added or moved to (docs/report.md, "Maintenance windows"):
// - its component must be known: in the config with --config; with --db only, a component with
//   stored runs or an observation period (a misspelt name would exclude nothing);
// - it must end after it starts, and be no longer than the component's current observation
//   period (stored, else declared in the config), or kMaxMaintenanceWithoutPeriodMs (31 days,
//   core/period_records.h) without one; a recurring window's occurrences likewise, and shorter
//   than their interval (a day, a week).
// Refusals are usage errors (exit 2) whose message names the flag.

struct MaintenanceAddArgs {
  PeriodCliTarget target;
  std::string component;
  std::string from, to, reason;
  // Recurring: one of weekly ("sun 02:00") or daily ("02:00"), with duration ("2h"); from
  // (default now) and until (default never) bound when occurrences start.
  std::string weekly, daily, duration, time_zone, until;
};
int CmdMaintenanceAdd(const MaintenanceAddArgs& args, const Clock& clock, std::ostream& out,
                      std::ostream& err);
int CmdMaintenanceList(const PeriodCliTarget& target, const std::string& component,
                       std::ostream& out, std::ostream& err);

// Changes the given fields of window `id`; the others stay. A one-off window takes --from,
// --to, --reason; a recurring one --weekly/--daily, --duration, --timezone, --from, --until,
// --reason. Windows declared in the config are changed there, not here (refused).
struct MaintenanceEditArgs {
  PeriodCliTarget target;
  int64_t id = 0;
  std::optional<std::string> from, to, until, weekly, daily, duration, time_zone, reason;
};
int CmdMaintenanceEdit(const MaintenanceEditArgs& args, const Clock& clock, std::ostream& out,
                       std::ostream& err);
int CmdMaintenanceDelete(const PeriodCliTarget& target, int64_t id, std::ostream& out,
                         std::ostream& err);

// Prints the Prometheus rule file (config/slo_rules.h) for every component of the config, or
// for `component` only.
int CmdRulesSlo(const std::string& config_path, const std::string& component, std::ostream& out,
                std::ostream& err);

// Registers the commands above on `app` (subcommands observe, maintenance, rules). They run from
// CLI11 callbacks during app.parse(), with the system clock and std::cout / std::cerr, and end
// the parse by throwing CLI::Success (exit 0) or CLI::RuntimeError(code), which main's
// `catch (const CLI::ParseError& e) { return app.exit(e) ... }` turns into the exit code.
void AddPeriodCommands(CLI::App& app);

}  // namespace obsmon
