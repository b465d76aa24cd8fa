#include "core/labels.h"

#include <algorithm>
#include <functional>

#include "core/heap_size.h"

namespace obsmon {

namespace {
const std::string kEmpty;
constexpr size_t kScanLimit = 8;  // Get scans sets up to this size, else bisects
}

Labels::Labels(std::initializer_list<Pair> pairs) {
  Reserve(pairs.size());
  for (const auto& p : pairs) Set(p.first, p.second);
}

Labels::Labels(std::vector<Pair> pairs) {
  Reserve(pairs.size());
  for (auto& p : pairs) Set(p.first, p.second);
}

std::vector<Labels::Pair>& Labels::MutablePairs() {
  // use_count() is exact here: another thread may copy this set only through another Labels
  // object that shares it (count >= 2), never through this one while it changes.
  if (!data_ || data_.use_count() > 1) {
    auto own = std::make_shared<Data>();
    if (data_) own->pairs = data_->pairs;
    data_ = std::move(own);
  } else {
    // The last other owner may have read the pairs on its thread just before it let them go.
    // use_count() is a relaxed load: the fence orders those reads before the writes below, as
    // the release in that owner's decrement promises (fresh eyes, stop 54: a data race without).
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  // Made as a non-const Data just above or by an earlier call, so it may be changed.
  Data& data = const_cast<Data&>(*data_);
  data.hash.store(0, std::memory_order_relaxed);
  return data.pairs;
}

void Labels::SetAllowingEmpty(std::string_view name, std::string_view value) {
  std::vector<Pair>& pairs = MutablePairs();
  auto it = std::lower_bound(pairs.begin(), pairs.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  if (it != pairs.end() && it->first == name) {
    it->second = std::string(value);
  } else {
    pairs.insert(it, Pair(std::string(name), std::string(value)));
  }
}

void Labels::Set(std::string_view name, std::string_view value) {
  // Finding nothing to change is common (removing an absent label, setting the same value):
  // it leaves a shared set shared. An empty value removes the label even when its value is
  // empty (an annotation's, set by SetAllowingEmpty: fresh eyes, stop 54).
  const std::vector<Pair>& now = pairs();
  auto found = std::lower_bound(now.begin(), now.end(), name,
                                [](const Pair& p, std::string_view n) { return p.first < n; });
  const bool present = found != now.end() && found->first == name;
  if (present ? !value.empty() && found->second == value : value.empty()) return;
  const auto at = found - now.begin();
  if (!data_ || data_.use_count() > 1) {
    // Shared (or empty): build the changed copy in one pass, not a copy then a shift of every
    // pair after the change (rules drop __name__, the first pair, from each series they read).
    auto own = std::make_shared<Data>();
    own->pairs.reserve(now.size() + 1);
    own->pairs.insert(own->pairs.end(), now.begin(), found);
    if (!value.empty()) own->pairs.emplace_back(std::string(name), std::string(value));
    own->pairs.insert(own->pairs.end(), present ? found + 1 : found, now.end());
    data_ = std::move(own);
    return;
  }
  std::vector<Pair>& pairs = MutablePairs();
  auto it = pairs.begin() + at;
  if (present) {
    if (value.empty()) {
      pairs.erase(it);
    } else {
      it->second = std::string(value);
    }
    return;
  }
  pairs.insert(it, Pair(std::string(name), std::string(value)));
}

void Labels::Remove(std::string_view name) { Set(name, ""); }

void Labels::Reserve(size_t n) {
  if (n <= pairs().capacity()) return;
  MutablePairs().reserve(n);
}

const std::string& Labels::Get(std::string_view name) const {
  const std::vector<Pair>& all = pairs();
  // Label sets are small, and Get is on the rule engine's hot path (each selector's matchers on
  // each series, each aggregation's group key): a scan that compares lengths first costs less
  // than a binary search of three-way string comparisons. Names are unique: the same answer.
  if (all.size() <= kScanLimit) {
    for (const auto& [n, v] : all) {
      if (n == name) return v;
    }
    return kEmpty;
  }
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  return (it != all.end() && it->first == name) ? it->second : kEmpty;
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
  const std::vector<Pair>& all = pairs();
  if (all.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < all.size(); ++i) {
    if (i) out += ',';
    out += all[i].first;
    out += "=\"";
    out += EscapeLabelValue(all[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

size_t Labels::HeapBytes() const {
  if (!data_) return 0;
  // make_shared: the block holds the count (16 bytes) and the Data.
  size_t n = AllocatedBytes(16 + sizeof(Data)) + VectorHeapBytes(data_->pairs);
  for (const auto& [k, v] : data_->pairs) n += StringHeapBytes(k) + StringHeapBytes(v);
  return n;
}

size_t Labels::Hash() const {
  if (data_) {
    if (size_t known = data_->hash.load(std::memory_order_relaxed)) return known;
  }
  size_t h = 1469598103934665603ull;
  std::hash<std::string> hs;
  for (const auto& [k, v] : pairs()) {
    h = (h ^ hs(k)) * 1099511628211ull;
    h = (h ^ hs(v)) * 1099511628211ull;
  }
  // Racing threads store the same value. A hash of 0 is computed again each time.
  if (data_) data_->hash.store(h, std::memory_order_relaxed);
  return h;
}

}  // namespace obsmon
