#include "report/latency_selection.h"

#include <algorithm>
#include <limits>

#include "report/double_order.h"

namespace obsmon {
namespace {

constexpr int kTopBits = 16;   // pass 1's buckets: sign, exponent and 4 mantissa bits
constexpr int kNarrowBits = 8;  // each later histogram pass: 256 counters

// OrderKey with -0 and +0 as one key: an ascending set may hold them in either order (they
// compare equal), and the ranges searched below need keys that never decrease along the set.
uint64_t Key(double v) { return OrderKey(v == 0 ? 0.0 : v); }

}  // namespace

void LatencySelection::Add(std::span<const double> ascending, std::span<const uint32_t> subsets) {
  if (ascending.empty() || !status_.ok()) return;
  if (passes_ == 0) {
    AddFirstPass(ascending, subsets);
    return;
  }
  for (uint32_t id : subsets) {
    if (id >= subsets_.size()) {
      Fail("a set belongs to a subset the first pass did not see");
      return;
    }
    subsets_[id].seen += ascending.size();
    for (size_t k = 0; k < std::size(kPermilles); ++k) {
      Target& t = targets_[id * std::size(kPermilles) + k];
      if (t.step != Step::kDone) AddToTarget(ascending, t);
    }
  }
}

void LatencySelection::AddFirstPass(std::span<const double> ascending,
                                    std::span<const uint32_t> subsets) {
  // Equal top buckets are consecutive in an ascending set: count them once for all subsets.
  runs_.clear();
  for (double v : ascending) {
    const uint32_t bucket = static_cast<uint32_t>(Key(v) >> (64 - kTopBits));
    if (runs_.empty() || runs_.back().first != bucket) runs_.emplace_back(bucket, 0);
    ++runs_.back().second;
  }
  for (uint32_t id : subsets) {
    if (id >= subsets_.size()) subsets_.resize(id + 1);
    Subset& s = subsets_[id];
    s.count += ascending.size();
    s.min = std::min(s.min, ascending.front());
    s.max = std::max(s.max, ascending.back());
    for (double v : ascending) s.sum.Add(v);
    for (const auto& [bucket, n] : runs_) s.top_buckets[bucket] += n;
  }
}

void LatencySelection::AddToTarget(std::span<const double> ascending, Target& t) {
  const uint64_t lo = t.prefix << (64 - t.bits);
  const uint64_t hi = lo | (~uint64_t{0} >> t.bits);
  auto first = std::partition_point(ascending.begin(), ascending.end(),
                                    [lo](double v) { return Key(v) < lo; });
  auto last = std::partition_point(first, ascending.end(),
                                   [hi](double v) { return Key(v) <= hi; });
  if (t.step == Step::kHistogram) {
    const int shift = 64 - t.bits - kNarrowBits;
    for (auto it = first; it != last; ++it) ++t.counts[(Key(*it) >> shift) & 0xFF];
    return;
  }
  t.held.insert(t.held.end(), first, last);
  held_ += static_cast<size_t>(last - first);
  max_held_ = std::max(max_held_, held_);
}

bool LatencySelection::EndPass() {
  if (!status_.ok()) return false;
  if (passes_ == 0) {
    StartTargets();
  } else {
    for (Subset& s : subsets_) {
      if (s.seen != s.count) return Fail("a pass saw a different number of values");
      s.seen = 0;
    }
    for (Target& t : targets_) {
      if (t.step != Step::kDone && !Narrow(t)) return Fail("a pass saw different values");
    }
  }
  ++passes_;
  return PlanNextPass();
}

void LatencySelection::StartTargets() {
  targets_.assign(subsets_.size() * std::size(kPermilles), Target{});
  for (size_t id = 0; id < subsets_.size(); ++id) {
    Subset& s = subsets_[id];
    for (size_t k = 0; k < std::size(kPermilles) && s.count > 0; ++k) {
      Target& t = targets_[id * std::size(kPermilles) + k];
      const uint64_t rank = NearestRank(s.count, kPermilles[k]);
      uint64_t below = 0;
      for (const auto& [bucket, n] : s.top_buckets) {
        if (below + n >= rank) {
          t = Target{rank - below, n, bucket, kTopBits, Step::kHistogram, {}, {}, 0};
          break;
        }
        below += n;
      }
    }
    s.top_buckets.clear();
  }
}

// After a pass: the target's bucket narrowed by its counters, or its value selected from those
// kept. False when what the pass saw contradicts the passes before.
bool LatencySelection::Narrow(Target& t) {
  if (t.step == Step::kCollect) {
    if (t.held.size() != t.in_prefix || t.rank > t.held.size()) return false;
    std::nth_element(t.held.begin(), t.held.begin() + static_cast<ptrdiff_t>(t.rank - 1),
                     t.held.end());
    t.value = t.held[t.rank - 1];
    held_ -= t.held.size();
    std::vector<double>().swap(t.held);
    t.step = Step::kDone;
    return true;
  }
  uint64_t below = 0;
  for (uint64_t bucket = 0; bucket < t.counts.size(); ++bucket) {
    const uint64_t n = t.counts[bucket];
    if (below + n >= t.rank) {
      t.prefix = (t.prefix << kNarrowBits) | bucket;
      t.bits += kNarrowBits;
      t.rank -= below;
      t.in_prefix = n;
      std::vector<uint64_t>().swap(t.counts);
      return true;
    }
    below += n;
  }
  return false;
}

// Chooses each unresolved target's next step: kept values for the smallest buckets while the
// budget lasts, counters for the rest. A bucket of all 64 bits is its value.
bool LatencySelection::PlanNextPass() {
  std::vector<Target*> open;
  for (Target& t : targets_) {
    if (t.step == Step::kDone) continue;
    if (t.bits == 64) {
      t.value = FromOrderKey(t.prefix);
      t.step = Step::kDone;
      continue;
    }
    open.push_back(&t);
  }
  std::sort(open.begin(), open.end(),
            [](const Target* a, const Target* b) { return a->in_prefix < b->in_prefix; });
  size_t budget = kMaxHeldValues;
  for (Target* t : open) {
    if (t->in_prefix <= budget) {
      budget -= t->in_prefix;
      t->step = Step::kCollect;
      t->held.reserve(t->in_prefix);
    } else {
      t->step = Step::kHistogram;
      t->counts.assign(size_t{1} << kNarrowBits, 0);
    }
  }
  return !open.empty();
}

bool LatencySelection::Fail(const char* what) {
  status_ = Status::Internal(std::string("latency selection: ") + what +
                             " (the durations changed between passes)");
  return false;
}

LatencySummary LatencySelection::Summary(uint32_t id) const {
  LatencySummary out;
  if (id >= subsets_.size() || subsets_[id].count == 0) return out;
  const Subset& s = subsets_[id];
  out.count = s.count;
  out.min_seconds = s.min;
  out.max_seconds = s.max;
  out.mean_seconds = s.sum.value() / static_cast<double>(s.count);
  const Target* t = &targets_[id * std::size(kPermilles)];
  out.p50_seconds = t[0].value;
  out.p95_seconds = t[1].value;
  out.p99_seconds = t[2].value;
  return out;
}

}  // namespace obsmon
