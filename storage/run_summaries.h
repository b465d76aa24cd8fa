// Private to storage/: keeps `probe_spans` and `run_durations_hourly` (docs/storage.md) in step
// with `probe_runs`, inside the BatchApplier's transaction, so a crash never leaves them apart.
//
// Spans. Each probe's last (open) span is held in memory (loaded from the database the first time
// the probe is seen). A run later than the probe's last run extends it or starts a new span, by
// core/run_span.h's rule, the one CompressRuns applies; each span touched is written once per
// transaction. A *late* run (older than the probe's last run) makes the probe's spans be rebuilt
// at the end of the transaction from the raw runs, starting at the span holding or preceding it.
// That needs every raw run of that span: if retention has deleted some (its count in probe_runs
// differs from the span's `runs`), the late run is refused: Admit() returns false and the caller
// stores it nowhere (counted), since no exact span can be computed for it.
//
// Sealing. An hour of a probe is sealed (one row holding the durations of its successful runs,
// ascending) once a run of that probe in a later hour is written; an hour that gets a late run is
// sealed again in the same transaction. Hours left unsealed (a database migrated from schema
// version 3; hours skipped by the cutoff below while the clock was behind) are found once per
// writer and sealed a few per transaction. Readers never depend on it: an unsealed hour is read
// from the raw runs. Hours older than the raw retention cutoff are never sealed (their raw runs may
// be partly deleted already); retention deletes sealed rows before the raw runs of their hour.
//
// Used only by the writer thread; not thread-safe. Methods throw SQLite::Exception (the applier
// rolls back and calls Forget()).
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "core/run_span.h"

namespace obsmon::storage {

class RunSummaries {
 public:
  // `db` and `clock` must outlive this. Hours older than clock->NowMs() - raw_retention_ms are not
  // sealed (see above).
  RunSummaries(SQLite::Database& db, const Clock* clock, int64_t raw_retention_ms);

  // Before inserting `run` of probe `probe_id` into probe_runs: false when it must not be stored
  // (a late run whose span cannot be rebuilt exactly, see above).
  bool Admit(int64_t probe_id, const ProbeRun& run);
  // After `run` was inserted (it was not a duplicate).
  void Added(int64_t probe_id, const ProbeRun& run);
  // Before COMMIT: writes the spans touched, rebuilds those of probes that got late runs, seals
  // hours, and seals a few hours left unsealed from before.
  void Finish();
  // Forgets what is held in memory: after a rollback (keep_backlog = false: the hours it sealed
  // are undone) or after retention deleted rows (the backlog is still right: hours retention
  // deletes are skipped when their turn comes).
  void Forget(bool keep_backlog);

  // Past hours sealed per transaction from the backlog of unsealed hours.
  static constexpr size_t kBacklogHoursPerCommit = 16;

 private:
  struct ProbeState {
    std::optional<RunSpan> open;  // the probe's last span: stored, plus this transaction's runs
    // This transaction only:
    bool touched = false;
    bool open_dirty = false;          // `open` differs from its stored row
    std::vector<RunSpan> closed;      // spans ended in this transaction, not yet written
    std::optional<TimestampMs> rebuild_from;  // a late run came: rebuild spans from here
    std::optional<TimestampMs> hour_at_start;  // hour of the last run before the transaction
    std::vector<TimestampMs> hours;   // hours of the runs added
  };

  ProbeState& State(int64_t probe_id);
  void Touch(int64_t probe_id, ProbeState& st);
  bool AdmitLate(int64_t probe_id, const ProbeRun& run, ProbeState& st);
  bool IsStored(int64_t probe_id, TimestampMs ts);
  void WriteSpans(int64_t probe_id, ProbeState& st);
  void WriteSpan(int64_t probe_id, const RunSpan& span);
  void Rebuild(int64_t probe_id, TimestampMs from, ProbeState& st);
  void Seal(int64_t probe_id, TimestampMs hour_ms);
  void SealBacklog();
  void LoadBacklog();
  TimestampMs SealCutoff() const;

  SQLite::Database& db_;
  const Clock* clock_;
  const int64_t raw_retention_ms_;

  SQLite::Statement last_span_;
  SQLite::Statement span_before_;
  SQLite::Statement runs_in_span_range_;
  SQLite::Statement span_runs_in_range_;
  SQLite::Statement run_exists_;
  SQLite::Statement upsert_span_;
  SQLite::Statement delete_spans_from_;
  SQLite::Statement runs_from_;
  SQLite::Statement success_durations_;
  SQLite::Statement upsert_sealed_;
  SQLite::Statement delete_sealed_;

  std::unordered_map<int64_t, ProbeState> states_;  // probes.id -> state
  std::vector<int64_t> touched_;                    // probes touched in this transaction
  bool backlog_loaded_ = false;
  std::vector<std::pair<int64_t, TimestampMs>> backlog_;  // (probe id, hour) to seal; next at back
};

}  // namespace obsmon::storage
