#include "core/duration.h"

#include <array>
#include <cstdio>
#include <limits>

namespace obsmon {

namespace {
struct Unit {
  std::string_view name;
  int64_t ms;
};
// Order matters: "ms" must be tried before "m", and units must appear largest first.
constexpr std::array<Unit, 7> kUnits = {{{"y", 365LL * 86400000},
                                         {"w", 7LL * 86400000},
                                         {"d", 86400000},
                                         {"h", 3600000},
                                         {"m", 60000},
                                         {"s", 1000},
                                         {"ms", 1}}};

int UnitIndex(std::string_view text, size_t pos, size_t* len) {
  if (text.substr(pos, 2) == "ms") {
    *len = 2;
    return 6;
  }
  for (int i = 0; i < 6; ++i) {
    if (text.substr(pos, 1) == kUnits[i].name) {
      *len = 1;
      return i;
    }
  }
  return -1;
}
}  // namespace

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return 0;
  int64_t total = 0;
  int last_unit = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    int64_t number = 0;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const int digit = text[pos] - '0';
      if (number > (kMaxDurationMs - digit) / 10) return std::nullopt;  // no signed overflow
      number = number * 10 + digit;
      ++pos;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    size_t len = 0;
    int unit = UnitIndex(text, pos, &len);
    if (unit < 0 || unit <= last_unit) return std::nullopt;
    // Checked before each step (signed overflow is undefined): the sum stays <= kMaxDurationMs.
    if (number > kMaxDurationMs / kUnits[unit].ms) return std::nullopt;
    if (number * kUnits[unit].ms > kMaxDurationMs - total) return std::nullopt;
    total += number * kUnits[unit].ms;
    last_unit = unit;
    pos += len;
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  // The magnitude as unsigned: -INT64_MIN does not fit in int64_t.
  uint64_t left = static_cast<uint64_t>(ms);
  if (ms < 0) {
    out = "-";
    left = 0 - left;
  }
  for (const auto& unit : kUnits) {
    const auto unit_ms = static_cast<uint64_t>(unit.ms);
    // Years and weeks only when they divide what is left, as Prometheus's model.Duration
    // prints them ("8d", not "1w1d"; "14d2m", not "2w2m"): promtool's messages quote times so
    // (fresh eyes, stop 59: `obsmon test rules` printed "1w1h" where promtool prints "7d1h").
    const bool exact_only = unit.name == "y" || unit.name == "w";
    if (exact_only && left % unit_ms != 0) continue;
    if (left >= unit_ms) {
      out += std::to_string(left / unit_ms);
      out += unit.name;
      left %= unit_ms;
    }
  }
  return out;
}

std::string HumanDurationMs(int64_t ms) {
  char buf[64];
  if (ms < 0) ms = 0;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms % 60'000 / 1000));
  } else if (ms < 86'400'000) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms % 3'600'000 / 60'000));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms % 86'400'000 / 3'600'000));
  }
  return buf;
}

}  // namespace obsmon
