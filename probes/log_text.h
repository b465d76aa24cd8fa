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
#include <type_traits>
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

  // The line of `text` holding a hit: [start, end), end at its '\n' or at the text's end.
  struct Line {
    size_t start = 0;
    size_t end = 0;
  };

  // The log scanner's one pass over `text`: calls on_hit(pos, line) (pos: size_t, line: Line,
  // returning size_t), or on_hit(pos, line, which) when it takes a third argument (uint32_t:
  // bit i set when literals()[i] occurs at pos; never 0: the scanner then need not compare the
  // bytes again), at each position where a literal occurs, in order, with the line holding it,
  // and looks for the next one from what on_hit returns (pos + 1 for the next occurrence,
  // line.end + 1 to skip the rest of the line; text.size() or more to look no further). Returns
  // the number of '\n' bytes in all of `text`, skipped parts included, and sets *has_nul (when
  // given) to whether it holds a NUL byte: counted from the same loads as the search, so a
  // buffer is read once. The line bounds come from the newlines found by those loads, not from a
  // second search. An on_hit returning std::string_view::npos ends the pass at once (the count is
  // then partial: Find() does so). `on_hit` runs on the calling thread, before ScanText returns.
  template <typename OnHit>
  uint64_t ScanText(std::string_view text, OnHit&& on_hit, bool* has_nul = nullptr) const {
    return ScanText(text, &CallHit<std::remove_reference_t<OnHit>>,
                    const_cast<void*>(static_cast<const void*>(&on_hit)), has_nul,
                    /*vector=*/true);
  }
  // The same without the vector code (what tests compare ScanText with).
  template <typename OnHit>
  uint64_t ScanTextScalar(std::string_view text, OnHit&& on_hit, bool* has_nul = nullptr) const {
    return ScanText(text, &CallHit<std::remove_reference_t<OnHit>>,
                    const_cast<void*>(static_cast<const void*>(&on_hit)), has_nul,
                    /*vector=*/false);
  }

 private:
  using HitFn = size_t (*)(void* context, size_t pos, Line line, uint32_t which);
  template <typename Fn>
  static size_t CallHit(void* f, size_t pos, Line line, uint32_t which) {
    if constexpr (std::is_invocable_v<Fn&, size_t, Line, uint32_t>) {
      return (*static_cast<Fn*>(f))(pos, line, which);
    } else {
      return (*static_cast<Fn*>(f))(pos, line);
    }
  }
  uint64_t ScanText(std::string_view text, HitFn on_hit, void* context, bool* has_nul,
                    bool vector) const;
  // The literals occurring at `p` of a text ending at `end`: bit i for literals()[i]. The
  // vector pass verifies its candidates with the first; the scalar pass and FindScalar() use
  // the second (what the tests compare the first with).
  uint32_t MatchesAt(const char* p, const char* end) const;
  uint32_t MatchesAtBytewise(const char* p, const char* end) const;
  std::vector<std::string> literals_;
  // Each literal's first (up to) 8 bytes as one word loaded from memory (memcpy, so byte order
  // does not matter), with the mask of its bytes and, ignoring case, 0x20 where it has a letter
  // (OR-ed into the text's word: an uppercase letter then equals its lowercase, and nothing
  // else does, since the literal's byte there is a-z). A candidate is verified with one load
  // and a compare per literal, not a byte loop per literal (nginx: a candidate on nearly every
  // line, `[warn]` and `[info]` passing `[crit]`'s filter; the byte loops were 12 % of a scan).
  struct Head {
    uint64_t bytes = 0;
    uint64_t mask = 0;
    uint64_t fold = 0;
  };
  std::vector<Head> heads_;
  uint32_t long_literals_ = 0;  // bit i: literals()[i] is longer than 8 bytes
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
