#include "cmd/obsmon/freed_memory.h"

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define OBSMON_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OBSMON_ASAN 1
#endif
#endif

namespace obsmon {

void ReturnFreedMemory() {
#ifndef OBSMON_ASAN
  malloc_trim(0);
#endif
}

}  // namespace obsmon
