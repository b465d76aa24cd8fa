// The writer's page cache follows the series it writes, within [2 MiB, cap] (issue 17, item 1).
#include "storage/cache_sizer.h"

#include <gtest/gtest.h>

namespace obsmon::storage {
namespace {

using std::chrono::seconds;

TEST(CacheSizerTest, StartsAtTheFloorThenFollowsTheSeriesOfEachMinute) {
  CacheSizer sizer(64 << 20);
  const SteadyTime t0{};
  EXPECT_EQ(sizer.Resize(t0), 2 << 20);
  for (int64_t id = 0; id < 5000; ++id) sizer.Written(id % 1000 == 0 ? 0 : id);  // 4,996 series
  EXPECT_EQ(sizer.Resize(t0 + seconds(59)), 4996 * CacheSizer::kBytesPerSeries) << "growing does not wait";
  EXPECT_EQ(sizer.Resize(t0 + seconds(60)), std::nullopt) << "the minute's end: the same size";
  // The next minute writes 1,500 series: the cache shrinks to 1,500 x 2 KiB.
  for (int64_t id = 0; id < 1500; ++id) sizer.Written(id);
  EXPECT_EQ(sizer.Resize(t0 + seconds(120)), 1500 * CacheSizer::kBytesPerSeries);
  EXPECT_EQ(sizer.size_bytes(), 1500 * 2 * 1024);  // 2.9 MiB
}

TEST(CacheSizerTest, SmallChangesAreNotWorthAResize) {
  CacheSizer sizer(64 << 20);
  const SteadyTime t0{};
  ASSERT_TRUE(sizer.Resize(t0));
  for (int64_t id = 0; id < 2000; ++id) sizer.Written(id);
  EXPECT_EQ(sizer.Resize(t0 + seconds(60)), 2000 * CacheSizer::kBytesPerSeries);
  for (int64_t id = 0; id < 2400; ++id) sizer.Written(id);  // +20 %: kept
  EXPECT_EQ(sizer.Resize(t0 + seconds(120)), std::nullopt);
  for (int64_t id = 0; id < 2600; ++id) sizer.Written(id);  // +30 %: resized
  EXPECT_EQ(sizer.Resize(t0 + seconds(180)), 2600 * CacheSizer::kBytesPerSeries);
}

TEST(CacheSizerTest, NeverAboveTheCapNorBelowTheFloor) {
  CacheSizer sizer(16 << 20);
  const SteadyTime t0{};
  ASSERT_TRUE(sizer.Resize(t0));
  for (int64_t id = 0; id < 100'000; ++id) sizer.Written(id);
  EXPECT_EQ(sizer.Resize(t0 + seconds(60)), 16 << 20);
  EXPECT_EQ(sizer.Resize(t0 + seconds(120)), 2 << 20) << "a minute without samples: the floor";
  CacheSizer tiny(64 << 10);  // a cap below the floor wins
  EXPECT_EQ(tiny.Resize(t0), 64 << 10);
}

// A burst of new series (a target that sends new ones on every scrape) grows the cache within
// seconds; shrinking waits for the end of the minute.
TEST(CacheSizerTest, GrowsWithinTheMinuteShrinksOnlyAtItsEnd) {
  CacheSizer sizer(64 << 20);
  const SteadyTime t0{};
  ASSERT_TRUE(sizer.Resize(t0));
  for (int64_t id = 0; id < 2000; ++id) sizer.Written(id);
  EXPECT_EQ(sizer.Resize(t0 + seconds(4)), std::nullopt) << "checked every 5 s";
  EXPECT_EQ(sizer.Resize(t0 + seconds(5)), 2000 * CacheSizer::kBytesPerSeries);
  EXPECT_EQ(sizer.Resize(t0 + seconds(10)), std::nullopt);
  EXPECT_EQ(sizer.Resize(t0 + seconds(60)), std::nullopt) << "the minute wrote the same 2,000";
  for (int64_t id = 0; id < 100; ++id) sizer.Written(id);
  EXPECT_EQ(sizer.Resize(t0 + seconds(90)), std::nullopt) << "no shrinking within the minute";
  EXPECT_EQ(sizer.Resize(t0 + seconds(120)), 2 << 20);
}

}  // namespace
}  // namespace obsmon::storage
