// Timestamps as users type them and as reports print them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace obsmon {

// RFC 3339 in UTC with milliseconds when not whole seconds: "2025-10-14T12:00:00Z",
// "2025-10-14T12:00:00.250Z".
std::string FormatRfc3339(TimestampMs ms);

// Accepts what the Prometheus HTTP API accepts: RFC 3339 ("2025-10-14T12:00:00Z",
// "2025-10-14T12:00:00.5+02:00") or a Unix timestamp in seconds, possibly fractional
// ("1760443200", "1760443200.5"); also a plain date "2025-10-14" (midnight UTC).
// Refuses an instant RFC 3339 cannot write in UTC (before 0000-01-01T00:00:00Z or after
// kLatestRfc3339Ms, e.g. "9999-12-31T23:00:00-05:00"): read back, it printed as "10000-01-01T..."
// and was refused (fresh eyes, stop 67).
std::optional<TimestampMs> ParseTimestamp(std::string_view text);

// The first and last instants RFC 3339 writes in UTC: 0000-01-01T00:00:00.000Z and
// 9999-12-31T23:59:59.999Z.
inline constexpr TimestampMs kEarliestRfc3339Ms = -62'167'219'200'000;
inline constexpr TimestampMs kLatestRfc3339Ms = 253'402'300'799'999;

}  // namespace obsmon
