#include "core/time_format.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace obsmon {

namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ReadInt(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  auto r = std::from_chars(s.data() + pos, s.data() + pos + len, *out);
  return r.ec == std::errc();
}

}  // namespace

std::string FormatRfc3339(TimestampMs ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day ymd(day);
  const int64_t in_day = ms - duration_cast<milliseconds>(day.time_since_epoch()).count();
  const int h = static_cast<int>(in_day / 3'600'000);
  const int mi = static_cast<int>(in_day / 60'000 % 60);
  const int s = static_cast<int>(in_day / 1000 % 60);
  const int frac = static_cast<int>(in_day % 1000);
  char buf[40];
  if (frac == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), h, mi, s);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), h, mi, s, frac);
  }
  return buf;
}

std::optional<TimestampMs> ParseTimestamp(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Unix seconds, possibly fractional.
  if (text.find('-') == std::string_view::npos || text.front() == '-') {
    double seconds = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(seconds) ||
        seconds < 0 || seconds > 253402300799.0) {
      return std::nullopt;
    }
    return static_cast<TimestampMs>(std::llround(seconds * 1000));
  }
  int y, mo, d;
  if (!ReadInt(text, 0, 4, &y) || text.size() < 10 || text[4] != '-' ||
      !ReadInt(text, 5, 2, &mo) || text[7] != '-' || !ReadInt(text, 8, 2, &d)) {
    return std::nullopt;
  }
  // A day the month has not (2026-02-30) is refused, not carried into the next month.
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo),
                                         std::chrono::day(d)};
  if (mo < 1 || mo > 12 || d < 1 || !date.ok()) return std::nullopt;
  int64_t ms = DaysFromCivil(y, mo, d) * 86'400'000;
  if (text.size() == 10) return ms;
  int h, mi, s;
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !ReadInt(text, 11, 2, &h) || text[13] != ':' || !ReadInt(text, 14, 2, &mi) ||
      text[16] != ':' || !ReadInt(text, 17, 2, &s)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || s > 60) return std::nullopt;
  ms += (h * 3600LL + mi * 60LL + s) * 1000;
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t frac = 0, scale = 1000;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (scale > 1) {
        frac = frac * 10 + (text[pos] - '0');
        scale /= 10;
      }
      ++pos;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    ms += frac * scale;
  }
  if (pos >= text.size()) return std::nullopt;
  const auto writable = [](int64_t t) -> std::optional<TimestampMs> {
    if (t < kEarliestRfc3339Ms || t > kLatestRfc3339Ms) return std::nullopt;
    return t;
  };
  if (text[pos] == 'Z' || text[pos] == 'z') {
    return pos + 1 == text.size() ? writable(ms) : std::nullopt;  // 9999-12-31T23:59:60Z
  }
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  int oh, om;
  if (text.size() != pos + 6 || !ReadInt(text, pos + 1, 2, &oh) || text[pos + 3] != ':' ||
      !ReadInt(text, pos + 4, 2, &om) || oh > 23 || om > 59) {
    return std::nullopt;
  }
  const int64_t offset = (oh * 60LL + om) * 60'000;
  return writable(text[pos] == '+' ? ms - offset : ms + offset);
}

}  // namespace obsmon
