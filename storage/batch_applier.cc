#include "storage/batch_applier.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "storage/database.h"
#include "storage/latency_histogram.h"
#include "storage/probe_role.h"

namespace obsmon::storage {

namespace {
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr const char* kDroppedEventsCounter = "obsmon_log_events_dropped_total";
// Late runs whose spans cannot be rebuilt because retention deleted the raw runs around them.
constexpr const char* kDroppedRunsCounter = "obsmon_storage_dropped_late_runs_total";
}  // namespace

struct BatchApplier::RollupAgg {
  int64_t runs = 0, up = 0, down = 0;
  double duration_sum = 0, up_duration_sum = 0;
  double duration_min = std::numeric_limits<double>::infinity();
  double duration_max = -std::numeric_limits<double>::infinity();
  std::vector<int> success_buckets;  // LatencyHistogram::BucketOf each successful run
};

namespace {

// obsmon_merge_latency_hist(stored, added): the two histograms' texts merged, for the rollup's
// upsert. Merging in the statement itself spares a SELECT of the stored text per probe and
// commit, and is always merged with what the row holds, whoever changed it. A stored text that
// is not a histogram (edited by hand) is replaced by the added one, as before.
void MergeLatencyHist(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  auto text = [&](int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    return std::string_view(p ? p : "", p ? static_cast<size_t>(sqlite3_value_bytes(argv[i])) : 0);
  };
  if (argc != 2) {
    sqlite3_result_error(ctx, "obsmon_merge_latency_hist: two arguments", -1);
    return;
  }
  auto added = LatencyHistogram::DecodeBuckets(text(1));
  if (!added) {
    sqlite3_result_error(ctx, "obsmon_merge_latency_hist: the added text is not a histogram", -1);
    return;
  }
  const auto stored = LatencyHistogram::DecodeBuckets(text(0));
  const std::string merged = LatencyHistogram::EncodeBuckets(
      stored ? LatencyHistogram::MergeBuckets(*stored, *added) : *added);
  sqlite3_result_text(ctx, merged.data(), static_cast<int>(merged.size()), SQLITE_TRANSIENT);
}

// Registers the function on the writer's connection (it is not in the schema: sqlite3 users
// never need it) and returns the connection, for the statements prepared after it.
SQLite::Database& WithMergeFunction(SQLite::Database& db) {
  const int rc = sqlite3_create_function_v2(db.getHandle(), "obsmon_merge_latency_hist", 2,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                            &MergeLatencyHist, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SQLite::Exception(db.getHandle(), rc);
  return db;
}

}  // namespace

BatchApplier::BatchApplier(SQLite::Database& db, int64_t max_log_events_per_day,
                           const Clock* clock, int64_t raw_retention_ms,
                           int64_t cache_cap_bytes, int64_t head_move_interval_ms)
    : db_(WithMergeFunction(db)),
      max_events_per_day_(max_log_events_per_day),
      select_series_(db, "SELECT id FROM series WHERE name = ? AND labels = ?"),
      insert_series_(db, "INSERT INTO series (name, labels) VALUES (?, ?)"),
      select_probe_(db, "SELECT id, role FROM probes WHERE component = ? AND probe = ?"),
      insert_probe_(db, "INSERT INTO probes (component, probe, role) VALUES (?, ?, ?)"),
      update_probe_role_(db, "UPDATE probes SET role = ? WHERE id = ?"),
      upsert_rollup_(db,
                     "INSERT INTO rollup_hourly (probe_id, hour_ms, runs, up, down, duration_sum, "
                     "duration_min, duration_max, up_duration_sum, latency_hist) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (probe_id, hour_ms) DO UPDATE SET "
                     "runs = runs + excluded.runs, up = up + excluded.up, "
                     "down = down + excluded.down, "
                     "duration_sum = duration_sum + excluded.duration_sum, "
                     "duration_min = min(duration_min, excluded.duration_min), "
                     "duration_max = max(duration_max, excluded.duration_max), "
                     "up_duration_sum = up_duration_sum + excluded.up_duration_sum, "
                     "latency_hist = obsmon_merge_latency_hist(latency_hist, "
                     "excluded.latency_hist)"),
      upsert_cursor_(db,
                     "INSERT INTO log_cursors (component, probe, path, dev, inode, fingerprint, "
                     "offset, updated_ms, birth_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (component, probe, path) DO UPDATE SET dev = excluded.dev, "
                     "inode = excluded.inode, fingerprint = excluded.fingerprint, "
                     "offset = excluded.offset, updated_ms = excluded.updated_ms, "
                     "birth_ns = excluded.birth_ns"),
      delete_cursor_(db, "DELETE FROM log_cursors WHERE component = ? AND probe = ? AND path = ?"),
      count_events_(db,
                    "SELECT count(*) FROM log_events WHERE component = ? AND ts_ms >= ? AND "
                    "ts_ms < ? AND severity = ?"),
      insert_event_(db,
                    "INSERT INTO log_events (component, probe, ts_ms, file, severity, line) "
                    "VALUES (?, ?, ?, ?, ?, ?)"),
      upsert_counter_(db,
                      "INSERT INTO counters (series_id, value) VALUES (?, ?) "
                      "ON CONFLICT (series_id) DO UPDATE SET value = value + excluded.value"),
      delete_counter_(db, "DELETE FROM counters WHERE series_id = ?"),
      cache_sizer_(cache_cap_bytes),
      clock_(clock),
      head_(db, clock, head_move_interval_ms),
      summaries_(db, clock, raw_retention_ms) {}

BatchApplier::~BatchApplier() = default;

void BatchApplier::ForgetCaches() {
  series_ids_.clear();
  probe_ids_.clear();
  events_per_day_.clear();
  summaries_.Forget(/*keep_backlog=*/true);
}

int64_t BatchApplier::SeriesId(const std::string& name, const Labels& labels) {
  if (auto it = series_ids_.find(SeriesRef{&name, &labels}); it != series_ids_.end()) {
    return it->second;
  }
  const std::string text = labels.ToString();
  int64_t id;
  select_series_.reset();
  select_series_.bind(1, name);
  select_series_.bind(2, text);
  if (select_series_.executeStep()) {
    id = select_series_.getColumn(0).getInt64();
  } else {
    insert_series_.reset();
    insert_series_.bind(1, name);
    insert_series_.bind(2, text);
    insert_series_.exec();
    id = db_.getLastInsertRowid();
  }
  select_series_.reset();
  // Bounded: a target that sends new series on every scrape would otherwise grow this by every
  // series it ever sent (issue 13, N1: 2 GB in a minute). Starting over costs one indexed
  // SELECT per series for the batches after; a steady set below the bound never starts over.
  if (series_ids_.size() >= kMaxCachedSeriesIds) series_ids_.clear();
  series_ids_.emplace(SeriesKey{name, labels}, id);
  return id;
}

std::pair<int64_t, ProbeRole> BatchApplier::ProbeId(const ProbeKey& key, ProbeRole role) {
  std::string cache_key = key.component + '\0' + key.probe;
  auto it = probe_ids_.find(cache_key);
  if (it == probe_ids_.end()) {
    select_probe_.reset();
    select_probe_.bind(1, key.component);
    select_probe_.bind(2, key.probe);
    std::pair<int64_t, ProbeRole> entry;
    if (select_probe_.executeStep()) {
      entry.first = select_probe_.getColumn(0).getInt64();
      entry.second =
          ParseProbeRole(select_probe_.getColumn(1).getString()).value_or(ProbeRole::kNone);
      select_probe_.reset();
    } else {
      select_probe_.reset();
      insert_probe_.reset();
      insert_probe_.bind(1, key.component);
      insert_probe_.bind(2, key.probe);
      insert_probe_.bind(3, std::string(ProbeRoleName(role)));
      insert_probe_.exec();
      entry = {db_.getLastInsertRowid(), role};
    }
    it = probe_ids_.emplace(std::move(cache_key), entry).first;
  }
  if (it->second.second != role) {
    // The probes table keeps the latest configured role.
    update_probe_role_.reset();
    update_probe_role_.bind(1, std::string(ProbeRoleName(role)));
    update_probe_role_.bind(2, it->second.first);
    update_probe_role_.exec();
    it->second.second = role;
  }
  return it->second;
}

void BatchApplier::AddCounter(int64_t series_id, double delta) {
  upsert_counter_.reset();
  upsert_counter_.bind(1, series_id);
  upsert_counter_.bind(2, delta);
  upsert_counter_.exec();
}

void BatchApplier::ForgetCounter(int64_t series_id) {
  delete_counter_.reset();
  delete_counter_.bind(1, series_id);
  delete_counter_.exec();
}

void BatchApplier::WriteOne(const WriteBatch& batch, ApplyResult* result, Rollups* rollups) {
  WriteRuns(batch.runs, result, rollups);
  WriteSamples(batch.samples, result);
  WriteLogCursors(batch.log_cursors);
  WriteLogEvents(batch.log_events, result);
  for (const CounterDelta& d : batch.counters) {
    if (d.forget) {
      ForgetCounter(SeriesId(d.name, d.labels));
    } else {
      AddCounter(SeriesId(d.name, d.labels), d.delta);
    }
  }
}

// Each run once (the first stored for a probe and ms wins), aggregated into its hour's rollup;
// a late run whose span lost raw runs to retention is refused and counted per component.
void BatchApplier::WriteRuns(const std::vector<ProbeRun>& runs, ApplyResult* result,
                             Rollups* rollups) {
  std::map<std::string, double> dropped_runs;  // component -> late runs refused in this batch
  for (const ProbeRun& run : runs) {
    int64_t probe_id = ProbeId(run.key, run.role).first;
    if (!summaries_.Admit(probe_id, run)) {
      dropped_runs[run.key.component] += 1;
      ++result->dropped_runs;
      continue;
    }
    if (!head_.InsertRun({.probe_id = probe_id,
                          .ts_ms = run.ts_ms,
                          .success = run.success,
                          .duration_seconds = run.duration_seconds,
                          .valid_for_ms = static_cast<int64_t>(run.valid_for_ms),
                          .reason = &run.reason})) {
      continue;  // same probe and ms already stored: keep the first
    }
    summaries_.Added(probe_id, run);
    ++result->rows;
    RollupAgg& agg = (*rollups)[{probe_id, FloorMs(run.ts_ms, kHourMs)}];
    ++agg.runs;
    agg.duration_sum += run.duration_seconds;
    agg.duration_min = std::min(agg.duration_min, run.duration_seconds);
    agg.duration_max = std::max(agg.duration_max, run.duration_seconds);
    if (run.success) {
      ++agg.up;
      agg.up_duration_sum += run.duration_seconds;
      agg.success_buckets.push_back(LatencyHistogram::BucketOf(run.duration_seconds));
    } else {
      ++agg.down;
    }
  }
  for (const auto& [component, n] : dropped_runs) {
    AddCounter(SeriesId(kDroppedRunsCounter, Labels{{"component", component}}), n);
  }
}

void BatchApplier::WriteSamples(const std::vector<Sample>& samples, ApplyResult* result) {
  sample_rows_.clear();
  for (const Sample& s : samples) {
    int64_t id = SeriesId(s.name, s.labels);
    cache_sizer_.Written(id);
    sample_rows_.push_back(
        {id, s.ts_ms, std::isnan(s.value) ? std::nullopt : std::optional(s.value)});
  }
  head_.InsertSamples(sample_rows_);
  result->rows += samples.size();
}

void BatchApplier::WriteLogCursors(const std::vector<LogCursor>& cursors) {
  for (const LogCursor& c : cursors) {
    if (c.retired) {
      delete_cursor_.reset();
      delete_cursor_.bindNoCopy(1, c.key.component);
      delete_cursor_.bindNoCopy(2, c.key.probe);
      delete_cursor_.bindNoCopy(3, c.path);
      delete_cursor_.exec();
      continue;
    }
    upsert_cursor_.reset();
    upsert_cursor_.bindNoCopy(1, c.key.component);
    upsert_cursor_.bindNoCopy(2, c.key.probe);
    upsert_cursor_.bindNoCopy(3, c.path);
    // dev and inode are unsigned 64-bit: stored as the same bits in a signed INTEGER.
    upsert_cursor_.bind(4, static_cast<int64_t>(c.dev));
    upsert_cursor_.bind(5, static_cast<int64_t>(c.inode));
    upsert_cursor_.bindNoCopy(6, c.fingerprint);
    upsert_cursor_.bind(7, static_cast<int64_t>(c.offset));
    upsert_cursor_.bind(8, static_cast<int64_t>(c.updated_ms));
    upsert_cursor_.bind(9, c.birth_ns);
    upsert_cursor_.exec();
  }
}

int64_t& BatchApplier::EventsOfDay(const std::string& component, const std::string& severity,
                                   int64_t day) {
  auto key = std::make_tuple(component, severity, day);
  auto it = events_per_day_.find(key);
  if (it != events_per_day_.end()) return it->second;
  count_events_.reset();
  count_events_.bind(1, component);
  count_events_.bind(2, static_cast<int64_t>(day));
  count_events_.bind(3, static_cast<int64_t>(day + kDayMs));
  count_events_.bind(4, severity);
  count_events_.executeStep();
  const int64_t n = count_events_.getColumn(0).getInt64();
  count_events_.reset();
  return events_per_day_.emplace(std::move(key), n).first->second;
}

// At most max_events_per_day_ lines per component, severity and UTC day, so that a noisy error
// log does not leave a critical line of the same day without its evidence; the rest are counted
// as dropped.
void BatchApplier::WriteLogEvents(const std::vector<LogEvent>& events, ApplyResult* result) {
  std::map<std::string, double> dropped;  // component -> events over the cap in this batch
  for (const LogEvent& e : events) {
    int64_t& stored = EventsOfDay(e.key.component, e.severity, FloorMs(e.ts_ms, kDayMs));
    if (stored >= max_events_per_day_) {
      dropped[e.key.component] += 1;
      ++result->dropped_events;
      continue;
    }
    insert_event_.reset();
    insert_event_.bindNoCopy(1, e.key.component);
    insert_event_.bindNoCopy(2, e.key.probe);
    insert_event_.bind(3, static_cast<int64_t>(e.ts_ms));
    insert_event_.bindNoCopy(4, e.file);
    insert_event_.bindNoCopy(5, e.severity);
    insert_event_.bindNoCopy(6, e.line);
    insert_event_.exec();
    ++stored;
    ++result->rows;
  }
  for (const auto& [component, n] : dropped) {
    AddCounter(SeriesId(kDroppedEventsCounter, Labels{{"component", component}}), n);
  }
}

void BatchApplier::FlushRollups(const Rollups& rollups) {
  for (const auto& [key, agg] : rollups) {
    upsert_rollup_.reset();
    upsert_rollup_.bind(1, key.first);
    upsert_rollup_.bind(2, key.second);
    upsert_rollup_.bind(3, agg.runs);
    upsert_rollup_.bind(4, agg.up);
    upsert_rollup_.bind(5, agg.down);
    upsert_rollup_.bind(6, agg.duration_sum);
    upsert_rollup_.bind(7, agg.duration_min);
    upsert_rollup_.bind(8, agg.duration_max);
    upsert_rollup_.bind(9, agg.up_duration_sum);
    upsert_rollup_.bind(
        10, LatencyHistogram::EncodeBuckets(LatencyHistogram::BucketsOf(agg.success_buckets)));
    upsert_rollup_.exec();
  }
}

ApplyResult BatchApplier::Apply(const std::vector<const WriteBatch*>& batches) {
  ApplyResult result;
  bool in_tx = false;
  try {
    db_.exec("BEGIN IMMEDIATE");
    in_tx = true;
    std::map<std::pair<int64_t, int64_t>, RollupAgg> rollups;
    for (const WriteBatch* b : batches) WriteOne(*b, &result, &rollups);
    FlushRollups(rollups);
    summaries_.Finish();
    result.head_rows_moved = head_.CompactIfDue();
    db_.exec("COMMIT");
    in_tx = false;
    if (auto bytes = cache_sizer_.Resize(clock_->SteadyNow())) {
      // Negative: KiB rather than pages. Shrinking frees the unpinned pages beyond at once.
      db_.exec("PRAGMA cache_size = -" + std::to_string(*bytes >> 10));
    }
    return result;
  } catch (const SQLite::Exception& e) {
    result.status = StatusFromException(e, "writing batches");
    result.sqlite_code = e.getErrorCode();
  } catch (const std::exception& e) {
    result.status = Status::Internal(fmt::format("writing batches: {}", e.what()));
    result.sqlite_code = SQLITE_INTERNAL;
  }
  // Failure: reset every statement first (a statement left mid-step keeps the pager in its error
  // state, and every later transaction would fail the same way), then undo everything of this
  // transaction and forget ids it may have created.
  for (SQLite::Statement* st :
       {&select_series_, &insert_series_, &select_probe_, &insert_probe_,
        &update_probe_role_, &upsert_rollup_, &upsert_cursor_,
        &count_events_, &insert_event_, &upsert_counter_}) {
    try {
      st->reset();
    } catch (const SQLite::Exception&) {
      // reset() reports the statement's last error again; the reset itself is done.
    }
  }
  if (in_tx || sqlite3_get_autocommit(db_.getHandle()) == 0) {
    try {
      db_.exec("ROLLBACK");
    } catch (const SQLite::Exception&) {
      // SQLite may have rolled back by itself (e.g. SQLITE_FULL); nothing left to undo.
    }
  }
  head_.ResetStatements();
  head_.Forget();  // a move this transaction made is undone
  ForgetCaches();
  summaries_.Forget(/*keep_backlog=*/false);  // the hours this transaction sealed are undone
  result.rows = 0;
  result.head_rows_moved = 0;
  result.dropped_events = 0;
  result.dropped_runs = 0;
  return result;
}

}  // namespace obsmon::storage
