// A PromQL string literal as Prometheus's lexer reads it, shared by the PromQL parser (alerts/)
// and the check of a store selector's matchers (core/label_selector, used by config/ and source/,
// which may not include alerts/): one reading of the quotes and escapes, so what the config
// check accepts is what the rule engine and a Prometheus-compatible store accept.
//
// "..." and '...' take Go's escapes: \a \b \f \n \r \t \v \\, the string's own quote, \ooo (3
// octal digits, at most 255) and \xhh (that byte), \uhhhh and \Uhhhhhhhh (the UTF-8 of that code
// point: no surrogates, at most U+10FFFF); a raw newline ends nothing and is an error. `...` is
// taken as it is, newlines included. Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace obsmon {

struct PromqlStringError {
  size_t pos = 0;       // byte offset in the text: the backslash of a bad escape, else the quote
  std::string message;  // e.g. "unknown escape sequence '\q' in string"
};

// Reads the literal starting at text[*pos], which must be a quote. On success appends the
// decoded value to *out, moves *pos past the closing quote and returns true; otherwise fills
// *error and returns false (*pos and *out are then unspecified).
bool ReadPromqlString(std::string_view text, size_t* pos, std::string* out,
                      PromqlStringError* error);

}  // namespace obsmon
