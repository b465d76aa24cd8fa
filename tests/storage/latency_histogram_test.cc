#include "storage/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace obsmon::storage {
namespace {

TEST(LatencyHistogramTest, BucketsContainTheirValues) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exp10(-5, 2.5);
  for (int i = 0; i < 20000; ++i) {
    double d = std::pow(10.0, exp10(rng));
    int b = LatencyHistogram::BucketOf(d);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    EXPECT_LE(LatencyHistogram::BucketLower(b), d) << d;
    EXPECT_LT(d, LatencyHistogram::BucketUpper(b)) << d;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(0), 0);
  EXPECT_EQ(LatencyHistogram::BucketOf(-1), 0);
  EXPECT_EQ(LatencyHistogram::BucketOf(1e6), LatencyHistogram::kBuckets - 1);
  // 8 buckets per doubling: 1 ms and 2 ms are 8 buckets apart.
  EXPECT_EQ(LatencyHistogram::BucketOf(0.002) - LatencyHistogram::BucketOf(0.001), 8);
}

TEST(LatencyHistogramTest, QuantilesWithinDocumentedErrorOfExactNearestRank) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(0.05), 0.8);  // ~50 ms typical
  std::vector<double> values;
  LatencyHistogram h;
  for (int i = 0; i < 10007; ++i) {
    double v = dist(rng);
    values.push_back(v);
    h.Add(v);
  }
  std::sort(values.begin(), values.end());
  const double max_rel_error = std::exp2(1.0 / 16) - 1;  // ~4.4 %
  for (double q : {0.01, 0.5, 0.9, 0.95, 0.99, 1.0}) {
    size_t rank = static_cast<size_t>(std::ceil(q * values.size()));
    double exact = values[rank - 1];
    double approx = *h.Quantile(q);
    EXPECT_LE(std::abs(approx - exact) / exact, max_rel_error + 1e-12)
        << "q=" << q << " exact=" << exact << " approx=" << approx;
  }
  EXPECT_FALSE(LatencyHistogram().Quantile(0.5).has_value());
}

TEST(LatencyHistogramTest, EncodeDecodeAndMerge) {
  LatencyHistogram a, b;
  a.Add(0.001, 3);
  a.Add(0.25);
  b.Add(0.001);
  b.Add(400);  // overflow
  auto decoded = LatencyHistogram::Decode(a.Encode());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, a);
  a.Merge(b);
  EXPECT_EQ(a.count(), 6u);
  EXPECT_EQ(a.bucket(LatencyHistogram::BucketOf(0.001)), 4u);
  EXPECT_EQ(a.bucket(LatencyHistogram::kBuckets - 1), 1u);
  EXPECT_EQ(LatencyHistogram::Decode("").value().count(), 0u);
  for (const char* bad : {"1", "1:", ":1", "2:1,1:1", "1:1,", "999:1", "1:x"}) {
    EXPECT_FALSE(LatencyHistogram::Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace obsmon::storage
