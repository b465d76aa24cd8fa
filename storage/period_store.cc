#include "storage/period_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/recurrence.h"
#include "core/time_zone.h"
#include "storage/database.h"
#include "storage/labels_text.h"

namespace obsmon::storage {
namespace {

constexpr const char* kPeriodColumns =
    "id, component, start_ms, end_ms, stopped_ms, objective_percent, min_coverage_percent, "
    "latency_p95_ms, degradation_tolerance, source, created_ms, note, time_zone";
// The same from a schema older than the periods' time zone (read-only opens).
constexpr const char* kPeriodColumnsNoZone =
    "id, component, start_ms, end_ms, stopped_ms, objective_percent, min_coverage_percent, "
    "latency_p95_ms, degradation_tolerance, source, created_ms, note, ''";

PeriodRecord ReadPeriod(SQLite::Statement& q) {
  PeriodRecord p;
  p.id = q.getColumn(0).getInt64();
  p.component = q.getColumn(1).getString();
  p.start_ms = q.getColumn(2).getInt64();
  p.end_ms = q.getColumn(3).getInt64();
  p.stopped_ms = q.getColumn(4).getInt64();
  p.objective_percent = q.getColumn(5).getDouble();
  p.min_coverage_percent = q.getColumn(6).getDouble();
  if (!q.getColumn(7).isNull()) p.latency_p95_ms = q.getColumn(7).getDouble();
  p.degradation_tolerance = q.getColumn(8).getDouble();
  p.source = q.getColumn(9).getString();
  p.created_ms = q.getColumn(10).getInt64();
  p.note = q.getColumn(11).getString();
  p.time_zone = q.getColumn(12).getString();
  return p;
}

constexpr const char* kMaintenanceColumns =
    "id, component, start_ms, end_ms, reason, source, created_ms, recurrence, time_zone, "
    "duration_ms";
// The same from a schema older than the recurrence columns (read-only opens).
constexpr const char* kMaintenanceColumnsV4 =
    "id, component, start_ms, end_ms, reason, source, created_ms, '', '', 0";

// Whether `table` has `column` (a database opened read-only may predate a migration). Both names
// are literals of this file.
bool HasColumn(SQLite::Database& db, const char* table, const char* column) {
  try {
    return db.execAndGet(fmt::format("SELECT count(*) FROM pragma_table_info('{}') "
                                     "WHERE name = '{}'",
                                     table, column))
               .getInt() > 0;
  } catch (const SQLite::Exception&) {
    return false;
  }
}

MaintenanceRecord ReadMaintenance(SQLite::Statement& q) {
  MaintenanceRecord m;
  m.id = q.getColumn(0).getInt64();
  m.component = q.getColumn(1).getString();
  m.start_ms = q.getColumn(2).getInt64();
  m.end_ms = q.getColumn(3).getInt64();
  m.reason = q.getColumn(4).getString();
  m.source = q.getColumn(5).getString();
  m.created_ms = q.getColumn(6).getInt64();
  m.recurrence = q.getColumn(7).getString();
  m.time_zone = q.getColumn(8).getString();
  m.duration_ms = q.getColumn(9).getInt64();
  return m;
}

Status Validate(const PeriodRecord& p) {
  if (p.component.empty()) return Status::InvalidArgument("period: component is empty");
  if (p.end_ms <= p.start_ms) return Status::InvalidArgument("period: end is not after start");
  if (!(p.objective_percent > 0 && p.objective_percent <= 100)) {
    return Status::InvalidArgument(
        fmt::format("period: objective {} % is not in (0, 100]", p.objective_percent));
  }
  if (!(p.min_coverage_percent >= 0 && p.min_coverage_percent <= 100)) {
    return Status::InvalidArgument(
        fmt::format("period: min coverage {} % is not in [0, 100]", p.min_coverage_percent));
  }
  if (!(p.degradation_tolerance >= 0)) {
    return Status::InvalidArgument("period: degradation tolerance is negative");
  }
  if (!p.time_zone.empty()) {
    if (auto zone = TimeZone::Load(p.time_zone); !zone.ok()) {
      return Status::InvalidArgument(fmt::format("period: time zone: {}", zone.status().message()));
    }
  }
  return Status::Ok();
}

Status Validate(const MaintenanceRecord& m) {
  if (m.component.empty()) return Status::InvalidArgument("maintenance: component is empty");
  if (m.end_ms <= m.start_ms) {
    return Status::InvalidArgument(m.recurring() ? "maintenance: --until is not after --from"
                                                 : "maintenance: --to is not after --from");
  }
  if (m.recurring()) {
    auto r = ParseRecurrence(m.recurrence);
    if (!r) {
      return Status::InvalidArgument(fmt::format(
          "maintenance: '{}' is not a recurrence such as 'weekly sun 02:00'", m.recurrence));
    }
    if (m.duration_ms <= 0 || m.duration_ms >= r->IntervalMs()) {
      return Status::InvalidArgument(fmt::format(
          "maintenance: --duration must be more than 0 and less than {} for a {} window",
          r->every == Recurrence::Every::kDay ? "a day" : "a week",
          r->every == Recurrence::Every::kDay ? "daily" : "weekly"));
    }
  } else if (m.duration_ms != 0 || !m.time_zone.empty()) {
    return Status::InvalidArgument(
        "maintenance: --duration and --timezone are for recurring windows (--weekly, --daily)");
  }
  return Status::Ok();
}

}  // namespace

PeriodStore::PeriodStore(std::unique_ptr<SQLite::Database> db)
    : has_recurrence_(HasColumn(*db, "maintenance", "recurrence")),
      has_alert_component_(HasColumn(*db, "alert_history", "component")),
      period_columns_(HasColumn(*db, "periods", "time_zone") ? kPeriodColumns
                                                             : kPeriodColumnsNoZone),
      db_(std::move(db)) {}
PeriodStore::~PeriodStore() = default;

Result<std::unique_ptr<PeriodStore>> PeriodStore::Open(const std::string& path,
                                                       int busy_timeout_ms) {
  auto db = OpenForWrite(path, busy_timeout_ms);
  if (!db.ok()) return db.status();
  return std::unique_ptr<PeriodStore>(new PeriodStore(std::move(db).value()));
}

Result<std::unique_ptr<PeriodStore>> PeriodStore::OpenReadOnly(const std::string& path,
                                                               const ReadMemory& memory) {
  auto db = OpenForRead(path, memory);
  if (!db.ok()) return db.status();
  return std::unique_ptr<PeriodStore>(new PeriodStore(std::move(db).value()));
}

Result<int64_t> PeriodStore::AddPeriod(const PeriodRecord& p) {
  if (Status s = Validate(p); !s.ok()) return s;
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    // Overlap with a period that still runs (not stopped): [s1,e1) and [s2,e2) overlap when
    // s1 < e2 and s2 < e1; a stopped period ends at stopped_ms.
    SQLite::Statement overlap(
        *db_,
        "SELECT id, start_ms FROM periods WHERE component = ? AND start_ms < ? AND "
        "(CASE WHEN stopped_ms > 0 THEN stopped_ms ELSE end_ms END) > ? LIMIT 1");
    overlap.bind(1, p.component);
    overlap.bind(2, static_cast<int64_t>(p.end_ms));
    overlap.bind(3, static_cast<int64_t>(p.start_ms));
    if (overlap.executeStep()) {
      return Status::InvalidArgument(
          fmt::format("component '{}' already has observation period #{} overlapping this one "
                      "(stop it first with `obsmon observe stop {}`)",
                      p.component, overlap.getColumn(0).getInt64(), p.component));
    }
    SQLite::Statement ins(*db_,
                          "INSERT INTO periods (component, start_ms, end_ms, stopped_ms, "
                          "objective_percent, min_coverage_percent, latency_p95_ms, "
                          "degradation_tolerance, source, created_ms, note, time_zone) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    ins.bind(1, p.component);
    ins.bind(2, static_cast<int64_t>(p.start_ms));
    ins.bind(3, static_cast<int64_t>(p.end_ms));
    ins.bind(4, static_cast<int64_t>(p.stopped_ms));
    ins.bind(5, p.objective_percent);
    ins.bind(6, p.min_coverage_percent);
    if (p.latency_p95_ms) {
      ins.bind(7, *p.latency_p95_ms);
    } else {
      ins.bind(7);
    }
    ins.bind(8, p.degradation_tolerance);
    ins.bind(9, p.source);
    ins.bind(10, static_cast<int64_t>(p.created_ms));
    ins.bind(11, p.note);
    ins.bind(12, p.time_zone);
    ins.exec();
    const int64_t id = db_->getLastInsertRowid();
    tx.commit();
    return id;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "adding an observation period");
  }
}

Result<PeriodRecord> PeriodStore::StopPeriod(const std::string& component, TimestampMs now_ms) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    // The period running now, else the latest one that has not ended yet (scheduled).
    SQLite::Statement q(*db_, fmt::format("SELECT {} FROM periods WHERE component = ? AND "
                                          "stopped_ms = 0 AND end_ms > ? "
                                          "ORDER BY (start_ms <= ?) DESC, start_ms DESC LIMIT 1",
                                          period_columns_));
    q.bind(1, component);
    q.bind(2, static_cast<int64_t>(now_ms));
    q.bind(3, static_cast<int64_t>(now_ms));
    if (!q.executeStep()) {
      return Status::NotFound(
          fmt::format("component '{}' has no running or scheduled observation period", component));
    }
    PeriodRecord p = ReadPeriod(q);
    // A period stopped before it began keeps a zero-length life at its start.
    p.stopped_ms = std::max(now_ms, p.start_ms);
    if (p.stopped_ms == 0) p.stopped_ms = 1;
    SQLite::Statement upd(*db_, "UPDATE periods SET stopped_ms = ? WHERE id = ?");
    upd.bind(1, static_cast<int64_t>(p.stopped_ms));
    upd.bind(2, static_cast<int64_t>(p.id));
    upd.exec();
    tx.commit();
    return p;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "stopping an observation period");
  }
}

Result<std::vector<PeriodRecord>> PeriodStore::Periods(const std::string& component) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_, fmt::format("SELECT {} FROM periods WHERE (? = '' OR component = ?) "
                                          "ORDER BY start_ms DESC, id DESC",
                                          period_columns_));
    q.bind(1, component);
    q.bind(2, component);
    std::vector<PeriodRecord> out;
    while (q.executeStep()) out.push_back(ReadPeriod(q));
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "listing observation periods");
  }
}

Result<PeriodRecord> PeriodStore::Period(int64_t id) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_, fmt::format("SELECT {} FROM periods WHERE id = ?", period_columns_));
    q.bind(1, static_cast<int64_t>(id));
    if (!q.executeStep()) return Status::NotFound(fmt::format("no observation period #{}", id));
    return ReadPeriod(q);
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading an observation period");
  }
}

Result<int64_t> PeriodStore::EnsureDeclaredPeriod(const PeriodRecord& p) {
  {
    MutexLock lock(mu_);
    try {
      SQLite::Statement q(*db_, "SELECT id FROM periods WHERE component = ? AND start_ms = ?");
      q.bind(1, p.component);
      q.bind(2, static_cast<int64_t>(p.start_ms));
      if (q.executeStep()) return q.getColumn(0).getInt64();
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "reading observation periods");
    }
  }
  PeriodRecord declared = p;
  declared.source = "config";
  return AddPeriod(declared);
}

Result<int64_t> PeriodStore::AddMaintenance(const MaintenanceRecord& m) {
  if (Status s = Validate(m); !s.ok()) return s;
  MutexLock lock(mu_);
  try {
    SQLite::Statement ins(*db_,
                          "INSERT INTO maintenance (component, start_ms, end_ms, reason, source, "
                          "created_ms, recurrence, time_zone, duration_ms) "
                          "VALUES (?,?,?,?,?,?,?,?,?)");
    ins.bind(1, m.component);
    ins.bind(2, static_cast<int64_t>(m.start_ms));
    ins.bind(3, static_cast<int64_t>(m.end_ms));
    ins.bind(4, m.reason);
    ins.bind(5, m.source);
    ins.bind(6, static_cast<int64_t>(m.created_ms));
    ins.bind(7, m.recurrence);
    ins.bind(8, m.time_zone);
    ins.bind(9, static_cast<int64_t>(m.duration_ms));
    ins.exec();
    return static_cast<int64_t>(db_->getLastInsertRowid());
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "adding a maintenance window");
  }
}

Result<int64_t> PeriodStore::EnsureDeclaredMaintenance(const MaintenanceRecord& m) {
  {
    MutexLock lock(mu_);
    try {
      SQLite::Statement q(*db_,
                          "SELECT id FROM maintenance WHERE component = ? AND start_ms = ? AND "
                          "end_ms = ? AND recurrence = ? AND time_zone = ? AND duration_ms = ?");
      q.bind(1, m.component);
      q.bind(2, static_cast<int64_t>(m.start_ms));
      q.bind(3, static_cast<int64_t>(m.end_ms));
      q.bind(4, m.recurrence);
      q.bind(5, m.time_zone);
      q.bind(6, static_cast<int64_t>(m.duration_ms));
      if (q.executeStep()) return q.getColumn(0).getInt64();
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "reading maintenance windows");
    }
  }
  MaintenanceRecord declared = m;
  declared.source = "config";
  return AddMaintenance(declared);
}

Result<MaintenanceRecord> PeriodStore::MaintenanceWindow(int64_t id) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        fmt::format("SELECT {} FROM maintenance WHERE id = ?",
                                    has_recurrence_ ? kMaintenanceColumns : kMaintenanceColumnsV4));
    q.bind(1, static_cast<int64_t>(id));
    if (!q.executeStep()) return Status::NotFound(fmt::format("no maintenance window #{}", id));
    return ReadMaintenance(q);
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading a maintenance window");
  }
}

Status PeriodStore::UpdateMaintenance(const MaintenanceRecord& m) {
  if (Status s = Validate(m); !s.ok()) return s;
  MutexLock lock(mu_);
  try {
    SQLite::Statement upd(*db_,
                          "UPDATE maintenance SET component = ?, start_ms = ?, end_ms = ?, "
                          "reason = ?, recurrence = ?, time_zone = ?, duration_ms = ? "
                          "WHERE id = ?");
    upd.bind(1, m.component);
    upd.bind(2, static_cast<int64_t>(m.start_ms));
    upd.bind(3, static_cast<int64_t>(m.end_ms));
    upd.bind(4, m.reason);
    upd.bind(5, m.recurrence);
    upd.bind(6, m.time_zone);
    upd.bind(7, static_cast<int64_t>(m.duration_ms));
    upd.bind(8, static_cast<int64_t>(m.id));
    if (upd.exec() == 0) return Status::NotFound(fmt::format("no maintenance window #{}", m.id));
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "editing a maintenance window");
  }
}

Result<MaintenanceRecord> PeriodStore::DeleteMaintenance(int64_t id) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement q(*db_,
                        fmt::format("SELECT {} FROM maintenance WHERE id = ?",
                                    has_recurrence_ ? kMaintenanceColumns : kMaintenanceColumnsV4));
    q.bind(1, static_cast<int64_t>(id));
    if (!q.executeStep()) return Status::NotFound(fmt::format("no maintenance window #{}", id));
    MaintenanceRecord window = ReadMaintenance(q);
    q.reset();
    SQLite::Statement del(*db_, "DELETE FROM maintenance WHERE id = ?");
    del.bind(1, static_cast<int64_t>(id));
    del.exec();
    tx.commit();
    return window;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "deleting a maintenance window");
  }
}

Result<std::vector<MaintenanceRecord>> PeriodStore::MaintenanceWindows(
    const std::string& component) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        fmt::format("SELECT {} FROM maintenance WHERE (? = '' OR component = ?) "
                                    "ORDER BY start_ms, id",
                                    has_recurrence_ ? kMaintenanceColumns : kMaintenanceColumnsV4));
    q.bind(1, component);
    q.bind(2, component);
    std::vector<MaintenanceRecord> out;
    while (q.executeStep()) out.push_back(ReadMaintenance(q));
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "listing maintenance windows");
  }
}

Result<std::vector<MaintenanceRecord>> PeriodStore::Maintenance(const std::string& component,
                                                                TimestampMs from_ms,
                                                                TimestampMs to_ms) {
  std::vector<MaintenanceRecord> rows;
  {
    MutexLock lock(mu_);
    try {
      // A recurring window's occurrences start in [start_ms, end_ms) and last duration_ms, so
      // it may reach into the range when end_ms + duration_ms > from (0 for one-off windows).
      SQLite::Statement q(
          *db_, fmt::format("SELECT {} FROM maintenance WHERE (? = '' OR component = ?) AND "
                            "start_ms < ? AND end_ms + {} > ? ORDER BY start_ms, id",
                            has_recurrence_ ? kMaintenanceColumns : kMaintenanceColumnsV4,
                            has_recurrence_ ? "duration_ms" : "0"));
      q.bind(1, component);
      q.bind(2, component);
      q.bind(3, static_cast<int64_t>(to_ms));
      q.bind(4, static_cast<int64_t>(from_ms));
      while (q.executeStep()) rows.push_back(ReadMaintenance(q));
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "listing maintenance windows");
    }
  }
  std::vector<MaintenanceRecord> out;
  std::map<std::string, TimeZone> zones;  // loaded once per read
  for (auto& m : rows) {
    if (!m.recurring()) {
      out.push_back(std::move(m));
      continue;
    }
    auto r = ParseRecurrence(m.recurrence);
    if (!r) {
      return Status::InvalidArgument(fmt::format(
          "maintenance window #{}: stored recurrence '{}' does not parse", m.id, m.recurrence));
    }
    auto zone = zones.find(m.time_zone);
    if (zone == zones.end()) {
      auto loaded =
          m.time_zone.empty() ? Result<TimeZone>(TimeZone::Utc()) : TimeZone::Load(m.time_zone);
      if (!loaded.ok()) {
        return Status::InvalidArgument(
            fmt::format("maintenance window #{}: {}", m.id, loaded.status().message()));
      }
      zone = zones.emplace(m.time_zone, std::move(loaded).value()).first;
    }
    auto occurrences =
        ExpandRecurrence(*r, zone->second, m.duration_ms, m.start_ms, m.end_ms, from_ms, to_ms);
    if (!occurrences.ok()) {
      return Status::InvalidArgument(
          fmt::format("maintenance window #{}: {}", m.id, occurrences.status().message()));
    }
    for (const Occurrence& o : *occurrences) {
      MaintenanceRecord one = m;
      one.start_ms = o.start_ms;
      one.end_ms = o.end_ms;
      out.push_back(std::move(one));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.id < b.id;
  });
  return out;
}

Status PeriodStore::ForEachAlertHistory(const std::string& component,
                                        const AlertComponents& components, TimestampMs from_ms,
                                        TimestampMs to_ms, TimestampMs resolved_to_ms,
                                        const std::function<bool(AlertHistoryRow&&)>& fn) {
  MutexLock lock(mu_);
  try {
    // A row that recorded its component (since stop 69) is the component's when it says so.
    // One that did not is told by `components`: the label text is canonical
    // (Labels::ToString), so an instr() of the exact pair is a correct prefilter, and
    // ParseLabelsText then confirms it (a value could contain the pattern). Every `resolved`
    // row is read: it closes an alert of its rule and labels only if one is open (the
    // caller's pairing), and an alert that fired as the component's may resolve after its job
    // was renamed.
    SQLite::Statement q(
        *db_, has_alert_component_
                  ? "SELECT ts_ms, event, rule, labels, annotations, component, group_key FROM "
                    "alert_history WHERE ts_ms >= ?1 AND (ts_ms < ?2 OR (event = 'resolved' AND "
                    "ts_ms < ?7)) AND (component = ?6 OR event = 'resolved' OR (component IS "
                    "NULL AND (instr(labels, ?3) > 0 OR instr(labels, ?4) > 0 OR "
                    "instr(labels, ?5) > 0))) ORDER BY ts_ms, id"
                  : "SELECT ts_ms, event, rule, labels, annotations, NULL, group_key FROM "
                    "alert_history WHERE ts_ms >= ?1 AND (ts_ms < ?2 OR (event = 'resolved' AND "
                    "ts_ms < ?7)) AND (instr(labels, ?3) > 0 OR instr(labels, ?4) > 0 OR "
                    "instr(labels, ?5) > 0) ORDER BY ts_ms, id");
    if (has_alert_component_) q.bind(6, component);
    q.bind(1, static_cast<int64_t>(from_ms));
    q.bind(2, static_cast<int64_t>(to_ms));
    q.bind(7, static_cast<int64_t>(std::max(to_ms, resolved_to_ms)));
    q.bind(3, fmt::format("component=\"{}\"", EscapeLabelValue(component)));
    const std::vector<std::string> jobs = components.JobsThatMayBe(component);  // 1 or 2
    for (int i = 0; i < 2; ++i) {
      q.bind(4 + i, fmt::format("job=\"{}\"", EscapeLabelValue(jobs[std::min<size_t>(
                                                   static_cast<size_t>(i), jobs.size() - 1)])));
    }
    const auto ours = [&](const Labels& labels) { return components.Of(labels) == component; };
    while (q.executeStep()) {
      AlertHistoryRow row;
      row.ts_ms = q.getColumn(0).getInt64();
      row.event = q.getColumn(1).getString();
      row.rule = q.getColumn(2).getString();
      row.labels = q.getColumn(3).getString();
      row.group_key = q.getColumn(6).getString();
      if (q.getColumn(5).isNull() && row.event != "resolved") {
        auto labels = ParseLabelsText(row.labels);
        if (labels && !ours(*labels)) continue;
      }
      if (auto ann = ParseLabelsText(q.getColumn(4).getString())) {
        row.summary = ann->Get("summary");
      }
      if (!fn(std::move(row))) break;
    }
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading alert history");
  }
}

Result<std::vector<AlertHistoryRow>> PeriodStore::AlertHistory(const std::string& component,
                                                               const AlertComponents& components,
                                                               TimestampMs from_ms,
                                                               TimestampMs to_ms, size_t limit) {
  std::vector<AlertHistoryRow> out;
  Status s = ForEachAlertHistory(component, components, from_ms, to_ms, to_ms,
                                 [&](AlertHistoryRow&& r) {
    if (out.size() >= limit) return false;
    out.push_back(std::move(r));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace obsmon::storage
