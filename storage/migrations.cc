#include "storage/migrations.h"

namespace obsmon::storage {

// APPEND ONLY (see migrations.h). Every table and column is documented in docs/storage.md; keep
// that file in step when appending.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {"base schema: series, samples, probes, probe runs, hourly rollups, log cursors and events, "
       "counters",
       R"sql(
CREATE TABLE series (
  id     INTEGER PRIMARY KEY,
  name   TEXT NOT NULL,
  labels TEXT NOT NULL,             -- canonical Prometheus text form, '' for no labels
  UNIQUE (name, labels)
);
CREATE TABLE samples (
  series_id INTEGER NOT NULL,       -- series.id
  ts_ms     INTEGER NOT NULL,       -- Unix epoch milliseconds (UTC)
  value     REAL,                   -- NULL stands for NaN
  PRIMARY KEY (series_id, ts_ms)
) WITHOUT ROWID;
CREATE TABLE probes (
  id        INTEGER PRIMARY KEY,
  component TEXT NOT NULL,
  probe     TEXT NOT NULL,
  role      TEXT NOT NULL,          -- 'health' | 'integration' | 'none' (latest configured)
  UNIQUE (component, probe)
);
CREATE TABLE probe_runs (
  probe_id         INTEGER NOT NULL,  -- probes.id
  ts_ms            INTEGER NOT NULL,  -- start of the run
  success          INTEGER NOT NULL,  -- 1 up, 0 down
  duration_seconds REAL NOT NULL,
  valid_for_ms     INTEGER NOT NULL,  -- the verdict stands until ts_ms + valid_for_ms at most
  reason           TEXT NOT NULL,     -- '' on success
  PRIMARY KEY (probe_id, ts_ms)
) WITHOUT ROWID;
CREATE TABLE rollup_hourly (
  probe_id     INTEGER NOT NULL,
  hour_ms      INTEGER NOT NULL,      -- start of the UTC hour
  runs         INTEGER NOT NULL,
  up           INTEGER NOT NULL,
  down         INTEGER NOT NULL,
  duration_sum REAL NOT NULL,         -- seconds, over all runs
  duration_min REAL NOT NULL,
  duration_max REAL NOT NULL,
  up_duration_sum REAL NOT NULL,      -- seconds, over successful runs only
  latency_hist TEXT NOT NULL,         -- successful runs' durations, see docs/storage.md
  PRIMARY KEY (probe_id, hour_ms)
) WITHOUT ROWID;
CREATE TABLE log_cursors (
  component   TEXT NOT NULL,
  probe       TEXT NOT NULL,
  path        TEXT NOT NULL,
  dev         INTEGER NOT NULL,
  inode       INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  offset      INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (component, probe, path)
);
CREATE TABLE log_events (
  id        INTEGER PRIMARY KEY,
  component TEXT NOT NULL,
  probe     TEXT NOT NULL,
  ts_ms     INTEGER NOT NULL,
  file      TEXT NOT NULL,
  severity  TEXT NOT NULL,
  line      TEXT NOT NULL
);
CREATE INDEX log_events_component_ts ON log_events (component, ts_ms);
CREATE TABLE counters (
  series_id INTEGER PRIMARY KEY,      -- series.id (name and labels of the counter)
  value     REAL NOT NULL             -- running total
);
)sql"},
      {"alerts: persisted alert state, alert history, notification outbox",
       R"sql(
CREATE TABLE alerts (
  group_key            TEXT NOT NULL,     -- rule file path ';' group name
  rule                 TEXT NOT NULL,     -- alert name
  labels               TEXT NOT NULL,     -- the alert's labels, canonical text form
  annotations          TEXT NOT NULL,
  state                TEXT NOT NULL,     -- 'pending' | 'firing' | 'inactive' (resolved, kept 15m)
  value                REAL,              -- last expression value; NULL stands for NaN
  active_at_ms         INTEGER NOT NULL,  -- when it became pending (the `for` timer start)
  fired_at_ms          INTEGER NOT NULL,  -- 0 until firing
  resolved_at_ms       INTEGER NOT NULL,  -- 0 until resolved
  last_sent_at_ms      INTEGER NOT NULL,  -- last notification (resend every resend_delay)
  valid_until_ms       INTEGER NOT NULL,
  keep_firing_since_ms INTEGER NOT NULL,
  PRIMARY KEY (group_key, rule, labels)
);
CREATE TABLE alert_history (
  id           INTEGER PRIMARY KEY,
  ts_ms        INTEGER NOT NULL,          -- when the event happened (evaluation time)
  event        TEXT NOT NULL,             -- 'firing' | 'resolved'
  group_key    TEXT NOT NULL,
  rule         TEXT NOT NULL,
  labels       TEXT NOT NULL,
  annotations  TEXT NOT NULL,
  active_at_ms INTEGER NOT NULL,
  fired_at_ms  INTEGER NOT NULL,
  value        REAL
);
CREATE INDEX alert_history_ts ON alert_history (ts_ms);
CREATE TABLE alert_outbox (
  id              INTEGER PRIMARY KEY,
  receiver        TEXT NOT NULL,          -- notifier name from the alerting config
  payload         TEXT NOT NULL,          -- JSON body to POST (no credentials)
  created_ms      INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,       -- failed attempts so far
  last_error      TEXT NOT NULL
);
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_ms);
)sql"},
      {"observation periods and maintenance windows",
       R"sql(
CREATE TABLE periods (
  id                    INTEGER PRIMARY KEY,
  component             TEXT NOT NULL,
  start_ms              INTEGER NOT NULL,  -- Unix epoch milliseconds (UTC)
  end_ms                INTEGER NOT NULL,  -- planned end
  stopped_ms            INTEGER NOT NULL,  -- 0 unless stopped early (obsmon observe stop)
  objective_percent     REAL NOT NULL,     -- uptime objective, e.g. 99.5
  min_coverage_percent  REAL NOT NULL,     -- below it the verdict is INSUFFICIENT DATA
  latency_p95_ms        REAL,              -- p95 SLA in ms; NULL when none
  degradation_tolerance REAL NOT NULL,     -- last-day p95 may exceed first-day p95 by this ratio
  source                TEXT NOT NULL,     -- 'cli' | 'config'
  created_ms            INTEGER NOT NULL,
  note                  TEXT NOT NULL
);
CREATE INDEX periods_component_start ON periods (component, start_ms);
CREATE TABLE maintenance (
  id         INTEGER PRIMARY KEY,
  component  TEXT NOT NULL,
  start_ms   INTEGER NOT NULL,
  end_ms     INTEGER NOT NULL,
  reason     TEXT NOT NULL,
  source     TEXT NOT NULL,                -- 'cli' | 'config'
  created_ms INTEGER NOT NULL
);
CREATE INDEX maintenance_component_start ON maintenance (component, start_ms);
)sql"},
      {"probe state spans and sealed per-hour durations of successful runs (report reads)",
       R"sql(
CREATE TABLE probe_spans (
  probe_id    INTEGER NOT NULL,  -- probes.id
  start_ms    INTEGER NOT NULL,  -- ts_ms of the span's first run
  last_run_ms INTEGER NOT NULL,  -- ts_ms of its last run
  end_ms      INTEGER NOT NULL,  -- last_run_ms + the last run's valid_for_ms (>= 0)
  success     INTEGER NOT NULL,  -- 1 up, 0 down: the verdict of every run of the span
  runs        INTEGER NOT NULL,  -- number of runs
  reason      TEXT NOT NULL,     -- the first run's reason ('' on success)
  PRIMARY KEY (probe_id, start_ms)
) WITHOUT ROWID;
CREATE TABLE run_durations_hourly (
  probe_id  INTEGER NOT NULL,    -- probes.id
  hour_ms   INTEGER NOT NULL,    -- start of the UTC hour the runs started in
  count     INTEGER NOT NULL,    -- number of values in durations
  durations BLOB NOT NULL,       -- successful runs' duration_seconds, ascending, float64 LE
  PRIMARY KEY (probe_id, hour_ms)
) WITHOUT ROWID;
-- Backfill: the spans of the runs already stored (core/run_span.h's CompressRuns in SQL). A run
-- starts a new span unless the previous run of its probe has the same verdict and its coverage
-- (ts_ms + valid_for_ms) reaches the run's start; spans are numbered by a running sum of starts.
INSERT INTO probe_spans (probe_id, start_ms, last_run_ms, end_ms, success, runs, reason)
WITH marked AS (
  SELECT probe_id, ts_ms, success,
         CASE WHEN lag(success) OVER w IS success
                   AND ts_ms <= lag(ts_ms + max(valid_for_ms, 0)) OVER w
              THEN 0 ELSE 1 END AS starts
  FROM probe_runs
  WINDOW w AS (PARTITION BY probe_id ORDER BY ts_ms)
), numbered AS (
  SELECT probe_id, ts_ms, success,
         sum(starts) OVER (PARTITION BY probe_id ORDER BY ts_ms ROWS UNBOUNDED PRECEDING) AS span_no
  FROM marked
), spans AS (
  SELECT probe_id, min(ts_ms) AS start_ms, max(ts_ms) AS last_run_ms, success, count(*) AS runs
  FROM numbered GROUP BY probe_id, span_no
)
SELECT s.probe_id, s.start_ms, s.last_run_ms,
       (SELECT r.ts_ms + max(r.valid_for_ms, 0) FROM probe_runs r
        WHERE r.probe_id = s.probe_id AND r.ts_ms = s.last_run_ms),
       s.success, s.runs,
       (SELECT r.reason FROM probe_runs r WHERE r.probe_id = s.probe_id AND r.ts_ms = s.start_ms)
FROM spans s;
-- run_durations_hourly is filled by the writer (it seals a bounded number of past hours per
-- transaction until every stored hour is sealed): SQL cannot build the float64 BLOBs.
)sql"},
      {"recurring maintenance windows",
       R"sql(
ALTER TABLE maintenance ADD COLUMN recurrence TEXT NOT NULL DEFAULT '';   -- '' one-off, else 'weekly sun 02:00' | 'daily 02:00'
ALTER TABLE maintenance ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';    -- IANA zone of the recurrence, '' = UTC
ALTER TABLE maintenance ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0; -- of each occurrence
)sql"},
      {"observation periods counted in a time zone's calendar days",
       R"sql(
ALTER TABLE periods ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';  -- IANA zone of the days, '' = 24 h from the start
)sql"},
      {"exactly-once outbox keys (digest comments)",
       R"sql(
CREATE TABLE outbox_once (
  once_key   TEXT PRIMARY KEY,      -- 'digest:<period id>:<destination>:day<N>' | ...:final
  outbox_id  INTEGER NOT NULL,      -- alert_outbox.id of the row stored with it (may be gone)
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
      {"maintenance window ids never reused",
       // A deleted window's id must not be given to the next one: a retried DELETE /
       // `maintenance delete ID` would remove another window. AUTOINCREMENT needs the table made
       // anew (SQLite cannot add it to a column).
       R"sql(
CREATE TABLE maintenance_new (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  component   TEXT NOT NULL,
  start_ms    INTEGER NOT NULL,
  end_ms      INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  source      TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  recurrence  TEXT NOT NULL DEFAULT '',
  time_zone   TEXT NOT NULL DEFAULT '',
  duration_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO maintenance_new (id, component, start_ms, end_ms, reason, source, created_ms,
                             recurrence, time_zone, duration_ms)
  SELECT id, component, start_ms, end_ms, reason, source, created_ms, recurrence, time_zone,
         duration_ms FROM maintenance;
DROP TABLE maintenance;
ALTER TABLE maintenance_new RENAME TO maintenance;
CREATE INDEX maintenance_component_start ON maintenance (component, start_ms);
)sql"},
      {"remote_write cursors",
       // The samples table is remote_write's queue: each remote's cursor says what it has
       // acknowledged (docs/remote-write.md). Retention keeps samples at or after the smallest
       // cursor of the active remotes.
       R"sql(
CREATE TABLE remote_write_cursors (
  remote            TEXT PRIMARY KEY,            -- the remote's name (name: or url-<hash>)
  cursor_ms         INTEGER NOT NULL,            -- every sample with ts_ms < cursor_ms is acknowledged
  active            INTEGER NOT NULL DEFAULT 1,  -- 1 while configured: holds retention
  dropped_retention INTEGER NOT NULL DEFAULT 0   -- samples retention deleted unsent (total)
) WITHOUT ROWID;
)sql"},
      {"series ends",
       // The stale markers of the rules' head (core/alert_records.h, SeriesEnd), read back with
       // the samples at a restart. Kept for twice the read-back's window (an hour) and at most
       // 200,000 rows (the head's own series limit): AlertStore::SaveSeriesEnds prunes.
       R"sql(
CREATE TABLE series_ends (
  labels TEXT NOT NULL,     -- with __name__, as alert labels are stored
  ts_ms  INTEGER NOT NULL
);
CREATE INDEX series_ends_ts ON series_ends (ts_ms);
)sql"},
      {"samples in two parts: a head in time order, the rest by series",
       // A commit appends each run's samples to the head's last pages instead of touching one
       // leaf per series; the writer moves the head's older rows into samples_by_series in bulk
       // (storage/head.h). Every sample below the floor is in samples_by_series,
       // every one at or above it in samples_head, so a key lives in one place only. The view
       // keeps `samples` whole for readers (and sqlite3 users).
       R"sql(
ALTER TABLE samples RENAME TO samples_by_series;
CREATE TABLE samples_head (
  ts_ms     INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  value     REAL,
  PRIMARY KEY (ts_ms, series_id)
) WITHOUT ROWID;
CREATE TABLE samples_head_floor (
  floor_ms INTEGER                  -- one row: samples with ts_ms < floor_ms are in samples_by_series
);
-- NULL: the writer sets it from the data at its first commit (it knows the time: a sample
-- stamped in the future must not hold the floor up).
INSERT INTO samples_head_floor VALUES (NULL);
CREATE VIEW samples (series_id, ts_ms, value) AS
  SELECT series_id, ts_ms, value FROM samples_by_series
  UNION ALL SELECT series_id, ts_ms, value FROM samples_head;
)sql"},
      {"probe runs in two parts: a head in time order, the rest by probe",
       // As samples (version 11), for the same reason: a commit of N runs changed one leaf of
       // probe_runs per probe (at 1,000 probes 89 % of the pages a commit wrote). The floor of
       // samples_head_floor splits both: runs below it are in probe_runs_by_probe, runs at or
       // above it in probe_runs_head (storage/head.h). A floor already set (version 11 ran)
       // moves the runs at or above it; a NULL floor is set by the writer from both tables.
       R"sql(
ALTER TABLE probe_runs RENAME TO probe_runs_by_probe;
CREATE TABLE probe_runs_head (
  ts_ms            INTEGER NOT NULL,
  probe_id         INTEGER NOT NULL,
  success          INTEGER NOT NULL,
  duration_seconds REAL NOT NULL,
  valid_for_ms     INTEGER NOT NULL,
  reason           TEXT NOT NULL,
  PRIMARY KEY (ts_ms, probe_id)
) WITHOUT ROWID;
INSERT INTO probe_runs_head (ts_ms, probe_id, success, duration_seconds, valid_for_ms, reason)
  SELECT ts_ms, probe_id, success, duration_seconds, valid_for_ms, reason FROM probe_runs_by_probe
  WHERE ts_ms >= (SELECT floor_ms FROM samples_head_floor);
DELETE FROM probe_runs_by_probe WHERE ts_ms >= (SELECT floor_ms FROM samples_head_floor);
CREATE VIEW probe_runs (probe_id, ts_ms, success, duration_seconds, valid_for_ms, reason) AS
  SELECT probe_id, ts_ms, success, duration_seconds, valid_for_ms, reason FROM probe_runs_by_probe
  UNION ALL
  SELECT probe_id, ts_ms, success, duration_seconds, valid_for_ms, reason FROM probe_runs_head;
)sql"},
      {"log cursors keep their file's birth time",
       // A file deleted and made again on the same inode number while obsmon was down (or
       // between a reload and the next poll) was taken for the one read before and read from
       // the old offset (fresh eyes, stop 48). 0: unknown (cursors stored before, file systems
       // without a birth time), as before.
       R"sql(
ALTER TABLE log_cursors ADD COLUMN birth_ns INTEGER NOT NULL DEFAULT 0;
)sql"},
      {"alert history keeps the component an alert was of",
       // Reports told a row's component by the config they ran with: a component whose job
       // was renamed lost the alerts of its old job, and `obsmon report --db` (no config)
       // knew components by name only. NULL: a row written before (told as before).
       R"sql(
ALTER TABLE alert_history ADD COLUMN component TEXT;
)sql"},
      // Append new steps here.
  };
  return kMigrations;
}

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

}  // namespace obsmon::storage
