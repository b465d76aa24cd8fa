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

namespace obsmon {
namespace {

// Whether the page holding `p` is mapped in this process (mincore fails with ENOMEM if not).
bool Mapped(const void* p) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) / page * page);
  unsigned char vec = 0;
  return ::mincore(start, page, &vec) == 0 || errno != ENOMEM;
}

// The AnonHugePages of the mapping that starts at `p`, in kB, from /proc/self/smaps (-1: none).
long AnonHugeKb(const void* p) {
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
    if (in && line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
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
  char* small = buffer.Reserve(100'000);
  ASSERT_NE(small, nullptr);
  EXPECT_GE(buffer.capacity(), 100'000u);
  std::memset(small, 'x', 100'000);  // all of it writable
  EXPECT_EQ(buffer.Reserve(50'000), small);
  EXPECT_EQ(buffer.Reserve(100'000), small);
  EXPECT_EQ(small[99'999], 'x');  // the same memory, contents kept
  char* large = buffer.Reserve(3 << 20);
  EXPECT_GE(buffer.capacity(), size_t{3} << 20);
  std::memset(large, 'y', size_t{3} << 20);
  EXPECT_FALSE(Mapped(small)) << "the smaller mapping was not released";
}

TEST(ReadBufferTest, ABufferOfAHugePageOrMoreIsAlignedToOneAndAdvised) {
  ReadBuffer buffer;
  char* p = buffer.Reserve(ReadBuffer::kHugePageBytes);
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
  EXPECT_EQ(AnonHugeKb(p), 2048) << "not backed by a huge page: misaligned or not advised";
}

TEST(ReadBufferTest, SmallBuffersAreNotAdvised) {
  ReadBuffer buffer;
  buffer.Reserve(ReadBuffer::kHugePageBytes - 4096);
  EXPECT_FALSE(buffer.huge_pages_advised());
}

TEST(ReadBufferTest, MovingHandsTheMappingOverAndDestructionReleasesIt) {
  char* p = nullptr;
  {
    ReadBuffer a;
    p = a.Reserve(ReadBuffer::kHugePageBytes * 2);
    p[0] = 'a';
    ReadBuffer b(std::move(a));
    EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(b.Reserve(1), p);
    ReadBuffer c;
    c.Reserve(4096);
    c = std::move(b);
    EXPECT_EQ(c.Reserve(1), p);
    EXPECT_EQ(p[0], 'a');
    EXPECT_TRUE(Mapped(p));
  }
  EXPECT_FALSE(Mapped(p));
  EXPECT_FALSE(Mapped(p + ReadBuffer::kHugePageBytes * 2 - 1));
}

}  // namespace
}  // namespace obsmon
