// Memory that file reads are copied into: mapped once and kept, never zeroed by us, and on
// transparent huge pages where the kernel offers them (madvise(MADV_HUGEPAGE); THP "madvise" or
// "always").
//
// Why: a fresh std::vector is zeroed page by page, one page fault each 4 KiB. On the 2-core VM
// of docs/benchmarks.md a page fault costs about 10 us: touching a fresh 2 MiB of 4 KiB pages
// took 4.9-5.3 ms, one 2 MiB huge page 0.1-0.2 ms. The log follower's two 1 MiB buffers were
// made fresh for each backlog read, and those faults were 5 of the 31 ms a 422 MB read took
// (docs/benchmarks.md, "Issue 17, item 3, stop 46").
#pragma once

#include <cstddef>

namespace obsmon {

class ReadBuffer {
 public:
  // Where the kernel can back a whole aligned extent with one page (x86-64, arm64 with 4 KiB
  // pages); a buffer of at least this size is aligned to it.
  static constexpr size_t kHugePageBytes = size_t{2} << 20;

  ReadBuffer() = default;
  ~ReadBuffer();
  ReadBuffer(ReadBuffer&& other) noexcept;
  ReadBuffer& operator=(ReadBuffer&& other) noexcept;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  // At least `bytes` bytes of unspecified content, the same memory as the last call's while
  // `bytes` is not larger than capacity(). Throws std::bad_alloc when it cannot be mapped.
  char* Reserve(size_t bytes);
  size_t capacity() const { return size_; }
  // Whether the kernel accepted MADV_HUGEPAGE for it (tests; false when never asked: < 2 MiB).
  bool huge_pages_advised() const { return huge_; }

 private:
  void Release();
  char* data_ = nullptr;
  size_t size_ = 0;
  bool huge_ = false;
};

}  // namespace obsmon
