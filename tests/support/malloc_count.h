// What glibc's malloc says it has handed out and not had back (mallinfo2), the truth for the
// /metrics families that estimate what holds obsmon's memory. Under AddressSanitizer malloc is
// its own and these figures mean nothing: kMallocCounts says whether they do.
#pragma once

#include <malloc.h>

#include <cstddef>

#if defined(__has_feature)
#define OBSMON_TEST_HAS_FEATURE(x) __has_feature(x)
#else
#define OBSMON_TEST_HAS_FEATURE(x) 0
#endif

namespace obsmon::testing {

#if defined(__SANITIZE_ADDRESS__) || OBSMON_TEST_HAS_FEATURE(address_sanitizer)
inline constexpr bool kMallocCounts = false;
#else
inline constexpr bool kMallocCounts = true;
#endif

inline size_t MallocInUse() {
  const struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

}  // namespace obsmon::testing
