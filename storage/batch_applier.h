// Private to storage/: writes WriteBatches into the schema inside ONE transaction, with prepared
// statements and in-memory id caches (series, probes, per-day event counts). Used only by the
// writer thread, which owns the connection; not thread-safe.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/cache_sizer.h"

#include "core/clock.h"
#include "core/records.h"
#include "core/status.h"
#include "storage/run_summaries.h"
#include "storage/head.h"

namespace obsmon::storage {

struct ApplyResult {
  Status status;
  int sqlite_code = 0;          // the SQLite error code when !status.ok()
  uint64_t rows = 0;            // runs + samples + events written
  uint64_t dropped_events = 0;  // log events over the per-day cap (counted, not stored)
  uint64_t dropped_runs = 0;    // late runs refused by RunSummaries::Admit (counted, not stored)
  int64_t head_rows_moved = 0;  // samples and runs moved out of the heads (storage/head.h)
};

class BatchApplier {
 public:
  // `db` and `clock` must outlive the applier. `max_log_events_per_day` caps log_events per
  // (component, UTC day); the excess is counted in obsmon_log_events_dropped_total{component=...}.
  // `clock` and `raw_retention_ms` tell which hours are too old to seal (storage/run_summaries.h).
  // `cache_cap_bytes` caps the connection's page cache, which the applier sizes to the series it
  // writes (storage/cache_sizer.h). `head_move_interval_ms`: how often the head's rows move
  // (storage/head.h).
  BatchApplier(SQLite::Database& db, int64_t max_log_events_per_day, const Clock* clock,
               int64_t raw_retention_ms, int64_t cache_cap_bytes, int64_t head_move_interval_ms);
  ~BatchApplier();

  // Writes all batches in one transaction: all of them or none. On failure rolls back, forgets
  // cached ids (they may name rolled-back rows) and reports the SQLite code.
  ApplyResult Apply(const std::vector<const WriteBatch*>& batches);

  // Drops every cache (when retention deleted rows; a failed Apply drops them itself).
  void ForgetCaches();

  // The page cache's size now (PRAGMA cache_size, as CacheSizer set it).
  int64_t cache_size_bytes() const { return cache_sizer_.size_bytes(); }
  int64_t head_floor_repairs() const { return head_.floor_repairs(); }

  // Series whose ids are cached now (at most kMaxCachedSeriesIds, about 400 bytes each).
  size_t cached_series_ids() const { return series_ids_.size(); }

 private:
  struct RollupAgg;
  int64_t SeriesId(const std::string& name, const Labels& labels);
  std::pair<int64_t, ProbeRole> ProbeId(const ProbeKey& key, ProbeRole role);
  using Rollups = std::map<std::pair<int64_t, int64_t>, RollupAgg>;  // (probe id, hour) ->
  void WriteOne(const WriteBatch& batch, ApplyResult* result, Rollups* rollups);
  // WriteOne's parts, one per kind of row.
  void WriteRuns(const std::vector<ProbeRun>& runs, ApplyResult* result, Rollups* rollups);
  void WriteSamples(const std::vector<Sample>& samples, ApplyResult* result);
  void WriteLogCursors(const std::vector<LogCursor>& cursors);
  void WriteLogEvents(const std::vector<LogEvent>& events, ApplyResult* result);
  // Log events of `severity` already stored for (component, day), read once and then counted
  // here.
  int64_t& EventsOfDay(const std::string& component, const std::string& severity, int64_t day);
  void AddCounter(int64_t series_id, double delta);
  void ForgetCounter(int64_t series_id);
  void FlushRollups(const Rollups& rollups);

  SQLite::Database& db_;
  const int64_t max_events_per_day_;

  SQLite::Statement select_series_;
  SQLite::Statement insert_series_;
  SQLite::Statement select_probe_;
  SQLite::Statement insert_probe_;
  SQLite::Statement update_probe_role_;
  SQLite::Statement upsert_rollup_;
  SQLite::Statement upsert_cursor_;
  SQLite::Statement delete_cursor_;
  SQLite::Statement count_events_;
  SQLite::Statement insert_event_;
  SQLite::Statement upsert_counter_;
  SQLite::Statement delete_counter_;

  // (name, labels) -> series.id. Hashed on the Labels themselves, with a borrowed-key lookup, so
  // a cache hit builds no label text (this is the per-sample hot path).
  struct SeriesKey {
    std::string name;
    Labels labels;
  };
  struct SeriesRef {
    const std::string* name;
    const Labels* labels;
  };
  struct SeriesHash {
    using is_transparent = void;
    size_t operator()(const SeriesKey& k) const { return Mix(k.name, k.labels); }
    size_t operator()(const SeriesRef& k) const { return Mix(*k.name, *k.labels); }
    static size_t Mix(const std::string& name, const Labels& labels) {
      return std::hash<std::string>()(name) * 31 + labels.Hash();
    }
  };
  struct SeriesEq {
    using is_transparent = void;
    static bool Eq(const std::string& an, const Labels& al, const std::string& bn,
                   const Labels& bl) {
      return an == bn && al == bl;
    }
    bool operator()(const SeriesKey& a, const SeriesKey& b) const {
      return Eq(a.name, a.labels, b.name, b.labels);
    }
    bool operator()(const SeriesRef& a, const SeriesKey& b) const {
      return Eq(*a.name, *a.labels, b.name, b.labels);
    }
    bool operator()(const SeriesKey& a, const SeriesRef& b) const {
      return Eq(a.name, a.labels, *b.name, *b.labels);
    }
  };
  // series (name, labels) -> series.id; at most kMaxCachedSeriesIds (about 400 bytes each).
  static constexpr size_t kMaxCachedSeriesIds = 50'000;
  std::unordered_map<SeriesKey, int64_t, SeriesHash, SeriesEq> series_ids_;
  CacheSizer cache_sizer_;
  const Clock* clock_;
  // component + '\0' + probe -> (probes.id, stored role)
  std::unordered_map<std::string, std::pair<int64_t, ProbeRole>> probe_ids_;
  // (component, severity, UTC day start) -> log_events stored that day
  std::map<std::tuple<std::string, std::string, int64_t>, int64_t> events_per_day_;
  // Before summaries_: its statements read the view probe_runs, which Head makes again if a
  // user dropped it.
  Head head_;
  // probe_spans and run_durations_hourly, kept in step with probe_runs.
  RunSummaries summaries_;
  std::vector<Head::SampleRow> sample_rows_;  // WriteSamples' rows (reused)
};

}  // namespace obsmon::storage
