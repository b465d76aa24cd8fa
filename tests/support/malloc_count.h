// What glibc's malloc says it has handed out and not had back (mallinfo2), the truth for the
// /metrics families that estimate what holds obsmon's memory. Under AddressSanitizer malloc is
// its own and these figures mean nothing: kMallocCounts says whether they do.
#pragma once

#include <malloc.h>

#include <cstddef>

#include "tests/support/sanitizers.h"

namespace obsmon::testing {

inline constexpr bool kMallocCounts = !kAddressSanitizer;

inline size_t MallocInUse() {
  const struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

}  // namespace obsmon::testing
