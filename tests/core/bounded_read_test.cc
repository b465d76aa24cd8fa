#include "core/bounded_read.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

using obsmon::testing::ScratchDir;

TEST(BoundedReadTest, ReadsASmallRegularFile) {
  ScratchDir dir;
  std::ofstream(dir.File("t")) << "secret\n";
  auto text = ReadRegularFile(dir.File("t"), 100);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "secret\n");
}

// Issue 13: `bearer_token_file: /dev/zero` read until the heap was exhausted.
TEST(BoundedReadTest, DevZeroIsNotARegularFile) {
  auto text = ReadRegularFile("/dev/zero", 4096);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message(), "'/dev/zero' is not a regular file");
}

// Issue 13: opening a FIFO nobody writes to blocked `obsmon check` forever.
TEST(BoundedReadTest, FifoIsRefusedWithoutBlocking) {
  ScratchDir dir;
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  auto text = ReadRegularFile(dir.File("fifo"), 4096);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a regular file"), std::string::npos);
}

TEST(BoundedReadTest, LargerFileIsRefused) {
  ScratchDir dir;
  std::ofstream(dir.File("big")) << std::string(5000, 'x');
  auto text = ReadRegularFile(dir.File("big"), 4096);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("larger than 4096 bytes"), std::string::npos);
}

TEST(BoundedReadTest, MissingFileIsNotFound) {
  EXPECT_TRUE(ReadRegularFile("/nonexistent/x", 10).status().IsNotFound());
}

// Issue 13: `rule_files: ['/**/**/**/*']` walked the whole file system.
TEST(BoundedReadTest, GlobWithManyWildcardSegmentsIsRefusedBeforeWalking) {
  auto files = ExpandGlobBounded("/**/**/**/*", 1000);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("4 path segments with wildcards"), std::string::npos)
      << files.status().message();
}

TEST(BoundedReadTest, GlobWithTooManyMatchesIsRefused) {
  ScratchDir dir;
  for (int i = 0; i < 5; ++i) std::ofstream(dir.File("r" + std::to_string(i) + ".yml")) << "";
  EXPECT_EQ(ExpandGlobBounded(dir.path() + "/*.yml", 10)->size(), 5u);
  auto files = ExpandGlobBounded(dir.path() + "/*.yml", 4);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("matches 5 paths (at most 4)"), std::string::npos);
}

}  // namespace
}  // namespace obsmon
