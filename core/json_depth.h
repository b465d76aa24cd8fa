// How deeply a JSON text nests, before it is parsed: nlohmann's parser is iterative, but copying,
// printing and destroying a parsed value recurse once per level, so a hostile text of 100k '['
// would overflow the stack. Callers refuse what nests deeper than their format can.
#pragma once

#include <string_view>

namespace obsmon {

// The deepest nesting of arrays and objects in `text` (strings are skipped, escapes honoured);
// stops counting once `limit` is passed. Linear, no allocation.
int JsonNestingDepth(std::string_view text, int limit);

}  // namespace obsmon
