#include "probes/log_literal.h"

#include <cstring>

namespace obsmon::probes {

namespace {

// RE2's \b is an ASCII word boundary: \w is [0-9A-Za-z_].
inline bool IsWord(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

inline bool IsMeta(char c) { return std::strchr("\\.+*?()|[]{}^$", c) != nullptr; }

// One alternative's text between `|`s: [\b] literal [\b]. False when it is not that.
bool ParseAlternative(std::string_view alt, std::string* text, bool* before, bool* after) {
  *before = alt.size() >= 2 && alt.substr(0, 2) == "\\b";
  if (*before) alt.remove_prefix(2);
  // A trailing `\b` is `\` `b` not itself escaped: count the backslashes before the `b`.
  *after = false;
  if (alt.size() >= 2 && alt.back() == 'b') {
    size_t slashes = 0;
    for (size_t i = alt.size() - 1; i > 0 && alt[i - 1] == '\\'; --i) ++slashes;
    if (slashes % 2 == 1) {
      *after = true;
      alt.remove_suffix(2);
    }
  }
  text->clear();
  for (size_t i = 0; i < alt.size(); ++i) {
    const auto c = static_cast<unsigned char>(alt[i]);
    if (c < 0x20 || c >= 0x7f) return false;  // control or non-ASCII: RE2 decides
    if (c == '\\') {
      if (i + 1 == alt.size()) return false;
      const auto e = static_cast<unsigned char>(alt[i + 1]);
      // `\` + ASCII punctuation is that character; any other escape (\b, \d, \x41, \Q) is not
      // a plain literal here.
      if (e < 0x21 || e >= 0x7f || IsWord(e)) return false;
      text->push_back(static_cast<char>(e));
      ++i;
      continue;
    }
    if (IsMeta(static_cast<char>(c))) return false;
    text->push_back(static_cast<char>(c));
  }
  return !text->empty();
}

}  // namespace

std::optional<LiteralPattern> LiteralPattern::Parse(std::string_view pattern) {
  LiteralPattern out;
  size_t start = 0;
  for (size_t i = 0; i <= pattern.size(); ++i) {
    if (i < pattern.size() && pattern[i] == '\\') {
      ++i;  // the escaped byte is never a separator
      continue;
    }
    if (i < pattern.size() && pattern[i] != '|') continue;
    Alternative alt;
    if (!ParseAlternative(pattern.substr(start, i - start), &alt.text, &alt.boundary_before,
                          &alt.boundary_after)) {
      return std::nullopt;
    }
    out.alternatives_.push_back(std::move(alt));
    start = i + 1;
  }
  if (out.alternatives_.empty()) return std::nullopt;
  return out;
}

bool LiteralPattern::MatchesAt(std::string_view literal, bool boundary_before, bool boundary_after,
                               std::string_view line, size_t pos) {
  const size_t n = literal.size();
  if (n == 0 || pos + n > line.size()) return false;
  // A byte loop: the literals are short and usually differ in their first bytes.
  for (size_t i = 0; i < n; ++i) {
    if (line[pos + i] != literal[i]) return false;
  }
  return BoundariesHold(literal, boundary_before, boundary_after, line, pos);
}

bool LiteralPattern::BoundariesHold(std::string_view literal, bool boundary_before,
                                    bool boundary_after, std::string_view line, size_t pos) {
  const size_t n = literal.size();
  const auto* base = reinterpret_cast<const unsigned char*>(line.data());
  if (boundary_before) {
    const bool word_before = pos > 0 && IsWord(base[pos - 1]);
    if (word_before == IsWord(static_cast<unsigned char>(literal.front()))) return false;
  }
  if (boundary_after) {
    const bool word_after = pos + n < line.size() && IsWord(base[pos + n]);
    if (word_after == IsWord(static_cast<unsigned char>(literal.back()))) return false;
  }
  return true;
}

bool LiteralPattern::Matches(std::string_view line) const {
  const auto* base = reinterpret_cast<const unsigned char*>(line.data());
  for (const auto& alt : alternatives_) {
    const size_t n = alt.text.size();
    size_t from = 0;
    while (from + n <= line.size()) {
      const void* hit = memmem(base + from, line.size() - from, alt.text.data(), n);
      if (hit == nullptr) break;
      const size_t at = static_cast<size_t>(static_cast<const unsigned char*>(hit) - base);
      if (MatchesAt(alt.text, alt.boundary_before, alt.boundary_after, line, at)) return true;
      from = at + 1;
    }
  }
  return false;
}

}  // namespace obsmon::probes
