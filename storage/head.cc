#include "storage/head.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace obsmon::storage {

namespace {

constexpr const char* kRunColumns = "probe_id, ts_ms, success, duration_seconds, valid_for_ms, reason";

// INSERT OR REPLACE of `rows` samples into `table` in one statement.
std::string InsertSamplesSql(const char* table, size_t rows) {
  std::string sql =
      std::string("INSERT OR REPLACE INTO ") + table + " (series_id, ts_ms, value) VALUES ";
  for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?, ?, ?)" : ", (?, ?, ?)";
  return sql;
}

}  // namespace

Head::Head(SQLite::Database& db, const Clock* clock, int64_t move_every_ms)
    : db_(db),
      clock_(clock),
      move_every_(std::max<int64_t>(move_every_ms, 1)),
      insert_head_(db, InsertSamplesSql("samples_head", 1)),
      insert_by_series_(db, InsertSamplesSql("samples_by_series", 1)),
      insert_head_many_(db, InsertSamplesSql("samples_head", kRowsPerInsert)),
      insert_by_series_many_(db, InsertSamplesSql("samples_by_series", kRowsPerInsert)),
      insert_run_head_(db, std::string("INSERT INTO probe_runs_head (") + kRunColumns +
                               ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
      insert_run_by_probe_(db, std::string("INSERT INTO probe_runs_by_probe (") + kRunColumns +
                                   ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
      // Sorted by the destination's key, so that each leaf of samples_by_series (and of
      // probe_runs_by_probe) gets the slice's rows appended in order; the slices of one move are
      // in one transaction, so a leaf changed by several is still written once.
      move_samples_(db,
                    "INSERT OR REPLACE INTO samples_by_series (series_id, ts_ms, value) SELECT "
                    "series_id, ts_ms, value FROM samples_head WHERE ts_ms >= ?1 AND ts_ms < ?2 "
                    "ORDER BY series_id, ts_ms"),
      delete_moved_samples_(db, "DELETE FROM samples_head WHERE ts_ms < ?"),
      move_runs_(db, std::string("INSERT INTO probe_runs_by_probe (") + kRunColumns +
                         ") SELECT " + kRunColumns +
                         " FROM probe_runs_head WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY "
                         "probe_id, ts_ms ON CONFLICT DO NOTHING"),
      delete_moved_runs_(db, "DELETE FROM probe_runs_head WHERE ts_ms < ?"),
      // The heads' keys start with ts_ms: the n-th row from a time is found walking n keys.
      nth_sample_time_(db, "SELECT ts_ms FROM samples_head WHERE ts_ms >= ?1 AND ts_ms < ?2 "
                           "ORDER BY ts_ms LIMIT 1 OFFSET ?3"),
      nth_run_time_(db, "SELECT ts_ms FROM probe_runs_head WHERE ts_ms >= ?1 AND ts_ms < ?2 "
                        "ORDER BY ts_ms LIMIT 1 OFFSET ?3"),
      set_floor_(db, "UPDATE samples_head_floor SET floor_ms = ?") {
  EnsureViews();
  // A table made in a view's place (by hand) would show sqlite3 users and backups a part of the
  // data as if it were all: refuse to start, saying what to do (fresh eyes, stop 34).
  SQLite::Statement kinds(db_,
                          "SELECT name, type FROM sqlite_schema WHERE name IN ('samples', "
                          "'probe_runs') AND type <> 'view'");
  if (kinds.executeStep()) {
    const std::string name = kinds.getColumn(0).getString();
    throw SQLite::Exception(name + " is a " + kinds.getColumn(1).getString() +
                            ", not obsmon's view of its two tables (docs/storage.md): rename or "
                            "drop it, and obsmon makes the view again");
  }
}

void Head::EnsureViews() {
  // The views of migrations 11 and 12, again if they were dropped: readers and sqlite3 users
  // read `samples` and `probe_runs`. A no-op (no schema change) while they exist.
  db_.exec(
      "CREATE VIEW IF NOT EXISTS samples (series_id, ts_ms, value) AS SELECT series_id, ts_ms, "
      "value FROM samples_by_series UNION ALL SELECT series_id, ts_ms, value FROM samples_head");
  db_.exec(std::string("CREATE VIEW IF NOT EXISTS probe_runs (") + kRunColumns + ") AS SELECT " +
           kRunColumns + " FROM probe_runs_by_probe UNION ALL SELECT " + kRunColumns +
           " FROM probe_runs_head");
}

TimestampMs Head::Floor() {
  if (floor_) return *floor_;
  bool unset = false;
  if (auto stored = StoredFloor(&unset)) {
    floor_ = *stored;
  } else {
    if (!unset) ++floor_repairs_;
    floor_ = SetFloorFromData();
  }
  return *floor_;
}

std::optional<TimestampMs> Head::StoredFloor(bool* unset) {
  SQLite::Statement q(db_, "SELECT floor_ms, typeof(floor_ms) FROM samples_head_floor");
  int rows = 0;
  std::string type;
  TimestampMs floor = 0;
  while (q.executeStep()) {
    ++rows;
    type = q.getColumn(1).getString();
    floor = q.getColumn(0).getInt64();
  }
  *unset = rows == 1 && type == "null";
  if (rows != 1 || type != "integer" || floor > clock_->NowMs()) return std::nullopt;
  // Between the tables: cheap lookups on each table's key.
  SQLite::Statement wrong_side(
      db_,
      "SELECT EXISTS (SELECT 1 FROM samples_head WHERE ts_ms < ?1) OR EXISTS (SELECT 1 FROM "
      "series s WHERE EXISTS (SELECT 1 FROM samples_by_series WHERE series_id = s.id AND "
      "ts_ms >= ?1)) OR EXISTS (SELECT 1 FROM probe_runs_head WHERE ts_ms < ?1) OR EXISTS "
      "(SELECT 1 FROM probes p WHERE EXISTS (SELECT 1 FROM probe_runs_by_probe WHERE "
      "probe_id = p.id AND ts_ms >= ?1))");
  wrong_side.bind(1, static_cast<int64_t>(floor));
  wrong_side.executeStep();
  if (wrong_side.getColumn(0).getInt() != 0) return std::nullopt;
  return floor;
}

TimestampMs Head::SetFloorFromData() {
  SQLite::Statement newest(
      db_,
      "SELECT max(coalesce((SELECT max((SELECT max(ts_ms) FROM samples_by_series WHERE "
      "series_id = s.id AND ts_ms <= ?1)) FROM series s), -1), coalesce((SELECT max((SELECT "
      "max(ts_ms) FROM probe_runs_by_probe WHERE probe_id = p.id AND ts_ms <= ?1)) FROM probes "
      "p), -1)) + 1");
  newest.bind(1, static_cast<int64_t>(clock_->NowMs()));
  newest.executeStep();
  const int64_t floor = newest.getColumn(0).getInt64();
  // Rows stamped in the future (a scrape's own timestamps) go to the heads, per series and
  // probe.
  for (const std::string& sql : {
           std::string("INSERT OR REPLACE INTO samples_head (ts_ms, series_id, value) SELECT "
                       "x.ts_ms, x.series_id, x.value FROM series s JOIN samples_by_series x ON "
                       "x.series_id = s.id AND x.ts_ms >= ?1"),
           std::string("DELETE FROM samples_by_series WHERE series_id IN (SELECT id FROM series) "
                       "AND ts_ms >= ?1"),
           std::string("INSERT INTO probe_runs_head (") + kRunColumns +
               ") SELECT x.probe_id, x.ts_ms, x.success, x.duration_seconds, x.valid_for_ms, "
               "x.reason FROM probes p JOIN probe_runs_by_probe x ON x.probe_id = p.id AND "
               "x.ts_ms >= ?1 WHERE true ON CONFLICT DO NOTHING",
           std::string("DELETE FROM probe_runs_by_probe WHERE probe_id IN (SELECT id FROM probes) "
                       "AND ts_ms >= ?1")}) {
    SQLite::Statement st(db_, sql);
    st.bind(1, floor);
    st.exec();
  }
  // Head rows below it (the floor was set back by hand) go down.
  MoveBelow(floor);
  db_.exec("DELETE FROM samples_head_floor");
  SQLite::Statement set(db_, "INSERT INTO samples_head_floor (floor_ms) VALUES (?)");
  set.bind(1, floor);
  set.exec();
  return floor;
}

void Head::InsertSamples(std::span<const SampleRow> rows) {
  const TimestampMs floor = Floor();
  const auto below = [floor](const SampleRow& r) { return r.ts_ms < floor; };
  if (std::none_of(rows.begin(), rows.end(), below)) {  // the usual case: all in the head
    InsertInto(insert_head_, insert_head_many_, rows);
    return;
  }
  // The two tables never hold the same key, so only the order within each table matters.
  above_floor_.clear();
  below_floor_.clear();
  for (const SampleRow& r : rows) (below(r) ? below_floor_ : above_floor_).push_back(r);
  InsertInto(insert_head_, insert_head_many_, above_floor_);
  InsertInto(insert_by_series_, insert_by_series_many_, below_floor_);
}

void Head::InsertInto(SQLite::Statement& one, SQLite::Statement& many,
                      std::span<const SampleRow> rows) {
  while (!rows.empty()) {
    SQLite::Statement& st = rows.size() >= kRowsPerInsert ? many : one;
    const size_t n = rows.size() >= kRowsPerInsert ? kRowsPerInsert : 1;
    st.reset();
    for (size_t i = 0; i < n; ++i) {
      const int at = static_cast<int>(3 * i);
      st.bind(at + 1, rows[i].series_id);
      st.bind(at + 2, static_cast<int64_t>(rows[i].ts_ms));
      if (rows[i].value) {
        st.bind(at + 3, *rows[i].value);
      } else {
        st.bind(at + 3);  // NULL stands for NaN (SQLite has no NaN)
      }
    }
    st.exec();
    rows = rows.subspan(n);
  }
}

bool Head::InsertRun(const Run& run) {
  SQLite::Statement& st = run.ts_ms >= Floor() ? insert_run_head_ : insert_run_by_probe_;
  st.reset();
  st.bind(1, run.probe_id);
  st.bind(2, static_cast<int64_t>(run.ts_ms));
  st.bind(3, run.success ? 1 : 0);
  st.bind(4, run.duration_seconds);
  st.bind(5, run.valid_for_ms);
  st.bindNoCopy(6, *run.reason);
  return st.exec() != 0;
}

int64_t Head::MoveBelow(TimestampMs cut) {
  int64_t moved = 0;
  for (auto [move, nth_time, del] :
       {std::tuple{&move_samples_, &nth_sample_time_, &delete_moved_samples_},
        std::tuple{&move_runs_, &nth_run_time_, &delete_moved_runs_}}) {
    for (TimestampMs from = std::numeric_limits<TimestampMs>::min(); from < cut;) {
      const TimestampMs end = SliceEnd(*nth_time, from, cut);
      move->reset();
      move->bind(1, static_cast<int64_t>(from));
      move->bind(2, static_cast<int64_t>(end));
      moved += move->exec();
      from = end;
    }
    del->reset();
    del->bind(1, static_cast<int64_t>(cut));
    del->exec();
  }
  return moved;
}

TimestampMs Head::SliceEnd(SQLite::Statement& nth_time, TimestampMs from, TimestampMs cut) {
  nth_time.reset();
  nth_time.bind(1, static_cast<int64_t>(from));
  nth_time.bind(2, static_cast<int64_t>(cut));
  nth_time.bind(3, kRowsPerMove);
  if (!nth_time.executeStep()) return cut;
  const TimestampMs nth = nth_time.getColumn(0).getInt64();
  nth_time.reset();
  return nth > from ? nth : from + 1;
}

int64_t Head::CompactIfDue() {
  const SteadyTime now = clock_->SteadyNow();
  // A view dropped while obsmon runs (fresh eyes, stop 34: the API answered 500 until a
  // restart) is back within kLagMs, not one move interval (up to 10 minutes).
  if (!next_view_check_ || now >= *next_view_check_) {
    EnsureViews();
    next_view_check_ = now + std::chrono::milliseconds(kLagMs);
  }
  if (next_compaction_ && now < *next_compaction_) return 0;
  next_compaction_ = now + move_every_;
  // The floor only rises (a wall clock set back waits until it passes the floor again).
  const TimestampMs cut = clock_->NowMs() - kLagMs;
  if (cut <= Floor()) return 0;
  const int64_t moved = MoveBelow(cut);
  set_floor_.reset();
  set_floor_.bind(1, static_cast<int64_t>(cut));
  set_floor_.exec();
  floor_ = cut;
  return moved;
}

void Head::Forget() {
  floor_.reset();
  next_compaction_.reset();
  next_view_check_.reset();
}

void Head::ResetStatements() {
  for (SQLite::Statement* st :
       {&insert_head_, &insert_by_series_, &insert_head_many_, &insert_by_series_many_,
        &insert_run_head_, &insert_run_by_probe_,
        &move_samples_, &delete_moved_samples_, &move_runs_, &delete_moved_runs_,
        &nth_sample_time_, &nth_run_time_, &set_floor_}) {
    try {
      st->reset();
    } catch (const SQLite::Exception&) {
      // reset() reports the statement's last error again; the reset itself is done.
    }
  }
}

}  // namespace obsmon::storage
