#include "core/html_escape.h"

#include <cstdio>

namespace obsmon {

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          // U+2400 + c (U+2421 for DEL): the control picture, visible and inert.
          char buf[16];
          std::snprintf(buf, sizeof buf, "&#x%X;", u == 0x7f ? 0x2421u : 0x2400u + u);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

}  // namespace obsmon
