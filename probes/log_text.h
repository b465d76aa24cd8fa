// Byte-level helpers for the log probe: newline counting, the literal prefilter and cleaning a
// matched line for storage. Pure functions over caller-owned buffers; thread-safe.
//
// The hot loops use AVX2 when the CPU has it (checked once at run time) and plain C++ otherwise;
// both give identical results (tests/probes/log_text_test.cc compares them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace obsmon::probes {

// Number of '\n' bytes in `text`; sets *has_nul (when given) to whether `text` holds a NUL byte,
// found in the same pass.
uint64_t CountNewlines(std::string_view text, bool* has_nul = nullptr);
uint64_t CountNewlinesScalar(std::string_view text);

// A set of literals (the prefilter: every line a severity pattern can match contains one of
// them), searched exactly or ignoring ASCII case. Case-insensitive literals are stored lowercased;
// at most kMaxLiterals, each 1..255 bytes.
class LiteralSet {
 public:
  static constexpr size_t kMaxLiterals = 8;
  // Returns false (and leaves the set empty) when there are too many or an empty literal.
  // Case-insensitive sets fold ASCII case; case-sensitive ones compare bytes exactly.
  bool Assign(const std::vector<std::string>& literals, bool case_sensitive = false);
  bool case_sensitive() const { return case_sensitive_; }
  bool empty() const { return literals_.empty(); }
  const std::vector<std::string>& literals() const { return literals_; }

  // Offset in `text` of the first position where some literal occurs (ignoring ASCII case), or
  // std::string_view::npos.
  size_t Find(std::string_view text) const;
  size_t FindScalar(std::string_view text) const;

 private:
  bool MatchesAt(const char* p, const char* end) const;
  std::vector<std::string> literals_;
  // What the vector search compares: two bytes at two offsets of a literal (its rarest byte and
  // its last: log_text.cc, ProbeOffsets), case-folded when the set is; one per distinct pair.
 public:
  struct Filter {
    size_t offset[2];
    char byte[2];
    bool operator==(const Filter& o) const {
      return offset[0] == o.offset[0] && offset[1] == o.offset[1] && byte[0] == o.byte[0] &&
             byte[1] == o.byte[1];
    }
  };

 private:
  std::vector<Filter> filters_;
  size_t max_len_ = 0;
  bool case_sensitive_ = false;
};

// Makes `line` fit for storage: drops one trailing '\r', cuts it to at most `max_bytes` bytes
// (never inside a UTF-8 sequence; "..." marks a cut, included in the budget) and writes each
// invalid UTF-8 byte and each control byte but tab (NUL included) as the four characters \xNN,
// as reports show them, so no byte is lost and none ends the text early; a backslash is written
// as two, so the escaping reads back unambiguously. Sets *had_invalid when invalid UTF-8 was
// seen.
std::string CleanLine(std::string_view line, size_t max_bytes, bool* had_invalid = nullptr);

}  // namespace obsmon::probes
