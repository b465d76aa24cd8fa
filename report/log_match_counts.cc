#include "report/log_match_counts.h"

#include <algorithm>
#include <cmath>

#include "report/component_usage.h"

namespace obsmon {

namespace {

constexpr char kName[] = "obsmon_log_matches_total";
constexpr char kCapped[] = "obsmon_log_events_capped_total";
constexpr char kDropped[] = "obsmon_log_events_dropped_total";
// A series with no sample in this time before the window is taken as not running then (a new
// file, obsmon stopped, the probe out of the config); a probe at a longer interval loses its
// first run in the window to the lower bound.
constexpr int64_t kBaselineMs = 3'600'000;

bool OneOf(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<ReportOptions::LogMatchCounts> ReadLogMatchCounts(storage::Reader& reader,
                                                         const std::string& component,
                                                         TimestampMs from_ms, TimestampMs to_ms,
                                                         const std::vector<std::string>& critical,
                                                         const std::vector<std::string>& error) {
  ReportOptions::LogMatchCounts counts;
  if (to_ms <= from_ms) return counts;
  auto samples =
      reader.Samples(kName, Labels{{"component", component}}, from_ms - kBaselineMs, to_ms);
  if (!samples.ok()) return samples.status();
  // Ordered by series, then time: a series is a run of equal label sets.
  const std::vector<Sample>& all = *samples;
  for (size_t begin = 0; begin < all.size();) {
    size_t end = begin + 1;
    while (end < all.size() && all[end].labels == all[begin].labels) ++end;
    // A copy scraped from obsmon's own /metrics (or another obsmon's) carries the component's
    // labels too, and the target's `instance`, which a log probe's series never has.
    if (!all[begin].labels.Get("instance").empty()) {
      begin = end;
      continue;
    }
    std::vector<double> values;  // where it stood in the hour before the window, then the window
    for (size_t i = begin; i < end; ++i) {
      if (std::isnan(all[i].value)) continue;
      if (all[i].ts_ms < from_ms) {
        values.assign(1, all[i].value);
      } else {
        values.push_back(all[i].value);
      }
    }
    const auto lines = static_cast<uint64_t>(std::llround(std::max(0.0, IncreaseOf(values))));
    const std::string severity = all[begin].labels.Get("severity");
    if (OneOf(critical, severity)) {
      counts.critical += lines;
    } else if (OneOf(error, severity)) {
      counts.error += lines;
    }
    begin = end;
  }
  return counts;
}

Result<bool> LogLinesWereDropped(storage::Reader& reader, const std::string& component) {
  auto counters = reader.AllCounters();
  // A reader without counters (a Prometheus-compatible store) keeps no lines to be short of.
  if (!counters.ok() && counters.status().code() == Status::Code::kUnavailable) return false;
  if (!counters.ok()) return counters.status();
  return std::any_of(counters->begin(), counters->end(), [&](const CounterValue& c) {
    return (c.name == kCapped || c.name == kDropped) && c.value > 0 &&
           c.labels.Get("component") == component && c.labels.Get("instance").empty();
  });
}

}  // namespace obsmon
