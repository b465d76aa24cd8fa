// A run of a series' points packed for the rules' in-memory head (series_store.h): a probe at
// 1 s whose `up` the SLO rules read for 15 minutes keeps 901 points, 14 KiB as plain 16-byte
// points, 14 MB at 1,000 probes. Probe series are regular and mostly repeat their value, so each
// point after the first is one header byte: the change of its time step (delta of delta,
// zigzag, 7 bits; larger ones escape to a varint after the byte) and one bit saying whether the
// value changed, followed only when it did by the bytes in which it differs from the last value
// (its XOR's bytes between the zero bytes on either side, after a byte counting those). `up` at
// a steady 1 s takes 1 byte a point; a counter's or a whole-number gauge's step 4 to 5 bytes; a
// latency that changes every run 9.
//
// Values are compared and kept by their bits, so NaN payloads (the stale marker) survive.
// Immutable once packed; decoding is a forward walk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "alerts/promql_value.h"

namespace obsmon::alerts {

class PointChunk {
 public:
  // Packs [first, last), which must be non-empty and in strictly increasing time.
  static PointChunk Pack(const promql::Point* first, const promql::Point* last);

  int64_t first_t() const { return first_t_; }
  int64_t last_t() const { return last_t_; }
  size_t size() const { return count_; }
  // Heap bytes held besides the object itself.
  size_t heap_bytes() const { return bytes_.capacity(); }

  // Appends the points with mint_ms <= t <= maxt_ms to `out`, oldest first.
  void AppendTo(int64_t mint_ms, int64_t maxt_ms, std::vector<promql::Point>* out) const;
  // How many points are older than t_ms.
  size_t CountBefore(int64_t t_ms) const;
  // The time of the point at `index` (< size()).
  int64_t TimeAt(size_t index) const;

 private:
  // Calls fn(point) for each point in order until fn returns false.
  template <typename Fn>
  void Walk(Fn&& fn) const;

  int64_t first_t_ = 0;
  int64_t last_t_ = 0;
  uint64_t first_bits_ = 0;  // the first value's bits
  uint32_t count_ = 0;
  std::vector<uint8_t> bytes_;  // points 2..count_, encoded as above
};

}  // namespace obsmon::alerts
