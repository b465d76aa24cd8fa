#include "cmd/obsmon/cli_periods.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "core/config_node.h"
#include "core/duration.h"
#include "core/time_format.h"
#include "config/config_loader.h"
#include "report/periods.h"
#include "render/report_format.h"
#include "config/slo_rules.h"
#include "storage/period_store.h"

namespace obsmon {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;
constexpr int64_t kDayMs = 86'400'000;

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
        err << "obsmon " << cmd << ": no component '" << component << "' in " << t.config_path
            << "\n";
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

std::optional<TimestampMs> ParseTime(const std::string& text, const Clock& clock) {
  if (text.empty() || text == "now") return clock.NowMs();
  return ParseTimestamp(text);
}

std::unique_ptr<storage::PeriodStore> OpenStore(const std::string& path, const char* cmd,
                                                std::ostream& err) {
  auto store = storage::PeriodStore::Open(path);
  if (!store.ok()) {
    err << "obsmon " << cmd << ": " << store.status().message() << "\n";
    return nullptr;
  }
  return std::move(store).value();
}

void Fail(int code) {
  if (code == kOk) throw CLI::Success();
  throw CLI::RuntimeError(code);
}

}  // namespace

int CmdObserveStart(const ObserveStartArgs& a, const Clock& clock, std::ostream& out,
                    std::ostream& err) {
  int code = kOk;
  auto r = Resolve(a.target, a.component, "observe start", err, &code);
  if (!r) return code;
  if (a.days < 1 || a.days > 366) {
    err << "obsmon observe start: --days must be between 1 and 366\n";
    return kUsage;
  }
  const Objective base = r->component ? r->component->objective : Objective{};
  PeriodRecord p;
  p.component = a.component;
  auto start = ParseTime(a.start, clock);
  if (!start) {
    err << "obsmon observe start: --start: cannot parse '" << a.start
        << "' (RFC 3339, date, Unix time or now)\n";
    return kUsage;
  }
  p.start_ms = *start;
  p.end_ms = p.start_ms + a.days * kDayMs;
  p.objective_percent = a.objective_percent.value_or(base.uptime_percent);
  p.min_coverage_percent = a.min_coverage_percent.value_or(base.min_coverage_percent);
  p.latency_p95_ms = base.latency_p95_ms;
  if (!a.latency_p95.empty()) {
    auto d = ParseDurationMs(a.latency_p95);
    if (!d || *d <= 0) {
      err << "obsmon observe start: --latency-p95: '" << a.latency_p95
          << "' is not a duration such as 250ms\n";
      return kUsage;
    }
    p.latency_p95_ms = static_cast<double>(*d);
  }
  if (a.degradation_tolerance) p.degradation_tolerance = *a.degradation_tolerance;
  p.source = "cli";
  p.created_ms = clock.NowMs();
  p.note = a.note;
  auto store = OpenStore(r->db_path, "observe start", err);
  if (!store) return kFailure;
  auto id = store->AddPeriod(p);
  if (!id.ok()) {
    err << "obsmon observe start: " << id.status().message() << "\n";
    return id.status().IsInvalidArgument() ? kUsage : kFailure;
  }
  const int64_t allowed = std::llround((1.0 - p.objective_percent / 100.0) *
                                       static_cast<double>(p.end_ms - p.start_ms));
  out << fmt::format(
      "observation period #{} of {}: {} -> {} UTC ({} days, objective {} %, error budget {})\n",
      *id, a.component, FormatUtcSeconds(p.start_ms), FormatUtcSeconds(p.end_ms), a.days,
      p.objective_percent, HumanDurationMs(allowed));
  return kOk;
}

int CmdObserveList(const PeriodCliTarget& t, const std::string& component, const Clock& clock,
                   std::ostream& out, std::ostream& err) {
  int code = kOk;
  auto r = Resolve(t, "", "observe list", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "observe list", err);
  if (!store) return kFailure;
  auto periods = store->Periods(component);
  if (!periods.ok()) {
    err << "obsmon observe list: " << periods.status().message() << "\n";
    return kFailure;
  }
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
  int code = kOk;
  auto r = Resolve(t, "", "observe stop", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "observe stop", err);
  if (!store) return kFailure;
  auto p = store->StopPeriod(component, clock.NowMs());
  if (!p.ok()) {
    err << "obsmon observe stop: " << p.status().message() << "\n";
    return kFailure;
  }
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
  if (r->component) {
    req.objective = r->component->objective;
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
  int code = kOk;
  auto r = Resolve(a.target, a.component, "maintenance add", err, &code);
  if (!r) return code;
  auto from = ParseTime(a.from, clock);
  auto to = ParseTime(a.to, clock);
  if (a.from.empty() || a.to.empty() || !from || !to) {
    err << "obsmon maintenance add: --from and --to must be timestamps (RFC 3339, date, Unix "
           "time or now)\n";
    return kUsage;
  }
  MaintenanceRecord m;
  m.component = a.component;
  m.start_ms = *from;
  m.end_ms = *to;
  m.reason = a.reason;
  m.source = "cli";
  m.created_ms = clock.NowMs();
  auto store = OpenStore(r->db_path, "maintenance add", err);
  if (!store) return kFailure;
  auto id = store->AddMaintenance(m);
  if (!id.ok()) {
    err << "obsmon maintenance add: " << id.status().message() << "\n";
    return id.status().IsInvalidArgument() ? kUsage : kFailure;
  }
  out << fmt::format("maintenance window #{} of {}: {} -> {} UTC ({}), excluded from uptime\n", *id,
                     a.component, FormatUtcSeconds(m.start_ms), FormatUtcSeconds(m.end_ms),
                     HumanDurationMs(m.end_ms - m.start_ms));
  return kOk;
}

int CmdMaintenanceList(const PeriodCliTarget& t, const std::string& component, std::ostream& out,
                       std::ostream& err) {
  int code = kOk;
  auto r = Resolve(t, "", "maintenance list", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "maintenance list", err);
  if (!store) return kFailure;
  auto windows = store->Maintenance(component, INT64_MIN, INT64_MAX);
  if (!windows.ok()) {
    err << "obsmon maintenance list: " << windows.status().message() << "\n";
    return kFailure;
  }
  out << fmt::format("{:>4}  {:<20}  {:<19}  {:<19}  {:>9}  {}\n", "ID", "COMPONENT", "FROM (UTC)",
                     "TO (UTC)", "LENGTH", "REASON");
  for (const auto& m : *windows) {
    out << fmt::format("{:>4}  {:<20}  {:<19}  {:<19}  {:>9}  {}\n", m.id, OneLine(m.component),
                       FormatUtcSeconds(m.start_ms), FormatUtcSeconds(m.end_ms),
                       HumanDurationMs(m.end_ms - m.start_ms), OneLine(m.reason));
  }
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

void AddPeriodCommands(CLI::App& app) {
  // Arguments live as long as the app: CLI11 writes into them during parse, callbacks read them.
  struct Args {
    ObserveStartArgs start;
    PeriodCliTarget target;
    std::string component;
    ObserveReportArgs report;
    int64_t period_id = 0;
    MaintenanceAddArgs maint;
    std::string rules_config, rules_component;
  };
  auto args = std::make_shared<Args>();
  auto add_target = [](CLI::App* cmd, PeriodCliTarget* t) {
    auto* config =
        cmd->add_option("-c,--config", t->config_path, "Config file: database and objective");
    cmd->add_option("--db", t->db_path, "Database path (default: the config's storage.path)");
    (void)config;
  };
  const Clock& clock = SystemClock::Instance();

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
  add_target(start, &args->start.target);
  start->callback(
      [args, &clock] { Fail(CmdObserveStart(args->start, clock, std::cout, std::cerr)); });

  auto* list = observe->add_subcommand("list", "List observation periods");
  list->add_option("component", args->component, "Only this component");
  add_target(list, &args->target);
  list->callback([args, &clock] {
    Fail(CmdObserveList(args->target, args->component, clock, std::cout, std::cerr));
  });

  auto* stop = observe->add_subcommand("stop", "Stop a component's running observation period");
  stop->add_option("component", args->component, "Component name")->required();
  add_target(stop, &args->target);
  stop->callback([args, &clock] {
    Fail(CmdObserveStop(args->target, args->component, clock, std::cout, std::cerr));
  });

  auto* report = observe->add_subcommand("report", "Report of an observation period");
  report->add_option("component", args->report.component, "Component name")->required();
  auto* period_opt =
      report->add_option("--period", args->period_id, "Period id (default: the current one)");
  report->add_option("--format", args->report.format, "text, markdown, json or html")
      ->check(CLI::IsMember({"text", "markdown", "json", "html"}));
  report->add_option("-o,--output", args->report.output, "Write to this file");
  add_target(report, &args->report.target);
  report->callback([args, period_opt, &clock] {
    if (period_opt->count() > 0) args->report.period_id = args->period_id;
    Fail(CmdObserveReport(args->report, clock, std::cout, std::cerr));
  });

  auto* maintenance =
      app.add_subcommand("maintenance", "Maintenance windows (excluded from uptime)");
  maintenance->require_subcommand(1);
  auto* madd = maintenance->add_subcommand("add", "Declare a maintenance window");
  madd->add_option("component", args->maint.component, "Component name")->required();
  madd->add_option("--from", args->maint.from, "Start (RFC 3339, Unix time or now)")->required();
  madd->add_option("--to", args->maint.to, "End (RFC 3339, Unix time)")->required();
  madd->add_option("--reason", args->maint.reason, "Why (shown in reports)")->required();
  add_target(madd, &args->maint.target);
  madd->callback(
      [args, &clock] { Fail(CmdMaintenanceAdd(args->maint, clock, std::cout, std::cerr)); });
  auto* mlist = maintenance->add_subcommand("list", "List maintenance windows");
  mlist->add_option("component", args->component, "Only this component");
  add_target(mlist, &args->target);
  mlist->callback(
      [args] { Fail(CmdMaintenanceList(args->target, args->component, std::cout, std::cerr)); });

  auto* rules = app.add_subcommand("rules", "Generate Prometheus rules");
  rules->require_subcommand(1);
  auto* slo = rules->add_subcommand("slo", "SLO burn-rate recording and alerting rules");
  slo->add_option("-c,--config", args->rules_config, "Config file (YAML)")->required();
  slo->add_option("--component", args->rules_component, "Only this component");
  slo->callback([args] {
    Fail(CmdRulesSlo(args->rules_config, args->rules_component, std::cout, std::cerr));
  });
}

}  // namespace obsmon
