#include "storage/latency_histogram.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace obsmon::storage {

int LatencyHistogram::BucketOf(double seconds) {
  if (!(seconds >= kMinSeconds)) return 0;  // also NaN and negatives
  double k = std::floor(std::log2(seconds / kMinSeconds) * kBucketsPerDoubling) + 1;
  // Guard rounding at exact bucket edges: make sure lower <= seconds < upper.
  int index = k >= kBuckets - 1 ? kBuckets - 1 : static_cast<int>(k);
  while (index > 1 && seconds < BucketLower(index)) --index;
  while (index < kBuckets - 1 && seconds >= BucketUpper(index)) ++index;
  return index;
}

double LatencyHistogram::BucketLower(int index) {
  if (index <= 0) return 0;
  return kMinSeconds * std::exp2(static_cast<double>(index - 1) / kBucketsPerDoubling);
}

double LatencyHistogram::BucketUpper(int index) {
  if (index >= kBuckets - 1) return std::numeric_limits<double>::infinity();
  return kMinSeconds * std::exp2(static_cast<double>(index) / kBucketsPerDoubling);
}

void LatencyHistogram::Add(double seconds, uint64_t count) {
  counts_[BucketOf(seconds)] += count;
  total_ += count;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

std::optional<double> LatencyHistogram::Quantile(double q) const {
  if (total_ == 0) return std::nullopt;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      if (i == 0) return kMinSeconds / 2;
      if (i == kBuckets - 1) return BucketLower(i);
      return std::sqrt(BucketLower(i) * BucketUpper(i));
    }
  }
  return BucketLower(kBuckets - 1);
}

std::string LatencyHistogram::Encode() const {
  Buckets buckets;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts_[i] != 0) buckets.emplace_back(i, counts_[i]);
  }
  return EncodeBuckets(buckets);
}

std::optional<LatencyHistogram> LatencyHistogram::Decode(std::string_view text) {
  auto buckets = DecodeBuckets(text);
  if (!buckets) return std::nullopt;
  LatencyHistogram h;
  for (const auto& [index, count] : *buckets) {
    h.counts_[index] = count;
    h.total_ += count;
  }
  return h;
}

std::optional<LatencyHistogram::Buckets> LatencyHistogram::DecodeBuckets(std::string_view text) {
  Buckets out;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  int last = -1;
  while (p < end) {
    int index = 0;
    uint64_t count = 0;
    auto r1 = std::from_chars(p, end, index);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ':') return std::nullopt;
    auto r2 = std::from_chars(r1.ptr + 1, end, count);
    if (r2.ec != std::errc()) return std::nullopt;
    if (index <= last || index >= kBuckets) return std::nullopt;
    last = index;
    if (count != 0) out.emplace_back(index, count);
    p = r2.ptr;
    if (p < end) {
      if (*p != ',') return std::nullopt;
      ++p;
      if (p == end) return std::nullopt;
    }
  }
  return out;
}

std::string LatencyHistogram::EncodeBuckets(const Buckets& buckets) {
  std::string out;
  out.reserve(buckets.size() * 8);
  char number[24];
  for (const auto& [index, count] : buckets) {
    if (count == 0) continue;
    if (!out.empty()) out += ',';
    out.append(number, std::to_chars(number, number + sizeof number, index).ptr);
    out += ':';
    out.append(number, std::to_chars(number, number + sizeof number, count).ptr);
  }
  return out;
}

LatencyHistogram::Buckets LatencyHistogram::MergeBuckets(const Buckets& a, const Buckets& b) {
  Buckets out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back(b[j++]);
    } else {
      out.emplace_back(a[i].first, a[i].second + b[j].second);
      ++i;
      ++j;
    }
  }
  return out;
}

LatencyHistogram::Buckets LatencyHistogram::BucketsOf(std::vector<int> indexes) {
  std::sort(indexes.begin(), indexes.end());
  Buckets out;
  for (int index : indexes) {
    if (!out.empty() && out.back().first == index) {
      ++out.back().second;
    } else {
      out.emplace_back(index, 1);
    }
  }
  return out;
}

}  // namespace obsmon::storage
