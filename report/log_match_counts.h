// The matched log lines of a component in a window, by the log probes' own counters
// (obsmon_log_matches_total{severity}, stored at every run, persisted across restarts), for the
// report's critical and error counts: storage keeps at most 1,000 lines a component, severity and
// UTC day and `max_events_per_run` a run and severity, so the kept lines alone can miss lines the
// probe counted.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "report/report.h"
#include "storage/storage.h"

namespace obsmon {

// Each series' increase over [from_ms, to_ms) (a counter reset counts its new value, as in
// IncreaseOf), from its last sample in the hour before the window, else from its first sample in
// the window: never more than the probe counted in the window, and less only by the first run of
// a series that was not running just before the window (a file's backlog read at the daemon's
// start, a file made again on a path the probe forgot, obsmon started after being down an hour):
// a lower bound, which the report takes only where it exceeds the kept lines. Summed by the
// severity label: `critical` the severities in `critical`, `error` those in `error` only.
// Series with an `instance` label are copies scraped from a /metrics page, not a log probe's.
// With `day_starts` (ascending, the first at or before from_ms), each step of a series' increase
// is also counted in the day its sample falls in (day i: [day_starts[i], day_starts[i + 1])).
Result<ReportOptions::LogMatchCounts> ReadLogMatchCounts(
    storage::Reader& reader, const std::string& component, TimestampMs from_ms,
    TimestampMs to_ms, const std::vector<std::string>& critical,
    const std::vector<std::string>& error, const std::vector<TimestampMs>& day_starts = {});

// Whether a matched line of `component` was ever counted and not kept: its persisted counters
// obsmon_log_events_capped_total (over a run's max_events_per_run) or
// obsmon_log_events_dropped_total (over storage's 1,000 a UTC day) are above 0. One read of the
// counters table, so that a report (the daemon's, every refresh) reads the window's counter
// samples only when the kept lines may be short of them. A capped counter goes with its file when
// the probe forgets it (a glob's match deleted): its caps before that are not seen here.
Result<bool> LogLinesWereDropped(storage::Reader& reader, const std::string& component);

}  // namespace obsmon
