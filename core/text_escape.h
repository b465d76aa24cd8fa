// Making text from outside (config values, log lines, target responses) safe to print on a
// terminal, in a log or in an error message: control bytes (NUL included) and bytes that are not
// valid UTF-8 become \xNN; valid UTF-8 passes through, so names in any script stay readable.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace obsmon {

std::string EscapeControlAndInvalidUtf8(std::string_view text);

// Length of the valid UTF-8 sequence starting at text[i] (1-4), or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid, as in RFC 3629).
size_t Utf8SequenceLength(std::string_view text, size_t i);

// True when EscapeControlAndInvalidUtf8 would change `text`.
bool NeedsEscaping(std::string_view text);

}  // namespace obsmon
