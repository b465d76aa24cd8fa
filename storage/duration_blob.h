// Private to storage/: the encoding of `run_durations_hourly.durations` (docs/storage.md): the
// values one after another as IEEE-754 float64, little-endian, 8 bytes each, whatever the host's
// byte order, so a database file means the same on every machine.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace obsmon::storage {

std::string EncodeDurations(std::span<const double> seconds);

// Appends the `count` values of `blob` to `out`; false (and `out` unchanged) when the blob does
// not hold exactly `count` values (a damaged or hand-edited row: the caller reads raw runs).
[[nodiscard]] bool DecodeDurations(const void* blob, size_t bytes, int64_t count, std::vector<double>* out);

}  // namespace obsmon::storage
