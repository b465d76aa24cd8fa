// Memory that file reads are copied into: mapped at the first Reserve() and kept while the
// object lives (reused by every later Reserve() that fits), never zeroed by us, and, when
// asked, on transparent huge pages where the kernel offers them (madvise(MADV_HUGEPAGE); THP
// "madvise" or "always").
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

  // kHugePages: a buffer of at least kHugePageBytes is aligned to one and advised for huge
  // pages, for a buffer that is written whole soon (one fault instead of 512). kSmallPages: 4
  // KiB pages, resident only as they are written, for a buffer kept whose use may be small
  // (a huge page would make a one-line read hold 2 MiB).
  enum Pages { kSmallPages, kHugePages };

  // At least `bytes` bytes of unspecified content, the same memory as the last call's while
  // `bytes` is not larger than capacity() (`pages` is then not looked at). Throws
  // std::bad_alloc when it cannot be mapped.
  char* Reserve(size_t bytes, Pages pages);
  size_t capacity() const { return size_; }
  // Whether the kernel accepted MADV_HUGEPAGE for it (tests; false when not asked).
  bool huge_pages_advised() const { return huge_; }
  // Gives the pages past the first `keep` bytes back to the kernel (they read as zeros when
  // next touched); the mapping and its capacity stay.
  void Trim(size_t keep);

 private:
  void Release();
  char* data_ = nullptr;
  size_t size_ = 0;
  bool huge_ = false;
};

}  // namespace obsmon
