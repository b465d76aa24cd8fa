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
std::optional<TimestampMs> ParseTimestamp(std::string_view text);

}  // namespace obsmon
