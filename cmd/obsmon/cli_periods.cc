#include "cmd/obsmon/cli_periods.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include "cmd/obsmon/daemon_client.h"
#include "config/config_loader.h"
#include "config/slo_rules.h"
#include "core/config_node.h"
#include "core/duration.h"
#include "core/time_format.h"
#include "render/report_format.h"
#include "report/periods.h"

namespace obsmon {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

// What --config / --db resolve to.
struct Resolved {
  std::string db_path;
  std::optional<Config> config;
  const ComponentConfig* component = nullptr;  // points into config
};

// Loads the config when given; checks the component exists in it (when `component` is not
// empty). Returns nullopt after printing the problem; *code says which exit code.
std::optional<Resolved> Resolve(const PeriodCliTarget& t, const std::string& component,
                                const char* cmd, std::ostream& err, int* code) {
  Resolved r;
  r.db_path = t.db_path;
  if (!t.config_path.empty()) {
    ConfigErrors errors;
    r.config = LoadConfig(t.config_path, SystemClock::Instance(), &errors);
    if (!r.config) {
      err << errors.ToString() << "\n";
      *code = kFailure;
      return std::nullopt;
    }
    if (r.db_path.empty()) r.db_path = r.config->storage.path;
    if (!component.empty()) {
      r.component = r.config->FindComponent(component);
      if (!r.component) {
        std::string known;
        for (const auto& c : r.config->components) known += (known.empty() ? "" : ", ") + c.name;
        err << "obsmon " << cmd << ": unknown component '" << component << "' in " << t.config_path
            << " (known: " << (known.empty() ? "none" : known) << ")\n";
        *code = kFailure;
        return std::nullopt;
      }
    }
  }
  if (r.db_path.empty()) {
    err << "obsmon " << cmd << ": give --config FILE or --db PATH\n";
    *code = kUsage;
    return std::nullopt;
  }
  return r;
}

// Where a command's action goes: with --config, to the daemon when one answers at its listen
// address (daemon_client.h); else to the database. Nullptr after printing why not (exit *code).
std::unique_ptr<PeriodManager> ManagerFor(const PeriodCliTarget& t, const char* cmd,
                                          const Clock& clock, std::ostream& err, int* code) {
  auto r = Resolve(t, "", cmd, err, code);
  if (!r) return nullptr;
  std::string where = "no config, so no daemon to find";
  if (r->config && r->db_path != r->config->storage.path) {
    where = "--db is not the config's database, which the daemon writes";
  } else if (r->config) {
    if (auto daemon = DaemonPeriodManager(*r->config, &where)) {
      if (t.verbose) err << "obsmon " << cmd << ": via " << where << "\n";
      return daemon;
    }
  }
  if (t.verbose) {
    err << "obsmon " << cmd << ": writing " << r->db_path << " directly (" << where << ")\n";
  }
  PeriodScope scope;
  scope.db_path = r->db_path;
  scope.has_config = r->config.has_value();
  if (r->config) {
    scope.components = r->config->components;
    scope.busy_timeout_ms = static_cast<int>(r->config->storage.busy_timeout_ms);
  }
  scope.config_name = t.config_path;
  return LocalPeriodManager(std::move(scope), clock);
}

// Prints a failed action as the CLI does; its exit code.
int Failed(const char* cmd, const Status& s, std::ostream& err) {
  err << "obsmon " << cmd << ": " << s.message() << "\n";
  return s.IsInvalidArgument() ? kUsage : kFailure;
}

void Fail(int code) {
  if (code == kOk) throw CLI::Success();
  throw CLI::RuntimeError(code);
}

}  // namespace

int CmdObserveStart(const ObserveStartArgs& a, const Clock& clock, std::ostream& out,
                    std::ostream& err) {
  constexpr const char* kCmd = "observe start";
  int code = kOk;
  auto manager = ManagerFor(a.target, kCmd, clock, err, &code);
  if (!manager) return code;
  auto p = manager->StartPeriod(a);
  if (!p.ok()) return Failed(kCmd, p.status(), err);
  const int64_t allowed = std::llround((1.0 - p->objective_percent / 100.0) *
                                       static_cast<double>(p->end_ms - p->start_ms));
  out << fmt::format(
      "observation period #{} of {}: {} -> {} UTC ({} days, objective {} %, error budget {})\n",
      p->id, p->component, FormatUtcSeconds(p->start_ms), FormatUtcSeconds(p->end_ms),
      (p->end_ms - p->start_ms) / 86'400'000, p->objective_percent, HumanDurationMs(allowed));
  return kOk;
}

int CmdObserveList(const PeriodCliTarget& t, const std::string& component, const Clock& clock,
                   std::ostream& out, std::ostream& err) {
  constexpr const char* kCmd = "observe list";
  int code = kOk;
  auto manager = ManagerFor(t, kCmd, clock, err, &code);
  if (!manager) return code;
  auto periods = manager->Periods(component);
  if (!periods.ok()) return Failed(kCmd, periods.status(), err);
  out << fmt::format("{:>4}  {:<20}  {:<9}  {:<19}  {:<19}  {:>9}  {}\n", "ID", "COMPONENT",
                     "STATE", "START (UTC)", "END (UTC)", "OBJECTIVE", "SOURCE");
  const TimestampMs now = clock.NowMs();
  for (const auto& p : *periods) {
    out << fmt::format("{:>4}  {:<20}  {:<9}  {:<19}  {:<19}  {:>7} %  {}\n", p.id,
                       OneLine(p.component), PeriodStateName(StateOf(p, now)),
                       FormatUtcSeconds(p.start_ms), FormatUtcSeconds(PeriodEnd(p)),
                       p.objective_percent, p.source);
  }
  return kOk;
}

int CmdObserveStop(const PeriodCliTarget& t, const std::string& component, const Clock& clock,
                   std::ostream& out, std::ostream& err) {
  constexpr const char* kCmd = "observe stop";
  int code = kOk;
  auto manager = ManagerFor(t, kCmd, clock, err, &code);
  if (!manager) return code;
  auto p = manager->StopPeriod(component);
  if (!p.ok()) return Failed(kCmd, p.status(), err);
  out << fmt::format("observation period #{} of {} stopped at {} UTC (planned end {} UTC)\n", p->id,
                     component, FormatUtcSeconds(p->stopped_ms), FormatUtcSeconds(p->end_ms));
  return kOk;
}

int CmdObserveReport(const ObserveReportArgs& a, const Clock& clock, std::ostream& out,
                     std::ostream& err) {
  int code = kOk;
  auto r = Resolve(a.target, a.component, "observe report", err, &code);
  if (!r) return code;
  PeriodReportRequest req;
  req.db_path = r->db_path;
  req.component = a.component;
  req.period_id = a.period_id;
  req.format = a.format;
  req.now_ms = clock.NowMs();
  req.day = a.day;
  req.max_listed = a.max_listed;
  if (r->component) {
    req.objective = r->component->objective;
    if (r->config) req.alert_components = AlertComponentsOf(r->config->components);
    for (const auto& probe : r->component->probes) {
      if (probe.spec.role == ProbeRole::kHealth) req.health_probes.push_back(probe.spec.key.probe);
    }
  }
  auto body = RenderPeriodReport(req);
  if (!body.ok()) {
    err << "obsmon observe report: " << body.status().message() << "\n";
    return body.status().IsInvalidArgument() ? kUsage : kFailure;
  }
  if (a.output.empty()) {
    out << body->body;
    return kOk;
  }
  std::ofstream f(a.output, std::ios::binary | std::ios::trunc);
  f << body->body;
  f.close();
  if (!f) {
    err << "obsmon observe report: cannot write " << a.output << "\n";
    return kFailure;
  }
  out << "wrote " << a.output << "\n";
  return kOk;
}

int CmdMaintenanceAdd(const MaintenanceAddArgs& a, const Clock& clock, std::ostream& out,
                      std::ostream& err) {
  constexpr const char* kCmd = "maintenance add";
  int code = kOk;
  auto manager = ManagerFor(a.target, kCmd, clock, err, &code);
  if (!manager) return code;
  auto m = manager->AddWindow(a);
  if (!m.ok()) return Failed(kCmd, m.status(), err);
  out << fmt::format("maintenance window #{} of {}: {}, excluded from uptime\n", m->id,
                     m->component, DescribeWindow(*m));
  return kOk;
}

int CmdMaintenanceList(const PeriodCliTarget& t, const std::string& component, std::ostream& out,
                       std::ostream& err) {
  constexpr const char* kCmd = "maintenance list";
  int code = kOk;
  auto manager = ManagerFor(t, kCmd, SystemClock::Instance(), err, &code);
  if (!manager) return code;
  auto windows = manager->Windows(component);
  if (!windows.ok()) return Failed(kCmd, windows.status(), err);
  out << fmt::format("{:>4}  {:<20}  {:<19}  {:<19}  {:>9}  {:<30}  {:<6}  {}\n", "ID", "COMPONENT",
                     "FROM (UTC)", "TO (UTC)", "LENGTH", "REPEATS", "SOURCE", "REASON");
  for (const auto& m : *windows) {
    const bool forever = m.recurring() && m.end_ms >= kMaintenanceNoEndMs;
    out << fmt::format(
        "{:>4}  {:<20}  {:<19}  {:<19}  {:>9}  {:<30}  {:<6}  {}\n", m.id, OneLine(m.component),
        FormatUtcSeconds(m.start_ms), forever ? "-" : FormatUtcSeconds(m.end_ms),
        HumanDurationMs(m.recurring() ? m.duration_ms : m.end_ms - m.start_ms),
        m.recurring()
            ? m.recurrence + " " + (m.time_zone.empty() ? std::string("UTC") : m.time_zone)
            : std::string("-"),
        m.source, OneLine(m.reason));
  }
  return kOk;
}

int CmdMaintenanceEdit(const MaintenanceEditArgs& a, const Clock& clock, std::ostream& out,
                       std::ostream& err) {
  constexpr const char* kCmd = "maintenance edit";
  int code = kOk;
  auto manager = ManagerFor(a.target, kCmd, clock, err, &code);
  if (!manager) return code;
  auto edit = manager->EditWindow(a);
  if (!edit.ok()) return Failed(kCmd, edit.status(), err);
  out << fmt::format("maintenance window #{} of {}: {} (was: {})\n", edit->window.id,
                     edit->window.component, DescribeWindow(edit->window),
                     DescribeWindow(edit->was));
  return kOk;
}

int CmdMaintenanceDelete(const PeriodCliTarget& t, int64_t id, std::ostream& out,
                         std::ostream& err) {
  constexpr const char* kCmd = "maintenance delete";
  int code = kOk;
  auto manager = ManagerFor(t, kCmd, SystemClock::Instance(), err, &code);
  if (!manager) return code;
  auto deleted = manager->DeleteWindow(id);
  if (!deleted.ok()) return Failed(kCmd, deleted.status(), err);
  out << fmt::format("deleted maintenance window #{} of {}: {}\n", id, deleted->component,
                     DescribeWindow(*deleted));
  return kOk;
}

int CmdRulesSlo(const std::string& config_path, const std::string& component, std::ostream& out,
                std::ostream& err) {
  ConfigErrors errors;
  auto config = LoadConfig(config_path, SystemClock::Instance(), &errors);
  if (!config) {
    err << errors.ToString() << "\n";
    return kFailure;
  }
  std::vector<SloSpec> slos;
  for (const SloSpec& slo : SloSpecsOf(config->components)) {
    if (component.empty() || slo.component == component) slos.push_back(slo);
  }
  if (slos.empty()) {
    err << "obsmon rules slo: no component" << (component.empty() ? "" : " '" + component + "'")
        << " in " << config_path << "\n";
    return kFailure;
  }
  out << RenderSloRules(slos);
  return kOk;
}

namespace {

// The commands' arguments. They live as long as the app: CLI11 writes into them during parse,
// callbacks read them.
struct PeriodCliArgs {
  ObserveStartArgs start;
  PeriodCliTarget target;
  std::string component;
  ObserveReportArgs report;
  int64_t period_id = 0;
  MaintenanceAddArgs maint;
  MaintenanceEditArgs edit;
  int64_t delete_id = 0;
  std::string rules_config, rules_component;
};

}  // namespace

void AddMaxListed(CLI::App* cmd, size_t* max_listed) {
  // Digits only, as the API's max_listed=: CLI11 alone would take -1 (wrapped to "all"), 0x10 or
  // an empty value.
  const CLI::Validator count(
      [](std::string& text) -> std::string {
        bool digits = !text.empty() && text.size() <= 9;
        for (char ch : text) digits = digits && ch >= '0' && ch <= '9';
        return digits ? "" : "'" + text + "' is not a count from 0 (all) to 999999999";
      },
      "COUNT");
  cmd->add_option("--max-listed", *max_listed,
                  "List at most N incidents and N monitoring gaps, the longest; count the rest "
                  "(default 1000; 0 lists all)")
      ->check(count);
}

namespace {

void AddTarget(CLI::App* cmd, PeriodCliTarget* t) {
  cmd->add_option("-c,--config", t->config_path, "Config file: database and objective");
  cmd->add_option("--db", t->db_path, "Database path (default: the config's storage.path)");
}

// The target of a command that may go through the daemon's API (daemon_client.h).
void AddManagedTarget(CLI::App* cmd, PeriodCliTarget* t) {
  AddTarget(cmd, t);
  cmd->add_flag("-v,--verbose", t->verbose,
                "Say whether the command went to the running daemon or to the database");
}

void AddObserveCommands(CLI::App& app, const std::shared_ptr<PeriodCliArgs>& args,
                        const Clock& clock) {
  auto* observe = app.add_subcommand("observe", "Observation periods: start, list, stop, report");
  observe->require_subcommand(1);
  auto* start = observe->add_subcommand("start", "Start an observation period of a component");
  start->add_option("component", args->start.component, "Component name")->required();
  start->add_option("--days", args->start.days, "Length in days (default 7)");
  start->add_option("--objective", args->start.objective_percent, "Uptime objective in percent");
  start->add_option("--min-coverage", args->start.min_coverage_percent,
                    "Minimum coverage in percent (default 99)");
  start->add_option("--latency-p95", args->start.latency_p95, "p95 latency SLA, e.g. 250ms");
  start->add_option("--degradation-tolerance", args->start.degradation_tolerance,
                    "Allowed growth of p95 from the first to the last day (0.25 = 25 %)");
  start->add_option("--start", args->start.start, "Start time (default now)");
  start->add_option("--note", args->start.note, "Free text kept with the period");
  start->add_option("--timezone", args->start.time_zone,
                    "Count days as calendar days of this zone, e.g. Europe/Berlin (default: 24 h "
                    "from the start)");
  AddManagedTarget(start, &args->start.target);
  start->callback(
      [args, &clock] { Fail(CmdObserveStart(args->start, clock, std::cout, std::cerr)); });

  auto* list = observe->add_subcommand("list", "List observation periods");
  list->add_option("component", args->component, "Only this component");
  AddManagedTarget(list, &args->target);
  list->callback([args, &clock] {
    Fail(CmdObserveList(args->target, args->component, clock, std::cout, std::cerr));
  });

  auto* stop = observe->add_subcommand("stop", "Stop a component's running observation period");
  stop->add_option("component", args->component, "Component name")->required();
  AddManagedTarget(stop, &args->target);
  stop->callback([args, &clock] {
    Fail(CmdObserveStop(args->target, args->component, clock, std::cout, std::cerr));
  });

  auto* report = observe->add_subcommand("report", "Report of an observation period");
  report->add_option("component", args->report.component, "Component name")->required();
  auto* period_opt =
      report->add_option("--period", args->period_id, "Period id (default: the current one)");
  auto* format_opt =
      report->add_option("--format", args->report.format, "text, markdown, json or html")
          ->check(CLI::IsMember({"text", "markdown", "json", "html"}));
  report->add_option("-o,--output", args->report.output, "Write to this file");
  report->add_option("--day", args->report.day,
                     "Only Day N's comment for the promotion issue (with --format markdown)")
      ->check(CLI::Range(1, 4000));
  AddMaxListed(report, &args->report.max_listed);
  AddTarget(report, &args->report.target);
  report->callback([args, period_opt, format_opt, &clock] {
    if (period_opt->count() > 0) args->report.period_id = args->period_id;
    // A day's comment is markdown: --day alone needs no --format.
    if (args->report.day && format_opt->count() == 0) args->report.format = "markdown";
    Fail(CmdObserveReport(args->report, clock, std::cout, std::cerr));
  });
}

void AddMaintenanceCommands(CLI::App& app, const std::shared_ptr<PeriodCliArgs>& args,
                            const Clock& clock) {
  auto* maintenance =
      app.add_subcommand("maintenance", "Maintenance windows (excluded from uptime)");
  maintenance->require_subcommand(1);
  auto* madd = maintenance->add_subcommand("add", "Declare a maintenance window");
  madd->add_option("component", args->maint.component, "Component name")->required();
  madd->add_option("--from", args->maint.from,
                   "Start (RFC 3339, Unix time or now; default now); recurring: first day it "
                   "holds");
  madd->add_option("--to", args->maint.to, "End of a one-off window (RFC 3339, Unix time)");
  madd->add_option("--weekly", args->maint.weekly,
                   "Recurring each week: day and local time, "
                   "e.g. \"sun 02:00\"");
  madd->add_option("--daily", args->maint.daily, "Recurring each day: local time, e.g. 02:00");
  madd->add_option("--duration", args->maint.duration, "Length of each occurrence, e.g. 2h");
  madd->add_option("--timezone", args->maint.time_zone,
                   "Time zone of --weekly/--daily, e.g. Europe/Berlin (default UTC)");
  madd->add_option("--until", args->maint.until, "Recurring: no occurrence starts from then on");
  madd->add_option("--reason", args->maint.reason, "Why (shown in reports)")->required();
  AddManagedTarget(madd, &args->maint.target);
  madd->callback(
      [args, &clock] { Fail(CmdMaintenanceAdd(args->maint, clock, std::cout, std::cerr)); });
  auto* mlist = maintenance->add_subcommand("list", "List maintenance windows");
  mlist->add_option("component", args->component, "Only this component");
  AddManagedTarget(mlist, &args->target);
  mlist->callback(
      [args] { Fail(CmdMaintenanceList(args->target, args->component, std::cout, std::cerr)); });
  auto* medit = maintenance->add_subcommand("edit", "Change a maintenance window");
  medit->add_option("id", args->edit.id, "Window id (obsmon maintenance list)")->required();
  medit->add_option("--from", args->edit.from, "New start (one-off) or first day (recurring)");
  medit->add_option("--to", args->edit.to, "New end of a one-off window");
  medit->add_option("--until", args->edit.until, "Recurring: new end, or never");
  medit->add_option("--weekly", args->edit.weekly,
                    "Recurring: new day and time, e.g. \"sun 02:00\"");
  medit->add_option("--daily", args->edit.daily, "Recurring: new time, e.g. 02:00");
  medit->add_option("--duration", args->edit.duration, "Recurring: new length, e.g. 2h");
  medit->add_option("--timezone", args->edit.time_zone, "Recurring: new time zone");
  medit->add_option("--reason", args->edit.reason, "New reason");
  AddManagedTarget(medit, &args->edit.target);
  medit->callback(
      [args, &clock] { Fail(CmdMaintenanceEdit(args->edit, clock, std::cout, std::cerr)); });
  auto* mdel = maintenance->add_subcommand("delete", "Delete a maintenance window");
  mdel->add_option("id", args->delete_id, "Window id (obsmon maintenance list)")->required();
  AddManagedTarget(mdel, &args->target);
  mdel->callback(
      [args] { Fail(CmdMaintenanceDelete(args->target, args->delete_id, std::cout, std::cerr)); });
}

void AddRulesCommands(CLI::App& app, const std::shared_ptr<PeriodCliArgs>& args) {
  auto* rules = app.add_subcommand("rules", "Generate Prometheus rules");
  rules->require_subcommand(1);
  auto* slo = rules->add_subcommand("slo", "SLO burn-rate recording and alerting rules");
  slo->add_option("-c,--config", args->rules_config, "Config file (YAML)")->required();
  slo->add_option("--component", args->rules_component, "Only this component");
  slo->callback([args] {
    Fail(CmdRulesSlo(args->rules_config, args->rules_component, std::cout, std::cerr));
  });
}

}  // namespace

void AddPeriodCommands(CLI::App& app) {
  auto args = std::make_shared<PeriodCliArgs>();
  const Clock& clock = SystemClock::Instance();
  AddObserveCommands(app, args, clock);
  AddMaintenanceCommands(app, args, clock);
  AddRulesCommands(app, args);
}

}  // namespace obsmon
