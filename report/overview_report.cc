#include "report/overview_report.h"

#include <algorithm>
#include <vector>

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;

template <typename T>
void Release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

}  // namespace

std::vector<TimestampMs> DayHourBounds(const std::vector<PeriodDay>& days) {
  std::vector<TimestampMs> bounds;
  for (const PeriodDay& d : days) {
    for (TimestampMs h = d.start_ms; h < d.end_ms; h += kHourMs) bounds.push_back(h);
  }
  if (!days.empty()) bounds.push_back(days.back().end_ms);
  return bounds;
}

std::vector<UptimeTotals> TotalsPerStretch(const std::vector<StateSpan>& timeline,
                                           std::span<const TimestampMs> bounds) {
  std::vector<UptimeTotals> out;
  size_t cursor = 0;
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    const TimestampMs from = bounds[b];
    const TimestampMs to = bounds[b + 1];
    UptimeTotals& t = out.emplace_back();
    t.window_ms = to - from;
    while (cursor < timeline.size() && timeline[cursor].end_ms <= from) ++cursor;
    for (size_t i = cursor; i < timeline.size() && timeline[i].start_ms < to; ++i) {
      const int64_t overlap =
          std::min(timeline[i].end_ms, to) - std::max(timeline[i].start_ms, from);
      if (overlap > 0) AddToTotals(t, timeline[i].state, overlap);
    }
  }
  return out;
}

std::vector<StateSpan> StateTimesPerStretch(const std::vector<StateSpan>& timeline,
                                            std::span<const TimestampMs> bounds) {
  const std::vector<UptimeTotals> totals = TotalsPerStretch(timeline, bounds);
  std::vector<StateSpan> out;
  for (size_t b = 0; b < totals.size(); ++b) {
    TimestampMs at = bounds[b];
    for (const auto& [state, ms] : {std::pair{HealthState::kUp, totals[b].up_ms},
                                    std::pair{HealthState::kDown, totals[b].down_ms},
                                    std::pair{HealthState::kUnknown, totals[b].unknown_ms},
                                    std::pair{HealthState::kExcluded, totals[b].excluded_ms}}) {
      if (ms == 0) continue;
      out.push_back({at, at + ms, state});
      at += ms;
    }
  }
  return out;
}

void CompactForOverview(Report& r) {
  r.incidents_not_listed += r.incidents.size();
  Release(r.incidents);
  for (DaySummary& d : r.days) Release(d.longest_incidents);
  Release(r.gaps);
  Release(r.alerts);
  Release(r.maintenance);
  // The overview shows the counts of matched log lines, not the lines (up to max_line_bytes
  // each: fresh eyes kept 4 MB of them in one component's live report).
  r.logs.first_critical.reset();
  r.logs.last_critical.reset();
  r.logs.first_error.reset();
  r.logs.last_error.reset();
  // The last day's hours as HourCells draws them: from the day's start, cut at the window's
  // end and where evaluation stopped.
  std::vector<TimestampMs> hours;
  if (!r.days.empty()) {
    const TimestampMs start = r.days.back().start_ms;
    const TimestampMs end = std::min({start + kDayMs, r.to_ms, r.evaluated_to_ms});
    for (TimestampMs h = start; h < end; h += kHourMs) hours.push_back(h);
    if (!hours.empty()) hours.push_back(end);
  }
  std::vector<StateSpan> hourly = StateTimesPerStretch(r.timeline, hours);
  hourly.shrink_to_fit();
  r.timeline = std::move(hourly);
}

OverviewUptimeFold::OverviewUptimeFold(const std::vector<PeriodDay>& days)
    : days_(days), bounds_(DayHourBounds(days)), by_day_(days.size(), 0) {}

void OverviewUptimeFold::Fold(UptimeResult& up) {
  if (up.incidents.size() > 1) {
    for (auto it = up.incidents.begin(); it + 1 != up.incidents.end(); ++it) {
      ++folded_;
      if (auto day = PeriodDayAt(days_, it->start_ms)) ++by_day_[*day];
    }
    up.incidents.erase(up.incidents.begin(), up.incidents.end() - 1);
  }
  up.timeline = StateTimesPerStretch(up.timeline, bounds_);
}

}  // namespace obsmon
