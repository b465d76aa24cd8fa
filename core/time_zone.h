// Time zones of the system's tz database, for maintenance windows written in local time
// ("every Sunday 02:00 Europe/Berlin"). libstdc++ 12 (Debian 12's GCC) has no
// std::chrono::tzdb / zoned_time, and localtime_r/mktime under a changed TZ is process-wide
// state (not thread-safe), so obsmon reads the zone's TZif file (RFC 8536) itself: the
// transitions it lists, and its footer's POSIX TZ rule for instants after the last one.
// A TimeZone is immutable once built: thread-safe to share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace obsmon {

namespace detail {
// A POSIX TZ rule as in a TZif footer ("CET-1CEST,M3.5.0,M10.5.0/3"), offsets east-positive.
struct PosixTzRule {
  struct Date {
    char kind = 'M';  // 'M' (Mm.w.d), 'J' (Jn, no Feb 29) or 'n' (zero-based day, with Feb 29)
    int month = 0, week = 0, weekday = 0;  // M: month 1-12, week 1-5 (5 = last), day 0 = Sunday
    int day = 0;                           // J: 1-365, n: 0-365
    int32_t time_s = 7200;                 // local time of day of the change, -167h..167h
  };
  int32_t std_offset_s = 0;
  bool has_dst = false;
  int32_t dst_offset_s = 0;
  Date dst_start, dst_end;
};
// Parses a POSIX TZ string; nullopt when it is not one (or DST without its rules).
std::optional<PosixTzRule> ParsePosixTz(std::string_view text);
// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
int64_t DaysFromCivil(int64_t year, int month, int day);
}  // namespace detail

class TimeZone {
 public:
  static constexpr const char* kDefaultDir = "/usr/share/zoneinfo";
  // TZif files are 0.1-4 KB; anything past this is not one (bounded read).
  static constexpr size_t kMaxFileBytes = 256 * 1024;

  // UTC (offset 0 always).
  static TimeZone Utc();
  // Loads zone `name` ("Europe/Berlin", "UTC") from `dir`. InvalidArgument for a name that is not
  // a zone name (empty, absolute, with "." segments or characters other than letters, digits,
  // '/', '_', '-', '+', longer than 64) and for a file that is not valid TZif (or lists leap
  // seconds: the "right/" zones count time differently from Unix time); NotFound for no such zone.
  static Result<TimeZone> Load(std::string_view name, const std::string& dir = kDefaultDir);
  // Parses the bytes of a TZif file (versions 1 to 4). Every count and index is checked against
  // the input: hostile bytes give InvalidArgument, never a read out of bounds.
  static Result<TimeZone> Parse(std::string_view tzif, std::string name);

  const std::string& name() const { return name_; }

  // Offset from UTC in seconds (east positive) in force at `utc_s`, seconds since the epoch.
  int32_t OffsetAt(int64_t utc_s) const;

  // The instant (seconds since the epoch) at which the wall clock of this zone reads `local_s`
  // (seconds since 1970-01-01T00:00 local). As RFC 5545 (iCalendar, 3.3.5) decides it:
  // - a local time that occurs twice (clocks set back: 02:30 on 2026-10-25 in Berlin) is its
  //   FIRST occurrence (02:30 CEST, 00:30 UTC);
  // - a local time that does not occur (clocks set forward: 02:30 on 2026-03-29 in Berlin) is
  //   read with the offset in force BEFORE the gap (02:30 CET = 01:30 UTC, which the clock shows
  //   as 03:30 CEST): the window starts as far into the day as it would have without the jump.
  int64_t LocalToUtc(int64_t local_s) const;

 private:
  int32_t FooterOffsetAt(int64_t utc_s) const;

  std::string name_;
  std::vector<int64_t> transitions_;           // UTC seconds, strictly ascending
  std::vector<int32_t> offset_after_;          // offset in force from transitions_[i] on
  int32_t initial_offset_ = 0;                 // before the first transition (RFC 8536: type 0)
  std::optional<detail::PosixTzRule> footer_;  // after the last transition, when given
};

}  // namespace obsmon
