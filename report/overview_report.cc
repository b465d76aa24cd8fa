#include "report/overview_report.h"

#include <algorithm>
#include <vector>

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;

// The time of each state of `timeline` over [from, to); `from` only moves forward between calls,
// so one cursor walks the timeline once for all hours.
struct StateTimes {
  int64_t ms[4] = {0, 0, 0, 0};  // by HealthState order below
};

constexpr HealthState kOrder[4] = {HealthState::kUp, HealthState::kDown, HealthState::kUnknown,
                                   HealthState::kExcluded};

size_t IndexOf(HealthState state) {
  return static_cast<size_t>(std::find(std::begin(kOrder), std::end(kOrder), state) -
                             std::begin(kOrder));
}

StateTimes TimesOver(const std::vector<StateSpan>& timeline, size_t& cursor, TimestampMs from,
                     TimestampMs to) {
  StateTimes t;
  while (cursor < timeline.size() && timeline[cursor].end_ms <= from) ++cursor;
  for (size_t i = cursor; i < timeline.size() && timeline[i].start_ms < to; ++i) {
    const int64_t ms = std::min(timeline[i].end_ms, to) - std::max(timeline[i].start_ms, from);
    if (ms > 0) t.ms[IndexOf(timeline[i].state)] += ms;
  }
  return t;
}

// The last day's hours (as HourCells draws them), each as its states' consecutive spans.
std::vector<StateSpan> HourlyTimeline(const Report& r) {
  std::vector<StateSpan> out;
  if (r.days.empty()) return out;
  const TimestampMs start = r.days.back().start_ms;
  const TimestampMs end = std::min({start + kDayMs, r.to_ms, r.evaluated_to_ms});
  size_t cursor = 0;
  for (TimestampMs h = start; h < end; h += kHourMs) {
    const TimestampMs h_end = std::min(h + kHourMs, end);
    const StateTimes t = TimesOver(r.timeline, cursor, h, h_end);
    TimestampMs at = h;
    for (size_t s = 0; s < 4; ++s) {
      if (t.ms[s] == 0) continue;
      out.push_back({at, at + t.ms[s], kOrder[s]});
      at += t.ms[s];
    }
  }
  return out;
}

template <typename T>
void Release(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

}  // namespace

void CompactForOverview(Report& r) {
  r.incidents_not_listed += r.incidents.size();
  Release(r.incidents);
  Release(r.gaps);
  Release(r.alerts);
  Release(r.maintenance);
  std::vector<StateSpan> hourly = HourlyTimeline(r);
  hourly.shrink_to_fit();
  r.timeline = std::move(hourly);
}

}  // namespace obsmon
