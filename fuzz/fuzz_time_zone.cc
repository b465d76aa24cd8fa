// Time zone files and recurring-window specs (core/time_zone.h, core/recurrence.h). The first
// byte picks: even, the rest is a TZif file (TimeZone::Parse), queried at instants and local
// times spread over +-200 years and expanded as a weekly window; odd, the rest is a POSIX TZ
// string and a recurrence spec. Seeds: this machine's zoneinfo files and hand-written specs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/period_records.h"
#include "core/recurrence.h"
#include "core/time_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  using obsmon::TimeZone;
  if (data[0] % 2 == 0) {
    auto zone = TimeZone::Parse(in, "fuzz");
    if (!zone.ok()) return 0;
    constexpr int64_t kYear = 31'556'952;
    for (int64_t t = -200 * kYear; t <= 200 * kYear; t += kYear / 3 + 12'345) {
      (void)zone->OffsetAt(t);
      (void)zone->LocalToUtc(t);
    }
    const obsmon::Recurrence weekly{obsmon::Recurrence::Every::kWeek, 0, 150};
    auto occurrences =
        obsmon::ExpandRecurrence(weekly, *zone, 3'600'000, 0, obsmon::kMaintenanceNoEndMs,
                                 1'700'000'000'000, 1'800'000'000'000);
    (void)occurrences;
    return 0;
  }
  (void)obsmon::detail::ParsePosixTz(in);
  if (auto r = obsmon::ParseRecurrence(in)) {
    auto again = obsmon::ParseRecurrence(obsmon::FormatRecurrence(*r));
    if (!again || obsmon::FormatRecurrence(*again) != obsmon::FormatRecurrence(*r))
      __builtin_trap();
  }
  return 0;
}
