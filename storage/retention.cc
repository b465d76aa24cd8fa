#include "storage/retention.h"

#include <fmt/format.h>

#include <algorithm>

namespace obsmon::storage {

Retention::Retention(SQLite::Database& db, int64_t batch_rows, int64_t remote_write_hold_max_ms)
    : db_(db),
      batch_rows_(batch_rows > 0 ? batch_rows : 5000),
      hold_max_ms_(remote_write_hold_max_ms) {}

TimestampMs Retention::HoldForRemotes(TimestampMs raw_cutoff_ms) {
  // The smallest cursor of the configured remotes: samples at or after it are not acknowledged.
  SQLite::Statement q(db_, "SELECT min(cursor_ms) FROM remote_write_cursors WHERE active = 1");
  TimestampMs cutoff = raw_cutoff_ms;
  if (q.executeStep() && !q.getColumn(0).isNull()) {
    cutoff = std::min(cutoff, static_cast<TimestampMs>(q.getColumn(0).getInt64()));
  }
  if (hold_max_ms_ > 0) cutoff = std::max(cutoff, raw_cutoff_ms - hold_max_ms_);
  // What goes unsent is counted per remote, and its cursor moved past it (one statement each:
  // the count and the move commit together). max(): a sender's own advance is never undone.
  SQLite::Statement drop(
      db_,
      "UPDATE remote_write_cursors SET dropped_retention = dropped_retention + "
      "(SELECT coalesce(sum((SELECT count(*) FROM samples_by_series x WHERE "
      "x.series_id = s.id AND x.ts_ms >= remote_write_cursors.cursor_ms AND x.ts_ms < ?1)), 0) "
      "FROM series s) + (SELECT count(*) FROM samples_head WHERE ts_ms >= "
      "remote_write_cursors.cursor_ms AND ts_ms < ?1), "
      "cursor_ms = ?1 WHERE active = 1 AND cursor_ms < ?1");
  drop.bind(1, static_cast<int64_t>(cutoff));
  drop.exec();
  return cutoff;
}

void Retention::Begin(TimestampMs raw_cutoff_ms, TimestampMs rollup_cutoff_ms) {
  raw_cutoff_ = raw_cutoff_ms;
  rollup_cutoff_ = rollup_cutoff_ms;
  span_cutoff_ = std::min(raw_cutoff_ms, rollup_cutoff_ms);
  tasks_.clear();
  next_ = 0;
  deleted_ = 0;
  samples_cutoff_ = HoldForRemotes(raw_cutoff_ms);
  // Only keys that have something old: cheap lookups on the primary keys' leading columns.
  {
    SQLite::Statement q(db_,
                        "SELECT id FROM series s WHERE EXISTS (SELECT 1 FROM samples_by_series "
                        "WHERE series_id = s.id AND ts_ms < ?)");
    q.bind(1, static_cast<int64_t>(samples_cutoff_));
    while (q.executeStep()) tasks_.push_back({Kind::kSamples, q.getColumn(0).getInt64(), {}});
  }
  // The head holds seconds; only a retention that short reaches into it.
  {
    SQLite::Statement q(db_, "SELECT 1 FROM samples_head WHERE ts_ms < ? LIMIT 1");
    q.bind(1, static_cast<int64_t>(samples_cutoff_));
    if (q.executeStep()) tasks_.push_back({Kind::kHead, 0, {}});
  }
  // Per probe, in this order (see Begin's comment): sealed hours, raw runs, rollups, spans.
  auto probes_with = [&](Kind kind, const char* table, const char* column, TimestampMs cutoff) {
    SQLite::Statement q(db_, fmt::format("SELECT id FROM probes p WHERE EXISTS (SELECT 1 FROM {} "
                                         "WHERE probe_id = p.id AND {} < ?)",
                                         table, column));
    q.bind(1, static_cast<int64_t>(cutoff));
    while (q.executeStep()) tasks_.push_back({kind, q.getColumn(0).getInt64(), {}});
  };
  probes_with(Kind::kSealed, "run_durations_hourly", "hour_ms", raw_cutoff_);
  probes_with(Kind::kRuns, "probe_runs_by_probe", "ts_ms", raw_cutoff_);
  // As for samples: only a raw retention shorter than the head reaches into it.
  {
    SQLite::Statement q(db_, "SELECT 1 FROM probe_runs_head WHERE ts_ms < ? LIMIT 1");
    q.bind(1, static_cast<int64_t>(raw_cutoff_));
    if (q.executeStep()) tasks_.push_back({Kind::kRunsHead, 0, {}});
  }
  probes_with(Kind::kRollups, "rollup_hourly", "hour_ms", rollup_cutoff_);
  probes_with(Kind::kSpans, "probe_spans", "last_run_ms", span_cutoff_);
  {
    SQLite::Statement q(db_, "SELECT DISTINCT component FROM probes");
    while (q.executeStep()) tasks_.push_back({Kind::kEvents, 0, q.getColumn(0).getString()});
  }
  // After the samples' tasks, so that the series this pass empties go in it too. The task's id
  // is the first series id of the next window looked at (Step()).
  {
    SQLite::Statement q(db_, "SELECT coalesce(max(id), 0) FROM series");
    q.executeStep();
    series_max_id_ = q.getColumn(0).getInt64();
  }
  tasks_.push_back({Kind::kSeries, 0, {}});
}

int64_t Retention::Step() {
  if (!active()) return 0;
  const Task& t = tasks_[next_];
  // Each kind deletes the oldest batch_rows_ rows of one key older than its cutoff; the
  // statements differ only in table, key and cutoff.
  const char* sql = nullptr;
  int64_t cutoff = raw_cutoff_;
  switch (t.kind) {
    case Kind::kSamples:
      sql = "DELETE FROM samples_by_series WHERE series_id = ?1 AND ts_ms IN (SELECT ts_ms "
            "FROM samples_by_series WHERE series_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
      cutoff = samples_cutoff_;
      break;
    case Kind::kHead:
      // ?1 (the key of the other kinds) is 0 here: the head is one task.
      sql = "DELETE FROM samples_head WHERE ?1 = 0 AND (ts_ms, series_id) IN (SELECT ts_ms, "
            "series_id FROM samples_head WHERE ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
      cutoff = samples_cutoff_;
      break;
    case Kind::kSealed:
      sql = "DELETE FROM run_durations_hourly WHERE probe_id = ?1 AND hour_ms IN (SELECT hour_ms "
            "FROM run_durations_hourly WHERE probe_id = ?1 AND hour_ms < ?2 ORDER BY hour_ms "
            "LIMIT ?3)";
      break;
    case Kind::kRuns:
      sql = "DELETE FROM probe_runs_by_probe WHERE probe_id = ?1 AND ts_ms IN (SELECT ts_ms "
            "FROM probe_runs_by_probe WHERE probe_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
      break;
    case Kind::kRunsHead:
      sql = "DELETE FROM probe_runs_head WHERE ?1 = 0 AND (ts_ms, probe_id) IN (SELECT ts_ms, "
            "probe_id FROM probe_runs_head WHERE ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
      break;
    case Kind::kRollups:
      sql = "DELETE FROM rollup_hourly WHERE probe_id = ?1 AND hour_ms IN (SELECT hour_ms FROM "
            "rollup_hourly WHERE probe_id = ?1 AND hour_ms < ?2 ORDER BY hour_ms LIMIT ?3)";
      cutoff = rollup_cutoff_;
      break;
    case Kind::kSpans:
      sql = "DELETE FROM probe_spans WHERE probe_id = ?1 AND start_ms IN (SELECT start_ms FROM "
            "probe_spans WHERE probe_id = ?1 AND last_run_ms < ?2 ORDER BY start_ms LIMIT ?3)";
      cutoff = span_cutoff_;
      break;
    case Kind::kEvents:
      sql = "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE component = ?1 "
            "AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)";
      break;
    case Kind::kSeries:
      // A series with no sample and no stored counter names nothing: a retired log file's, a
      // scrape series that went away (fresh eyes, stop 47: five rows a deleted log file, never
      // deleted). One window of ids a statement (?1 to ?1 + ?4), so that a statement looks at a
      // bounded part of a large table (a scrape with new series at every scrape leaves millions).
      // samples_by_series and counters are looked up by their keys; samples_head (seconds of
      // rows, keyed by time) is listed once per statement by the NOT IN. ?2 is unused: the
      // cutoff already acted through the samples' tasks.
      sql = "DELETE FROM series WHERE ?2 = ?2 AND id IN (SELECT id FROM series s WHERE "
            "s.id >= ?1 AND s.id < ?1 + ?4 AND NOT EXISTS (SELECT 1 FROM samples_by_series "
            "WHERE series_id = s.id) AND NOT EXISTS (SELECT 1 FROM counters WHERE series_id = "
            "s.id) AND s.id NOT IN (SELECT series_id FROM samples_head WHERE series_id >= ?1 "
            "AND series_id < ?1 + ?4) ORDER BY id LIMIT ?3)";
      break;
  }
  SQLite::Statement d(db_, sql);
  if (t.kind == Kind::kEvents) {
    d.bind(1, t.component);
  } else {
    d.bind(1, t.id);
  }
  d.bind(2, static_cast<int64_t>(cutoff));
  d.bind(3, batch_rows_);
  if (t.kind == Kind::kSeries) d.bind(4, kSeriesWindowIds);
  const int changes = d.exec();
  series_deleted_ = t.kind == Kind::kSeries && changes > 0;
  if (t.kind == Kind::kSeries) {
    // A full batch may leave more in this window; else on to the next, until past the last id.
    if (changes < batch_rows_) {
      tasks_[next_].id += kSeriesWindowIds;
      if (tasks_[next_].id > series_max_id_) ++next_;
    }
  } else if (changes < batch_rows_) {
    ++next_;  // this key is done
  }
  deleted_ += changes;
  return changes;
}

}  // namespace obsmon::storage
