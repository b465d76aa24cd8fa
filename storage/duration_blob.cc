#include "storage/duration_blob.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace obsmon::storage {

namespace {

constexpr size_t kBytes = sizeof(double);
static_assert(kBytes == 8 && std::numeric_limits<double>::is_iec559);

uint64_t ToLittle(uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  uint64_t r = 0;
  for (size_t i = 0; i < kBytes; ++i) r |= ((v >> (8 * i)) & 0xff) << (8 * (kBytes - 1 - i));
  return r;
}

}  // namespace

std::string EncodeDurations(std::span<const double> seconds) {
  std::string out(seconds.size() * kBytes, '\0');
  for (size_t i = 0; i < seconds.size(); ++i) {
    const uint64_t bits = ToLittle(std::bit_cast<uint64_t>(seconds[i]));
    std::memcpy(out.data() + i * kBytes, &bits, kBytes);
  }
  return out;
}

bool DecodeDurations(const void* blob, size_t bytes, int64_t count, std::vector<double>* out) {
  if (count < 0 || bytes != static_cast<size_t>(count) * kBytes) return false;
  const size_t at = out->size();
  out->resize(at + static_cast<size_t>(count));
  if constexpr (std::endian::native == std::endian::little) {
    if (bytes != 0) std::memcpy(out->data() + at, blob, bytes);
  } else {
    const auto* p = static_cast<const unsigned char*>(blob);
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      uint64_t bits;
      std::memcpy(&bits, p + i * kBytes, kBytes);
      (*out)[at + i] = std::bit_cast<double>(ToLittle(bits));
    }
  }
  return true;
}

}  // namespace obsmon::storage
