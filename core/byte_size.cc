#include "core/byte_size.h"

#include <array>
#include <utility>

namespace obsmon {

namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 62;

constexpr std::array<std::pair<std::string_view, int>, 9> kUnits = {{
    {"B", 0}, {"KB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40},
    {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}}};

}  // namespace

std::optional<int64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  int64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    // Checked before the step: twenty digits overflowed int64 and wrapped, so 2^64 read as 0
    // (fresh eyes, stop 64: `output_buffer: 18446744073709551616` turned the buffer off).
    const int digit = text[i] - '0';
    if (n > (kMaxBytes - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = text.substr(i);
  if (unit.empty()) return n;
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (n > (kMaxBytes >> shift)) return std::nullopt;
    return n << shift;
  }
  return std::nullopt;
}

std::optional<int64_t> ByteSizeInRange(ConfigNode& node, const std::string& key, int64_t min,
                                       int64_t max) {
  auto text = node.String(key);
  if (!text) return std::nullopt;
  auto bytes = ParseByteSize(*text);
  if (!bytes) {
    node.ErrorAt(key, key + " must be a size such as 4MiB, 512KB or 1048576 (bytes), got '" +
                          *text + "'");
    return std::nullopt;
  }
  if (*bytes < min || *bytes > max) {
    node.ErrorAt(key, key + " must be between " + FormatByteSize(min) + " and " +
                          FormatByteSize(max) + ", got '" + *text + "'");
    return std::nullopt;
  }
  return bytes;
}

std::string FormatByteSize(int64_t bytes) {
  for (auto [name, shift] : {std::pair{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}) {
    const int64_t unit = int64_t{1} << shift;
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + name;
  }
  return std::to_string(bytes) + "B";
}

}  // namespace obsmon
