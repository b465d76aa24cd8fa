#include "storage/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
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

namespace obsmon::storage {
namespace {

// A text as a user's sqlite3 edit or an older obsmon may have left it: mostly well formed
// (zero counts, leading zeros, counts near 2^64 included), sometimes broken in one of the ways
// Decode refuses.
std::string RandomText(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> buckets(0, 12), index_step(1, 30), kind(0, 19);
  std::string text;
  int index = std::uniform_int_distribution<int>(-1, 5)(rng);
  const int n = buckets(rng);
  for (int i = 0; i < n; ++i) {
    index += index_step(rng);
    uint64_t count = rng() % 1000;
    const int k = kind(rng);
    if (k == 0) count = 0;
    if (k == 1) count = ~uint64_t{0} - rng() % 3;
    if (!text.empty()) text += ',';
    text += (k == 2 ? "0" : "") + std::to_string(index) + ':' + std::to_string(count);
  }
  switch (kind(rng)) {
    case 0: text += ','; break;                       // a trailing comma
    case 1: text += ",7:1"; break;                    // out of order (or not)
    case 2: text = "164:1"; break;                    // past the last bucket
    case 3: text += "x"; break;                       // junk
    case 4: text = "-1:3"; break;                     // a negative index
    case 5: text = text.empty() ? "3" : text; break;  // a lone index
    default: break;
  }
  return text;
}

// The text format read by hand, apart from the code under test: "index:count" items joined by
// ',', indexes ascending in [0, 164) (a '-' sign may precede one, counts are digits only), each
// number within its type. Zero counts are kept out of the result.
std::optional<std::map<int, uint64_t>> Reference(const std::string& text) {
  std::map<int, uint64_t> out;
  if (text.empty()) return out;
  int last = -1;
  size_t at = 0;
  while (true) {
    const size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? comma : comma - at);
    const size_t colon = item.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string index_text = item.substr(0, colon), count_text = item.substr(colon + 1);
    const bool negative = !index_text.empty() && index_text[0] == '-';
    if (negative) index_text.erase(0, 1);
    const auto digits = [](const std::string& t) {
      return !t.empty() &&
             std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(index_text) || !digits(count_text)) return std::nullopt;
    // Past 20 digits (leading zeros aside) a count overflows; past 164 an index is refused.
    const auto value = [](const std::string& t) -> std::optional<unsigned __int128> {
      unsigned __int128 v = 0;
      for (char c : t) {
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > ~uint64_t{0}) return std::nullopt;
      }
      return v;
    };
    const auto index = value(index_text);
    const auto count = value(count_text);
    if (!index || !count) return std::nullopt;
    const long long signed_index = negative ? -static_cast<long long>(*index)
                                            : static_cast<long long>(*index);
    if (signed_index <= last || signed_index >= LatencyHistogram::kBuckets) return std::nullopt;
    last = static_cast<int>(signed_index);
    if (*count != 0) out[last] = static_cast<uint64_t>(*count);
    if (comma == std::string::npos) return out;
    at = comma + 1;
  }
}

std::string ReferenceText(const std::map<int, uint64_t>& buckets) {
  std::string out;
  for (const auto& [index, count] : buckets) {
    if (count == 0) continue;
    out += (out.empty() ? "" : ",") + std::to_string(index) + ":" + std::to_string(count);
  }
  return out;
}

TEST(LatencyHistogramTest, TheSparseAndDenseFormsReadWriteAndMergeAsTheFormatSays) {
  std::mt19937_64 rng(17);
  int valid = 0, merged = 0;
  for (int round = 0; round < 50'000; ++round) {
    const std::string a = RandomText(rng), b = RandomText(rng);
    const auto want = Reference(a);
    const auto dense = LatencyHistogram::Decode(a);
    const auto sparse = LatencyHistogram::DecodeBuckets(a);
    ASSERT_EQ(sparse.has_value(), want.has_value()) << "'" << a << "'";
    ASSERT_EQ(dense.has_value(), want.has_value()) << "'" << a << "'";
    if (!want) continue;
    ++valid;
    ASSERT_EQ(LatencyHistogram::EncodeBuckets(*sparse), ReferenceText(*want)) << "'" << a << "'";
    ASSERT_EQ(dense->Encode(), ReferenceText(*want)) << "'" << a << "'";
    // The writer's merge: the stored text `b` (replaced when it is not a histogram) and the
    // added one `a`; counts add modulo 2^64, as the dense Merge's do.
    std::map<int, uint64_t> sum = *want;
    const auto stored = Reference(b);
    if (stored) {
      for (const auto& [index, count] : *stored) sum[index] += count;
    }
    const auto stored_sparse = LatencyHistogram::DecodeBuckets(b);
    const std::string got = LatencyHistogram::EncodeBuckets(
        stored_sparse ? LatencyHistogram::MergeBuckets(*stored_sparse, *sparse) : *sparse);
    ASSERT_EQ(got, ReferenceText(sum)) << "'" << b << "' + '" << a << "'";
    if (stored) {
      LatencyHistogram dense_sum = *dense;
      dense_sum.Merge(*LatencyHistogram::Decode(b));
      ASSERT_EQ(dense_sum.Encode(), got);
      ++merged;
    }
  }
  EXPECT_GT(valid, 20'000);
  EXPECT_GT(merged, 10'000);
}

TEST(LatencyHistogramTest, ACommitsDurationsEncodeAsTheirHistogram) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> seconds(-6, 3);  // 2.5 ms typical, µs to minutes
  for (int round = 0; round < 2'000; ++round) {
    LatencyHistogram h;
    std::vector<int> indexes;
    const int n = static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      const double d = seconds(rng);
      h.Add(d);
      indexes.push_back(LatencyHistogram::BucketOf(d));
    }
    ASSERT_EQ(LatencyHistogram::EncodeBuckets(LatencyHistogram::BucketsOf(indexes)), h.Encode());
  }
}

}  // namespace
}  // namespace obsmon::storage
