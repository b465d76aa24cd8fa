#include "report/period_days.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/duration.h"
#include "report/figure_format.h"
#include "report/report.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kDayS = 86'400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The wall clock of `zone` at `ms`, as milliseconds since 1970-01-01T00:00 local.
int64_t LocalMs(const TimeZone& zone, TimestampMs ms) {
  return ms + int64_t{zone.OffsetAt(FloorDiv(ms, 1000))} * 1000;
}

// The first local midnight of `zone` after `ms`. A midnight that does not occur (clocks set
// forward over it) is read as TimeZone::LocalToUtc reads it, which can never be at or before
// `ms`... except in a zone that skips a whole day (Samoa, 2011-12-30): then the next one.
TimestampMs NextLocalMidnight(const TimeZone& zone, TimestampMs ms) {
  int64_t midnight_s = (FloorDiv(LocalMs(zone, ms), kDayMs) + 1) * kDayS;
  for (int guard = 0; guard < 3; ++guard, midnight_s += kDayS) {
    const TimestampMs at = zone.LocalToUtc(midnight_s) * 1000;
    if (at > ms) return at;
  }
  return ms + kDayMs;
}

// "2026-10-16 06:36", with ":SS" when `seconds`.
std::string LocalMinute(TimestampMs local_ms, bool seconds) {
  std::string s = FormatUtcSeconds(local_ms);
  return seconds ? s : s.substr(0, s.size() - 3);
}

}  // namespace

std::optional<size_t> PeriodDayAt(const std::vector<PeriodDay>& days, TimestampMs t) {
  auto day = std::upper_bound(days.begin(), days.end(), t,
                              [](TimestampMs at, const PeriodDay& d) { return at < d.start_ms; });
  if (day == days.begin() || t >= (day - 1)->end_ms) return std::nullopt;
  return static_cast<size_t>(day - 1 - days.begin());
}

std::vector<PeriodDay> PeriodDays(TimestampMs from_ms, TimestampMs to_ms,
                                  const std::optional<TimeZone>& zone) {
  std::vector<PeriodDay> days;
  for (TimestampMs start = from_ms; start < to_ms && days.size() < kMaxPeriodDays;) {
    const TimestampMs end =
        std::min(zone ? NextLocalMidnight(*zone, start) : start + kDayMs, to_ms);
    days.push_back({static_cast<int>(days.size()) + 1, start, end});
    start = end;
  }
  return days;
}

std::string DayDate(TimestampMs start_ms, const std::optional<TimeZone>& zone) {
  return FormatUtcDate(zone ? LocalMs(*zone, start_ms) : start_ms);
}

std::string DayLabel(const PeriodDay& day, const std::optional<TimeZone>& zone) {
  const TimestampMs start = zone ? LocalMs(*zone, day.start_ms) : day.start_ms;
  const TimestampMs end = zone ? LocalMs(*zone, day.end_ms) : day.end_ms;
  const bool seconds = start % 60'000 != 0 || end % 60'000 != 0;
  return fmt::format("Day {} — {} → {} {}", day.number, LocalMinute(start, seconds),
                     LocalMinute(end, seconds), zone ? zone->name() : std::string("UTC"));
}

const char* DayStatusName(DayStatus status) {
  switch (status) {
    case DayStatus::kOnTrack:
      return "on track";
    case DayStatus::kAtRisk:
      return "at risk";
    case DayStatus::kFailed:
      return "failed";
  }
  return "at risk";
}

namespace {
bool ProjectedFail(const Report& r) {
  return r.projection && r.projection->projected_verdict == Verdict::kFail;
}
}  // namespace

DayStatus StatusOf(const Report& r) {
  bool not_yet = ProjectedFail(r);
  for (const Criterion& c : r.criteria) {
    if (c.state == CriterionState::kFailed) return DayStatus::kFailed;
    not_yet = not_yet || c.state == CriterionState::kNotYet;
  }
  return not_yet ? DayStatus::kAtRisk : DayStatus::kOnTrack;
}

std::vector<std::string> StatusReasons(const Report& r) {
  const DayStatus status = StatusOf(r);
  std::vector<std::string> reasons;
  if (status == DayStatus::kOnTrack) return reasons;
  const CriterionState wanted =
      status == DayStatus::kFailed ? CriterionState::kFailed : CriterionState::kNotYet;
  for (const Criterion& c : r.criteria) {
    if (c.state == wanted) reasons.push_back(c.detail);
  }
  if (status == DayStatus::kAtRisk && ProjectedFail(r)) {
    reasons.push_back(fmt::format("at the current burn rate the period ends with {} down of {} "
                                  "allowed",
                                  HumanDurationMs(r.projection->projected_down_ms),
                                  HumanDurationMs(r.budget.allowed_ms)));
  }
  return reasons;
}

}  // namespace obsmon
