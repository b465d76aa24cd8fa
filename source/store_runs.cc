#include "source/store_runs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/duration.h"

namespace obsmon::source {
namespace {

using Points = std::vector<std::pair<TimestampMs, double>>;

// Every point of `series` by probe name, each probe's points sorted by time (stable: of two
// points at one time, the first series' is first).
std::map<std::string, Points> ByProbe(const std::vector<StoreSeries>& series,
                                      const std::string& label, size_t* without_label) {
  std::map<std::string, Points> out;
  for (const auto& s : series) {
    if (!s.labels.Has(label) || s.labels.Get(label).empty()) {
      if (without_label) ++*without_label;
      continue;
    }
    Points& p = out[s.labels.Get(label)];
    p.insert(p.end(), s.points.begin(), s.points.end());
  }
  for (auto& [probe, p] : out) {
    std::stable_sort(p.begin(), p.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  return out;
}

// The median spacing of sorted, distinct times; 0 with fewer than two.
int64_t MedianSpacing(const Points& points) {
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i].first > points[i - 1].first) gaps.push_back(points[i].first - points[i - 1].first);
  }
  if (gaps.empty()) return 0;
  std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
  return gaps[gaps.size() / 2];
}

}  // namespace

std::vector<ProbeRun> RunsFromSeries(const std::vector<StoreSeries>& success,
                                     const std::vector<StoreSeries>& durations,
                                     const SeriesMapping& mapping, MappingNotes* notes) {
  MappingNotes scratch;
  MappingNotes& n = notes ? *notes : scratch;
  const auto up = ByProbe(success, mapping.probe_label, &n.series_without_probe_label);
  const auto took = ByProbe(durations, mapping.probe_label, nullptr);
  std::vector<ProbeRun> runs;
  for (const auto& [probe, points] : up) {
    KnownProbe info;
    if (auto it = mapping.known.find(probe); it != mapping.known.end()) {
      info = it->second;
    } else {
      info.interval_ms = MedianSpacing(points);
      if (info.interval_ms <= 0) info.interval_ms = mapping.default_interval_ms;
      n.inferred_interval_ms[probe] = info.interval_ms;
    }
    // As the probe runner computes it, so that the same interval gives the same coverage.
    const int64_t valid_for =
        static_cast<int64_t>(std::llround(static_cast<double>(info.interval_ms) * mapping.tolerance));
    const Points* d = nullptr;
    if (auto it = took.find(probe); it != took.end()) d = &it->second;
    size_t j = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      const auto [ts, value] = points[i];
      if (i > 0 && points[i - 1].first == ts) {
        ++n.duplicate_samples;  // storage, too, keeps the first run of one probe at one time
        continue;
      }
      ProbeRun run;
      run.key = {mapping.component, probe};
      run.role = info.role;
      run.ts_ms = ts;
      run.success = value > 0;
      run.valid_for_ms = valid_for;
      if (!run.success) run.reason = kStoreFailureReason;
      run.duration_seconds = std::numeric_limits<double>::quiet_NaN();
      if (d) {
        while (j < d->size() && (*d)[j].first < ts) ++j;
        if (j < d->size() && (*d)[j].first == ts) run.duration_seconds = (*d)[j].second;
      }
      if (std::isnan(run.duration_seconds)) ++n.runs_without_duration;
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

std::vector<std::string> DescribeNotes(const MappingNotes& n, const std::string& probe_label) {
  std::vector<std::string> out;
  for (const auto& [probe, ms] : n.inferred_interval_ms) {
    out.push_back(fmt::format("probe '{}': interval {} inferred from the median spacing of its "
                              "samples (not in the config): health probe, runs valid for "
                              "interval x tolerance",
                              probe, FormatDurationMs(ms)));
  }
  if (n.series_without_probe_label > 0) {
    out.push_back(fmt::format("{} probe_success series without the label '{}' ignored",
                              n.series_without_probe_label, probe_label));
  }
  if (n.runs_without_duration > 0) {
    out.push_back(fmt::format("{} runs without a probe_duration_seconds sample at their time "
                              "(counted for uptime, not for latency)",
                              n.runs_without_duration));
  }
  if (n.duplicate_samples > 0) {
    out.push_back(fmt::format("{} probe_success samples at a time their probe already had one "
                              "(the first kept)",
                              n.duplicate_samples));
  }
  if (n.non_finite_samples > 0) {
    out.push_back(fmt::format("{} samples with a NaN or infinite value left out",
                              n.non_finite_samples));
  }
  return out;
}

}  // namespace obsmon::source
