#include "core/recurrence.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace obsmon {
namespace {

constexpr int64_t kDayS = 86'400;
constexpr int64_t kDayMs = kDayS * 1000;
constexpr std::array<const char*, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr std::array<const char*, 7> kFullDays = {"sunday",   "monday", "tuesday", "wednesday",
                                                  "thursday", "friday", "saturday"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits on runs of spaces.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// "02:00", "2:00", "23:59".
std::optional<int> ParseClock(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
    return std::nullopt;
  }
  int h = 0, m = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == colon) continue;
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    (i < colon ? h : m) = (i < colon ? h : m) * 10 + (s[i] - '0');
  }
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::optional<int> ParseDay(std::string_view s) {
  const std::string l = Lower(s);
  for (int i = 0; i < 7; ++i) {
    if (l == kDays[i] || l == kFullDays[i]) return i;
  }
  return std::nullopt;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int64_t Recurrence::IntervalMs() const { return every == Every::kDay ? kDayMs : 7 * kDayMs; }

std::optional<Recurrence> ParseWeekly(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  const auto w = Words(text);
  if (w.size() != 2) return std::nullopt;
  auto day = ParseDay(w[0]);
  auto minute = ParseClock(w[1]);
  if (!day || !minute) return std::nullopt;
  return Recurrence{Recurrence::Every::kWeek, *day, *minute};
}

std::optional<Recurrence> ParseDaily(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  const auto w = Words(text);
  if (w.size() != 1) return std::nullopt;
  auto minute = ParseClock(w[0]);
  if (!minute) return std::nullopt;
  return Recurrence{Recurrence::Every::kDay, 0, *minute};
}

std::optional<Recurrence> ParseRecurrence(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  const auto w = Words(text);
  if (w.empty()) return std::nullopt;
  const std::string kind = Lower(w[0]);
  const std::string_view rest =
      text.substr(static_cast<size_t>(w[0].data() - text.data()) + w[0].size());
  if (kind == "weekly") return ParseWeekly(rest);
  if (kind == "daily") return ParseDaily(rest);
  return std::nullopt;
}

std::string FormatRecurrence(const Recurrence& r) {
  char clock[8];
  std::snprintf(clock, sizeof clock, "%02d:%02d", (r.minute_of_day / 60) % 24,
                r.minute_of_day % 60);
  if (r.every == Recurrence::Every::kDay) return std::string("daily ") + clock;
  return std::string("weekly ") + kDays[static_cast<size_t>(r.weekday) % 7] + " " + clock;
}

Result<std::vector<Occurrence>> ExpandRecurrence(const Recurrence& r, const TimeZone& zone,
                                                 int64_t duration_ms, TimestampMs rule_from_ms,
                                                 TimestampMs rule_to_ms, TimestampMs from_ms,
                                                 TimestampMs to_ms) {
  if (duration_ms <= 0 || duration_ms >= r.IntervalMs()) {
    return Status::InvalidArgument(r.every == Recurrence::Every::kDay
                                       ? "a daily window must last more than 0 and less than a day"
                                       : "a weekly window must last more than 0 and less than a "
                                         "week");
  }
  std::vector<Occurrence> out;
  // Starts that matter: in [rule_from, rule_to) and in (from - duration, to).
  // Instants from year 0 to year 10000 only, so that nothing below overflows.
  constexpr TimestampMs kMin = -62'167'219'200'000, kMax = 253'402'300'800'000;
  from_ms = std::clamp(from_ms, kMin, kMax);
  to_ms = std::clamp(to_ms, kMin, kMax);
  const TimestampMs lo = std::max(rule_from_ms, from_ms - duration_ms + 1);
  const TimestampMs hi = std::min(rule_to_ms, to_ms);
  if (lo >= hi) return out;
  // Local days around them (a local day is within +-26 h of the UTC one).
  const int64_t first_day = FloorDiv(lo, kDayMs) - 2;
  const int64_t last_day = FloorDiv(hi, kDayMs) + 2;
  const int64_t days = last_day - first_day;
  const int64_t per_day_bound = r.every == Recurrence::Every::kDay ? days : days / 7 + 1;
  if (per_day_bound > static_cast<int64_t>(kMaxOccurrences) + 8) {
    return Status::InvalidArgument("a recurring window over " + std::to_string(days) +
                                   " days has more than " + std::to_string(kMaxOccurrences) +
                                   " occurrences; ask for a shorter time");
  }
  for (int64_t day = first_day; day <= last_day; ++day) {
    if (r.every == Recurrence::Every::kWeek && ((day % 7) + 7 + 4) % 7 != r.weekday) continue;
    const int64_t local_s = day * kDayS + int64_t{r.minute_of_day} * 60;
    const TimestampMs start = zone.LocalToUtc(local_s) * 1000;
    if (start < lo || start >= hi) continue;
    out.push_back({start, start + duration_ms});
  }
  std::sort(out.begin(), out.end(),
            [](const Occurrence& a, const Occurrence& b) { return a.start_ms < b.start_ms; });
  return out;
}

}  // namespace obsmon
