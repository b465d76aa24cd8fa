// Durations as Prometheus writes them: "500ms", "15s", "2m", "1h30m", "7d", "1w".
#pragma once

#include <cstdint>
#include <climits>
#include <optional>
#include <string>
#include <string_view>

namespace obsmon {

// The longest duration obsmon accepts: Prometheus's own limit (an int64 of nanoseconds, about
// 292 years), so that any parsed duration converts to std::chrono::nanoseconds without overflow.
inline constexpr int64_t kMaxDurationMs = INT64_MAX / 1'000'000;

// Parses a Prometheus duration into milliseconds. Units: ms, s, m, h, d (24h), w (7d), y (365d),
// largest first, each at most once. Returns nullopt for anything else ("", "5", "1.5h", "-1s")
// and for durations over kMaxDurationMs.
std::optional<int64_t> ParseDurationMs(std::string_view text);

// The shortest Prometheus form of `ms`: 90000 -> "1m30s", 0 -> "0s".
std::string FormatDurationMs(int64_t ms);

// A human form for reports: "50m 24s", "2h 03m", "1.2s", "340ms".
std::string HumanDurationMs(int64_t ms);

}  // namespace obsmon
