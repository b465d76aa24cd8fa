#include "storage/latency_histogram.h"

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
  std::string out;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += std::to_string(i);
    out += ':';
    out += std::to_string(counts_[i]);
  }
  return out;
}

std::optional<LatencyHistogram> LatencyHistogram::Decode(std::string_view text) {
  LatencyHistogram h;
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
    h.counts_[index] += count;
    h.total_ += count;
    p = r2.ptr;
    if (p < end) {
      if (*p != ',') return std::nullopt;
      ++p;
      if (p == end) return std::nullopt;
    }
  }
  return h;
}

}  // namespace obsmon::storage
