#include "report/report_uptime_fold.h"

#include <algorithm>
#include <cmath>

#include "report/overview_report.h"

namespace obsmon {
namespace {

// The order of what is listed first: the longer, then the earlier (starts are distinct, so
// which are kept never depends on the order they came in).
bool Longer(TimestampMs a_start, int64_t a_ms, TimestampMs b_start, int64_t b_ms) {
  return a_ms != b_ms ? a_ms > b_ms : a_start < b_start;
}

bool LongerIncident(const Incident& a, const Incident& b) {
  return Longer(a.start_ms, a.duration_ms(), b.start_ms, b.duration_ms());
}

// Keeps the `keep` first of `items` by `longer`, hands each other one to `drop`, and leaves
// the kept ones in any order.
template <typename T, typename Less, typename Drop>
void KeepLongest(std::vector<T>& items, size_t keep, Less longer, Drop drop) {
  if (items.size() <= keep) return;
  std::nth_element(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(keep), items.end(),
                   longer);
  for (auto it = items.begin() + static_cast<std::ptrdiff_t>(keep); it != items.end(); ++it) {
    drop(*it);
  }
  items.erase(items.begin() + static_cast<std::ptrdiff_t>(keep), items.end());
}

}  // namespace

std::vector<TimestampMs> StripBounds(TimestampMs from_ms, TimestampMs to_ms,
                                     TimestampMs evaluated_to_ms) {
  const TimestampMs end = std::max(from_ms, std::min(to_ms, evaluated_to_ms));
  const double span = static_cast<double>(std::max<int64_t>(1, to_ms - from_ms));
  std::vector<TimestampMs> bounds;
  for (int c = 0; c <= kStripColumns; ++c) {
    const TimestampMs t = from_ms + static_cast<TimestampMs>(std::llround(span * c / kStripColumns));
    if (t >= end) break;
    if (bounds.empty() || t > bounds.back()) bounds.push_back(t);
  }
  bounds.push_back(end);
  return bounds;
}

std::vector<TimestampMs> TimelineStretches(const std::vector<PeriodDay>& days,
                                           TimestampMs from_ms, TimestampMs to_ms,
                                           TimestampMs evaluated_to_ms) {
  std::vector<TimestampMs> bounds = StripBounds(from_ms, to_ms, evaluated_to_ms);
  const std::vector<TimestampMs> hours = DayHourBounds(days);
  bounds.insert(bounds.end(), hours.begin(), hours.end());
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

ReportUptimeFold::ReportUptimeFold(const std::vector<PeriodDay>& days, TimestampMs from_ms,
                                   TimestampMs to_ms, TimestampMs evaluated_to_ms,
                                   size_t max_listed)
    : days_(days),
      stretches_(TimelineStretches(days, from_ms, to_ms, evaluated_to_ms)),
      max_listed_(max_listed),
      not_listed_by_day_(days.size(), 0),
      day_longest_(days.size()) {}

void ReportUptimeFold::TakeGaps(const UptimeResult& part) {
  for (const StateSpan& span : part.timeline) {
    if (span.state != HealthState::kUnknown) continue;
    if (open_gap_ && open_gap_->end_ms == span.start_ms) {
      open_gap_->end_ms = span.end_ms;
      continue;
    }
    if (open_gap_) KeepGap(*open_gap_);
    open_gap_ = TimeInterval{span.start_ms, span.end_ms};
  }
}

void ReportUptimeFold::Fold(UptimeResult& up) {
  if (up.incidents.size() > 1) {
    for (auto it = up.incidents.begin(); it + 1 != up.incidents.end(); ++it) {
      KeepIncident(std::move(*it));
    }
    up.incidents.erase(up.incidents.begin(), up.incidents.end() - 1);
  }
  if (up.timeline.size() > kTimelineSpansExact) {
    up.timeline = StateTimesPerStretch(up.timeline, stretches_);
    timeline_per_stretch_ = true;
  }
}

void ReportUptimeFold::Finish(UptimeResult& up) {
  Fold(up);
  for (Incident& last : up.incidents) KeepIncident(std::move(last));
  if (max_listed_ > 0) TrimIncidents(max_listed_);
  std::sort(incidents_.begin(), incidents_.end(),
            [](const Incident& a, const Incident& b) { return a.start_ms < b.start_ms; });
  up.incidents = std::move(incidents_);
  incidents_.clear();
  for (std::vector<Incident>& day : day_longest_) {
    KeepLongest(day, kDayIncidentsListed, LongerIncident, [](const Incident&) {});
    std::sort(day.begin(), day.end(),
              [](const Incident& a, const Incident& b) { return a.start_ms < b.start_ms; });
  }
  if (timeline_per_stretch_) up.timeline = StateTimesPerStretch(up.timeline, stretches_);
}

std::vector<TimeInterval> ReportUptimeFold::TakeListedGaps() {
  if (open_gap_) KeepGap(*open_gap_);
  open_gap_.reset();
  if (max_listed_ > 0) TrimGaps(max_listed_);
  std::sort(gaps_.begin(), gaps_.end(),
            [](const TimeInterval& a, const TimeInterval& b) { return a.start_ms < b.start_ms; });
  return std::move(gaps_);
}

std::vector<Incident> ReportUptimeFold::TakeDayLongest(size_t day) {
  return day < day_longest_.size() ? std::move(day_longest_[day]) : std::vector<Incident>{};
}

void ReportUptimeFold::KeepIncident(Incident incident) {
  incident.number = next_number_++;
  if (auto day = PeriodDayAt(days_, incident.start_ms)) {
    std::vector<Incident>& longest = day_longest_[*day];
    longest.push_back(incident);
    if (longest.size() >= 2 * kDayIncidentsListed) {
      KeepLongest(longest, kDayIncidentsListed, LongerIncident, [](const Incident&) {});
    }
  }
  incidents_.push_back(std::move(incident));
  // Trimmed when twice the list: each incident is moved a constant number of times on average.
  if (max_listed_ > 0 && incidents_.size() >= 2 * max_listed_) TrimIncidents(max_listed_);
}

void ReportUptimeFold::KeepGap(TimeInterval gap) {
  gaps_.push_back(gap);
  if (max_listed_ > 0 && gaps_.size() >= 2 * max_listed_) TrimGaps(max_listed_);
}

void ReportUptimeFold::TrimIncidents(size_t keep) {
  KeepLongest(
      incidents_, keep, LongerIncident,
      [this](const Incident& dropped) {
        ++incidents_not_listed_;
        if (auto day = PeriodDayAt(days_, dropped.start_ms)) ++not_listed_by_day_[*day];
      });
}

void ReportUptimeFold::TrimGaps(size_t keep) {
  KeepLongest(
      gaps_, keep,
      [](const TimeInterval& a, const TimeInterval& b) {
        return Longer(a.start_ms, a.end_ms - a.start_ms, b.start_ms, b.end_ms - b.start_ms);
      },
      [this](const TimeInterval&) { ++gaps_not_listed_; });
}

}  // namespace obsmon
