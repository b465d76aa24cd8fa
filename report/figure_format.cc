// How figures are written wherever the report shows them.
#include "report/figure_format.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>

#include "core/duration.h"

namespace obsmon {
namespace {

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, milli;
};

// Howard Hinnant's civil_from_days: exact for any day count, no time zone involved.
Civil ToCivil(TimestampMs ms) {
  int64_t days = ms / 86'400'000;
  int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  days += 719'468;
  const int64_t era = (days >= 0 ? days : days - 146'096) / 146'097;
  const unsigned doe = static_cast<unsigned>(days - era * 146'097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  Civil c;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2 ? 1 : 0);
  c.hour = static_cast<unsigned>(rem / 3'600'000);
  c.minute = static_cast<unsigned>(rem / 60'000 % 60);
  c.second = static_cast<unsigned>(rem / 1000 % 60);
  c.milli = static_cast<unsigned>(rem % 1000);
  return c;
}

}  // namespace

std::string FormatRfc3339Ms(TimestampMs ms) {
  Civil c = ToCivil(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, c.hour,
                     c.minute, c.second, c.milli);
}

std::string FormatUtcSeconds(TimestampMs ms) {
  Civil c = ToCivil(ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour,
                     c.minute, c.second);
}

std::string FormatUtcDate(TimestampMs ms) {
  Civil c = ToCivil(ms);
  return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::string FormatPercent(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  // Round down to 1/1000 of a percent. The tiny epsilon keeps ratios that are exactly a
  // threshold (0.995 is 0.99499999... in binary) from printing one step below it.
  double thousandths = std::floor(*ratio * 100'000.0 + 1e-6);
  return fmt::format("{:.3f} %", thousandths / 1000.0);
}

std::string FormatLatency(double seconds) { return fmt::format("{:.1f} ms", seconds * 1000.0); }

std::string FormatSignedDuration(int64_t ms) {
  return ms < 0 ? "-" + HumanDurationMs(-ms) : HumanDurationMs(ms);
}

}  // namespace obsmon
