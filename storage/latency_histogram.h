// A small fixed-bucket latency histogram kept in `rollup_hourly.latency_hist`, so that percentiles
// over long windows can still be answered after raw probe runs are deleted by retention.
//
// Buckets are log-spaced, 8 per doubling, from 100 µs to 120 s:
//   bucket 0                : d < 100 µs
//   bucket k (1..kBuckets-2): 100 µs * 2^((k-1)/8) <= d < 100 µs * 2^(k/8)
//   bucket kBuckets-1       : d >= ~120 s (overflow)
// A quantile is answered with the geometric middle of its bucket, so inside the range its
// relative error is at most 2^(1/16) - 1 ≈ 4.4 % (documented in docs/storage.md).
//
// Stored as sparse text "index:count,index:count" (indexes ascending), readable with sqlite3.
// A plain value type; not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace obsmon::storage {

class LatencyHistogram {
 public:
  static constexpr int kBucketsPerDoubling = 8;
  static constexpr double kMinSeconds = 100e-6;
  // 1 underflow + 162 regular (100 µs .. ~121 s) + 1 overflow.
  static constexpr int kBuckets = 164;

  void Add(double seconds, uint64_t count = 1);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return total_; }
  uint64_t bucket(int index) const { return counts_[index]; }

  // The bucket a duration falls in.
  static int BucketOf(double seconds);
  // [lower, upper) of a bucket in seconds (bucket 0 starts at 0; the last ends at +inf).
  static double BucketLower(int index);
  static double BucketUpper(int index);

  // Nearest-rank quantile (q in [0, 1]): the geometric middle of the bucket holding the
  // ceil(q * count)-th smallest value. nullopt when empty.
  std::optional<double> Quantile(double q) const;

  std::string Encode() const;
  // Parses Encode()'s output; nullopt when malformed.
  static std::optional<LatencyHistogram> Decode(std::string_view text);

  // The same texts without the 164 counters: the writer merges an hour's stored text with what
  // a commit adds (a run or two of each probe) once per probe and commit, and the dense form's
  // 1.3 KB zeroed, scanned and formatted twice each time was a tenth of the writer's CPU at
  // 1,000 probes (docs/benchmarks.md, "Stop 70: where a run's microseconds go").
  using Buckets = std::vector<std::pair<int, uint64_t>>;  // (index, count), indexes ascending
  // What Decode(text) holds, as its buckets with a count (zero counts left out); nullopt when
  // Decode refuses the text.
  static std::optional<Buckets> DecodeBuckets(std::string_view text);
  // Encode() of the histogram holding `buckets` (ascending; zero counts are left out).
  static std::string EncodeBuckets(const Buckets& buckets);
  // The buckets of both, counts of one index summed (as Merge does, modulo 2^64).
  static Buckets MergeBuckets(const Buckets& a, const Buckets& b);
  // The buckets of the given durations (any order).
  static Buckets BucketsOf(std::vector<int> indexes);

  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace obsmon::storage
