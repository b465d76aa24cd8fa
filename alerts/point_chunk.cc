#include "alerts/point_chunk.h"

#include <bit>

namespace obsmon::alerts {

using promql::Point;

namespace {

constexpr uint8_t kValueChanged = 0x80;
constexpr uint8_t kDodMask = 0x7f;
constexpr uint8_t kDodEscape = 0x7f;  // the zigzag delta of delta follows as a varint

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t z) { return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1); }

void PutVarint(uint64_t v, std::vector<uint8_t>* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

}  // namespace

PointChunk PointChunk::Pack(const Point* first, const Point* last) {
  PointChunk c;
  c.first_t_ = first->t;
  c.last_t_ = (last - 1)->t;
  c.first_bits_ = std::bit_cast<uint64_t>(first->v);
  c.count_ = static_cast<uint32_t>(last - first);
  std::vector<uint8_t> buf;
  buf.reserve(static_cast<size_t>(last - first) * 2);
  int64_t prev_t = first->t;
  int64_t prev_delta = 0;
  uint64_t prev_bits = c.first_bits_;
  for (const Point* p = first + 1; p != last; ++p) {
    const int64_t delta = p->t - prev_t;
    // Wraps like the decoder's sum does, so any int64 time round-trips.
    const uint64_t dod = ZigZag(static_cast<int64_t>(static_cast<uint64_t>(delta) -
                                                     static_cast<uint64_t>(prev_delta)));
    const uint64_t bits = std::bit_cast<uint64_t>(p->v);
    const uint8_t changed = bits != prev_bits ? kValueChanged : 0;
    if (dod < kDodEscape) {
      buf.push_back(changed | static_cast<uint8_t>(dod));
    } else {
      buf.push_back(changed | kDodEscape);
      PutVarint(dod, &buf);
    }
    if (changed) {
      // The bytes of the XOR with the last value between its zero bytes, after one byte that
      // counts the zero bytes on each side (as Prometheus's chunks keep the XOR's meaningful
      // bits, byte-aligned here): a counter's step or a gauge of whole numbers differs from the
      // last value in 2 or 3 bytes of the 8.
      const uint64_t x = bits ^ prev_bits;
      const int lead = std::countl_zero(x) / 8;
      const int trail = std::countr_zero(x) / 8;
      buf.push_back(static_cast<uint8_t>(lead << 3 | trail));
      for (int i = trail; i < 8 - lead; ++i) buf.push_back(static_cast<uint8_t>(x >> (8 * i)));
    }
    prev_t = p->t;
    prev_delta = delta;
    prev_bits = bits;
  }
  c.bytes_.assign(buf.begin(), buf.end());  // capacity == size: the chunk lives for minutes
  return c;
}

template <typename Fn>
void PointChunk::Walk(Fn&& fn) const {
  Point p{first_t_, std::bit_cast<double>(first_bits_)};
  if (!fn(p)) return;
  uint64_t bits = first_bits_;
  int64_t delta = 0;
  const uint8_t* in = bytes_.data();
  const uint8_t* const end = in + bytes_.size();
  for (uint32_t i = 1; i < count_ && in < end; ++i) {
    const uint8_t head = *in++;
    uint64_t dod = head & kDodMask;
    if (dod == kDodEscape) {
      dod = 0;
      for (int shift = 0; in < end && shift < 64; shift += 7) {
        const uint8_t b = *in++;
        dod |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
      }
    }
    delta = static_cast<int64_t>(static_cast<uint64_t>(delta) + static_cast<uint64_t>(UnZigZag(dod)));
    p.t = static_cast<int64_t>(static_cast<uint64_t>(p.t) + static_cast<uint64_t>(delta));
    if (head & kValueChanged) {
      if (in == end) return;  // only a corrupt chunk; Pack never writes one
      const int lead = *in >> 3 & 7;
      const int trail = *in++ & 7;
      if (lead + trail >= 8 || end - in < 8 - lead - trail) return;  // corrupt, as above
      uint64_t x = 0;
      for (int i = trail; i < 8 - lead; ++i) x |= static_cast<uint64_t>(*in++) << (8 * i);
      bits ^= x;
      p.v = std::bit_cast<double>(bits);
    }
    if (!fn(p)) return;
  }
}

void PointChunk::AppendTo(int64_t mint_ms, int64_t maxt_ms, std::vector<Point>* out) const {
  if (last_t_ < mint_ms || first_t_ > maxt_ms) return;
  Walk([&](const Point& p) {
    if (p.t > maxt_ms) return false;
    if (p.t >= mint_ms) out->push_back(p);
    return true;
  });
}

size_t PointChunk::CountBefore(int64_t t_ms) const {
  if (first_t_ >= t_ms) return 0;
  if (last_t_ < t_ms) return count_;
  size_t n = 0;
  Walk([&](const Point& p) {
    if (p.t >= t_ms) return false;
    ++n;
    return true;
  });
  return n;
}

int64_t PointChunk::TimeAt(size_t index) const {
  int64_t t = first_t_;
  size_t i = 0;
  Walk([&](const Point& p) {
    t = p.t;
    return i++ < index;
  });
  return t;
}

}  // namespace obsmon::alerts
