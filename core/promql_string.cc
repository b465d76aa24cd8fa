#include "core/promql_string.h"

#include <cstdint>

namespace obsmon {
namespace {

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The numeric escape whose letter (or first octal digit) is at text[*pos]; *pos ends after it.
bool ReadNumericEscape(std::string_view text, size_t* pos, std::string* out,
                       PromqlStringError* error) {
  const size_t backslash = *pos - 1;
  const char e = text[*pos];
  int digits = 0, base = 16;
  uint32_t max = 255;
  if (e >= '0' && e <= '7') {
    digits = 3, base = 8;  // the letter is the first digit
  } else if (e == 'x' || e == 'u' || e == 'U') {
    digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
    max = e == 'x' ? 255 : 0x10FFFF;
    ++*pos;
  } else {
    *error = {backslash, std::string("unknown escape sequence '\\") + e + "' in string"};
    return false;
  }
  uint32_t value = 0;
  for (int i = 0; i < digits; ++i, ++*pos) {
    const int d = *pos < text.size() ? DigitValue(text[*pos]) : 99;
    if (d >= base) {
      *error = {backslash, *pos < text.size() ? std::string("illegal character '") + text[*pos] +
                                                     "' in escape sequence"
                                               : std::string("escape sequence not terminated")};
      return false;
    }
    value = value * static_cast<uint32_t>(base) + static_cast<uint32_t>(d);
  }
  if (value > max || (value >= 0xD800 && value < 0xE000)) {
    *error = {backslash, "escape sequence is an invalid Unicode code point"};
    return false;
  }
  if (max == 255) {
    *out += static_cast<char>(value);  // a byte, as Go's strconv.Unquote gives it
  } else {
    AppendUtf8(value, out);
  }
  return true;
}

}  // namespace

bool ReadPromqlString(std::string_view text, size_t* pos, std::string* out,
                      PromqlStringError* error) {
  const size_t start = *pos;
  const char quote = text[(*pos)++];
  static const std::string_view kSimple = "abfnrtv\\";
  static const std::string_view kDecoded = "\a\b\f\n\r\t\v\\";
  while (*pos < text.size() && text[*pos] != quote) {
    const char c = text[(*pos)++];
    if (c == '\\' && quote != '`') {
      if (*pos >= text.size()) break;
      const char e = text[*pos];
      if (size_t k = kSimple.find(e); k != std::string_view::npos) {
        *out += kDecoded[k];
        ++*pos;
      } else if (e == quote) {  // only the string's own quote, as Prometheus's lexer
        *out += quote;
        ++*pos;
      } else if (!ReadNumericEscape(text, pos, out, error)) {
        return false;
      }
    } else if (c == '\n' && quote != '`') {
      *error = {start, "unterminated quoted string"};
      return false;
    } else {
      *out += c;
    }
  }
  if (*pos >= text.size()) {
    *error = {start, "unterminated quoted string"};
    return false;
  }
  ++*pos;  // the closing quote
  return true;
}

}  // namespace obsmon
