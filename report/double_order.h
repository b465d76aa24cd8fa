// Doubles as unsigned integers of the same order, for exact selections that search or bucket
// values by their bit patterns (percentiles.cc, latency_selection.cc).
#pragma once

#include <bit>
#include <cstdint>

namespace obsmon {

// Maps doubles to unsigned integers of the same order (negatives below positives, -0 below +0).
// The top bits of the key are a log-spaced bucket: sign, exponent, then the leading mantissa bits.
inline uint64_t OrderKey(double v) {
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  return (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
}

// The inverse of OrderKey.
inline double FromOrderKey(uint64_t key) {
  return std::bit_cast<double>((key >> 63) ? key & ~(uint64_t{1} << 63) : ~key);
}

}  // namespace obsmon
