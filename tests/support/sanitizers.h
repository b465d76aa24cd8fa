// Whether the tests are built with AddressSanitizer (scripts/test-sanitized.sh), as is the
// obsmon under test: its quarantine holds freed memory, and its malloc is not glibc's, so
// memory bounds and malloc's own counts are checked in the normal build only.
#pragma once

#ifdef __has_feature
#define OBSMON_HAS_FEATURE(x) __has_feature(x)
#else
#define OBSMON_HAS_FEATURE(x) 0
#endif

namespace obsmon::testing {

#if defined(__SANITIZE_ADDRESS__) || OBSMON_HAS_FEATURE(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace obsmon::testing
