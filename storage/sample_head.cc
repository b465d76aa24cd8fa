#include "storage/sample_head.h"

namespace obsmon::storage {

SampleHead::SampleHead(SQLite::Database& db, const Clock* clock)
    : db_(db),
      clock_(clock),
      insert_head_(db,
                   "INSERT OR REPLACE INTO samples_head (ts_ms, series_id, value) VALUES (?, ?, ?)"),
      insert_by_series_(db,
                        "INSERT OR REPLACE INTO samples_by_series (series_id, ts_ms, value) "
                        "VALUES (?, ?, ?)"),
      // Sorted by the destination's key, so that each leaf of samples_by_series is changed once
      // and its rows are appended in order.
      move_(db,
            "INSERT OR REPLACE INTO samples_by_series (series_id, ts_ms, value) SELECT series_id, "
            "ts_ms, value FROM samples_head WHERE ts_ms < ? ORDER BY series_id, ts_ms"),
      delete_moved_(db, "DELETE FROM samples_head WHERE ts_ms < ?"),
      set_floor_(db, "UPDATE samples_head_floor SET floor_ms = ?") {}

TimestampMs SampleHead::Floor() {
  if (!floor_) floor_ = db_.execAndGet("SELECT floor_ms FROM samples_head_floor").getInt64();
  return *floor_;
}

void SampleHead::Insert(int64_t series_id, TimestampMs ts_ms, std::optional<double> value) {
  SQLite::Statement& st = ts_ms >= Floor() ? insert_head_ : insert_by_series_;
  st.reset();
  if (&st == &insert_head_) {
    st.bind(1, static_cast<int64_t>(ts_ms));
    st.bind(2, series_id);
  } else {
    st.bind(1, series_id);
    st.bind(2, static_cast<int64_t>(ts_ms));
  }
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
