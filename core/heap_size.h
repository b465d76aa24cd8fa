// Estimates of what objects hold on the heap, for the /metrics families that say what holds
// obsmon's memory (issue 17): the size malloc hands out for a request, and what a string
// holds beyond its own object. They count what a structure allocated, as glibc's malloc
// rounds it (tests compare them with mallinfo2()'s own count).
#pragma once

#include <cstddef>
#include <string>

namespace obsmon {

// glibc's chunk for an n-byte request: n plus its 8-byte header, rounded up to 16, at least 32.
constexpr size_t AllocatedBytes(size_t n) {
  const size_t chunk = (n + 8 + 15) & ~size_t{15};
  return chunk < 32 ? 32 : chunk;
}

// What a string holds beyond its object: nothing while it fits the small-string buffer (15
// characters in libstdc++), else its capacity and terminator, allocated.
inline size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > 15 ? AllocatedBytes(s.capacity() + 1) : 0;
}

// A vector's buffer, allocated (nothing while it has no capacity).
template <typename V>
size_t VectorHeapBytes(const V& v) {
  return v.capacity() == 0 ? 0 : AllocatedBytes(v.capacity() * sizeof(typename V::value_type));
}

}  // namespace obsmon
