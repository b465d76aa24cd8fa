#include "probes/log_text.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#define OBSMON_HAVE_AVX2_PATH 1
#endif

#include "core/text_escape.h"

namespace obsmon::probes {

namespace {

inline unsigned char Lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// How rare a byte is in log text, roughly (higher: rarer). Space, digits and the punctuation of
// timestamps, key=value and JSON are everywhere; lowercase letters by English frequency;
// uppercase letters and brackets are rare. Only the prefilter's selectivity depends on it.
[[maybe_unused]] int Rarity(unsigned char c) {
  static constexpr char kLower[] = "etaoinsrhldcumfpgwybvkxjqz";  // most frequent first
  if (c >= 'a' && c <= 'z') {
    return 4 + static_cast<int>(std::strchr(kLower, c) - kLower);
  }
  if (c >= 'A' && c <= 'Z') return 40;
  if (c == ' ' || (c >= '0' && c <= '9')) return 0;
  if (std::strchr("\"':,.=-/", c) != nullptr) return 2;
  if (std::strchr("[](){}<>|#@!", c) != nullptr) return 35;
  return 20;
}

// The two offsets of `lit` the vector search compares: its rarest byte but the last (the first
// of equals) and its last byte, which tells apart literals sharing a prefix (`"level":"error"`
// and `"level":"info"`). Both 0 for a one-byte literal.
[[maybe_unused]] std::array<size_t, 2> ProbeOffsets(const std::string& lit) {
  const size_t n = lit.size();
  size_t rarest = 0;
  for (size_t i = 1; i + 1 < n; ++i) {
    if (Rarity(static_cast<unsigned char>(lit[i])) >
        Rarity(static_cast<unsigned char>(lit[rarest]))) {
      rarest = i;
    }
  }
  return {rarest, n - 1};
}

#if OBSMON_HAVE_AVX2_PATH
bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

// The newlines of the 32-byte blocks given to Add(), in 8-bit lane counters flushed before they
// overflow, and whether one held a NUL (the lowest byte seen per lane: 0 only after a NUL).
// Lives in registers inside ScanAvx2.
class BlockTally {
 public:
  __attribute__((target("avx2"))) BlockTally()
      : lanes_(_mm256_setzero_si256()), low_(_mm256_set1_epi8(static_cast<char>(0xff))) {}
  __attribute__((target("avx2"))) void Add(__m256i block) {
    lanes_ = _mm256_sub_epi8(lanes_, _mm256_cmpeq_epi8(block, _mm256_set1_epi8('\n')));
    low_ = _mm256_min_epu8(low_, block);
    if (++blocks_ == 255) Flush();
  }
  __attribute__((target("avx2"))) uint64_t Newlines() {
    Flush();
    return count_;
  }
  __attribute__((target("avx2"))) bool SawNul() const {
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(low_, _mm256_setzero_si256())) != 0;
  }

 private:
  __attribute__((target("avx2"))) void Flush() {
    const __m256i sums = _mm256_sad_epu8(lanes_, _mm256_setzero_si256());
    count_ += static_cast<uint64_t>(_mm256_extract_epi64(sums, 0)) +
              static_cast<uint64_t>(_mm256_extract_epi64(sums, 1)) +
              static_cast<uint64_t>(_mm256_extract_epi64(sums, 2)) +
              static_cast<uint64_t>(_mm256_extract_epi64(sums, 3));
    lanes_ = _mm256_setzero_si256();
    blocks_ = 0;
  }
  __m256i lanes_;
  __m256i low_;
  unsigned blocks_ = 0;
  uint64_t count_ = 0;
};

// Also ORs into *nul whether a NUL byte was seen (the same pass: the data is loaded once).
__attribute__((target("avx2"))) uint64_t CountNewlinesAvx2(const char* p, size_t n, bool* nul) {
  BlockTally tally;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    tally.Add(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
  }
  uint64_t count = tally.Newlines();
  for (; i < n; ++i) {
    count += (p[i] == '\n');
    *nul = *nul || p[i] == '\0';
  }
  *nul = *nul || tally.SawNul();
  return count;
}

// Blocks of 32 bytes per segment of the fused pass: the segment's masks (8 bytes a block) stay
// in L1 between its two phases.
constexpr size_t kSegmentBlocks = 512;

// The candidate mask of the 32 positions starting at `at`: bit b is set when, for some filter,
// both its bytes are at their offsets from at + b (compared with the 0x20 bit set when ASCII
// case is ignored). K filters, or `k` when K is 0: a fixed K keeps the filters in registers.
// kFirstAtZero: every filter's first offset is 0 (`ERROR`, `CRITICAL`, `[error]`: the rarest
// byte is the first), so the block already loaded is that byte's row and only the second
// offsets are loaded again (two loads a block fewer with two filters).
template <bool kFold, size_t K, bool kFirstAtZero>
struct CandidateFilters {
  __m256i first[LiteralSet::kMaxLiterals];
  __m256i second[LiteralSet::kMaxLiterals];
  size_t first_off[LiteralSet::kMaxLiterals];
  size_t second_off[LiteralSet::kMaxLiterals];
  size_t k = 0;

  __attribute__((target("avx2"))) explicit CandidateFilters(
      const std::vector<LiteralSet::Filter>& filters)
      : k(filters.size()) {
    for (size_t j = 0; j < k; ++j) {
      first_off[j] = filters[j].offset[0];
      second_off[j] = filters[j].offset[1];
      first[j] = _mm256_set1_epi8(filters[j].byte[0]);
      second[j] = _mm256_set1_epi8(filters[j].byte[1]);
    }
  }
  __attribute__((target("avx2"))) static __m256i Load(const char* at) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
    return kFold ? _mm256_or_si256(v, _mm256_set1_epi8(0x20)) : v;
  }
  // `block`: the 32 bytes at `at`, as loaded.
  __attribute__((target("avx2"))) uint32_t Mask(const char* at, __m256i block) const {
    const size_t count = K == 0 ? k : K;
    __m256i any = _mm256_setzero_si256();
    const __m256i at_zero = kFold ? _mm256_or_si256(block, _mm256_set1_epi8(0x20)) : block;
    // Unrolled explicitly: GCC -O2 left the loop rolled for K = 3 (the default
    // severities' CRITICAL, FATAL, ERROR), its filters and offsets reloaded from the stack at
    // every block; unrolled, a warm 422 MB long-line scan took 0.033 s instead of 0.050 s.
#pragma GCC unroll 8
    for (size_t j = 0; j < count; ++j) {
      const __m256i row = kFirstAtZero ? at_zero : Load(at + first_off[j]);
      const __m256i both = _mm256_and_si256(_mm256_cmpeq_epi8(row, first[j]),
                                            _mm256_cmpeq_epi8(Load(at + second_off[j]), second[j]));
      any = _mm256_or_si256(any, both);
    }
    return static_cast<uint32_t>(_mm256_movemask_epi8(any));
  }
};

// The fused pass behind LiteralSet::ScanText, in segments of kSegmentBlocks 32-byte blocks, each
// in two phases. The first loads every block once and keeps, per block, the mask of its newlines
// (counted; NULs noted from the same load) and the mask of its candidates (none for a block
// wholly inside the part already decided, before `*skip`): a loop without a call, so the
// filters stay in registers. The second goes over the candidates, verifies each (`verify`
// gives the literals occurring there), and hands a
// verified one to `on_hit` with its line's bounds, read from the newline masks (a line reaching
// past the segment is ended by memchr), which says where to look next. Returns where it
// stopped: the first block that would read past `n` (the caller goes on with the scalar loop),
// or `n` once on_hit returned npos (the count is then partial: only Find() stops so).
// `*line_start` is the start of the line holding the next byte to scan (0 at first).
// The position just after the last newline of block `b` of a segment starting at `seg`, whose
// newline mask `mask` is not 0.
inline size_t AfterLastNewline(size_t seg, size_t b, uint32_t mask) {
  return seg + b * 32 + (31 - static_cast<size_t>(__builtin_clz(mask))) + 1;
}

template <bool kFold, size_t K, bool kFirstAtZero, typename Verify>
__attribute__((target("avx2,popcnt"))) size_t ScanAvx2(
    const char* p, size_t n, const std::vector<LiteralSet::Filter>& filters, size_t max_len,
    Verify verify, size_t (*on_hit)(void*, size_t, LiteralSet::Line, uint32_t), void* context,
    size_t* skip_io, size_t* line_start, uint64_t* newlines, bool* nul) {
  const CandidateFilters<kFold, K, kFirstAtZero> candidates(filters);
  uint32_t nl_mask[kSegmentBlocks];
  uint32_t cand_mask[kSegmentBlocks];
  const __m256i newline = _mm256_set1_epi8('\n');
  __m256i low = _mm256_set1_epi8(static_cast<char>(0xff));
  uint64_t count = 0;
  size_t skip = *skip_io;
  LiteralSet::Line line;  // the last line handed to on_hit: later hits in it reuse its bounds
  bool have_line = false;
  size_t i = 0;
  while (i + max_len - 1 + 32 <= n && skip != std::string_view::npos) {
    const size_t seg = i;
    size_t blocks = 0;
    uint32_t any = 0;
    for (; blocks < kSegmentBlocks && i + max_len - 1 + 32 <= n; ++blocks, i += 32) {
      const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      const auto nl =
          static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(block, newline)));
      low = _mm256_min_epu8(low, block);
      nl_mask[blocks] = nl;
      count += static_cast<uint64_t>(__builtin_popcount(nl));
      const uint32_t c = skip >= i + 32 ? 0 : candidates.Mask(p + i, block);
      cand_mask[blocks] = c;
      any |= c;
    }
    const size_t seg_end = i;
    // The line bounds of position `pos` of this segment, from the masks.
    const auto line_of = [&](size_t pos) {
      if (have_line && line.start <= pos && pos <= line.end) return line;
      LiteralSet::Line l;
      const size_t b = (pos - seg) / 32;
      const unsigned bit = static_cast<unsigned>((pos - seg) % 32);
      // The last newline before pos: in its block below its bit, then in earlier blocks.
      uint32_t before = nl_mask[b] & ((uint32_t{1} << bit) - 1);
      size_t bb = b;
      while (before == 0 && bb > 0) before = nl_mask[--bb];
      l.start = before != 0 ? AfterLastNewline(seg, bb, before) : *line_start;
      // The first newline at or after pos.
      uint32_t after = nl_mask[b] & (~uint32_t{0} << bit);
      size_t ba = b;
      while (after == 0 && ba + 1 < blocks) after = nl_mask[++ba];
      if (after != 0) {
        l.end = seg + ba * 32 + static_cast<size_t>(__builtin_ctz(after));
      } else {
        const void* nl = std::memchr(p + seg_end, '\n', n - seg_end);
        l.end = nl == nullptr ? n : static_cast<size_t>(static_cast<const char*>(nl) - p);
      }
      return l;
    };
    for (size_t b = any == 0 ? blocks : 0; b < blocks; ++b) {
      uint32_t mask = cand_mask[b];
      const size_t base = seg + b * 32;
      if (mask == 0 || skip >= base + 32) continue;
      // Bit x is a candidate for a literal starting at base + x: every offset is relative to it.
      if (skip > base) mask &= ~uint32_t{0} << (skip - base);
      while (mask != 0) {
        const size_t pos = base + static_cast<size_t>(__builtin_ctz(mask));
        const uint32_t which = verify(pos);
        if (which == 0) {
          mask &= mask - 1;
          continue;
        }
        line = line_of(pos);
        have_line = true;
        skip = std::max(pos + 1, on_hit(context, pos, line, which));
        if (skip >= base + 32) break;
        mask &= ~uint32_t{0} << (skip - base);
      }
      if (skip == std::string_view::npos) break;  // on_hit wants no more
    }
    // The line holding the next segment's first byte starts after this segment's last newline.
    for (size_t b = blocks; b > 0; --b) {
      if (nl_mask[b - 1] != 0) {
        *line_start = AfterLastNewline(seg, b - 1, nl_mask[b - 1]);
        break;
      }
    }
  }
  *skip_io = skip;
  *newlines += count;
  *nul = *nul || _mm256_movemask_epi8(_mm256_cmpeq_epi8(low, _mm256_setzero_si256())) != 0;
  return skip == std::string_view::npos ? n : i;
}
#endif

}  // namespace

uint64_t CountNewlinesScalar(std::string_view text) {
  uint64_t count = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const void* hit = std::memchr(p, '\n', static_cast<size_t>(end - p));
    if (hit == nullptr) break;
    ++count;
    p = static_cast<const char*>(hit) + 1;
  }
  return count;
}

uint64_t CountNewlines(std::string_view text, bool* has_nul) {
  bool nul = false;
  uint64_t count = 0;
#if OBSMON_HAVE_AVX2_PATH
  if (CpuHasAvx2()) {
    count = CountNewlinesAvx2(text.data(), text.size(), &nul);
  } else
#endif
  {
    count = CountNewlinesScalar(text);
    nul = std::memchr(text.data(), '\0', text.size()) != nullptr;
  }
  if (has_nul != nullptr) *has_nul = nul;
  return count;
}

bool LiteralSet::Assign(const std::vector<std::string>& literals, bool case_sensitive) {
  literals_.clear();
  heads_.clear();  // a refused set leaves none behind: MatchesAt reads literals_ by their bits
  long_literals_ = 0;
  case_sensitive_ = case_sensitive;
  if (literals.empty() || literals.size() > kMaxLiterals) return false;
  std::vector<std::string> lowered;
  for (const auto& lit : literals) {
    if (lit.empty() || lit.size() > 255) return false;
    std::string l;
    for (unsigned char c : lit) l.push_back(static_cast<char>(case_sensitive ? c : Lower(c)));
    lowered.push_back(std::move(l));
  }
  literals_ = std::move(lowered);
  filters_.clear();
  max_len_ = 0;
  for (size_t i = 0; i < literals_.size(); ++i) {
    const std::string& lit = literals_[i];
    const size_t m = std::min<size_t>(lit.size(), 8);
    unsigned char bytes[8] = {}, mask[8] = {}, fold[8] = {};
    for (size_t j = 0; j < m; ++j) {
      bytes[j] = static_cast<unsigned char>(lit[j]);
      mask[j] = 0xff;
      if (!case_sensitive && bytes[j] >= 'a' && bytes[j] <= 'z') fold[j] = 0x20;
    }
    Head h;
    std::memcpy(&h.bytes, bytes, 8);
    std::memcpy(&h.mask, mask, 8);
    std::memcpy(&h.fold, fold, 8);
    heads_.push_back(h);
    if (lit.size() > 8) long_literals_ |= uint32_t{1} << i;
  }
  for (const auto& lit : literals_) {
    const auto off = ProbeOffsets(lit);
    const char fold = case_sensitive ? 0 : 0x20;
    Filter f{{off[0], off[1]},
             {static_cast<char>(lit[off[0]] | fold), static_cast<char>(lit[off[1]] | fold)}};
    if (std::find(filters_.begin(), filters_.end(), f) == filters_.end()) filters_.push_back(f);
    max_len_ = std::max(max_len_, lit.size());
  }
  return true;
}

uint32_t LiteralSet::MatchesAt(const char* p, const char* end) const {
  if (end - p < 8) return MatchesAtBytewise(p, end);
  uint64_t word;
  std::memcpy(&word, p, 8);
  uint32_t which = 0;
  for (size_t i = 0; i < heads_.size(); ++i) {
    const Head& h = heads_[i];
    which |= uint32_t{(((word | h.fold) ^ h.bytes) & h.mask) == 0} << i;
  }
  // A literal longer than a word: its first 8 bytes are there; the rest byte by byte.
  for (uint32_t rest = which & long_literals_; rest != 0; rest &= rest - 1) {
    const auto i = static_cast<size_t>(__builtin_ctz(rest));
    const std::string& lit = literals_[i];
    bool same = static_cast<size_t>(end - p) >= lit.size();
    for (size_t j = 8; same && j < lit.size(); ++j) {
      const auto c = static_cast<unsigned char>(p[j]);
      same = (case_sensitive_ ? c : Lower(c)) == static_cast<unsigned char>(lit[j]);
    }
    if (!same) which &= ~(uint32_t{1} << i);
  }
  return which;
}

uint32_t LiteralSet::MatchesAtBytewise(const char* p, const char* end) const {
  uint32_t which = 0;
  for (size_t i = 0; i < literals_.size(); ++i) {
    const std::string& lit = literals_[i];
    if (static_cast<size_t>(end - p) < lit.size()) continue;
    size_t j = 0;
    while (j < lit.size() &&
           (case_sensitive_ ? static_cast<unsigned char>(p[j])
                            : Lower(static_cast<unsigned char>(p[j]))) ==
               static_cast<unsigned char>(lit[j])) {
      ++j;
    }
    if (j == lit.size()) which |= uint32_t{1} << i;
  }
  return which;
}

size_t LiteralSet::FindScalar(std::string_view text) const {
  if (literals_.empty()) return std::string_view::npos;
  const char* begin = text.data();
  const char* end = begin + text.size();
  for (const char* p = begin; p < end; ++p) {
    if (MatchesAtBytewise(p, end) != 0) return static_cast<size_t>(p - begin);
  }
  return std::string_view::npos;
}

size_t LiteralSet::Find(std::string_view text) const {
  size_t found = std::string_view::npos;
  ScanText(text, [&](size_t pos, Line) {
    found = pos;
    return std::string_view::npos;  // the first occurrence is all Find() wants
  });
  return found;
}

uint64_t LiteralSet::ScanText(std::string_view text, HitFn on_hit, void* context, bool* has_nul,
                              bool vector) const {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const size_t n = text.size();
  size_t skip = literals_.empty() ? n : 0;  // no hit can occur before this position
  size_t done = 0;                          // bytes counted by the vector loop
  size_t line_start = 0;                    // of the line holding byte `done`
  uint64_t newlines = 0;
  bool nul = false;
#if OBSMON_HAVE_AVX2_PATH
  if (vector && CpuHasAvx2() && !literals_.empty()) {
    const auto verify = [&](size_t at) { return MatchesAt(begin + at, end); };
    // Every filter's first offset 0: the block's own load is their first row (CandidateFilters).
    const bool first_at_zero = std::all_of(filters_.begin(), filters_.end(),
                                           [](const Filter& f) { return f.offset[0] == 0; });
    const auto run = [&](auto fold, auto k) {
      const auto scan = [&](auto zero) {
        return ScanAvx2<decltype(fold)::value, decltype(k)::value, decltype(zero)::value>(
            begin, n, filters_, max_len_, verify, on_hit, context, &skip, &line_start,
            &newlines, &nul);
      };
      return first_at_zero ? scan(std::true_type()) : scan(std::false_type());
    };
    // The common counts of filters get their own loop, the filters held in registers.
    const auto dispatch = [&](auto fold) {
      switch (filters_.size()) {
        case 1: return run(fold, std::integral_constant<size_t, 1>());
        case 2: return run(fold, std::integral_constant<size_t, 2>());
        case 3: return run(fold, std::integral_constant<size_t, 3>());
        case 4: return run(fold, std::integral_constant<size_t, 4>());
        default: return run(fold, std::integral_constant<size_t, 0>());
      }
    };
    done = case_sensitive_ ? dispatch(std::false_type()) : dispatch(std::true_type());
  }
#endif
  // The rest (all of it without AVX2): the tail too short for a vector, byte by byte.
  if (done < n) {
    bool tail_nul = false;
    newlines += vector ? CountNewlines(text.substr(done), &tail_nul)
                       : CountNewlinesScalar(text.substr(done));
    if (!vector) tail_nul = std::memchr(begin + done, '\0', n - done) != nullptr;
    nul = nul || tail_nul;
  }
  Line line;
  bool have_line = false;
  for (size_t at = std::max(done, skip); at < n;) {
    const uint32_t which = vector ? MatchesAt(begin + at, end) : MatchesAtBytewise(begin + at, end);
    if (which == 0) {
      ++at;
      continue;
    }
    if (!have_line || at > line.end) {
      // The last newline before `at` is at or after line_start - 1 (line_start: of the line
      // holding byte `done`, and at >= done).
      const void* before = memrchr(begin + line_start, '\n', at - line_start);
      line.start = before == nullptr
                       ? line_start
                       : static_cast<size_t>(static_cast<const char*>(before) - begin) + 1;
      const void* after = std::memchr(begin + at, '\n', n - at);
      line.end =
          after == nullptr ? n : static_cast<size_t>(static_cast<const char*>(after) - begin);
      have_line = true;
    }
    at = std::max(at + 1, on_hit(context, at, line, which));
  }
  if (has_nul != nullptr) *has_nul = nul;
  return newlines;
}


std::string CleanLine(std::string_view line, size_t max_bytes, bool* had_invalid) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  static constexpr std::string_view kEllipsis = "...";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(line.size(), max_bytes));
  size_t fits_with_ellipsis = 0;  // out.size() at the last piece boundary leaving room for "..."
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const auto* const begin_of_line = p;
  const auto* end = p + line.size();
  bool invalid = false;
  char escaped[4] = {'\\', 'x', '0', '0'};
  while (p < end) {
    // A run of printable ASCII other than a backslash (most of a line) is appended at once:
    // each of its bytes is a piece of its own, so this is what the loop below would append, the
    // cut and the room for "..." included. Byte by byte it was 1.5 % of an nginx log's scan
    // (its first 1,000 matched lines per read half, 300 bytes each).
    const auto* run_end = p;
    while (run_end < end && *run_end >= 0x20 && *run_end < 0x7f && *run_end != '\\') ++run_end;
    if (run_end != p) {
      const auto run = static_cast<size_t>(run_end - p);
      const size_t had = out.size();
      const size_t fit = max_bytes > had ? std::min(run, max_bytes - had) : 0;
      if (fit > 0 && had + 1 + kEllipsis.size() <= max_bytes) {
        fits_with_ellipsis = std::min(had + fit, max_bytes - kEllipsis.size());
      }
      out.append(reinterpret_cast<const char*>(p), fit);
      if (fit < run) {
        out.resize(fits_with_ellipsis);
        if (max_bytes >= kEllipsis.size()) out += kEllipsis;
        break;
      }
      p = run_end;
      continue;
    }
    size_t len = Utf8SequenceLength(line, static_cast<size_t>(p - begin_of_line));
    std::string_view piece;
    const bool control = len == 1 && (*p < 0x20 || *p == 0x7f) && *p != '\t';
    if (len == 0 || control) {
      // Kept as \xNN, the form every report shows it in: the byte is not lost (U+FFFD would
      // lose it) and a NUL no longer cuts the line short in sqlite3 or any C reader.
      invalid = invalid || len == 0;
      escaped[2] = kHex[*p >> 4];
      escaped[3] = kHex[*p & 15];
      piece = std::string_view(escaped, 4);
      len = 1;
    } else if (*p == '\\') {
      // A backslash is written twice, so that `\x00` in the stored text is always a NUL byte
      // and `\\x00` the four characters a line held: without it, a line could forge "NUL
      // bytes" in the evidence (issue 13, fresh eyes F5).
      piece = "\\\\";
    } else {
      piece = std::string_view(reinterpret_cast<const char*>(p), len);
    }
    if (out.size() + piece.size() > max_bytes) {
      out.resize(fits_with_ellipsis);
      if (max_bytes >= kEllipsis.size()) out += kEllipsis;
      break;
    }
    out += piece;
    if (out.size() + kEllipsis.size() <= max_bytes) fits_with_ellipsis = out.size();
    p += len;
  }
  if (had_invalid != nullptr) *had_invalid = invalid;
  return out;
}

}  // namespace obsmon::probes
