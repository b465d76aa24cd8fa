#include "cmd/obsmon/cli_periods.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <set>

#include "config/config_loader.h"
#include "config/slo_rules.h"
#include "core/config_node.h"
#include "core/duration.h"
#include "core/recurrence.h"
#include "core/time_format.h"
#include "core/time_zone.h"
#include "render/report_format.h"
#include "report/periods.h"
#include "storage/period_store.h"
#include "storage/storage.h"

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
  p.time_zone = a.time_zone;
  if (!a.time_zone.empty()) {
    if (auto zone = TimeZone::Load(a.time_zone); !zone.ok()) {
      err << "obsmon observe start: --timezone: " << zone.status().message() << "\n";
      return kUsage;
    }
  }
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
  req.day = a.day;
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

namespace {

// With --db only: why `component` is not one obsmon knows in the database (no stored run, no
// observation period), listing the known ones; nullopt when it is known.
std::optional<std::string> UnknownInDatabase(const std::string& db_path,
                                             storage::PeriodStore& store,
                                             const std::string& component) {
  std::set<std::string> known;
  if (auto reader = storage::Reader::Open(db_path); reader.ok()) {
    if (auto names = (*reader)->Components(); names.ok())
      known.insert(names->begin(), names->end());
  }
  if (auto periods = store.Periods(); periods.ok()) {
    for (const auto& p : *periods) known.insert(p.component);
  }
  if (known.count(component)) return std::nullopt;
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return fmt::format(
      "unknown component '{}' (known: {}): {} has no stored run or observation period of it; "
      "check the name, or give --config",
      component, list.empty() ? "none" : list, db_path);
}

// The longest a window of the component may be, and what sets it.
std::pair<int64_t, std::string> LongestWindow(const Resolved& r, storage::PeriodStore& store,
                                              const std::string& component, TimestampMs now) {
  if (auto periods = store.Periods(component); periods.ok()) {
    if (auto p = CurrentPeriod(*periods, now)) {
      return {p->end_ms - p->start_ms,
              fmt::format("observation period #{} of {}", p->id, component)};
    }
  }
  if (r.component) {
    if (auto p = CurrentPeriod(r.component->declared_periods, now)) {
      return {p->end_ms - p->start_ms,
              fmt::format("the observation period of {} in the config", component)};
    }
  }
  return {kMaxMaintenanceWithoutPeriodMs, "the longest window of a component without a period"};
}

// Why `m` may not be stored (naming the flag); nullopt when it may. `check_component`: whether
// to check that its component is known (not on edit: the component does not change).
std::optional<std::string> CheckWindow(const Resolved& r, storage::PeriodStore& store,
                                       const MaintenanceRecord& m, TimestampMs now,
                                       bool check_component) {
  if (check_component && !r.config) {
    if (auto unknown = UnknownInDatabase(r.db_path, store, m.component)) return unknown;
  }
  if (m.end_ms <= m.start_ms) {
    return m.recurring() ? "--until: must be after --from" : "--to: must be after --from";
  }
  int64_t length = m.end_ms - m.start_ms;
  const char* flag = "--from/--to";
  if (m.recurring()) {
    auto rec = ParseRecurrence(m.recurrence);
    if (!rec) return fmt::format("'{}' is not a recurrence", m.recurrence);
    if (m.duration_ms <= 0 || m.duration_ms >= rec->IntervalMs()) {
      return fmt::format("--duration: a {} window must last more than 0 and less than {}",
                         rec->every == Recurrence::Every::kDay ? "daily" : "weekly",
                         rec->every == Recurrence::Every::kDay ? "a day" : "a week");
    }
    if (!m.time_zone.empty()) {
      if (auto zone = TimeZone::Load(m.time_zone); !zone.ok()) {
        return "--timezone: " + zone.status().message();
      }
    }
    length = m.duration_ms;
    flag = "--duration";
  }
  const auto [longest, what] = LongestWindow(r, store, m.component, now);
  if (length > longest) {
    return fmt::format("{}: the window is {} long, longer than {} ({}); shorten or split it", flag,
                       HumanDurationMs(length), what, HumanDurationMs(longest));
  }
  return std::nullopt;
}

// "2025-10-16 02:00:00 -> 2025-10-16 03:30:00 UTC (1h 30m)" or
// "weekly sun 02:00 Europe/Berlin for 2h, from 2025-10-16 00:00:00 UTC".
std::string Describe(const MaintenanceRecord& m) {
  if (!m.recurring()) {
    return fmt::format("{} -> {} UTC ({})", FormatUtcSeconds(m.start_ms),
                       FormatUtcSeconds(m.end_ms), HumanDurationMs(m.end_ms - m.start_ms));
  }
  return fmt::format(
      "{} {} for {}, from {} UTC{}", m.recurrence, m.time_zone.empty() ? "UTC" : m.time_zone,
      HumanDurationMs(m.duration_ms), FormatUtcSeconds(m.start_ms),
      m.end_ms >= kMaintenanceNoEndMs ? std::string()
                                      : fmt::format(" until {} UTC", FormatUtcSeconds(m.end_ms)));
}

// Fills the recurrence fields of `m` from --weekly / --daily / --duration / --timezone; a
// message naming the flag when one is wrong.
std::optional<std::string> SetRecurrence(MaintenanceRecord& m, const std::string* weekly,
                                         const std::string* daily, const std::string* duration,
                                         const std::string* time_zone) {
  if (weekly && daily) return "give one of --weekly and --daily";
  if (weekly) {
    auto r = ParseWeekly(*weekly);
    if (!r)
      return fmt::format("--weekly: '{}' is not a day and time such as \"sun 02:00\"", *weekly);
    m.recurrence = FormatRecurrence(*r);
  }
  if (daily) {
    auto r = ParseDaily(*daily);
    if (!r) return fmt::format("--daily: '{}' is not a time such as 02:00", *daily);
    m.recurrence = FormatRecurrence(*r);
  }
  if (duration) {
    auto d = ParseDurationMs(*duration);
    if (!d || *d <= 0)
      return fmt::format("--duration: '{}' is not a duration such as 2h", *duration);
    m.duration_ms = *d;
  }
  if (time_zone) m.time_zone = (*time_zone == "UTC" || *time_zone == "Etc/UTC") ? "" : *time_zone;
  return std::nullopt;
}

int Refuse(const char* cmd, const std::string& why, std::ostream& err) {
  err << "obsmon maintenance " << cmd << ": " << why << "\n";
  return kUsage;
}

}  // namespace

int CmdMaintenanceAdd(const MaintenanceAddArgs& a, const Clock& clock, std::ostream& out,
                      std::ostream& err) {
  int code = kOk;
  auto r = Resolve(a.target, a.component, "maintenance add", err, &code);
  if (!r) return code;
  MaintenanceRecord m;
  m.component = a.component;
  m.reason = a.reason;
  m.source = "cli";
  m.created_ms = clock.NowMs();
  const bool recurring = !a.weekly.empty() || !a.daily.empty();
  if (recurring) {
    if (!a.to.empty()) {
      return Refuse("add", "--to is for a one-off window; a recurring one ends with --until", err);
    }
    if (a.duration.empty())
      return Refuse("add", "--duration: required with --weekly or --daily", err);
    if (auto why = SetRecurrence(m, a.weekly.empty() ? nullptr : &a.weekly,
                                 a.daily.empty() ? nullptr : &a.daily, &a.duration,
                                 a.time_zone.empty() ? nullptr : &a.time_zone)) {
      return Refuse("add", *why, err);
    }
    auto from = ParseTime(a.from, clock);  // default: now
    if (!from)
      return Refuse(
          "add", "--from: cannot parse '" + a.from + "' (RFC 3339, date, Unix time or now)", err);
    m.start_ms = *from;
    m.end_ms = kMaintenanceNoEndMs;
    if (!a.until.empty()) {
      auto until = ParseTimestamp(a.until);
      if (!until)
        return Refuse("add",
                      "--until: cannot parse '" + a.until + "' (RFC 3339, date or Unix time)", err);
      m.end_ms = *until;
    }
  } else {
    if (!a.duration.empty() || !a.time_zone.empty() || !a.until.empty()) {
      return Refuse("add",
                    "--duration, --timezone and --until are for a recurring window "
                    "(--weekly or --daily)",
                    err);
    }
    auto from = ParseTime(a.from, clock);
    auto to = ParseTime(a.to, clock);
    if (a.from.empty() || a.to.empty() || !from || !to) {
      return Refuse("add",
                    "--from and --to must be timestamps (RFC 3339, date, Unix time or now); "
                    "or give --weekly/--daily with --duration for a recurring window",
                    err);
    }
    m.start_ms = *from;
    m.end_ms = *to;
  }
  auto store = OpenStore(r->db_path, "maintenance add", err);
  if (!store) return kFailure;
  if (auto why = CheckWindow(*r, *store, m, clock.NowMs(), /*check_component=*/true)) {
    return Refuse("add", *why, err);
  }
  auto id = store->AddMaintenance(m);
  if (!id.ok()) {
    err << "obsmon maintenance add: " << id.status().message() << "\n";
    return id.status().IsInvalidArgument() ? kUsage : kFailure;
  }
  out << fmt::format("maintenance window #{} of {}: {}, excluded from uptime\n", *id, a.component,
                     Describe(m));
  return kOk;
}

int CmdMaintenanceList(const PeriodCliTarget& t, const std::string& component, std::ostream& out,
                       std::ostream& err) {
  int code = kOk;
  auto r = Resolve(t, "", "maintenance list", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "maintenance list", err);
  if (!store) return kFailure;
  auto windows = store->MaintenanceWindows(component);
  if (!windows.ok()) {
    err << "obsmon maintenance list: " << windows.status().message() << "\n";
    return kFailure;
  }
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
  int code = kOk;
  auto r = Resolve(a.target, "", "maintenance edit", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "maintenance edit", err);
  if (!store) return kFailure;
  auto stored = store->MaintenanceWindow(a.id);
  if (!stored.ok()) {
    err << "obsmon maintenance edit: " << stored.status().message() << "\n";
    return kFailure;
  }
  MaintenanceRecord m = *stored;
  if (m.source == "config") {
    return Refuse("edit",
                  fmt::format("window #{} is declared in the config: change it there", a.id), err);
  }
  if (r->config) r->component = r->config->FindComponent(m.component);
  if (!a.from && !a.to && !a.until && !a.weekly && !a.daily && !a.duration && !a.time_zone &&
      !a.reason) {
    return Refuse("edit",
                  "nothing to change: give --from, --to, --reason (one-off) or --weekly, "
                  "--daily, --duration, --timezone, --until (recurring)",
                  err);
  }
  if (a.reason) m.reason = *a.reason;
  if (a.from) {
    auto from = ParseTime(*a.from, clock);
    if (a.from->empty() || !from)
      return Refuse("edit", "--from: cannot parse '" + *a.from + "'", err);
    m.start_ms = *from;
  }
  if (m.recurring()) {
    if (a.to)
      return Refuse("edit", "--to is for a one-off window; a recurring one ends with --until", err);
    if (auto why = SetRecurrence(m, a.weekly ? &*a.weekly : nullptr, a.daily ? &*a.daily : nullptr,
                                 a.duration ? &*a.duration : nullptr,
                                 a.time_zone ? &*a.time_zone : nullptr)) {
      return Refuse("edit", *why, err);
    }
    if (a.until) {
      if (*a.until == "never") {
        m.end_ms = kMaintenanceNoEndMs;
      } else {
        auto until = ParseTime(*a.until, clock);
        if (a.until->empty() || !until)
          return Refuse("edit", "--until: cannot parse '" + *a.until + "'", err);
        m.end_ms = *until;
      }
    }
  } else {
    if (a.until || a.weekly || a.daily || a.duration || a.time_zone) {
      return Refuse("edit",
                    fmt::format("window #{} is a one-off window: --until, --weekly, --daily, "
                                "--duration and --timezone are for recurring ones (delete "
                                "it and add a recurring one)",
                                a.id),
                    err);
    }
    if (a.to) {
      auto to = ParseTime(*a.to, clock);
      if (a.to->empty() || !to) return Refuse("edit", "--to: cannot parse '" + *a.to + "'", err);
      m.end_ms = *to;
    }
  }
  if (auto why = CheckWindow(*r, *store, m, clock.NowMs(), /*check_component=*/false)) {
    return Refuse("edit", *why, err);
  }
  if (Status s = store->UpdateMaintenance(m); !s.ok()) {
    err << "obsmon maintenance edit: " << s.message() << "\n";
    return s.IsInvalidArgument() ? kUsage : kFailure;
  }
  out << fmt::format("maintenance window #{} of {}: {} (was: {})\n", m.id, m.component, Describe(m),
                     Describe(*stored));
  return kOk;
}

int CmdMaintenanceDelete(const PeriodCliTarget& t, int64_t id, std::ostream& out,
                         std::ostream& err) {
  int code = kOk;
  auto r = Resolve(t, "", "maintenance delete", err, &code);
  if (!r) return code;
  auto store = OpenStore(r->db_path, "maintenance delete", err);
  if (!store) return kFailure;
  auto stored = store->MaintenanceWindow(id);
  if (!stored.ok()) {
    err << "obsmon maintenance delete: " << stored.status().message() << "\n";
    return kFailure;
  }
  if (stored->source == "config") {
    return Refuse("delete",
                  fmt::format("window #{} is declared in the config: remove it there", id), err);
  }
  auto deleted = store->DeleteMaintenance(id);
  if (!deleted.ok()) {
    err << "obsmon maintenance delete: " << deleted.status().message() << "\n";
    return kFailure;
  }
  out << fmt::format("deleted maintenance window #{} of {}: {}\n", id, deleted->component,
                     Describe(*deleted));
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

void AddTarget(CLI::App* cmd, PeriodCliTarget* t) {
  cmd->add_option("-c,--config", t->config_path, "Config file: database and objective");
  cmd->add_option("--db", t->db_path, "Database path (default: the config's storage.path)");
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
  AddTarget(start, &args->start.target);
  start->callback(
      [args, &clock] { Fail(CmdObserveStart(args->start, clock, std::cout, std::cerr)); });

  auto* list = observe->add_subcommand("list", "List observation periods");
  list->add_option("component", args->component, "Only this component");
  AddTarget(list, &args->target);
  list->callback([args, &clock] {
    Fail(CmdObserveList(args->target, args->component, clock, std::cout, std::cerr));
  });

  auto* stop = observe->add_subcommand("stop", "Stop a component's running observation period");
  stop->add_option("component", args->component, "Component name")->required();
  AddTarget(stop, &args->target);
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
                   "Start (RFC 3339, Unix time or now); recurring: first day it holds (default "
                   "now)");
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
  AddTarget(madd, &args->maint.target);
  madd->callback(
      [args, &clock] { Fail(CmdMaintenanceAdd(args->maint, clock, std::cout, std::cerr)); });
  auto* mlist = maintenance->add_subcommand("list", "List maintenance windows");
  mlist->add_option("component", args->component, "Only this component");
  AddTarget(mlist, &args->target);
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
  AddTarget(medit, &args->edit.target);
  medit->callback(
      [args, &clock] { Fail(CmdMaintenanceEdit(args->edit, clock, std::cout, std::cerr)); });
  auto* mdel = maintenance->add_subcommand("delete", "Delete a maintenance window");
  mdel->add_option("id", args->delete_id, "Window id (obsmon maintenance list)")->required();
  AddTarget(mdel, &args->target);
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
