// Making text from outside (config values, log lines, target responses) safe to print on a
// terminal, in a log or in an error message: control bytes (NUL included) and bytes that are not
// valid UTF-8 become \xNN; valid UTF-8 passes through, so names in any script stay readable.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace obsmon {

std::string EscapeControlAndInvalidUtf8(std::string_view text);

// True when EscapeControlAndInvalidUtf8 would change `text`.
bool NeedsEscaping(std::string_view text);

}  // namespace obsmon
