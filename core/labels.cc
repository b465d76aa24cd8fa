#include "core/labels.h"

#include <algorithm>
#include <functional>

namespace obsmon {

namespace {
const std::string kEmpty;
constexpr size_t kScanLimit = 8;  // Get scans sets up to this size, else bisects
}

Labels::Labels(std::initializer_list<Pair> pairs) {
  for (const auto& p : pairs) Set(p.first, p.second);
}

Labels::Labels(std::vector<Pair> pairs) {
  for (auto& p : pairs) Set(p.first, p.second);
}

void Labels::SetAllowingEmpty(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  if (it != pairs_.end() && it->first == name) {
    it->second = std::string(value);
  } else {
    pairs_.insert(it, Pair(std::string(name), std::string(value)));
  }
}

void Labels::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  if (it != pairs_.end() && it->first == name) {
    if (value.empty()) {
      pairs_.erase(it);
    } else {
      it->second = std::string(value);
    }
    return;
  }
  if (!value.empty()) pairs_.insert(it, Pair(std::string(name), std::string(value)));
}

void Labels::Remove(std::string_view name) { Set(name, ""); }

const std::string& Labels::Get(std::string_view name) const {
  // Label sets are small, and Get is on the rule engine's hot path (each selector's matchers on
  // each series, each aggregation's group key): a scan that compares lengths first costs less
  // than a binary search of three-way string comparisons. Names are unique: the same answer.
  if (pairs_.size() <= kScanLimit) {
    for (const auto& [n, v] : pairs_) {
      if (n == name) return v;
    }
    return kEmpty;
  }
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  return (it != pairs_.end() && it->first == name) ? it->second : kEmpty;
}

bool Labels::Has(std::string_view name) const { return !Get(name).empty(); }

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Labels::ToString() const {
  if (pairs_.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < pairs_.size(); ++i) {
    if (i) out += ',';
    out += pairs_[i].first;
    out += "=\"";
    out += EscapeLabelValue(pairs_[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

size_t Labels::Hash() const {
  size_t h = 1469598103934665603ull;
  std::hash<std::string> hs;
  for (const auto& [k, v] : pairs_) {
    h = (h ^ hs(k)) * 1099511628211ull;
    h = (h ^ hs(v)) * 1099511628211ull;
  }
  return h;
}

}  // namespace obsmon
