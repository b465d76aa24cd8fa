#include "storage/sample_head.h"

namespace obsmon::storage {

SampleHead::SampleHead(SQLite::Database& db, const Clock* clock)
    : db_(db),
      clock_(clock),
      insert_head_(db,
                   "INSERT OR REPLACE INTO samples_head (series_id, ts_ms, value) VALUES (?, ?, ?)"),
      insert_by_series_(db,
                        "INSERT OR REPLACE INTO samples_by_series (series_id, ts_ms, value) "
                        "VALUES (?, ?, ?)"),
      // Sorted by the destination's key, so that each leaf of samples_by_series is changed once
      // and its rows are appended in order.
      move_(db,
            "INSERT OR REPLACE INTO samples_by_series (series_id, ts_ms, value) SELECT series_id, "
            "ts_ms, value FROM samples_head WHERE ts_ms < ? ORDER BY series_id, ts_ms"),
      delete_moved_(db, "DELETE FROM samples_head WHERE ts_ms < ?"),
      set_floor_(db, "UPDATE samples_head_floor SET floor_ms = ?") {
  // The view of migration 11, again if it was dropped: readers and sqlite3 users read `samples`.
  db_.exec(
      "CREATE VIEW IF NOT EXISTS samples (series_id, ts_ms, value) AS SELECT series_id, ts_ms, "
      "value FROM samples_by_series UNION ALL SELECT series_id, ts_ms, value FROM samples_head");
}

TimestampMs SampleHead::Floor() {
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

std::optional<TimestampMs> SampleHead::StoredFloor(bool* unset) {
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
  // Between the two tables: cheap lookups on each table's key.
  SQLite::Statement wrong_side(
      db_,
      "SELECT EXISTS (SELECT 1 FROM samples_head WHERE ts_ms < ?1) OR EXISTS (SELECT 1 FROM "
      "series s WHERE EXISTS (SELECT 1 FROM samples_by_series WHERE series_id = s.id AND "
      "ts_ms >= ?1))");
  wrong_side.bind(1, static_cast<int64_t>(floor));
  wrong_side.executeStep();
  if (wrong_side.getColumn(0).getInt() != 0) return std::nullopt;
  return floor;
}

TimestampMs SampleHead::SetFloorFromData() {
  SQLite::Statement newest(db_,
                           "SELECT coalesce(max((SELECT max(ts_ms) FROM samples_by_series WHERE "
                           "series_id = s.id AND ts_ms <= ?1)), -1) + 1 FROM series s");
  newest.bind(1, static_cast<int64_t>(clock_->NowMs()));
  newest.executeStep();
  const int64_t floor = newest.getColumn(0).getInt64();
  // Rows stamped in the future (a scrape's own timestamps) go to the head, per series.
  SQLite::Statement up(db_,
                       "INSERT OR REPLACE INTO samples_head (ts_ms, series_id, value) SELECT "
                       "x.ts_ms, x.series_id, x.value FROM series s JOIN samples_by_series x ON "
                       "x.series_id = s.id AND x.ts_ms >= ?1");
  up.bind(1, floor);
  up.exec();
  SQLite::Statement up_done(db_,
                            "DELETE FROM samples_by_series WHERE series_id IN (SELECT id FROM "
                            "series) AND ts_ms >= ?1");
  up_done.bind(1, floor);
  up_done.exec();
  // Head rows below it (the floor was set back by hand) go to samples_by_series.
  move_.reset();
  move_.bind(1, floor);
  move_.exec();
  delete_moved_.reset();
  delete_moved_.bind(1, floor);
  delete_moved_.exec();
  db_.exec("DELETE FROM samples_head_floor");
  SQLite::Statement set(db_, "INSERT INTO samples_head_floor (floor_ms) VALUES (?)");
  set.bind(1, floor);
  set.exec();
  return floor;
}

void SampleHead::Insert(int64_t series_id, TimestampMs ts_ms, std::optional<double> value) {
  SQLite::Statement& st = ts_ms >= Floor() ? insert_head_ : insert_by_series_;
  st.reset();
  st.bind(1, series_id);
  st.bind(2, static_cast<int64_t>(ts_ms));
  if (value) {
    st.bind(3, *value);
  } else {
    st.bind(3);  // NULL stands for NaN (SQLite has no NaN)
  }
  st.exec();
}

int64_t SampleHead::CompactIfDue() {
  const SteadyTime now = clock_->SteadyNow();
  if (next_compaction_ && now < *next_compaction_) return 0;
  next_compaction_ = now + kCompactEvery;
  // The floor only rises (a wall clock set back waits until it passes the floor again).
  const TimestampMs cut = clock_->NowMs() - kLagMs;
  if (cut <= Floor()) return 0;
  move_.reset();
  move_.bind(1, static_cast<int64_t>(cut));
  const int64_t moved = move_.exec();
  delete_moved_.reset();
  delete_moved_.bind(1, static_cast<int64_t>(cut));
  delete_moved_.exec();
  set_floor_.reset();
  set_floor_.bind(1, static_cast<int64_t>(cut));
  set_floor_.exec();
  floor_ = cut;
  return moved;
}

void SampleHead::Forget() {
  floor_.reset();
  next_compaction_.reset();
}

void SampleHead::ResetStatements() {
  for (SQLite::Statement* st : {&insert_head_, &insert_by_series_, &move_, &delete_moved_, &set_floor_}) {
    try {
      st->reset();
    } catch (const SQLite::Exception&) {
      // reset() reports the statement's last error again; the reset itself is done.
    }
  }
}

}  // namespace obsmon::storage
