// The matched log lines of a component in a window, by the log probes' own counters
// (obsmon_log_matches_total{severity}, stored at every run, persisted across restarts), for the
// report's critical and error counts: storage keeps at most 1,000 lines a component a UTC day and
// `max_events_per_run` a run, so the kept lines alone can miss a critical line the probe counted
// (a noisy error log in the morning hid every later critical line from the verdict).
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "report/report.h"
#include "storage/storage.h"

namespace obsmon {

// Each series' increase over [from_ms, to_ms): from the value of its last sample before from_ms
// (however old; 0 for a series born in the window) to its last in the window, a counter reset
// counting its new value (IncreaseOf). Summed by the severity label: `critical` the severities in
// `critical`, `error` those in `error` only. A window reaching past `storage.retention` has lost
// the samples before it: its series then count from 0, which can count lines seen before it.
Result<ReportOptions::LogMatchCounts> ReadLogMatchCounts(storage::Reader& reader,
                                                         const std::string& component,
                                                         TimestampMs from_ms, TimestampMs to_ms,
                                                         const std::vector<std::string>& critical,
                                                         const std::vector<std::string>& error);

}  // namespace obsmon
