#include "alerts/promql_aggregation.h"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace obsmon::alerts::promql {

namespace {
const std::string kAbsent;

// FNV-1a: keys are a label value or a few (a job name, "200"), short enough that an inline
// loop costs less than std::hash's call into _Hash_bytes; the groups it tells apart are few.
uint64_t KeyHash(std::string_view key) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

bool AggregationGroups::Listed(const std::string& name) const {
  return std::find(e_.grouping.begin(), e_.grouping.end(), name) != e_.grouping.end();
}

void AggregationGroups::Add(const Labels& labels, double v, bool name_dropped) {
  size_t group;
  if (kept_) {
    const size_t at = position_++;
    if (at < positions_.size() && positions_[at].labels.SharesPairsWith(labels)) {
      group = positions_[at].group;
    } else {
      group = GroupOf(labels, name_dropped);
      if (at < positions_.size()) {
        positions_[at] = {labels, group};
      } else {
        positions_.push_back({labels, group});
      }
    }
  } else {
    group = GroupOf(labels, name_dropped);
  }
  Group& g = groups_[group];
  if (g.added_in != evaluation_) {  // its first sample this evaluation
    g.added_in = evaluation_;
    g.value = v;
    g.mean = v;
    g.count = 1;
    order_.push_back(group);
    return;
  }
  Accumulate(g, v);
}

size_t AggregationGroups::GroupOf(const Labels& labels, bool name_dropped) {
  // The value of a `by` label as the aggregated vector has it.
  auto value_of = [&](const std::string& n) -> const std::string& {
    return name_dropped && n == std::string_view("__name__") ? kAbsent : labels.Get(n);
  };
  key_.clear();
  if (e_.without) {
    for (const auto& [n, val] : labels.pairs()) {
      if (n == std::string_view("__name__") || Listed(n)) continue;
      key_.append(n).push_back('\xff');
      key_.append(val).push_back('\xfe');
    }
  } else if (e_.grouping.size() == 1) {
    key_ = value_of(e_.grouping[0]);  // one label: its value alone tells the groups apart
  } else {
    for (const auto& n : e_.grouping) {
      const std::string& val = value_of(n);
      if (val.empty()) continue;
      key_.append(n).push_back('\xff');
      key_.append(val).push_back('\xfe');
    }
  }
  const uint64_t h = KeyHash(key_);
  if (const size_t found = Find(h); found < groups_.size()) return found;
  Group g;
  if (e_.without) {
    g.labels = labels;
    g.labels.Remove("__name__");
    for (const auto& n : e_.grouping) g.labels.Remove(n);
  } else {
    for (const auto& n : e_.grouping) {
      const std::string& val = value_of(n);
      if (!val.empty()) g.labels.Set(n, val);
    }
  }
  Index(h, groups_.size());
  groups_.push_back(std::move(g));
  return groups_.size() - 1;
}

size_t AggregationGroups::Find(uint64_t h) const {
  if (groups_.size() <= kScanGroups) {
    for (size_t i = 0; i < hashes_.size(); ++i) {
      if (hashes_[i] == h && keys_[i] == key_) return i;
    }
    return groups_.size();
  }
  for (auto [it, end] = by_hash_.equal_range(h); it != end; ++it) {
    if (keys_[it->second] == key_) return it->second;
  }
  return groups_.size();
}

void AggregationGroups::Index(uint64_t h, size_t group) {
  keys_.push_back(key_);
  hashes_.push_back(h);
  if (hashes_.size() == kScanGroups + 1) {  // Find stops scanning: index every group so far
    for (size_t i = 0; i < hashes_.size(); ++i) by_hash_.emplace(hashes_[i], i);
  } else if (hashes_.size() > kScanGroups + 1) {
    by_hash_.emplace(h, group);
  }
}

void AggregationGroups::Accumulate(Group& g, double v) const {
  switch (e_.agg) {
    case AggOp::kSum:
      g.value += v;
      break;
    case AggOp::kAvg: {
      g.count++;
      if (std::isinf(g.mean)) {
        if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
        if (!std::isinf(v) && !std::isnan(v)) break;
      }
      g.mean += v / g.count - g.mean / g.count;
      break;
    }
    case AggOp::kMin:
      if (g.value > v || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kMax:
      if (g.value < v || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kCount:
      g.count++;
      break;
  }
}

Vector AggregationGroups::Take() {
  Vector out;
  out.reserve(order_.size());
  for (size_t i : order_) {
    Group& g = groups_[i];
    double v = g.value;
    if (e_.agg == AggOp::kAvg) v = g.mean;
    if (e_.agg == AggOp::kCount) v = g.count;
    out.push_back({kept_ ? g.labels : std::move(g.labels), v});
  }
  if (!kept_) {
    Clear();
  } else if (groups_.size() > 2 * order_.size() + kScanGroups) {
    Clear();  // mostly groups no series goes to any more (their series changed labels)
  } else if (positions_.size() > position_) {
    positions_.resize(position_);  // fewer series than before: the others' labels let go
  }
  StartEvaluation();
  return out;
}

void AggregationGroups::StartEvaluation() {
  order_.clear();
  position_ = 0;
  ++evaluation_;
}

void AggregationGroups::Clear() {
  groups_.clear();
  order_.clear();
  positions_.clear();
  position_ = 0;
  keys_.clear();
  hashes_.clear();
  by_hash_.clear();
}

size_t AggregationGroups::HeapBytes() const {
  size_t bytes = groups_.capacity() * sizeof(Group) + order_.capacity() * sizeof(size_t) +
                 positions_.capacity() * sizeof(Position) +
                 keys_.capacity() * sizeof(std::string) + hashes_.capacity() * sizeof(uint64_t) +
                 by_hash_.size() * (sizeof(void*) + sizeof(std::pair<uint64_t, size_t>)) +
                 by_hash_.bucket_count() * sizeof(void*);
  for (const std::string& k : keys_) {
    if (k.capacity() > 15) bytes += k.capacity() + 1;  // past the string's inline buffer
  }
  for (const Group& g : groups_) bytes += g.labels.HeapBytes();
  return bytes;
}

}  // namespace obsmon::alerts::promql
