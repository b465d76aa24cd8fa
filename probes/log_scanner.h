// Finds the lines of a buffer that match a log probe's severities, at grep speed.
//
// The buffer is scanned whole, never line by line: a literal prefilter (the literals every match
// must contain, taken from RE2's FilteredRE2 analysis) finds candidate positions; only the line
// around a candidate (its bounds read from the newlines the same pass found) is checked with the
// severity patterns. When no prefilter can be derived (a pattern without a required literal of
// 3+ bytes), one combined RE2 is run over the buffer instead (line by line where a pattern
// anchors the whole text, and on lines ending in "\r\n" too where one holds a `$`: Classify()
// sees a line without its '\r'). Lines are counted in the prefilter's own pass over the
// buffer (the bytes are loaded once for both; LiteralSet::ScanText), or by a vectorized newline
// count after RE2.
//
// A severity whose pattern is only plain literals (`ERROR`, `\[error\]`, `"level":"error"`,
// `\bCRITICAL\b|\bFATAL\b`; probes/log_literal.h) is decided without RE2, and when every
// severity is one, the prefilter searches exactly their literals (case-sensitive patterns only).
//
// A line that matches several severities counts once, under the first one listed.
// Immutable after Create(); Scan() and Classify() are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "probes/log_literal.h"
#include "probes/log_text.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace obsmon::probes {

struct SeverityPattern {
  std::string name;     // "error", "critical": the `severity` label value
  std::string pattern;  // RE2 syntax, matched against one line without its newline
};

// The default severities, most severe first: critical (\bCRITICAL\b|\bFATAL\b), error (\bERROR\b).
std::vector<SeverityPattern> DefaultSeverities();

struct LineMatch {
  size_t offset = 0;  // of the line's first byte in the scanned buffer
  size_t length = 0;  // without the '\n'
  int severity = -1;  // index into the scanner's severities
};

class LogScanner {
 public:
  // Fails with InvalidArgument naming the severity when a pattern does not compile.
  static Result<std::unique_ptr<LogScanner>> Create(std::vector<SeverityPattern> severities,
                                                    bool case_insensitive);
  ~LogScanner();

  // Scans `text`, which holds complete lines only (empty, or ending in '\n'). Appends the
  // matching lines to *matches in order and returns the number of lines. Sets *has_nul (when
  // given) to whether `text` holds a NUL byte (found in the same pass as the lines).
  uint64_t Scan(std::string_view text, std::vector<LineMatch>* matches,
                bool* has_nul = nullptr) const;

  // The first severity whose pattern matches `line` (no newline), or -1.
  int Classify(std::string_view line) const;

  const std::vector<SeverityPattern>& severities() const { return severities_; }
  // The prefilter's literals (lowercase); empty when the combined-RE2 path is used.
  const std::vector<std::string>& prefilter_literals() const { return literals_.literals(); }

 private:
  LogScanner() = default;
  // These two return the newline count, from the prefilter's own pass (LiteralSet::ScanText).
  uint64_t ScanWithLiterals(std::string_view text, std::vector<LineMatch>* matches,
                            bool* has_nul) const;
  // All severities plain literals: each prefilter hit is classified where it is, no RE2.
  uint64_t ScanPlain(std::string_view text, std::vector<LineMatch>* matches,
                     bool* has_nul) const;
  // The first-listed severity of a literal occurring at `pos` of the line [start, end) of
  // `text` with its word boundaries, or -1. `which`: the literals occurring there (bit i:
  // plain_[i]), as the prefilter's verification found them.
  int SeverityAt(std::string_view text, size_t start, size_t end, size_t pos,
                 uint32_t which) const;
  void ScanWithRegex(std::string_view text, std::vector<LineMatch>* matches) const;
  // Classify() on every line of `text` ending in "\r\n" that *matches (in order) does not hold
  // yet, the results merged in order.
  void AddCrLfLines(std::string_view text, std::vector<LineMatch>* matches) const;
  // Classify() on every line of `text`.
  void ScanEveryLine(std::string_view text, std::vector<LineMatch>* matches) const;

  // What the combined RE2 over the whole buffer can miss of what Classify() sees in one line
  // (the line without its '\r'): a `$` before a "\r\n" (kCrLfLines: those lines are classified
  // one by one too), or an anchor of the whole text (`\A`, `\z`, `(?-m)`: kEveryLine).
  enum class RegexReach { kBuffer, kCrLfLines, kEveryLine };
  RegexReach regex_reach_ = RegexReach::kBuffer;

  std::vector<SeverityPattern> severities_;
  std::vector<std::unique_ptr<re2::RE2>> patterns_;  // one per severity
  // Per severity: the pattern as literals when it is only that (then RE2 is not called for it).
  std::vector<std::optional<LiteralPattern>> literal_patterns_;
  std::unique_ptr<re2::RE2> combined_;  // (?m)(?:p1)|(?:p2)|...
  LiteralSet literals_;
  // Set when every severity is a plain literal pattern and literals_ holds exactly their
  // literals: one entry per literal, with its severity.
  struct PlainLiteral {
    std::string text;
    bool boundary_before = false;
    bool boundary_after = false;
    int severity = -1;
  };
  std::vector<PlainLiteral> plain_;
};

}  // namespace obsmon::probes
