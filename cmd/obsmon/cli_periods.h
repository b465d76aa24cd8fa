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
//
// observe start/list/stop and maintenance add/list/edit/delete given --config go through the
// daemon's HTTP API when a daemon answers at the config's listen address
// (cmd/obsmon/daemon_client.h), else write the database themselves; both run the same checks
// (cmd/obsmon/period_actions.h) and print alike. --verbose says which way a command went.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "cmd/obsmon/period_actions.h"
#include "core/clock.h"
#include "report/report.h"

namespace obsmon {

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
  size_t max_listed = ReportOptions{}.max_listed;  // --max-listed (0: all)
};
// `--max-listed N` on a report command (`obsmon report`, `obsmon observe report`).
void AddMaxListed(CLI::App* cmd, size_t* max_listed);

int CmdObserveReport(const ObserveReportArgs& args, const Clock& clock, std::ostream& out,
                     std::ostream& err);

// The maintenance commands check a window as period_actions.h says; refusals are usage errors
// (exit 2) whose message names the flag.
int CmdMaintenanceAdd(const MaintenanceAddArgs& args, const Clock& clock, std::ostream& out,
                      std::ostream& err);
int CmdMaintenanceList(const PeriodCliTarget& target, const std::string& component,
                       std::ostream& out, std::ostream& err);

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
