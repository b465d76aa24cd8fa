#include "report/log_match_counts.h"

#include <algorithm>
#include <cmath>
#include <optional>

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

Result<ReportOptions::LogMatchCounts> ReadLogMatchCounts(
    storage::Reader& reader, const std::string& component, TimestampMs from_ms,
    TimestampMs to_ms, const std::vector<std::string>& critical,
    const std::vector<std::string>& error, const std::vector<TimestampMs>& day_starts) {
  ReportOptions::LogMatchCounts counts;
  counts.critical_by_day.assign(day_starts.size(), 0);
  counts.error_by_day.assign(day_starts.size(), 0);
  if (to_ms <= from_ms) return counts;
  std::vector<double> increase_by_day(day_starts.size(), 0);
  // Samples come by series, then time (StreamSamples: a week of them is never held). Per series,
  // IncreaseOf over where it stood in the hour before the window, then the window's values,
  // computed as they come.
  std::optional<Labels> current;  // a copy: the visitor's labels live only while it is called
  bool skip = false, have_last = false;
  double last = 0, increase = 0;
  auto finish_series = [&] {
    if (!current || skip) return;
    const auto lines = [](double n) {
      return static_cast<uint64_t>(std::llround(std::max(0.0, n)));
    };
    const std::string severity = current->Get("severity");
    uint64_t* total = OneOf(critical, severity) ? &counts.critical
                      : OneOf(error, severity)  ? &counts.error
                                                : nullptr;
    if (total == nullptr) return;
    *total += lines(increase);
    std::vector<uint64_t>& by_day =
        total == &counts.critical ? counts.critical_by_day : counts.error_by_day;
    for (size_t d = 0; d < by_day.size(); ++d) by_day[d] += lines(increase_by_day[d]);
  };
  Status read = reader.StreamSamples(
      kName, Labels{{"component", component}}, from_ms - kBaselineMs, to_ms,
      [&](const Labels& labels, TimestampMs ts_ms, double value) {
        if (!current || !(*current == labels)) {
          finish_series();
          current = labels;
          // A copy scraped from obsmon's own /metrics (or another obsmon's) carries the
          // component's labels too, and the target's `instance`, which a log probe's series
          // never has.
          skip = !labels.Get("instance").empty();
          have_last = false;
          increase = 0;
          std::fill(increase_by_day.begin(), increase_by_day.end(), 0.0);
        }
        if (skip || std::isnan(value)) return;
        if (ts_ms < from_ms || !have_last) {
          // Before the window only the last value counts: where the series stood.
          have_last = true;
          last = value;
          return;
        }
        const double step = value - last;
        const double added = step >= 0 ? step : value;  // after a reset the new value is all
        increase += added;                               // increase
        last = value;
        const auto day = std::upper_bound(day_starts.begin(), day_starts.end(), ts_ms);
        if (day != day_starts.begin()) {
          increase_by_day[static_cast<size_t>(day - day_starts.begin() - 1)] += added;
        }
      });
  if (!read.ok()) return read;
  finish_series();
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
