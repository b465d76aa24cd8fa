// The SQLite Reader: its own read-only connection with prepared statements. WAL lets it read the
// last committed state while a Writer (in this or another process) writes. Not thread-safe.
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>
#include <unordered_map>

#include "storage/database.h"
#include "storage/duration_blob.h"
#include "storage/labels_text.h"
#include "storage/probe_role.h"
#include "storage/storage.h"

namespace obsmon::storage {

namespace {

constexpr const char* kRunColumns = "ts_ms, success, duration_seconds, valid_for_ms, reason";
constexpr const char* kSpanColumns = "start_ms, last_run_ms, end_ms, success, runs, reason";
constexpr int64_t kHourMs = 3'600'000;

TimestampMs HourOf(TimestampMs ts) { return FloorMs(ts, kHourMs); }

// A stored sample's value: NULL stands for NaN (SQLite has no NaN).
double ValueOf(const SQLite::Column& v) {
  return v.isNull() ? std::numeric_limits<double>::quiet_NaN() : v.getDouble();
}

// Milliseconds of [from, to) inside `excluded`.
int64_t ExcludedMsIn(Exclusions excluded, TimestampMs from, TimestampMs to) {
  int64_t ms = 0;
  for (const auto& [s, e] : excluded) {
    ms += std::max<int64_t>(0, std::min(e, to) - std::max(s, from));
  }
  return ms;
}

// Removes from the ascending `values` one occurrence of each of the ascending `subset`; false
// (and `values` unspecified) when `subset` is not part of `values`.
bool RemoveSortedSubset(std::vector<double>* values, const std::vector<double>& subset) {
  std::vector<double> kept;
  kept.reserve(values->size() - std::min(values->size(), subset.size()));
  size_t j = 0;
  for (double v : *values) {
    if (j < subset.size() && subset[j] == v) {
      ++j;
    } else {
      if (j < subset.size() && subset[j] < v) return false;  // not in `values`
      kept.push_back(v);
    }
  }
  if (j != subset.size()) return false;
  *values = std::move(kept);
  return true;
}

// A prepared statement used through SQLite's C API, for the hot path of reports (hundreds of
// thousands of runs): SQLiteCpp's Column copies a shared_ptr (two atomic operations) per value.
// Errors throw SQLite::Exception like SQLiteCpp does.
class RawStatement {
 public:
  RawStatement(SQLite::Database& db, const std::string& sql) : db_(db.getHandle()) {
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
  }
  ~RawStatement() { sqlite3_finalize(st_); }
  RawStatement(const RawStatement&) = delete;
  RawStatement& operator=(const RawStatement&) = delete;

  void Reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  void Bind(int index, int64_t value) { Check(sqlite3_bind_int64(st_, index, value)); }
  // True while there is a row.
  bool Step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SQLite::Exception(db_, rc);
  }
  sqlite3_stmt* get() const { return st_; }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// Reads a run row whose first five columns are kRunColumns, starting at column `at`.
void FillRun(sqlite3_stmt* st, int at, ProbeRun* run) {
  run->ts_ms = sqlite3_column_int64(st, at);
  run->success = sqlite3_column_int(st, at + 1) != 0;
  run->duration_seconds = sqlite3_column_double(st, at + 2);
  run->valid_for_ms = sqlite3_column_int64(st, at + 3);
  const unsigned char* reason = sqlite3_column_text(st, at + 4);
  if (reason) {
    run->reason.assign(reinterpret_cast<const char*>(reason),
                       static_cast<size_t>(sqlite3_column_bytes(st, at + 4)));
  }
}
void FillRun(SQLite::Statement& q, int at, ProbeRun* run) {
  run->ts_ms = q.getColumn(at).getInt64();
  run->success = q.getColumn(at + 1).getInt() != 0;
  run->duration_seconds = q.getColumn(at + 2).getDouble();
  run->valid_for_ms = q.getColumn(at + 3).getInt64();
  run->reason = q.getColumn(at + 4).getString();
}

// Reads a span row whose first six columns are kSpanColumns.
void FillSpan(sqlite3_stmt* st, RunSpan* span) {
  span->start_ms = sqlite3_column_int64(st, 0);
  span->last_run_ms = sqlite3_column_int64(st, 1);
  span->end_ms = sqlite3_column_int64(st, 2);
  span->success = sqlite3_column_int(st, 3) != 0;
  span->runs = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
  const unsigned char* reason = sqlite3_column_text(st, 5);
  if (reason) {
    span->reason.assign(reinterpret_cast<const char*>(reason),
                        static_cast<size_t>(sqlite3_column_bytes(st, 5)));
  }
}

// A read transaction, so that a multi-statement read sees one snapshot.
class ReadTx {
 public:
  explicit ReadTx(SQLite::Database& db) : db_(db) { db_.exec("BEGIN"); }
  ~ReadTx() {
    try {
      db_.exec("COMMIT");
    } catch (const SQLite::Exception&) {
      // A read transaction has nothing to lose.
    }
  }

 private:
  SQLite::Database& db_;
};

// Every sample in [?1, ?2) with its series: (series id, name, labels text, ts_ms, value), by
// series then time. samples_by_series: one range lookup per series; samples_head: one range in
// time order, sorted by series (it holds seconds). Its rows are newer than samples_by_series's,
// so ordering by series then time puts each series' head rows after the others.
constexpr const char* kRecentSamplesSql =
    "SELECT s.id, s.name, s.labels, x.ts_ms, x.value FROM series s JOIN samples_by_series x ON "
    "x.series_id = s.id AND x.ts_ms >= ?1 AND x.ts_ms < ?2 UNION ALL SELECT s.id, s.name, "
    "s.labels, h.ts_ms, h.value FROM samples_head h JOIN series s ON s.id = h.series_id WHERE "
    "h.ts_ms >= ?1 AND h.ts_ms < ?2 ORDER BY 1, 4";

// What the latency figures read of a successful run in the head: 16 bytes where a ProbeRun,
// with its key and reason, is ~200 (the head of 1,000 probes at 1 s, up to 75,000 runs, held as
// ProbeRuns was the daemon's largest transient: 17 MB a refresh, stop 66).
struct HeadSuccess {
  TimestampMs ts_ms = 0;
  double seconds = 0;
};
using HeadSuccessesByProbe = std::unordered_map<int64_t, std::vector<HeadSuccess>>;

class SqliteReader final : public Reader {
 public:
  SqliteReader(std::unique_ptr<SQLite::Database> db, std::string path)
      : db_(std::move(db)),
        path_(std::move(path)),
        probes_of_component_(*db_,
                             "SELECT id, probe, role FROM probes WHERE component = ? "
                             "ORDER BY probe"),
        run_before_(*db_, fmt::format("SELECT {} FROM probe_runs WHERE probe_id = ? AND ts_ms < ? "
                                      "ORDER BY ts_ms DESC LIMIT 1",
                                      kRunColumns)),
        // probe_runs_head's rows are all newer than probe_runs_by_probe's (storage/head.h): a
        // probe's runs are its rows by probe, then its rows in the head (HeadRuns, one read for
        // all the probes asked for: the head is keyed by time).
        runs_between_(*db_, fmt::format("SELECT {} FROM probe_runs_by_probe WHERE probe_id = ? "
                                        "AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
                                        kRunColumns)),
        head_runs_between_(*db_, fmt::format("SELECT probe_id, {} FROM probe_runs_head WHERE "
                                             "ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
                                             kRunColumns)),
        head_successes_between_(*db_,
                                "SELECT probe_id, ts_ms, duration_seconds FROM probe_runs_head "
                                "WHERE ts_ms >= ? AND ts_ms < ? AND success = 1 ORDER BY ts_ms"),
        events_(*db_,
                "SELECT probe, ts_ms, file, severity, line FROM log_events WHERE component = ? "
                "AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id LIMIT ?"),
        series_by_name_(*db_, "SELECT id, labels FROM series WHERE name = ? ORDER BY labels"),
        // samples_head's rows are all newer than samples_by_series's (storage/head.h):
        // a series' samples are its rows in samples_by_series, then its rows in the head.
        samples_between_(*db_,
                         "SELECT ts_ms, value FROM samples_by_series WHERE series_id = ? AND "
                         "ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms"),
        head_between_(*db_,
                      "SELECT series_id, ts_ms, value FROM samples_head WHERE ts_ms >= ? AND "
                      "ts_ms < ? ORDER BY ts_ms"),
        // The head has no index by series: scanned from its newest row back, it stops at the
        // series' latest sample (a second back for a probe at 1 s) instead of reading the
        // whole head (up to head_move_interval + 15 s of every series).
        latest_sample_(*db_,
                       "SELECT * FROM (SELECT ts_ms, value FROM samples_head WHERE series_id = ?1 "
                       "ORDER BY ts_ms DESC LIMIT 1) UNION ALL "
                       "SELECT * FROM (SELECT ts_ms, value FROM samples_by_series WHERE "
                       "series_id = ?1 ORDER BY ts_ms DESC LIMIT 1) ORDER BY ts_ms DESC LIMIT 1"),
        cursors_(*db_,
                 "SELECT path, dev, inode, fingerprint, offset, updated_ms, birth_ns FROM log_cursors "
                 "WHERE component = ? AND probe = ? ORDER BY path"),
        all_counters_(*db_,
                      "SELECT s.name, s.labels, c.value FROM counters c JOIN series s ON "
                      "s.id = c.series_id ORDER BY s.name, s.labels"),
        counter_total_(*db_,
                       "SELECT c.value FROM counters c JOIN series s ON s.id = c.series_id "
                       "WHERE s.name = ? AND s.labels = ?"),
        rollups_(*db_,
                 "SELECT hour_ms, runs, up, down, duration_sum, duration_min, duration_max, "
                 "up_duration_sum, latency_hist FROM rollup_hourly WHERE probe_id = ? AND "
                 "hour_ms >= ? AND hour_ms < ? ORDER BY hour_ms"),
        span_before_(*db_, fmt::format("SELECT {} FROM probe_spans WHERE probe_id = ? AND "
                                       "start_ms < ? ORDER BY start_ms DESC LIMIT 1",
                                       kSpanColumns)),
        spans_between_(*db_, fmt::format("SELECT {} FROM probe_spans WHERE probe_id = ? AND "
                                         "start_ms >= ? AND start_ms < ? ORDER BY start_ms",
                                         kSpanColumns)),
        sealed_between_(*db_,
                        "SELECT hour_ms, count, durations FROM run_durations_hourly WHERE "
                        "probe_id = ? AND hour_ms >= ? AND hour_ms < ? ORDER BY hour_ms"),
        successes_between_(*db_,
                           "SELECT ts_ms, duration_seconds FROM probe_runs_by_probe WHERE "
                           "probe_id = ? AND ts_ms >= ? AND ts_ms < ? AND success = 1 ORDER BY "
                           "ts_ms") {}

  Result<std::vector<ProbeRun>> ProbeRuns(const std::string& component, TimestampMs from_ms,
                                          TimestampMs to_ms) override {
    try {
      ReadTx tx(*db_);
      std::vector<ProbeRun> out;
      const std::vector<ProbeRow> probes = ProbesOf(component);
      HeadRunsByProbe head = HeadRuns(probes, from_ms, to_ms);
      for (const auto& p : probes) {
        const size_t first = out.size();
        ProbeRun base;
        base.key = {component, p.name};
        base.role = p.role;
        run_before_.Reset();
        run_before_.Bind(1, p.id);
        run_before_.Bind(2, static_cast<int64_t>(from_ms));
        if (run_before_.Step()) {
          ProbeRun& r = out.emplace_back(base);
          FillRun(run_before_.get(), 0, &r);
        }
        run_before_.Reset();
        runs_between_.Reset();
        runs_between_.Bind(1, p.id);
        runs_between_.Bind(2, static_cast<int64_t>(from_ms));
        runs_between_.Bind(3, static_cast<int64_t>(to_ms));
        while (runs_between_.Step()) {
          ProbeRun& r = out.emplace_back(base);
          FillRun(runs_between_.get(), 0, &r);
        }
        runs_between_.Reset();
        if (auto it = head.find(p.id); it != head.end()) {
          for (ProbeRun& r : it->second) {
            r.key = base.key;
            r.role = base.role;
            out.push_back(std::move(r));
          }
        }
        // In time order even if a user moved rows between the tables by hand (the writer puts
        // them back at its next start), as ForEachSuccess merges them.
        auto by_time = [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; };
        if (!std::is_sorted(out.begin() + first, out.end(), by_time)) {
          std::stable_sort(out.begin() + first, out.end(), by_time);
        }
      }
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading probe runs from " + path_);
    }
  }

  Result<std::vector<LogEvent>> LogEvents(const std::string& component, TimestampMs from_ms,
                                          TimestampMs to_ms, size_t limit) override {
    try {
      std::vector<LogEvent> out;
      events_.reset();
      events_.bind(1, component);
      events_.bind(2, static_cast<int64_t>(from_ms));
      events_.bind(3, static_cast<int64_t>(to_ms));
      events_.bind(
          4, static_cast<int64_t>(std::min<size_t>(limit, std::numeric_limits<int64_t>::max())));
      while (events_.executeStep()) {
        LogEvent e;
        e.key = {component, events_.getColumn(0).getString()};
        e.ts_ms = events_.getColumn(1).getInt64();
        e.file = events_.getColumn(2).getString();
        e.severity = events_.getColumn(3).getString();
        e.line = events_.getColumn(4).getString();
        out.push_back(std::move(e));
      }
      events_.reset();
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading log events from " + path_);
    }
  }

  Result<std::vector<Sample>> Samples(const std::string& name, const Labels& match,
                                      TimestampMs from_ms, TimestampMs to_ms) override {
    std::vector<Sample> out;
    Status read = StreamSamples(name, match, from_ms, to_ms,
                                [&](const Labels& labels, TimestampMs ts_ms, double value) {
                                  out.push_back(Sample{name, labels, ts_ms, value});
                                });
    if (!read.ok()) return read;
    return out;
  }

  Status StreamSamples(const std::string& name, const Labels& match, TimestampMs from_ms,
                       TimestampMs to_ms, const SampleVisitor& visit) override {
    try {
      ReadTx tx(*db_);
      const std::vector<std::pair<int64_t, Labels>> series = MatchingSeries(name, match);
      if (series.empty()) return Status::Ok();
      // The head (the last minute or so of every series, in time order) read once and split by
      // series; each series' older samples then streamed from samples_by_series, head after.
      std::unordered_map<int64_t, std::vector<std::pair<TimestampMs, double>>> head;
      for (const auto& s : series) head.try_emplace(s.first);
      head_between_.reset();
      head_between_.bind(1, static_cast<int64_t>(from_ms));
      head_between_.bind(2, static_cast<int64_t>(to_ms));
      while (head_between_.executeStep()) {
        auto it = head.find(head_between_.getColumn(0).getInt64());
        if (it == head.end()) continue;
        it->second.emplace_back(head_between_.getColumn(1).getInt64(),
                                ValueOf(head_between_.getColumn(2)));
      }
      head_between_.reset();
      for (const auto& [id, labels] : series) {
        samples_between_.reset();
        samples_between_.bind(1, id);
        samples_between_.bind(2, static_cast<int64_t>(from_ms));
        samples_between_.bind(3, static_cast<int64_t>(to_ms));
        while (samples_between_.executeStep()) {
          visit(labels, samples_between_.getColumn(0).getInt64(),
                ValueOf(samples_between_.getColumn(1)));
        }
        samples_between_.reset();
        for (const auto& [ts, value] : head[id]) visit(labels, ts, value);
      }
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading samples from " + path_);
    }
  }

  Result<std::vector<Sample>> AllSamples(TimestampMs from_ms, TimestampMs to_ms,
                                         size_t limit) override {
    try {
      ReadTx tx(*db_);
      SQLite::Statement q = RecentSamples(from_ms, to_ms);
      std::vector<Sample> out;
      std::string last_text;
      Labels last_labels;
      while (q.executeStep()) {
        if (out.size() >= limit) {
          return Status::Unavailable("more than " + std::to_string(limit) + " samples between " +
                                     std::to_string(from_ms) + " and " + std::to_string(to_ms));
        }
        std::string text = q.getColumn(2).getString();
        if (out.empty() || text != last_text) {
          auto labels = ParseLabelsText(text);
          if (!labels) continue;  // written by a newer obsmon? skip rather than fail the start
          last_labels = std::move(*labels);
          last_text = std::move(text);
        }
        out.push_back(Sample{q.getColumn(1).getString(), last_labels, q.getColumn(3).getInt64(),
                             ValueOf(q.getColumn(4))});
      }
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading recent samples from " + path_);
    }
  }

  Status StreamRecentSeries(TimestampMs from_ms, TimestampMs to_ms,
                            const std::function<bool(const std::string&)>& wanted,
                            const SeriesPointsVisitor& visit) override {
    try {
      ReadTx tx(*db_);
      // As AllSamples; the metric's name is asked about once a series, and an unwanted
      // series' rows are stepped over without being decoded.
      SQLite::Statement q = RecentSamples(from_ms, to_ms);
      std::optional<int64_t> series;
      bool keep = false;
      std::string name;
      Labels labels;
      std::vector<std::pair<TimestampMs, double>> points;
      auto hand_on = [&] {
        if (keep && !points.empty()) visit(name, labels, points);
        points.clear();
      };
      while (q.executeStep()) {
        const int64_t id = q.getColumn(0).getInt64();
        if (id != series) {
          hand_on();
          series = id;
          name = q.getColumn(1).getString();
          keep = wanted(name);
          if (keep) {
            auto parsed = ParseLabelsText(q.getColumn(2).getString());
            keep = parsed.has_value();  // written by a newer obsmon? skip rather than fail
            if (keep) labels = std::move(*parsed);
          }
        }
        if (keep) points.emplace_back(q.getColumn(3).getInt64(), ValueOf(q.getColumn(4)));
      }
      hand_on();
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading recent samples from " + path_);
    }
  }

  Result<std::vector<std::string>> Components() override {
    try {
      SQLite::Statement q(*db_,
                          "SELECT DISTINCT component FROM probes p WHERE EXISTS (SELECT 1 FROM "
                          "probe_runs_by_probe WHERE probe_id = p.id) OR p.id IN (SELECT "
                          "probe_id FROM probe_runs_head) ORDER BY component");
      std::vector<std::string> out;
      while (q.executeStep()) out.push_back(q.getColumn(0).getString());
      return out;
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "reading components from " + path_);
    }
  }

  Result<std::vector<ProbeRun>> LatestRuns() override {
    try {
      SQLite::Statement q(
          // A probe's latest run: the head read once for every probe (it is keyed by time),
          // else a key lookup in probe_runs_by_probe; then the run itself by its key (CROSS
          // JOIN: the probes drive, or SQLite scans every stored run).
          *db_, fmt::format("WITH head_last AS MATERIALIZED (SELECT probe_id, max(ts_ms) AS ts "
                            "FROM probe_runs_head GROUP BY probe_id), "
                            "latest AS MATERIALIZED (SELECT p.id, p.component, p.probe, p.role, "
                            "coalesce((SELECT ts FROM head_last WHERE probe_id = p.id), (SELECT "
                            "max(ts_ms) FROM probe_runs_by_probe WHERE probe_id = p.id)) AS ts "
                            "FROM probes p) "
                            "SELECT p.component, p.probe, p.role, {} FROM latest p CROSS JOIN "
                            "probe_runs r ON r.probe_id = p.id AND r.ts_ms = p.ts "
                            "ORDER BY p.component, p.probe",
                            "r.ts_ms, r.success, r.duration_seconds, r.valid_for_ms, r.reason"));
      std::vector<ProbeRun> out;
      while (q.executeStep()) {
        ProbeRun r;
        r.key = {q.getColumn(0).getString(), q.getColumn(1).getString()};
        r.role = ParseProbeRole(q.getColumn(2).getString()).value_or(ProbeRole::kNone);
        FillRun(q, 3, &r);
        out.push_back(std::move(r));
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return StatusFromException(e, "reading latest runs from " + path_);
    }
  }

  Result<std::vector<CounterValue>> AllCounters() override {
    try {
      std::vector<CounterValue> out;
      all_counters_.reset();
      while (all_counters_.executeStep()) {
        auto labels = ParseLabelsText(all_counters_.getColumn(1).getString());
        if (!labels) continue;  // not written by obsmon
        out.push_back({all_counters_.getColumn(0).getString(), std::move(*labels),
                       all_counters_.getColumn(2).getDouble()});
      }
      all_counters_.reset();
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading counters from " + path_);
    }
  }

  Result<std::vector<HourlyRollup>> Rollups(const std::string& component, TimestampMs from_ms,
                                            TimestampMs to_ms) override {
    try {
      ReadTx tx(*db_);
      std::vector<HourlyRollup> out;
      for (const auto& p : ProbesOf(component)) {
        rollups_.reset();
        rollups_.bind(1, p.id);
        rollups_.bind(2, static_cast<int64_t>(from_ms));
        rollups_.bind(3, static_cast<int64_t>(to_ms));
        while (rollups_.executeStep()) {
          HourlyRollup r;
          r.key = {component, p.name};
          r.role = p.role;
          r.hour_ms = rollups_.getColumn(0).getInt64();
          r.runs = rollups_.getColumn(1).getInt64();
          r.up = rollups_.getColumn(2).getInt64();
          r.down = rollups_.getColumn(3).getInt64();
          r.duration_sum = rollups_.getColumn(4).getDouble();
          r.duration_min = rollups_.getColumn(5).getDouble();
          r.duration_max = rollups_.getColumn(6).getDouble();
          r.up_duration_sum = rollups_.getColumn(7).getDouble();
          r.latency_hist = rollups_.getColumn(8).getString();
          out.push_back(std::move(r));
        }
        rollups_.reset();
      }
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading rollups from " + path_);
    }
  }

  Result<std::vector<RunSpan>> RunSpans(const std::string& component, TimestampMs from_ms,
                                        TimestampMs to_ms) override {
    try {
      ReadTx tx(*db_);
      std::vector<RunSpan> out;
      AppendSpans(component, ProbesOf(component), from_ms, to_ms, out);
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading probe spans from " + path_);
    }
  }

  Status StreamRunSpans(const std::string& component, TimestampMs from_ms, TimestampMs to_ms,
                        int64_t chunk_ms, const SpanChunkVisitor& visit) override {
    try {
      // One transaction for every chunk: a span the writer extends meanwhile is read alike in
      // the chunk it starts in and as the next chunk's span before.
      ReadTx tx(*db_);
      const std::vector<ProbeRow> probes = ProbesOf(component);
      std::vector<RunSpan> chunk;
      for (const auto& [c0, c1] : SpanChunks(from_ms, to_ms, chunk_ms)) {
        chunk.clear();
        AppendSpans(component, probes, c0, c1, chunk);
        if (Status s = visit(chunk, c0, c1); !s.ok()) return s;
      }
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading probe spans from " + path_);
    }
  }

  Result<std::vector<ProbeRun>> RunsOfRole(const std::string& component, ProbeRole role,
                                           TimestampMs from_ms, TimestampMs to_ms) override {
    try {
      ReadTx tx(*db_);
      std::vector<ProbeRun> out;
      for (const auto& p : ProbesOf(component)) {
        if (p.role != role) continue;
        ProbeRun base;
        base.key = {component, p.name};
        base.role = p.role;
        runs_between_.Reset();
        runs_between_.Bind(1, p.id);
        runs_between_.Bind(2, static_cast<int64_t>(from_ms));
        runs_between_.Bind(3, static_cast<int64_t>(to_ms));
        while (runs_between_.Step()) FillRun(runs_between_.get(), 0, &out.emplace_back(base));
        runs_between_.Reset();
      }
      return out;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading runs of a role from " + path_);
    }
  }

  Result<std::vector<HourDurations>> SuccessDurations(const std::string& component,
                                                      ProbeRole role, TimestampMs from_ms,
                                                      TimestampMs to_ms,
                                                      Exclusions excluded) override {
    // One pass that keeps a copy of every group.
    class Collect final : public HourDurationsPasses {
     public:
      void Visit(const HourDurations& group) override { groups.push_back(group); }
      bool AnotherPass() override { return false; }
      std::vector<HourDurations> groups;
    } collect;
    Status s = StreamSuccessDurations(component, role, from_ms, to_ms, excluded, collect);
    if (!s.ok()) return s;
    return std::move(collect.groups);
  }

  Status StreamSuccessDurations(const std::string& component, ProbeRole role,
                                TimestampMs from_ms, TimestampMs to_ms, Exclusions excluded,
                                HourDurationsPasses& passes) override {
    try {
      // One read transaction for every pass: each sees the same groups although the writer
      // commits runs meanwhile.
      ReadTx tx(*db_);
      std::vector<ProbeRow> probes = ProbesOf(component);
      std::erase_if(probes, [&](const ProbeRow& p) { return p.role != role; });
      const HeadSuccessesByProbe head = HeadSuccesses(probes, from_ms, to_ms);
      static const std::vector<HeadSuccess> kNone;
      do {
        for (const auto& p : probes) {
          HourDurations base;
          base.key = {component, p.name};
          base.role = p.role;
          auto it = head.find(p.id);
          ProbeSuccessDurations(p.id, it == head.end() ? kNone : it->second, base, from_ms, to_ms,
                                excluded, passes);
        }
      } while (passes.AnotherPass());
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading run durations from " + path_);
    }
  }

  Result<double> CounterTotal(const std::string& name, const Labels& labels) override {
    try {
      counter_total_.reset();
      counter_total_.bind(1, name);
      counter_total_.bind(2, labels.ToString());
      std::optional<double> v;
      if (counter_total_.executeStep()) v = counter_total_.getColumn(0).getDouble();
      counter_total_.reset();
      if (!v) return Status::NotFound(fmt::format("no counter {}{}", name, labels.ToString()));
      return *v;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      return StatusFromException(e, "reading a counter from " + path_);
    }
  }

  std::vector<LogCursor> LogCursors(const ProbeKey& key) override {
    std::vector<LogCursor> out;
    try {
      cursors_.reset();
      cursors_.bind(1, key.component);
      cursors_.bind(2, key.probe);
      while (cursors_.executeStep()) {
        LogCursor c;
        c.key = key;
        c.path = cursors_.getColumn(0).getString();
        c.dev = static_cast<uint64_t>(cursors_.getColumn(1).getInt64());
        c.inode = static_cast<uint64_t>(cursors_.getColumn(2).getInt64());
        c.fingerprint = cursors_.getColumn(3).getString();
        c.offset = cursors_.getColumn(4).getInt64();
        c.updated_ms = cursors_.getColumn(5).getInt64();
        c.birth_ns = cursors_.getColumn(6).getInt64();
        out.push_back(std::move(c));
      }
      cursors_.reset();
    } catch (const SQLite::Exception& e) {
      ResetAll();
      NoteStateError(StatusFromException(e, "reading log cursors from " + path_));
      out.clear();
    }
    return out;
  }

  std::vector<CounterValue> Counters(const ProbeKey& key) override {
    auto all = AllCounters();
    if (!all.ok()) {
      NoteStateError(all.status());
      return {};
    }
    std::vector<CounterValue> out;
    for (auto& c : *all) {
      if (c.labels.Get("component") == key.component && c.labels.Get("probe") == key.probe) {
        out.push_back(std::move(c));
      }
    }
    return out;
  }

  std::optional<Sample> LatestSample(const std::string& name, const Labels& match) override {
    try {
      ReadTx tx(*db_);
      std::optional<Sample> newest;
      std::vector<std::pair<int64_t, Labels>> series = MatchingSeries(name, match);
      for (auto& [id, labels] : series) {
        latest_sample_.reset();
        latest_sample_.bind(1, id);
        if (latest_sample_.executeStep()) {
          const TimestampMs ts = latest_sample_.getColumn(0).getInt64();
          if (!newest || ts > newest->ts_ms) {
            auto v = latest_sample_.getColumn(1);
            newest = Sample{name, std::move(labels), ts,
                            v.isNull() ? std::numeric_limits<double>::quiet_NaN() : v.getDouble()};
          }
        }
        latest_sample_.reset();
      }
      return newest;
    } catch (const SQLite::Exception& e) {
      ResetAll();
      NoteStateError(StatusFromException(e, "reading the latest " + name + " from " + path_));
      return std::nullopt;
    }
  }

  Status TakeStateError() override {
    Status s = state_error_;
    state_error_ = Status::Ok();
    return s;
  }

 private:
  struct ProbeRow {
    int64_t id;
    std::string name;
    ProbeRole role;
  };

  // RunSpans' spans of `probes` (of `component`) into `out`, inside the caller's transaction.
  void AppendSpans(const std::string& component, const std::vector<ProbeRow>& probes,
                   TimestampMs from_ms, TimestampMs to_ms, std::vector<RunSpan>& out) {
    for (const auto& p : probes) {
      RunSpan base;
      base.key = {component, p.name};
      base.role = p.role;
      span_before_.Reset();
      span_before_.Bind(1, p.id);
      span_before_.Bind(2, static_cast<int64_t>(from_ms));
      if (span_before_.Step()) FillSpan(span_before_.get(), &out.emplace_back(base));
      span_before_.Reset();
      spans_between_.Reset();
      spans_between_.Bind(1, p.id);
      spans_between_.Bind(2, static_cast<int64_t>(from_ms));
      spans_between_.Bind(3, static_cast<int64_t>(to_ms));
      while (spans_between_.Step()) FillSpan(spans_between_.get(), &out.emplace_back(base));
      spans_between_.Reset();
    }
  }

  std::vector<ProbeRow> ProbesOf(const std::string& component) {
    std::vector<ProbeRow> out;
    probes_of_component_.reset();
    probes_of_component_.bind(1, component);
    while (probes_of_component_.executeStep()) {
      out.push_back({probes_of_component_.getColumn(0).getInt64(),
                     probes_of_component_.getColumn(1).getString(),
                     ParseProbeRole(probes_of_component_.getColumn(2).getString())
                         .value_or(ProbeRole::kNone)});
    }
    probes_of_component_.reset();
    return out;
  }

  // One probe's groups for SuccessDurations, handed to `passes` in hour order: the sealed rows
  // of whole hours inside the window (less the excluded runs' durations for an hour an exclusion
  // cuts by less than half), and the raw successful runs of the rest of [from_ms, to_ms)
  // (partial hours, hours mostly excluded, unsealed hours). One group is held at a time.
  // `head`: the probe's successful runs in probe_runs_head over the whole call's range
  // (HeadSuccesses).
  void ProbeSuccessDurations(int64_t probe_id, const std::vector<HeadSuccess>& head,
                             const HourDurations& base, TimestampMs from_ms, TimestampMs to_ms,
                             Exclusions excluded, HourDurationsPasses& passes) {
    const TimestampMs first_whole =
        HourOf(from_ms) == from_ms ? from_ms : HourOf(from_ms) + kHourMs;
    const TimestampMs end_whole = HourOf(to_ms);
    TimestampMs raw_from = from_ms;  // the window before this is done
    HourDurations group = base;      // reused: its buffer holds one hour at most
    if (first_whole < end_whole) {
      sealed_between_.Reset();
      sealed_between_.Bind(1, probe_id);
      sealed_between_.Bind(2, static_cast<int64_t>(first_whole));
      sealed_between_.Bind(3, static_cast<int64_t>(end_whole));
      while (sealed_between_.Step()) {
        sqlite3_stmt* st = sealed_between_.get();
        const TimestampMs hour = sqlite3_column_int64(st, 0);
        const int64_t cut_ms = ExcludedMsIn(excluded, hour, hour + kHourMs);
        // Cut by maintenance over half the hour or more: the rest is read from the runs.
        if (2 * cut_ms >= kHourMs) continue;
        group.hour_ms = hour;
        group.seconds.clear();
        if (!DecodeDurations(sqlite3_column_blob(st, 2),
                             static_cast<size_t>(sqlite3_column_bytes(st, 2)),
                             sqlite3_column_int64(st, 1), &group.seconds)) {
          continue;  // a damaged row: the runs say the same
        }
        // Cut by less than half: fewer rows to read the excluded runs and take their durations
        // out of the sealed hour than to read the rest. Exact: the row holds every run's.
        if (cut_ms > 0 && !RemoveSortedSubset(&group.seconds,
                                              ExcludedDurations(probe_id, head, hour, excluded))) {
          continue;  // the row does not hold them: read the hour from the runs
        }
        // Two statements are stepped at once here: SQLite allows that on one connection.
        ReadRawDurations(probe_id, head, base, raw_from, hour, excluded, passes);
        raw_from = hour + kHourMs;
        if (!group.seconds.empty()) passes.Visit(group);
      }
      sealed_between_.Reset();
    }
    ReadRawDurations(probe_id, head, base, raw_from, to_ms, excluded, passes);
  }

  // The durations of the successful runs of the UTC hour starting at `hour` that lie in
  // `excluded`, ascending.
  std::vector<double> ExcludedDurations(int64_t probe_id, const std::vector<HeadSuccess>& head,
                                        TimestampMs hour, Exclusions excluded) {
    std::vector<double> out;
    for (const auto& [s, e] : excluded) {
      const TimestampMs from = std::max(s, hour), to = std::min(e, hour + kHourMs);
      if (from >= to) continue;
      ForEachSuccess(probe_id, head, from, to,
                     [&](TimestampMs, double seconds) { out.push_back(seconds); });
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Hands on the successful runs of [from_ms, to_ms) outside `excluded`, one sorted group per
  // hour. Never an hour handed on before (the callers' ranges are disjoint and ascending, and a
  // sealed hour is never read here).
  void ReadRawDurations(int64_t probe_id, const std::vector<HeadSuccess>& head,
                        const HourDurations& base, TimestampMs from_ms, TimestampMs to_ms,
                        Exclusions excluded, HourDurationsPasses& passes) {
    if (from_ms >= to_ms) return;
    // The hour being gathered: an exclusion inside an hour splits it over two ranges below.
    HourDurations pending = base;
    auto hand_on = [&] {
      if (pending.seconds.empty()) return;
      std::sort(pending.seconds.begin(), pending.seconds.end());
      passes.Visit(pending);
      pending.seconds.clear();
    };
    // Only the parts of [from_ms, to_ms) outside the exclusions (sorted and disjoint) are read:
    // an hour mostly under maintenance costs the rows of its few remaining minutes.
    TimestampMs at = from_ms;
    auto next = std::upper_bound(excluded.begin(), excluded.end(), from_ms,
                                 [](TimestampMs t, const auto& e) { return t < e.second; });
    while (at < to_ms) {
      TimestampMs until = to_ms;
      if (next != excluded.end() && next->first < to_ms) until = std::max(at, next->first);
      if (at < until) ReadRawRange(probe_id, head, at, until, pending, hand_on);
      if (until >= to_ms || next == excluded.end()) break;
      at = std::max(until, next->second);
      ++next;
    }
    hand_on();
  }

  // Adds the successful runs of [from_ms, to_ms) to `pending`, calling `hand_on` first whenever
  // a run of a later hour comes.
  template <typename HandOn>
  void ReadRawRange(int64_t probe_id, const std::vector<HeadSuccess>& head, TimestampMs from_ms,
                    TimestampMs to_ms, HourDurations& pending, HandOn& hand_on) {
    ForEachSuccess(probe_id, head, from_ms, to_ms, [&](TimestampMs ts, double seconds) {
      const TimestampMs hour = HourOf(ts);
      if (pending.hour_ms != hour) {
        hand_on();
        pending.hour_ms = hour;
      }
      pending.seconds.push_back(seconds);
    });
  }

  // Calls visit(ts_ms, duration_seconds) for each successful run of the probe in
  // [from_ms, to_ms), ascending: its rows in probe_runs_by_probe, then those of `head` (newer,
  // storage/head.h; merged by time all the same, should a user have moved rows by hand).
  template <typename Visit>
  void ForEachSuccess(int64_t probe_id, const std::vector<HeadSuccess>& head, TimestampMs from_ms,
                      TimestampMs to_ms, Visit&& visit) {
    auto h = std::lower_bound(head.begin(), head.end(), from_ms,
                              [](const HeadSuccess& r, TimestampMs t) { return r.ts_ms < t; });
    auto next_head = [&]() -> const HeadSuccess* {
      return h != head.end() && h->ts_ms < to_ms ? &*h : nullptr;
    };
    successes_between_.Reset();
    successes_between_.Bind(1, probe_id);
    successes_between_.Bind(2, static_cast<int64_t>(from_ms));
    successes_between_.Bind(3, static_cast<int64_t>(to_ms));
    while (successes_between_.Step()) {
      sqlite3_stmt* st = successes_between_.get();
      const TimestampMs ts = sqlite3_column_int64(st, 0);
      for (const HeadSuccess* r = next_head(); r != nullptr && r->ts_ms < ts; r = next_head()) {
        visit(r->ts_ms, r->seconds);
        ++h;
      }
      visit(ts, sqlite3_column_double(st, 1));
    }
    successes_between_.Reset();
    for (const HeadSuccess* r = next_head(); r != nullptr; r = next_head()) {
      visit(r->ts_ms, r->seconds);
      ++h;
    }
  }

  // The rows of `probes` in probe_runs_head within [from_ms, to_ms) that `statement` selects
  // (probe_id first; bound to the range), by probe id, ascending, each made by fill(row, st):
  // one read of the head, which is keyed by time and holds seconds, instead of one scan of it
  // per probe. Throws SQLite::Exception; callers hold a read transaction.
  template <typename Row, typename Fill>
  std::unordered_map<int64_t, std::vector<Row>> HeadRowsByProbe(RawStatement& statement,
                                                                const std::vector<ProbeRow>& probes,
                                                                TimestampMs from_ms,
                                                                TimestampMs to_ms, Fill&& fill) {
    std::unordered_map<int64_t, std::vector<Row>> out;
    if (probes.empty() || from_ms >= to_ms) return out;
    for (const auto& p : probes) out.emplace(p.id, std::vector<Row>());
    statement.Reset();
    statement.Bind(1, static_cast<int64_t>(from_ms));
    statement.Bind(2, static_cast<int64_t>(to_ms));
    while (statement.Step()) {
      auto it = out.find(sqlite3_column_int64(statement.get(), 0));
      if (it == out.end()) continue;
      fill(it->second.emplace_back(), statement.get());
    }
    statement.Reset();
    return out;
  }

  using HeadRunsByProbe = std::unordered_map<int64_t, std::vector<ProbeRun>>;
  // The runs (only ts_ms and the run's own columns are set).
  HeadRunsByProbe HeadRuns(const std::vector<ProbeRow>& probes, TimestampMs from_ms,
                           TimestampMs to_ms) {
    return HeadRowsByProbe<ProbeRun>(head_runs_between_, probes, from_ms, to_ms,
                                     [](ProbeRun& r, sqlite3_stmt* st) { FillRun(st, 1, &r); });
  }
  // The successful runs, as what the latency figures read.
  HeadSuccessesByProbe HeadSuccesses(const std::vector<ProbeRow>& probes, TimestampMs from_ms,
                                     TimestampMs to_ms) {
    return HeadRowsByProbe<HeadSuccess>(
        head_successes_between_, probes, from_ms, to_ms, [](HeadSuccess& r, sqlite3_stmt* st) {
          r = {sqlite3_column_int64(st, 1), sqlite3_column_double(st, 2)};
        });
  }

  // The series named `name` whose labels include every pair of `match`: (series.id, labels).
  // Throws SQLite::Exception; callers hold a read transaction.
  std::vector<std::pair<int64_t, Labels>> MatchingSeries(const std::string& name,
                                                         const Labels& match) {
    std::vector<std::pair<int64_t, Labels>> series;
    series_by_name_.reset();
    series_by_name_.bind(1, name);
    while (series_by_name_.executeStep()) {
      auto labels = ParseLabelsText(series_by_name_.getColumn(1).getString());
      if (!labels || !LabelsInclude(*labels, match)) continue;
      series.emplace_back(series_by_name_.getColumn(0).getInt64(), std::move(*labels));
    }
    series_by_name_.reset();
    return series;
  }

  void NoteStateError(Status s) {
    if (state_error_.ok()) state_error_ = std::move(s);
  }

  // Every sample with from_ms <= ts_ms < to_ms, by series then time (kRecentSamplesSql), for
  // AllSamples and StreamRecentSeries.
  SQLite::Statement RecentSamples(TimestampMs from_ms, TimestampMs to_ms) {
    SQLite::Statement q(*db_, kRecentSamplesSql);
    q.bind(1, static_cast<int64_t>(from_ms));
    q.bind(2, static_cast<int64_t>(to_ms));
    return q;
  }

  // After an exception a statement may be mid-step; reset them all so the connection's read
  // snapshot is released.
  void ResetAll() {
    for (RawStatement* s : {&run_before_, &runs_between_, &head_runs_between_,
                            &head_successes_between_, &span_before_, &spans_between_,
                            &sealed_between_, &successes_between_}) {
      s->Reset();
    }
    for (SQLite::Statement* s :
         {&probes_of_component_, &events_, &series_by_name_, &samples_between_, &head_between_,
          &latest_sample_, &cursors_, &all_counters_, &counter_total_, &rollups_}) {
      try {
        s->reset();
      } catch (const SQLite::Exception&) {
      }
    }
  }

  std::unique_ptr<SQLite::Database> db_;
  std::string path_;
  SQLite::Statement probes_of_component_;
  RawStatement run_before_;
  RawStatement runs_between_;
  RawStatement head_runs_between_;
  RawStatement head_successes_between_;
  SQLite::Statement events_;
  SQLite::Statement series_by_name_;
  SQLite::Statement samples_between_;
  SQLite::Statement head_between_;
  SQLite::Statement latest_sample_;
  SQLite::Statement cursors_;
  SQLite::Statement all_counters_;
  SQLite::Statement counter_total_;
  SQLite::Statement rollups_;
  RawStatement span_before_;
  RawStatement spans_between_;
  RawStatement sealed_between_;
  RawStatement successes_between_;
  Status state_error_;
};

}  // namespace

Result<std::unique_ptr<Reader>> Reader::Open(const std::string& path, const ReadMemory& memory) {
  auto db = OpenForRead(path, memory);
  if (!db.ok()) return db.status();
  try {
    return std::unique_ptr<Reader>(new SqliteReader(std::move(db).value(), path));
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "preparing reads on " + path);
  }
}

}  // namespace obsmon::storage
