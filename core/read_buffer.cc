#include "core/read_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>
#include <utility>

namespace obsmon {

namespace {

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t PageBytes() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

void* MapAnonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

}  // namespace

ReadBuffer::~ReadBuffer() { Release(); }

ReadBuffer::ReadBuffer(ReadBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      huge_(std::exchange(other.huge_, false)) {}

ReadBuffer& ReadBuffer::operator=(ReadBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    huge_ = std::exchange(other.huge_, false);
  }
  return *this;
}

void ReadBuffer::Release() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  huge_ = false;
}

void ReadBuffer::Trim(size_t keep) {
  const size_t from = RoundUp(keep, PageBytes());
  if (data_ == nullptr || from >= size_) return;
  (void)::madvise(data_ + from, size_ - from, MADV_DONTNEED);
}

char* ReadBuffer::Reserve(size_t bytes, Pages pages) {
  if (bytes <= size_ && data_ != nullptr) return data_;
  Release();
  const size_t size = RoundUp(bytes == 0 ? 1 : bytes, PageBytes());
  if (pages == kSmallPages || size < kHugePageBytes) {
    data_ = static_cast<char*>(MapAnonymous(size));
    size_ = size;
    return data_;
  }
  // Over-map by one huge page and keep the aligned part: the kernel backs a huge page only
  // where a whole aligned extent lies inside the mapping. Pages are faulted in as the reads
  // first write them, never zeroed here.
  const size_t over = size + kHugePageBytes;
  char* raw = static_cast<char*>(MapAnonymous(over));
  const auto at = reinterpret_cast<uintptr_t>(raw);
  char* aligned = raw + (RoundUp(at, kHugePageBytes) - at);
  if (aligned > raw) ::munmap(raw, static_cast<size_t>(aligned - raw));
  const size_t tail = static_cast<size_t>(raw + over - (aligned + size));
  if (tail > 0) ::munmap(aligned + size, tail);
  data_ = aligned;
  size_ = size;
  huge_ = ::madvise(data_, size_, MADV_HUGEPAGE) == 0;
  return data_;
}

}  // namespace obsmon
