#include "cmd/obsmon/period_actions.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "core/duration.h"
#include "core/recurrence.h"
#include "core/time_format.h"
#include "core/time_zone.h"
#include "report/figure_format.h"
#include "report/periods.h"
#include "storage/period_store.h"
#include "storage/storage.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;

std::optional<TimestampMs> ParseTime(const std::string& text, TimestampMs now) {
  if (text.empty() || text == "now") return now;
  return ParseTimestamp(text);
}

const ComponentConfig* FindIn(const PeriodScope& scope, const std::string& name) {
  for (const auto& c : scope.components) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// With a config: why `component` is not in it, listing the known ones; nullopt when it is.
std::optional<std::string> UnknownInConfig(const PeriodScope& scope, const std::string& component) {
  if (FindIn(scope, component)) return std::nullopt;
  std::string known;
  for (const auto& c : scope.components) known += (known.empty() ? "" : ", ") + c.name;
  return fmt::format("unknown component '{}' in {} (known: {})", component, scope.config_name,
                     known.empty() ? "none" : known);
}

// Without a config: why `component` is not one obsmon knows in the database (no stored run, no
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
std::pair<int64_t, std::string> LongestWindow(const PeriodScope& scope, storage::PeriodStore& store,
                                              const std::string& component, TimestampMs now) {
  if (auto periods = store.Periods(component); periods.ok()) {
    if (auto p = CurrentPeriod(*periods, now)) {
      return {p->end_ms - p->start_ms,
              fmt::format("observation period #{} of {}", p->id, component)};
    }
  }
  if (const ComponentConfig* c = FindIn(scope, component)) {
    if (auto p = CurrentPeriod(c->declared_periods, now)) {
      return {p->end_ms - p->start_ms,
              fmt::format("the observation period of {} in the config", component)};
    }
  }
  return {kMaxMaintenanceWithoutPeriodMs, "the longest window of a component without a period"};
}

// Why a recurring window's rule is wrong (naming the flag); nullopt when it is right.
std::optional<std::string> CheckRecurrence(const MaintenanceRecord& m) {
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
  return std::nullopt;
}

// Why `m` may not be stored (naming the flag); nullopt when it may. `check_component`: whether
// to check that its component is known (not on edit: the component does not change).
std::optional<std::string> CheckWindow(const PeriodScope& scope, storage::PeriodStore& store,
                                       const MaintenanceRecord& m, TimestampMs now,
                                       bool check_component) {
  if (check_component) {
    auto unknown = scope.has_config ? UnknownInConfig(scope, m.component)
                                    : UnknownInDatabase(scope.db_path, store, m.component);
    if (unknown) return unknown;
  }
  if (m.end_ms <= m.start_ms) {
    return m.recurring() ? "--until: must be after --from" : "--to: must be after --from";
  }
  int64_t length = m.end_ms - m.start_ms;
  const char* flag = "--from/--to";
  if (m.recurring()) {
    if (auto why = CheckRecurrence(m)) return why;
    length = m.duration_ms;
    flag = "--duration";
  }
  const auto [longest, what] = LongestWindow(scope, store, m.component, now);
  if (length > longest) {
    return fmt::format("{}: the window is {} long, longer than {} ({}); shorten or split it", flag,
                       HumanDurationMs(length), what, HumanDurationMs(longest));
  }
  return std::nullopt;
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

Status Refuse(const std::string& why) { return Status::InvalidArgument(why); }

std::optional<std::string> SetRecurringWindow(MaintenanceRecord& m, const MaintenanceAddArgs& a,
                                              TimestampMs now) {
  if (!a.to.empty()) return "--to is for a one-off window; a recurring one ends with --until";
  if (a.duration.empty()) return "--duration: required with --weekly or --daily";
  if (auto why = SetRecurrence(m, a.weekly.empty() ? nullptr : &a.weekly,
                               a.daily.empty() ? nullptr : &a.daily, &a.duration,
                               a.time_zone.empty() ? nullptr : &a.time_zone)) {
    return why;
  }
  auto from = ParseTime(a.from, now);  // default: now
  if (!from) return "--from: cannot parse '" + a.from + "' (RFC 3339, date, Unix time or now)";
  m.start_ms = *from;
  m.end_ms = kMaintenanceNoEndMs;
  if (!a.until.empty()) {
    auto until = ParseTimestamp(a.until);
    if (!until) return "--until: cannot parse '" + a.until + "' (RFC 3339, date or Unix time)";
    m.end_ms = *until;
  }
  return std::nullopt;
}

std::optional<std::string> SetOneOffWindow(MaintenanceRecord& m, const MaintenanceAddArgs& a,
                                           TimestampMs now) {
  if (!a.duration.empty() || !a.time_zone.empty() || !a.until.empty()) {
    return "--duration, --timezone and --until are for a recurring window (--weekly or --daily)";
  }
  auto from = ParseTime(a.from, now);  // default: now, as --help says
  auto to = ParseTime(a.to, now);
  if (a.to.empty() || !from || !to) {
    return "--from and --to must be timestamps (RFC 3339, date, Unix time or now; --from "
           "defaults to now); or give "
           "--weekly/--daily with --duration for a recurring window";
  }
  m.start_ms = *from;
  m.end_ms = *to;
  return std::nullopt;
}

// Applies the edit's fields of a recurring window to `m`.
std::optional<std::string> EditRecurring(MaintenanceRecord& m, const MaintenanceEditArgs& a,
                                         TimestampMs now) {
  if (a.to) return "--to is for a one-off window; a recurring one ends with --until";
  if (auto why = SetRecurrence(m, a.weekly ? &*a.weekly : nullptr, a.daily ? &*a.daily : nullptr,
                               a.duration ? &*a.duration : nullptr,
                               a.time_zone ? &*a.time_zone : nullptr)) {
    return why;
  }
  if (!a.until) return std::nullopt;
  if (*a.until == "never") {
    m.end_ms = kMaintenanceNoEndMs;
    return std::nullopt;
  }
  auto until = ParseTime(*a.until, now);
  if (a.until->empty() || !until) return "--until: cannot parse '" + *a.until + "'";
  m.end_ms = *until;
  return std::nullopt;
}

// Applies the edit's fields of a one-off window to `m`.
std::optional<std::string> EditOneOff(MaintenanceRecord& m, const MaintenanceEditArgs& a,
                                      TimestampMs now) {
  if (a.until || a.weekly || a.daily || a.duration || a.time_zone) {
    return fmt::format(
        "window #{} is a one-off window: --until, --weekly, --daily, --duration and --timezone "
        "are for recurring ones (delete it and add a recurring one)",
        a.id);
  }
  if (!a.to) return std::nullopt;
  auto to = ParseTime(*a.to, now);
  if (a.to->empty() || !to) return "--to: cannot parse '" + *a.to + "'";
  m.end_ms = *to;
  return std::nullopt;
}

// An edit that names no field; checked before the database is opened, so that it is refused
// at once and not after a wait for another connection's lock (fresh eyes, stop 72: PATCH {}
// answered 503 after busy_timeout under a lock, 400 without).
std::optional<std::string> NothingToChange(const MaintenanceEditArgs& a) {
  if (!a.from && !a.to && !a.until && !a.weekly && !a.daily && !a.duration && !a.time_zone &&
      !a.reason) {
    return "nothing to change: give --from, --to, --reason (one-off) or --weekly, --daily, "
           "--duration, --timezone, --until (recurring)";
  }
  return std::nullopt;
}

std::optional<std::string> ApplyEdit(MaintenanceRecord& m, const MaintenanceEditArgs& a,
                                     TimestampMs now) {
  if (auto why = NothingToChange(a)) return why;
  if (a.reason) m.reason = *a.reason;
  if (a.from) {
    auto from = ParseTime(*a.from, now);
    if (a.from->empty() || !from) return "--from: cannot parse '" + *a.from + "'";
    m.start_ms = *from;
  }
  return m.recurring() ? EditRecurring(m, a, now) : EditOneOff(m, a, now);
}

class LocalManager final : public PeriodManager {
 public:
  LocalManager(PeriodScope scope, const Clock& clock) : scope_(std::move(scope)), clock_(clock) {}

  Result<PeriodRecord> StartPeriod(const ObserveStartArgs& a) override;
  Result<PeriodRecord> StopPeriod(const std::string& component) override {
    auto store = storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
    if (!store.ok()) return store.status();
    return (*store)->StopPeriod(component, clock_.NowMs());
  }
  Result<std::vector<PeriodRecord>> Periods(const std::string& component) override {
    auto store = OpenForList();
    if (!store.ok()) return store.status();
    if (!*store) return std::vector<PeriodRecord>{};
    return (*store)->Periods(component);
  }
  Result<MaintenanceRecord> AddWindow(const MaintenanceAddArgs& a) override;
  Result<EditedWindow> EditWindow(const MaintenanceEditArgs& a) override;
  Result<MaintenanceRecord> DeleteWindow(int64_t id) override;
  Result<std::vector<MaintenanceRecord>> Windows(const std::string& component) override {
    auto store = OpenForList();
    if (!store.ok()) return store.status();
    if (!*store) return std::vector<MaintenanceRecord>{};
    return (*store)->MaintenanceWindows(component);
  }

 private:
  // A list only reads, through a read-only connection that another connection's write lock
  // does not hold up (fresh eyes, stop 72: GET /api/v1/periods waited storage.busy_timeout
  // behind a sqlite3 shell's lock, answered 503 "obsmon needs to write to it", and eight such
  // reads held /metrics as long). Null when there is no database yet: nothing is stored, and
  // a list creates no file. A database of an older schema is opened to write, which migrates
  // it first, as before.
  Result<std::unique_ptr<storage::PeriodStore>> OpenForList() const {
    std::error_code ec;
    if (!std::filesystem::exists(scope_.db_path, ec)) {
      return std::unique_ptr<storage::PeriodStore>();
    }
    auto read_only = storage::PeriodStore::OpenReadOnly(scope_.db_path, storage::kLiveRead);
    if (read_only.ok()) return read_only;
    return storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
  }
  // The period `a` asks for, before it is stored.
  Result<PeriodRecord> PeriodOf(const ObserveStartArgs& a) const;

  const PeriodScope scope_;
  const Clock& clock_;
};

Result<PeriodRecord> LocalManager::PeriodOf(const ObserveStartArgs& a) const {
  if (scope_.has_config) {
    if (auto unknown = UnknownInConfig(scope_, a.component)) return Refuse(*unknown);
  }
  if (a.days < 1 || a.days > 366) return Refuse("--days must be between 1 and 366");
  const ComponentConfig* c = FindIn(scope_, a.component);
  const Objective base = c ? c->objective : Objective{};
  PeriodRecord p;
  p.component = a.component;
  auto start = ParseTime(a.start, clock_.NowMs());
  if (!start) {
    return Refuse("--start: cannot parse '" + a.start + "' (RFC 3339, date, Unix time or now)");
  }
  p.start_ms = *start;
  p.end_ms = p.start_ms + a.days * kDayMs;
  if (p.end_ms > kLatestRfc3339Ms) {
    return Refuse("--start and --days: the period would end after 9999-12-31T23:59:59.999Z");
  }
  p.objective_percent = a.objective_percent.value_or(base.uptime_percent);
  p.min_coverage_percent = a.min_coverage_percent.value_or(base.min_coverage_percent);
  p.latency_p95_ms = base.latency_p95_ms;
  if (!a.latency_p95.empty()) {
    auto d = ParseDurationMs(a.latency_p95);
    if (!d || *d <= 0) {
      return Refuse("--latency-p95: '" + a.latency_p95 + "' is not a duration such as 250ms");
    }
    p.latency_p95_ms = static_cast<double>(*d);
  }
  if (a.degradation_tolerance) p.degradation_tolerance = *a.degradation_tolerance;
  p.source = scope_.source;
  p.created_ms = clock_.NowMs();
  p.note = a.note;
  p.time_zone = a.time_zone;
  if (!a.time_zone.empty()) {
    if (auto zone = TimeZone::Load(a.time_zone); !zone.ok()) {
      return Refuse("--timezone: " + zone.status().message());
    }
  }
  return p;
}

Result<PeriodRecord> LocalManager::StartPeriod(const ObserveStartArgs& a) {
  auto p = PeriodOf(a);
  if (!p.ok()) return p.status();
  auto store = storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
  if (!store.ok()) return store.status();
  auto id = (*store)->AddPeriod(*p);
  if (!id.ok()) return id.status();
  p->id = *id;
  return p;
}

Result<MaintenanceRecord> LocalManager::AddWindow(const MaintenanceAddArgs& a) {
  const TimestampMs now = clock_.NowMs();
  MaintenanceRecord m;
  m.component = a.component;
  m.reason = a.reason;
  m.source = scope_.source;
  m.created_ms = now;
  const bool recurring = !a.weekly.empty() || !a.daily.empty();
  if (auto why = recurring ? SetRecurringWindow(m, a, now) : SetOneOffWindow(m, a, now)) {
    return Refuse(*why);
  }
  auto store = storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
  if (!store.ok()) return store.status();
  if (auto why = CheckWindow(scope_, **store, m, now, /*check_component=*/true)) {
    return Refuse(*why);
  }
  auto id = (*store)->AddMaintenance(m);
  if (!id.ok()) return id.status();
  m.id = *id;
  return m;
}

Result<EditedWindow> LocalManager::EditWindow(const MaintenanceEditArgs& a) {
  if (auto why = NothingToChange(a)) return Refuse(*why);
  auto store = storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
  if (!store.ok()) return store.status();
  auto stored = (*store)->MaintenanceWindow(a.id);
  if (!stored.ok()) return stored.status();
  if (stored->source == "config") {
    return Refuse(fmt::format("window #{} is declared in the config: change it there", a.id));
  }
  EditedWindow edit{*stored, *stored};
  const TimestampMs now = clock_.NowMs();
  if (auto why = ApplyEdit(edit.window, a, now)) return Refuse(*why);
  if (auto why = CheckWindow(scope_, **store, edit.window, now, /*check_component=*/false)) {
    return Refuse(*why);
  }
  if (Status s = (*store)->UpdateMaintenance(edit.window); !s.ok()) return s;
  return edit;
}

Result<MaintenanceRecord> LocalManager::DeleteWindow(int64_t id) {
  auto store = storage::PeriodStore::Open(scope_.db_path, scope_.busy_timeout_ms);
  if (!store.ok()) return store.status();
  auto stored = (*store)->MaintenanceWindow(id);
  if (!stored.ok()) return stored.status();
  if (stored->source == "config") {
    return Refuse(fmt::format("window #{} is declared in the config: remove it there", id));
  }
  return (*store)->DeleteMaintenance(id);
}

}  // namespace

std::unique_ptr<PeriodManager> LocalPeriodManager(PeriodScope scope, const Clock& clock) {
  return std::make_unique<LocalManager>(std::move(scope), clock);
}

std::string DescribeWindow(const MaintenanceRecord& m) {
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

}  // namespace obsmon
