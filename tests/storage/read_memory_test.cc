// What a read connection may hold (issue 17): a report read once maps the file and caches
// 16 MiB; the daemon's refresh, every 15 s, neither maps the file (its touched pages counted in
// the daemon's RSS: 360 MB at 1,000 probes) nor caches more than 2 MiB. Read back from SQLite.
#include <gtest/gtest.h>

#include "storage/database.h"
#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ScratchDir;

int64_t Pragma(SQLite::Database& db, const std::string& name) {
  return db.execAndGet("PRAGMA " + name).getInt64();
}

std::string CreatedDatabase(const ScratchDir& dir) {
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  auto w = testing::StartWriterOrFail(o);
  EXPECT_TRUE(w);
  return o.path;
}

TEST(ReadMemoryTest, AReportReadOnceMapsTheFileAndCaches16MiB) {
  ScratchDir dir;
  auto db = OpenForRead(CreatedDatabase(dir));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(Pragma(**db, "mmap_size"), 256LL << 20);
  EXPECT_EQ(Pragma(**db, "cache_size"), -16384);  // negative: KiB
}

TEST(ReadMemoryTest, TheLiveRefreshNeitherMapsTheFileNorCachesMoreThan2MiB) {
  ScratchDir dir;
  auto db = OpenForRead(CreatedDatabase(dir), kLiveRead);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(Pragma(**db, "mmap_size"), 0);
  EXPECT_EQ(Pragma(**db, "cache_size"), -2048);
}

TEST(ReadMemoryTest, ACacheBelow64KiBIsRaisedTo64KiB) {
  ScratchDir dir;
  auto db = OpenForRead(CreatedDatabase(dir), ReadMemory{0, 1024});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(Pragma(**db, "cache_size"), -64);
}

}  // namespace
}  // namespace obsmon::storage
