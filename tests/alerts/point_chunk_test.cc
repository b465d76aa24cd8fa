// Packed points (alerts/point_chunk.h) give back exactly what was packed: every time and every
// value's bits (NaN payloads, -0, infinities), for regular, jittered, huge and negative steps.
// The oracle is the input itself.
#include "alerts/point_chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "alerts/promql_value.h"

namespace obsmon::alerts {
namespace {

using promql::Point;

void ExpectSame(const std::vector<Point>& want, const std::vector<Point>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].t, got[i].t) << "point " << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(want[i].v), std::bit_cast<uint64_t>(got[i].v)) << "point " << i;
  }
}

std::vector<Point> Between(const std::vector<Point>& pts, int64_t mint, int64_t maxt) {
  std::vector<Point> out;
  for (const Point& p : pts) {
    if (p.t >= mint && p.t <= maxt) out.push_back(p);
  }
  return out;
}

// Random strictly increasing points: steps regular, jittered, or anything up to int64's range;
// values repeating, changing, or special.
std::vector<Point> RandomPoints(std::mt19937_64& rng, size_t n) {
  std::vector<Point> pts;
  const int shape = static_cast<int>(rng() % 3);
  int64_t t = static_cast<int64_t>(rng() % 3 == 0 ? rng() : rng() % 2'000'000'000'000) -
              (rng() % 2 ? 0 : 1'000'000'000'000);
  const double specials[] = {0.0, -0.0, 1.0, std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::bit_cast<double>(uint64_t{0x7ff0000000000002}),  // stale NaN
                             std::numeric_limits<double>::quiet_NaN(), 1e308, 5e-324};
  double v = 1;
  for (size_t i = 0; i < n; ++i) {
    pts.push_back({t, v});
    int64_t step = 1'000;
    if (shape == 1) step = 1'000 + static_cast<int64_t>(rng() % 41) - 20;
    if (shape == 2) step = 1 + static_cast<int64_t>(rng() >> (1 + rng() % 63));
    if (t > std::numeric_limits<int64_t>::max() - step) break;
    t += step;
    const int change = static_cast<int>(rng() % 4);
    if (change == 1) v = std::bit_cast<double>(rng());
    if (change == 2) v = specials[rng() % std::size(specials)];
  }
  return pts;
}

TEST(PointChunkTest, RandomRunsRoundTripBitForBit) {
  std::mt19937_64 rng(17);
  for (int round = 0; round < 2'000; ++round) {
    const auto pts = RandomPoints(rng, 1 + rng() % 100);
    const PointChunk c = PointChunk::Pack(pts.data(), pts.data() + pts.size());
    ASSERT_EQ(c.size(), pts.size());
    EXPECT_EQ(c.first_t(), pts.front().t);
    EXPECT_EQ(c.last_t(), pts.back().t);
    std::vector<Point> all;
    c.AppendTo(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &all);
    ExpectSame(pts, all);
    // A range within, and the count and time at an index.
    const size_t i = rng() % pts.size();
    const size_t j = i + rng() % (pts.size() - i);
    std::vector<Point> part;
    c.AppendTo(pts[i].t, pts[j].t, &part);
    ExpectSame(Between(pts, pts[i].t, pts[j].t), part);
    EXPECT_EQ(c.CountBefore(pts[i].t), i);
    EXPECT_EQ(c.TimeAt(j), pts[j].t);
  }
}

TEST(PointChunkTest, RangesOutsideTheChunkAppendNothing) {
  const std::vector<Point> pts = {{1'000, 1}, {2'000, 2}, {3'000, 3}};
  const PointChunk c = PointChunk::Pack(pts.data(), pts.data() + pts.size());
  std::vector<Point> out;
  c.AppendTo(0, 999, &out);
  c.AppendTo(3'001, 9'000, &out);
  c.AppendTo(1'001, 1'999, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.CountBefore(0), 0u);
  EXPECT_EQ(c.CountBefore(1'001), 1u);
  EXPECT_EQ(c.CountBefore(1'000'000), 3u);
}

TEST(PointChunkTest, ARegularUnchangingSeriesTakesOneBytePerPoint) {
  std::vector<Point> pts;
  for (int64_t t = 0; t < 48'000; t += 1'000) pts.push_back({1'700'000'000'000 + t, 1});
  const PointChunk c = PointChunk::Pack(pts.data(), pts.data() + pts.size());
  // One byte a point, and the first step (1,000 ms against none) two more as a varint.
  EXPECT_EQ(c.heap_bytes(), pts.size() - 1 + 2);
  // A value changing every point: a byte counting the zero bytes of its XOR with the last
  // value on either side, and the bytes between them (8 for unrelated bits).
  size_t changed_bytes = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    pts[i].v = static_cast<double>(i) / 7;
    if (i == 0) continue;
    const uint64_t x =
        std::bit_cast<uint64_t>(pts[i].v) ^ std::bit_cast<uint64_t>(pts[i - 1].v);
    size_t lead = 0, trail = 0;
    while (lead < 8 && ((x >> (56 - 8 * lead)) & 0xff) == 0) ++lead;
    while (trail < 8 && ((x >> (8 * trail)) & 0xff) == 0) ++trail;
    changed_bytes += 1 + (8 - lead - trail);
  }
  const PointChunk d = PointChunk::Pack(pts.data(), pts.data() + pts.size());
  EXPECT_EQ(d.heap_bytes(), (pts.size() - 1) + changed_bytes + 2);
  EXPECT_LE(d.heap_bytes(), 10 * (pts.size() - 1) + 2);  // never above the header + desc + 8
}

// A counter's step and a whole-number gauge differ from the last value in a few bytes: the
// XOR of 1234567 and 1234568 as doubles has its sign, exponent and low mantissa bytes zero.
TEST(PointChunkTest, ACounterTakesUnderFiveBytesAPoint) {
  std::vector<Point> pts;
  for (int64_t i = 0; i < 48; ++i) pts.push_back({i * 1'000, 1'234'567.0 + static_cast<double>(i)});
  const PointChunk c = PointChunk::Pack(pts.data(), pts.data() + pts.size());
  EXPECT_LT(c.heap_bytes(), 5 * (pts.size() - 1));
  std::vector<Point> all;
  c.AppendTo(0, 48'000, &all);
  ExpectSame(pts, all);
}

// Values whose XOR with the last has its one non-zero byte at each of the 8 places, and all 8.
TEST(PointChunkTest, EveryPlaceOfTheDifferingBytesRoundTrips) {
  std::vector<Point> pts;
  uint64_t bits = 0x3ff0000000000000;  // 1.0
  for (int64_t i = 0; i < 40; ++i) {
    pts.push_back({i * 1'000, std::bit_cast<double>(bits)});
    bits ^= i % 9 == 8 ? ~uint64_t{0} : uint64_t{0x5a} << (8 * (i % 9));
  }
  const PointChunk c = PointChunk::Pack(pts.data(), pts.data() + pts.size());
  std::vector<Point> all;
  c.AppendTo(0, 40'000, &all);
  ExpectSame(pts, all);
}

}  // namespace
}  // namespace obsmon::alerts
