#include "storage/run_summaries.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "storage/duration_blob.h"

namespace obsmon::storage {

namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();
constexpr const char* kSpanColumns = "start_ms, last_run_ms, end_ms, success, runs, reason";

TimestampMs HourOf(TimestampMs ts) { return FloorMs(ts, kHourMs); }

// Reads a row whose columns are kSpanColumns. Storage needs no key or role in a span.
RunSpan SpanFromRow(SQLite::Statement& q) {
  RunSpan s;
  s.start_ms = q.getColumn(0).getInt64();
  s.last_run_ms = q.getColumn(1).getInt64();
  s.end_ms = q.getColumn(2).getInt64();
  s.success = q.getColumn(3).getInt() != 0;
  s.runs = static_cast<uint64_t>(q.getColumn(4).getInt64());
  s.reason = q.getColumn(5).getString();
  return s;
}

// Runs one single-row query (bound by `bind`) and returns its first row mapped by `map`.
template <typename Bind, typename Map>
auto QueryOne(SQLite::Statement& q, Bind bind, Map map) -> std::optional<decltype(map(q))> {
  q.reset();
  bind(q);
  std::optional<decltype(map(q))> out;
  if (q.executeStep()) out = map(q);
  q.reset();
  return out;
}

}  // namespace

RunSummaries::RunSummaries(SQLite::Database& db, const Clock* clock, int64_t raw_retention_ms)
    : db_(db),
      clock_(clock),
      raw_retention_ms_(raw_retention_ms),
      last_span_(db, fmt::format("SELECT {} FROM probe_spans WHERE probe_id = ? ORDER BY "
                                 "start_ms DESC LIMIT 1",
                                 kSpanColumns)),
      span_before_(db, fmt::format("SELECT {} FROM probe_spans WHERE probe_id = ? AND "
                                   "start_ms < ? ORDER BY start_ms DESC LIMIT 1",
                                   kSpanColumns)),
      runs_in_span_range_(db,
                          "SELECT count(*) FROM probe_runs WHERE probe_id = ? AND ts_ms >= ? AND "
                          "ts_ms <= ?"),
      span_runs_in_range_(db,
                          "SELECT coalesce(sum(runs), 0) FROM probe_spans WHERE probe_id = ? AND "
                          "start_ms >= ? AND start_ms <= ?"),
      run_exists_(db, "SELECT 1 FROM probe_runs WHERE probe_id = ? AND ts_ms = ?"),
      upsert_span_(db,
                   "INSERT INTO probe_spans (probe_id, start_ms, last_run_ms, end_ms, success, "
                   "runs, reason) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (probe_id, start_ms) "
                   "DO UPDATE SET last_run_ms = excluded.last_run_ms, end_ms = excluded.end_ms, "
                   "success = excluded.success, runs = excluded.runs, reason = excluded.reason"),
      delete_spans_from_(db, "DELETE FROM probe_spans WHERE probe_id = ? AND start_ms >= ?"),
      runs_from_(db,
                 "SELECT ts_ms, success, valid_for_ms, reason FROM probe_runs WHERE probe_id = ? "
                 "AND ts_ms >= ? ORDER BY ts_ms"),
      success_durations_(db,
                         "SELECT duration_seconds FROM probe_runs WHERE probe_id = ? AND "
                         "ts_ms >= ? AND ts_ms < ? AND success = 1"),
      upsert_sealed_(db,
                     "INSERT OR REPLACE INTO run_durations_hourly (probe_id, hour_ms, count, "
                     "durations) VALUES (?, ?, ?, ?)"),
      delete_sealed_(db, "DELETE FROM run_durations_hourly WHERE probe_id = ? AND hour_ms = ?") {}

RunSummaries::ProbeState& RunSummaries::State(int64_t probe_id) {
  auto it = states_.find(probe_id);
  if (it != states_.end()) return it->second;
  ProbeState st;
  st.open = QueryOne(
      last_span_, [&](SQLite::Statement& q) { q.bind(1, probe_id); }, SpanFromRow);
  return states_.emplace(probe_id, std::move(st)).first->second;
}

void RunSummaries::Touch(int64_t probe_id, ProbeState& st) {
  if (st.touched) return;
  st.touched = true;
  touched_.push_back(probe_id);
  if (st.open) st.hour_at_start = HourOf(st.open->last_run_ms);
}

bool RunSummaries::Admit(int64_t probe_id, const ProbeRun& run) {
  ProbeState& st = State(probe_id);
  if (st.rebuild_from) {
    // Spans from rebuild_from on are rebuilt from the raw runs anyway (known complete there).
    if (run.ts_ms >= *st.rebuild_from) return true;
    return AdmitLate(probe_id, run, st);
  }
  // Equal to the last run: a duplicate, which the insert ignores.
  if (!st.open || run.ts_ms >= st.open->last_run_ms) return true;
  return AdmitLate(probe_id, run, st);
}

bool RunSummaries::AdmitLate(int64_t probe_id, const ProbeRun& run, ProbeState& st) {
  if (IsStored(probe_id, run.ts_ms)) return true;  // a duplicate: the insert ignores it
  // From here on the stored spans must hold every run added so far (below rebuild_from, they do).
  if (!st.rebuild_from) WriteSpans(probe_id, st);
  // The rebuild starts at the span holding or preceding the run; it needs all of that span's
  // raw runs (and, retention deleting each probe's oldest runs first, then all later ones too).
  auto span = QueryOne(
      span_before_,
      [&](SQLite::Statement& q) {
        q.bind(1, probe_id);
        q.bind(2, static_cast<int64_t>(run.ts_ms));
      },
      SpanFromRow);
  int64_t lo = kMinTs, hi = st.rebuild_from ? *st.rebuild_from - 1 : kMaxTs, expected = 0;
  auto bind_range = [&](SQLite::Statement& q) {
    q.bind(1, probe_id);
    q.bind(2, lo);
    q.bind(3, hi);
  };
  auto first_int = [](SQLite::Statement& q) { return q.getColumn(0).getInt64(); };
  if (span) {
    lo = span->start_ms;
    hi = span->last_run_ms;
    expected = static_cast<int64_t>(span->runs);
  } else {
    expected = QueryOne(span_runs_in_range_, bind_range, first_int).value_or(0);
  }
  const int64_t stored = QueryOne(runs_in_span_range_, bind_range, first_int).value_or(0);
  if (stored != expected) return false;  // retention deleted runs the rebuild would need
  Touch(probe_id, st);
  st.rebuild_from = std::min(st.rebuild_from.value_or(kMaxTs), lo);
  return true;
}

bool RunSummaries::IsStored(int64_t probe_id, TimestampMs ts) {
  return QueryOne(
             run_exists_,
             [&](SQLite::Statement& q) {
               q.bind(1, probe_id);
               q.bind(2, static_cast<int64_t>(ts));
             },
             [](SQLite::Statement&) { return true; })
      .has_value();
}

void RunSummaries::Added(int64_t probe_id, const ProbeRun& run) {
  ProbeState& st = State(probe_id);
  Touch(probe_id, st);
  const TimestampMs hour = HourOf(run.ts_ms);
  if (st.hours.empty() || st.hours.back() != hour) st.hours.push_back(hour);
  if (st.rebuild_from) return;
  if (st.open && ExtendsSpan(*st.open, run)) {
    ExtendSpan(*st.open, run);
  } else {
    if (st.open && st.open_dirty) st.closed.push_back(std::move(*st.open));
    st.open = SpanOfRun(run);
  }
  st.open_dirty = true;
}

void RunSummaries::WriteSpan(int64_t probe_id, const RunSpan& span) {
  upsert_span_.reset();
  upsert_span_.bind(1, probe_id);
  upsert_span_.bind(2, static_cast<int64_t>(span.start_ms));
  upsert_span_.bind(3, static_cast<int64_t>(span.last_run_ms));
  upsert_span_.bind(4, static_cast<int64_t>(span.end_ms));
  upsert_span_.bind(5, span.success ? 1 : 0);
  upsert_span_.bind(6, static_cast<int64_t>(span.runs));
  upsert_span_.bindNoCopy(7, span.reason);
  upsert_span_.exec();
}

void RunSummaries::WriteSpans(int64_t probe_id, ProbeState& st) {
  for (const RunSpan& s : st.closed) WriteSpan(probe_id, s);
  st.closed.clear();
  if (st.open && st.open_dirty) WriteSpan(probe_id, *st.open);
  st.open_dirty = false;
}

void RunSummaries::Rebuild(int64_t probe_id, TimestampMs from, ProbeState& st) {
  delete_spans_from_.reset();
  delete_spans_from_.bind(1, probe_id);
  delete_spans_from_.bind(2, static_cast<int64_t>(from));
  delete_spans_from_.exec();
  // The same loop as CompressRuns, over the raw runs in time order.
  std::vector<RunSpan> spans;
  runs_from_.reset();
  runs_from_.bind(1, probe_id);
  runs_from_.bind(2, static_cast<int64_t>(from));
  ProbeRun run;
  while (runs_from_.executeStep()) {
    run.ts_ms = runs_from_.getColumn(0).getInt64();
    run.success = runs_from_.getColumn(1).getInt() != 0;
    run.valid_for_ms = runs_from_.getColumn(2).getInt64();
    if (!spans.empty() && ExtendsSpan(spans.back(), run)) {
      ExtendSpan(spans.back(), run);
    } else {
      run.reason = runs_from_.getColumn(3).getString();
      spans.push_back(SpanOfRun(run));
    }
  }
  runs_from_.reset();
  for (const RunSpan& s : spans) WriteSpan(probe_id, s);
  if (spans.empty()) {
    st.open = QueryOne(
        last_span_, [&](SQLite::Statement& q) { q.bind(1, probe_id); }, SpanFromRow);
  } else {
    st.open = std::move(spans.back());
  }
  st.closed.clear();
  st.open_dirty = false;
}

TimestampMs RunSummaries::SealCutoff() const { return clock_->NowMs() - raw_retention_ms_; }

void RunSummaries::Seal(int64_t probe_id, TimestampMs hour_ms) {
  if (hour_ms < SealCutoff()) {
    // Retention may have deleted part of this hour's raw runs: never seal it (and drop a stale
    // row), so a sealed row always equals the raw runs it stands for.
    delete_sealed_.reset();
    delete_sealed_.bind(1, probe_id);
    delete_sealed_.bind(2, static_cast<int64_t>(hour_ms));
    delete_sealed_.exec();
    return;
  }
  std::vector<double> seconds;
  success_durations_.reset();
  success_durations_.bind(1, probe_id);
  success_durations_.bind(2, static_cast<int64_t>(hour_ms));
  success_durations_.bind(3, static_cast<int64_t>(hour_ms + kHourMs));
  while (success_durations_.executeStep()) {
    seconds.push_back(success_durations_.getColumn(0).getDouble());
  }
  success_durations_.reset();
  std::sort(seconds.begin(), seconds.end());
  const std::string blob = EncodeDurations(seconds);
  upsert_sealed_.reset();
  upsert_sealed_.bind(1, probe_id);
  upsert_sealed_.bind(2, static_cast<int64_t>(hour_ms));
  upsert_sealed_.bind(3, static_cast<int64_t>(seconds.size()));
  upsert_sealed_.bindNoCopy(4, blob.data(), static_cast<int>(blob.size()));
  upsert_sealed_.exec();
}

void RunSummaries::Finish() {
  for (int64_t probe_id : touched_) {
    ProbeState& st = states_.at(probe_id);
    if (st.rebuild_from) {
      Rebuild(probe_id, *st.rebuild_from, st);
    } else {
      WriteSpans(probe_id, st);
    }
    if (st.open) {
      // Every hour before the probe's latest run's hour is complete in normal operation: seal
      // the hour the transaction started in and every hour a run was added to (late runs
      // included: that reseals the hour).
      const TimestampMs latest = HourOf(st.open->last_run_ms);
      std::vector<TimestampMs> hours = std::move(st.hours);
      if (st.hour_at_start) hours.push_back(*st.hour_at_start);
      std::sort(hours.begin(), hours.end());
      hours.erase(std::unique(hours.begin(), hours.end()), hours.end());
      for (TimestampMs h : hours) {
        if (h < latest) Seal(probe_id, h);
      }
    }
    st.touched = false;
    st.rebuild_from.reset();
    st.hour_at_start.reset();
    st.hours.clear();
  }
  touched_.clear();
  SealBacklog();
}

void RunSummaries::LoadBacklog() {
  backlog_.clear();
  // Hours with runs, complete (before their probe's latest run's hour), not deleted in part by
  // retention, and not sealed. Ascending, so the newest are sealed first (from the back).
  // A probe's latest run: the head read once for every probe (it is keyed by time), then a
  // key lookup in probe_runs_by_probe (max over the view would read all of a probe's runs).
  SQLite::Statement q(db_,
                      "WITH head_last AS MATERIALIZED (SELECT probe_id, max(ts_ms) AS ts FROM "
                      "probe_runs_head GROUP BY probe_id) "
                      "SELECT h.probe_id, h.hour_ms FROM rollup_hourly h "
                      "WHERE h.hour_ms >= ?1 AND h.hour_ms + ?2 <= max(coalesce((SELECT "
                      "max(ts_ms) FROM probe_runs_by_probe WHERE probe_id = h.probe_id), -1), "
                      "coalesce((SELECT ts FROM head_last WHERE probe_id = h.probe_id), -1)) "
                      "AND NOT EXISTS (SELECT 1 FROM run_durations_hourly d WHERE "
                      "d.probe_id = h.probe_id AND d.hour_ms = h.hour_ms) "
                      "ORDER BY h.hour_ms, h.probe_id");
  q.bind(1, static_cast<int64_t>(SealCutoff()));
  q.bind(2, kHourMs);
  while (q.executeStep()) backlog_.emplace_back(q.getColumn(0).getInt64(), q.getColumn(1).getInt64());
  backlog_loaded_ = true;
}

void RunSummaries::SealBacklog() {
  if (!backlog_loaded_) LoadBacklog();
  for (size_t n = 0; n < kBacklogHoursPerCommit && !backlog_.empty(); ++n) {
    auto [probe_id, hour] = backlog_.back();
    backlog_.pop_back();
    Seal(probe_id, hour);
  }
}

void RunSummaries::Forget(bool keep_backlog) {
  states_.clear();
  touched_.clear();
  if (!keep_backlog) {
    backlog_loaded_ = false;
    backlog_.clear();
  }
  for (SQLite::Statement* st :
       {&last_span_, &span_before_, &runs_in_span_range_, &span_runs_in_range_, &run_exists_,
        &upsert_span_, &delete_spans_from_, &runs_from_, &success_durations_, &upsert_sealed_,
        &delete_sealed_}) {
    try {
      st->reset();
    } catch (const SQLite::Exception&) {
      // reset() reports the statement's last error again; the reset itself is done.
    }
  }
}

}  // namespace obsmon::storage
