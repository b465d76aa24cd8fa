#include "core/read_buffer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace obsmon {
namespace {

// Whether the page holding `p` is mapped in this process (mincore fails with ENOMEM if not).
bool Mapped(const void* p) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) / page * page);
  unsigned char vec = 0;
  return ::mincore(start, page, &vec) == 0 || errno != ENOMEM;
}

// How many kB of [p, p + bytes) are resident (mincore: smaps would count a neighbouring mapping
// the kernel merged with it, as under ASan).
long ResidentKb(const char* p, size_t bytes) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  if (::mincore(const_cast<char*>(p), bytes, vec.data()) != 0) return -1;
  long pages = 0;
  for (unsigned char v : vec) pages += v & 1;
  return pages * static_cast<long>(page / 1024);
}

// A field ("Rss:", "AnonHugePages:") of the mapping that starts at `p`, in kB, from
// /proc/self/smaps (-1: none).
long MappingKb(const void* p, const std::string& field) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  while (std::getline(smaps, line)) {
    const size_t dash = line.find('-');
    if (dash != std::string::npos && dash > 0 && line.find(' ') > dash &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      in = std::stoull(line.substr(0, dash), nullptr, 16) == reinterpret_cast<uintptr_t>(p);
      continue;
    }
    if (in && line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}

long VmStat(const std::string& name) {
  std::ifstream in("/proc/vmstat");
  std::string key;
  long value = 0;
  while (in >> key >> value) {
    if (key == name) return value;
  }
  return -1;
}

std::string ThpMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(in, mode);
  return mode;
}

TEST(ReadBufferTest, KeepsItsMemoryWhileLargeEnoughAndGrowsWhenAskedForMore) {
  ReadBuffer buffer;
  EXPECT_EQ(buffer.capacity(), 0u);
  char* small = buffer.Reserve(100'000, ReadBuffer::kSmallPages);
  ASSERT_NE(small, nullptr);
  EXPECT_GE(buffer.capacity(), 100'000u);
  std::memset(small, 'x', 100'000);  // all of it writable
  EXPECT_EQ(buffer.Reserve(50'000, ReadBuffer::kSmallPages), small);
  EXPECT_EQ(buffer.Reserve(100'000, ReadBuffer::kSmallPages), small);
  EXPECT_EQ(small[99'999], 'x');  // the same memory, contents kept
  char* large = buffer.Reserve(3 << 20, ReadBuffer::kHugePages);
  EXPECT_GE(buffer.capacity(), size_t{3} << 20);
  std::memset(large, 'y', size_t{3} << 20);
  EXPECT_FALSE(Mapped(small)) << "the smaller mapping was not released";
}

TEST(ReadBufferTest, ABufferOfAHugePageOrMoreIsAlignedToOneAndAdvised) {
  ReadBuffer buffer;
  char* p = buffer.Reserve(ReadBuffer::kHugePageBytes, ReadBuffer::kHugePages);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % ReadBuffer::kHugePageBytes, 0u);
  EXPECT_EQ(buffer.capacity(), ReadBuffer::kHugePageBytes);
  const std::string mode = ThpMode();
  if (mode.empty()) GTEST_SKIP() << "no transparent huge pages in this kernel";
  EXPECT_TRUE(buffer.huge_pages_advised()) << mode;
  if (mode.find("[never]") != std::string::npos) GTEST_SKIP() << "THP off: " << mode;
  // Written once, the whole buffer is one huge page, unless the kernel had none to give.
  const long fallbacks = VmStat("thp_fault_fallback");
  std::memset(p, 1, ReadBuffer::kHugePageBytes);
  if (VmStat("thp_fault_fallback") != fallbacks) GTEST_SKIP() << "the kernel had no huge page";
  EXPECT_EQ(MappingKb(p, "AnonHugePages:"), 2048)
      << "not backed by a huge page: misaligned or not advised";
}

// The log follower's kept buffer: a read of one line must not make 2 MiB resident (fresh
// eyes: 150 one-line files at read_chunk_bytes 4 MiB held 329 MB, all in huge pages).
TEST(ReadBufferTest, SmallPagesAreResidentOnlyAsWrittenAndTrimGivesThemBack) {
  ReadBuffer buffer;
  char* p = buffer.Reserve(8 << 20, ReadBuffer::kSmallPages);
  EXPECT_FALSE(buffer.huge_pages_advised());
  std::memset(p, 'x', 100);
  EXPECT_LE(ResidentKb(p, 8 << 20), 8) << "one written line made more than a page or two resident";
  std::memset(p, 'y', 4 << 20);
  EXPECT_GE(ResidentKb(p, 8 << 20), 4096);
  buffer.Trim(1 << 20);
  EXPECT_LE(ResidentKb(p, 8 << 20), 1024);
  EXPECT_EQ(p[(1 << 20) - 1], 'y');  // what is kept keeps its contents
  EXPECT_EQ(buffer.Reserve(8 << 20, ReadBuffer::kSmallPages), p);
  std::memset(p, 'z', 8 << 20);  // and the trimmed part is writable again
  EXPECT_EQ(buffer.capacity(), size_t{8} << 20);
}

TEST(ReadBufferTest, SmallBuffersAreNotAdvised) {
  ReadBuffer buffer;
  buffer.Reserve(ReadBuffer::kHugePageBytes - 4096, ReadBuffer::kHugePages);
  EXPECT_FALSE(buffer.huge_pages_advised());
}

TEST(ReadBufferTest, MovingHandsTheMappingOverAndDestructionReleasesIt) {
  char* p = nullptr;
  {
    ReadBuffer a;
    p = a.Reserve(ReadBuffer::kHugePageBytes * 2, ReadBuffer::kHugePages);
    p[0] = 'a';
    ReadBuffer b(std::move(a));
    EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(b.Reserve(1, ReadBuffer::kHugePages), p);
    ReadBuffer c;
    c.Reserve(4096, ReadBuffer::kSmallPages);
    c = std::move(b);
    EXPECT_EQ(c.Reserve(1, ReadBuffer::kSmallPages), p);
    EXPECT_EQ(p[0], 'a');
    EXPECT_TRUE(Mapped(p));
  }
  EXPECT_FALSE(Mapped(p));
  EXPECT_FALSE(Mapped(p + ReadBuffer::kHugePageBytes * 2 - 1));
}

}  // namespace
}  // namespace obsmon
