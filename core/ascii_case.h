// ASCII case-insensitive comparison, for protocol tokens (HTTP header names, "chunked", "NaN",
// "Inf"): never locale-dependent, unlike strcasecmp.
#pragma once

#include <string_view>

namespace obsmon {

inline bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace obsmon
