// A log severity pattern that is only an alternation of plain ASCII literals, each optionally
// between `\b`s (`\bERROR\b`, `\[error\]`, `"level":"error"`, `\[crit\]|\[alert\]`): matched
// with memmem and an ASCII word-boundary check, exactly as RE2 matches it, so that a line the
// prefilter found is classified without an RE2 call. That matters when matches are dense (an
// nginx error log has `[error]` on every other line: two RE2 calls per line cost more than the
// whole scan). tests/probes/log_literal_test.cc and fuzz/fuzz_log_lines.cc compare it with RE2.
//
// Case-sensitive only: RE2's case folding is Unicode (`k` also matches U+212A KELVIN SIGN), which
// an ASCII fold would not reproduce. Immutable after Parse(); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace obsmon::probes {

class LiteralPattern {
 public:
  // The pattern as literals, or nullopt when it is anything else (a class, a repetition, a
  // group, `.`, an anchor, an escape other than `\b` at an end or `\` + ASCII punctuation,
  // a non-ASCII or control byte, an empty alternative).
  static std::optional<LiteralPattern> Parse(std::string_view pattern);

  // Whether RE2 would find the pattern in `line` (one line, no newline).
  bool Matches(std::string_view line) const;

  struct Alternative {
    std::string text;              // the literal, unescaped, without the `\b`s
    bool boundary_before = false;  // `\b` before the literal
    bool boundary_after = false;   // `\b` after it
  };
  const std::vector<Alternative>& alternatives() const { return alternatives_; }

  // Whether `literal` occurs at `pos` of `line` with the word boundaries asked for.
  static bool MatchesAt(std::string_view literal, bool boundary_before, bool boundary_after,
                        std::string_view line, size_t pos);
  // The boundaries alone, for a `literal` known to occur at `pos` of `line`.
  static bool BoundariesHold(std::string_view literal, bool boundary_before, bool boundary_after,
                             std::string_view line, size_t pos);

 private:
  std::vector<Alternative> alternatives_;
};

}  // namespace obsmon::probes
