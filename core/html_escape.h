// Escaping text from outside (log lines, target responses, labels) for HTML pages.
#pragma once

#include <string>
#include <string_view>

namespace obsmon {

// Escapes &, <, >, " and ' as entities, and turns control characters into their Unicode control
// pictures (U+2400 + c, U+2421 for DEL) so they are visible and inert. Bytes >= 0x80 pass through
// (the caller has made the text valid UTF-8).
std::string EscapeHtml(std::string_view text);

}  // namespace obsmon
