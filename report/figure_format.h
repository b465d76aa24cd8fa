// How figures are written in every view of the report (its criteria details, the renderers, the
// CLI): one spelling of a time, a percentage or a latency, so that all views of a figure agree.
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"

namespace obsmon {

// "2025-10-14T00:00:00.000Z" (RFC 3339, UTC, milliseconds). Negative times are fine.
std::string FormatRfc3339Ms(TimestampMs ms);
// "2025-10-14 10:05:00" (UTC, whole seconds): shorter, for tables.
std::string FormatUtcSeconds(TimestampMs ms);
// "2025-10-14": the UTC date of `ms`.
std::string FormatUtcDate(TimestampMs ms);
// A ratio as a percentage with three decimals, rounded DOWN so a figure below a threshold never
// prints as meeting it: 0.99949 -> "99.949 %", 1 -> "100.000 %"; nullopt -> "n/a".
std::string FormatPercent(std::optional<double> ratio);
// Seconds as milliseconds with one decimal: 0.0123 -> "12.3 ms".
std::string FormatLatency(double seconds);
// HumanDurationMs with a sign for negative values: -90000 -> "-1m 30s".
std::string FormatSignedDuration(int64_t ms);

}  // namespace obsmon
