// The days of an observation period, as the promotion issue counts them ("Day 1" ... "Day 7"),
// and the one-word status a day's comment ends with.
//
// By default Day N is the N-th 24 h from the window's start: [from + (N-1) x 24 h, from + N x 24 h),
// the last one clipped to the window's end. With a time zone, days are the zone's calendar days:
// Day 1 runs from the start to the next local midnight, the next ones from midnight to midnight
// (23 h or 25 h on the days the clocks change), the last one to the window's end.
// Pure functions: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time_zone.h"

namespace obsmon {

struct Report;
struct DaySummary;

// One day of a window, whole (not clipped to "now").
struct PeriodDay {
  int number = 0;  // 1-based
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
};

// The days of [from_ms, to_ms) (empty when to <= from), as described above; `zone` nullopt for
// 24 h days from the start. At most kMaxPeriodDays: a longer window keeps its first days.
inline constexpr size_t kMaxPeriodDays = 4000;
std::vector<PeriodDay> PeriodDays(TimestampMs from_ms, TimestampMs to_ms,
                                  const std::optional<TimeZone>& zone);

// The index into `days` (ordered, contiguous, as PeriodDays returns them) of the day holding
// `t`; nullopt when none does.
std::optional<size_t> PeriodDayAt(const std::vector<PeriodDay>& days, TimestampMs t);

// "2026-10-16" (the local date of the day's start) and
// "Day 3 — 2026-10-16 06:36 → 2026-10-17 06:36 UTC" (local times and the zone's name with a
// zone; seconds only when the boundary has them).
std::string DayDate(TimestampMs start_ms, const std::optional<TimeZone>& zone);
std::string DayLabel(const PeriodDay& day, const std::optional<TimeZone>& zone);

// How a day's comment says the period stands at the end of that day (docs/report.md, "Days"):
//   failed   - some criterion is kFailed (the rest of the window cannot undo it);
//   at risk  - some criterion is kNotYet (not met so far), or the burn projection says FAIL;
//   on track - otherwise.
enum class DayStatus { kOnTrack, kAtRisk, kFailed };
// "on track", "at risk", "failed".
const char* DayStatusName(DayStatus status);
DayStatus StatusOf(const Report& report);
// Why the status is what it is: the failed or not-met criteria's details and, when it is the
// reason, the projection. Empty when on track.
std::vector<std::string> StatusReasons(const Report& report);

}  // namespace obsmon
