// Recurring maintenance windows: "weekly sun 02:00" or "daily 02:00" in a time zone, lasting a
// duration, expanded into concrete UTC intervals over any report window. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "core/time_zone.h"

namespace obsmon {

struct Recurrence {
  enum class Every { kDay, kWeek };
  Every every = Every::kWeek;
  int weekday = 0;        // weekly: 0 = Sunday ... 6 = Saturday
  int minute_of_day = 0;  // local wall-clock time the window starts, 0 .. 1439

  // The time between two starts in local time: 1 or 7 days.
  int64_t IntervalMs() const;
};

// "weekly sun 02:00", "weekly Sunday 2:00", "daily 23:30" (case-insensitive; days by their
// first three letters or full English names). nullopt when it is not one; at most 64 characters.
std::optional<Recurrence> ParseRecurrence(std::string_view text);
// The canonical spelling ParseRecurrence reads back: "weekly sun 02:00", "daily 23:30".
std::string FormatRecurrence(const Recurrence& r);

// A weekly window is written `--weekly "sun 02:00"`, a daily one `--daily 02:00`: the spec
// without its first word.
std::optional<Recurrence> ParseWeekly(std::string_view day_and_time);
std::optional<Recurrence> ParseDaily(std::string_view time);

struct Occurrence {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
};

// At most this many occurrences per expansion: 20 years of a daily window. A longer expansion
// is refused (InvalidArgument), never cut silently.
inline constexpr size_t kMaxOccurrences = 7400;

// The occurrences of `r` in `zone` that START in [rule_from_ms, rule_to_ms) (the window's own
// bounds) and overlap [from_ms, to_ms), oldest first. Each starts where the zone's wall clock
// first reads the local time (TimeZone::LocalToUtc: the first of two on the day clocks go back,
// the pre-gap offset on the day they go forward) and lasts `duration_ms` of elapsed time.
// InvalidArgument when duration_ms is not in (0, interval) or there would be more than
// kMaxOccurrences.
Result<std::vector<Occurrence>> ExpandRecurrence(const Recurrence& r, const TimeZone& zone,
                                                 int64_t duration_ms, TimestampMs rule_from_ms,
                                                 TimestampMs rule_to_ms, TimestampMs from_ms,
                                                 TimestampMs to_ms);

}  // namespace obsmon
