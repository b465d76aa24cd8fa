#include "report/log_match_counts.h"

#include <algorithm>
#include <cmath>

#include "report/component_usage.h"

namespace obsmon {

namespace {

constexpr char kName[] = "obsmon_log_matches_total";

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
  const Labels match{{"component", component}};
  auto samples = reader.Samples(kName, match, from_ms, to_ms);
  if (!samples.ok()) return samples.status();
  auto before = reader.LastSamplesBefore(kName, match, from_ms);
  if (!before.ok() && before.status().code() != Status::Code::kUnavailable) {
    return before.status();
  }
  // Ordered by series, then time: a series is a run of equal label sets.
  const std::vector<Sample>& all = *samples;
  for (size_t begin = 0; begin < all.size();) {
    size_t end = begin + 1;
    while (end < all.size() && all[end].labels == all[begin].labels) ++end;
    // From where the counter stood when the window began; 0 for a series that had no sample
    // before it (a counter starts at 0: a file's first run counts all it read).
    std::vector<double> values{0.0};
    if (before.ok()) {
      for (const Sample& b : *before) {
        if (b.labels == all[begin].labels && !std::isnan(b.value)) values[0] = b.value;
      }
    } else {
      values.clear();  // no baseline to be had: from the window's first sample, a lower bound
    }
    for (size_t i = begin; i < end; ++i) {
      if (!std::isnan(all[i].value)) values.push_back(all[i].value);
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

}  // namespace obsmon
