#include "probes/log_text.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "core/text_escape.h"

namespace obsmon::probes {
namespace {

std::string RandomText(std::mt19937& rng, size_t n, std::string_view alphabet) {
  std::string s(n, ' ');
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (auto& c : s) c = alphabet[pick(rng)];
  return s;
}

TEST(LogTextTest, CountNewlinesAgreesWithScalarOnEverySizeAndAlignment) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 300; ++n) {
    const std::string text = RandomText(rng, n + 40, "ab\n");
    for (size_t skip : {0, 1, 3, 31}) {
      std::string_view v(text.data() + skip, n);
      size_t expected = 0;
      for (char c : v) expected += c == '\n';
      ASSERT_EQ(CountNewlines(v), expected) << n << " " << skip;
      ASSERT_EQ(CountNewlinesScalar(v), expected);
    }
  }
  // Long enough to overflow 8-bit lane counters if they were not flushed.
  const std::string all(100'000, '\n');
  EXPECT_EQ(CountNewlines(all), 100'000u);
}

TEST(LogTextTest, LiteralFindIgnoresAsciiCaseAndAgreesWithScalar) {
  LiteralSet set;
  ASSERT_TRUE(set.Assign({"ERROR", "critical", "fatal"}));
  EXPECT_EQ(set.literals(), (std::vector<std::string>{"error", "critical", "fatal"}));
  EXPECT_EQ(set.Find("all good"), std::string_view::npos);
  EXPECT_EQ(set.Find("x ErRoR y"), 2u);
  EXPECT_EQ(set.Find("FATA"), std::string_view::npos);  // a literal cut by the end
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string text = RandomText(rng, 1 + rng() % 200, "eErRoOcCfFaAtTlLiI \n");
    if (round % 3 == 0) text.insert(rng() % text.size(), "FaTaL");
    ASSERT_EQ(set.Find(text), set.FindScalar(text)) << text;
  }
}

TEST(LogTextTest, LiteralSetRefusesEmptyOrTooMany) {
  LiteralSet set;
  EXPECT_FALSE(set.Assign({}));
  EXPECT_FALSE(set.Assign({"a", ""}));
  EXPECT_FALSE(set.Assign(std::vector<std::string>(LiteralSet::kMaxLiterals + 1, "x")));
  EXPECT_TRUE(set.empty());
}

TEST(LogTextTest, CleanLineDropsCarriageReturnAndCutsOnUtf8Boundary) {
  EXPECT_EQ(CleanLine("ERROR x\r", 100), "ERROR x");
  EXPECT_EQ(CleanLine("abcdefghij", 10), "abcdefghij");
  EXPECT_EQ(CleanLine("abcdefghijk", 10), "abcdefg...");
  // "é" is two bytes; a cut never leaves half of it.
  const std::string cut = CleanLine("aaaaaa\xC3\xA9zzzz", 10);
  EXPECT_EQ(cut, "aaaaaa...");
}

// Regression (fresh eyes, issue 13, F5): invalid bytes became U+FFFD (the bytes lost) and a NUL
// was stored raw (sqlite3 showed the line cut at it). Both are kept as \xNN.
TEST(LogTextTest, CleanLineKeepsInvalidUtf8AndControlBytesEscaped) {
  bool invalid = false;
  EXPECT_EQ(CleanLine("ok \xC3\xA9\ttab", 100, &invalid), "ok \xC3\xA9\ttab");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(CleanLine("bad \xFF\xC3 end", 100, &invalid), "bad \\xff\\xc3 end");
  EXPECT_TRUE(invalid);
  // Overlong encoding and a surrogate are invalid too.
  EXPECT_EQ(CleanLine("\xC0\xAF", 100), "\\xc0\\xaf");
  EXPECT_EQ(CleanLine("\xED\xA0\x80", 100), "\\xed\\xa0\\x80");
  EXPECT_EQ(CleanLine(std::string("CRITICAL nul\0\0 in line", 22), 100, &invalid),
            "CRITICAL nul\\x00\\x00 in line");
  EXPECT_FALSE(invalid);
  // An escape is one piece: a cut never splits it.
  EXPECT_EQ(CleanLine("abcdef\xFFzz", 10), "abcdef...");
}

// CleanLine appends a run of plain ASCII at once: the same as piece by piece (each UTF-8
// sequence, escape or doubled backslash one piece; at a cut, back to the last piece boundary
// that leaves room for "..."), for runs ending anywhere around the cut, every budget from 0.
TEST(LogTextTest, CleanLineAgreesWithPieceByPiece) {
  const auto slow = [](std::string_view line, size_t max_bytes) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string out;
    size_t fits = 0;
    for (size_t i = 0; i < line.size();) {
      size_t len = Utf8SequenceLength(line, i);
      const auto c = static_cast<unsigned char>(line[i]);
      std::string piece;
      if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f) && c != '\t')) {
        static constexpr char kHex[] = "0123456789abcdef";
        piece = std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
        len = 1;
      } else if (c == '\\') {
        piece = "\\\\";
      } else {
        piece = std::string(line.substr(i, len));
      }
      if (out.size() + piece.size() > max_bytes) {
        out.resize(fits);
        if (max_bytes >= 3) out += "...";
        break;
      }
      out += piece;
      if (out.size() + 3 <= max_bytes) fits = out.size();
      i += len;
    }
    return out;
  };
  std::mt19937 rng(23);
  const std::vector<std::string> parts = {"a", "bc", "\\", "\t", std::string(1, '\0'), "\xC3\xA9",
                                          "\xFF", "\x7f", " ", "\r", "xyz0123456789"};
  for (int round = 0; round < 3000; ++round) {
    std::string line;
    for (size_t k = rng() % 12; k > 0; --k) line += parts[rng() % parts.size()];
    for (size_t max_bytes = 0; max_bytes < 40; ++max_bytes) {
      ASSERT_EQ(CleanLine(line, max_bytes), slow(line, max_bytes)) << line << " " << max_bytes;
    }
  }
}

// Fresh eyes, issue 13, second pass F5: a line holding the four characters `\x00` was stored
// exactly as a line holding a NUL byte, so a log writer could forge escaped bytes. A backslash
// is now written twice; the two lines differ, and each reads back to its own bytes.
TEST(LogTextTest, CleanLineEscapingIsUnambiguous) {
  const std::string nul = CleanLine(std::string("a\0b", 3), 100);
  const std::string literal = CleanLine("a\\x00b", 100);
  EXPECT_EQ(nul, "a\\x00b");
  EXPECT_EQ(literal, "a\\\\x00b");
  EXPECT_NE(nul, literal);
  EXPECT_EQ(CleanLine("C:\\logs\\app.log", 100), "C:\\\\logs\\\\app.log");
  // A doubled backslash is one piece too: a cut never splits it.
  EXPECT_EQ(CleanLine("abcdef\\zzzz", 10), "abcdef...");
}

// The newline count's NUL detection (one pass with the count) agrees with memchr, wherever the
// NUL is: in a vector block, in the scalar tail, or nowhere.
TEST(LogTextTest, CountNewlinesFindsNulBytesAnywhere) {
  for (size_t size : {0u, 1u, 31u, 32u, 33u, 100u, 8191u, 9000u}) {
    std::string text(size, 'a');
    for (size_t i = 0; i < size; i += 7) text[i] = '\n';
    bool nul = true;
    EXPECT_EQ(CountNewlines(text, &nul), CountNewlinesScalar(text));
    EXPECT_FALSE(nul) << size;
    for (size_t at : {size_t{0}, size / 2, size - 1}) {
      if (size == 0) break;
      std::string with = text;
      with[at] = '\0';
      EXPECT_EQ(CountNewlines(with, &nul), CountNewlinesScalar(with));
      EXPECT_TRUE(nul) << size << " at " << at;
    }
  }
}

// What LiteralSet::ScanText must do, written the slow and obvious way: every position from
// where the caller said to look next, compared with every literal (ASCII case folded when the
// set is), the hits in order; the newlines and NULs by counting bytes.
struct Expected {
  std::vector<size_t> hits;
  uint64_t newlines = 0;
  bool nul = false;
};

bool OccursAt(std::string_view text, size_t at, const std::string& lit, bool case_sensitive) {
  if (text.size() - at < lit.size()) return false;
  for (size_t j = 0; j < lit.size(); ++j) {
    const unsigned char c = static_cast<unsigned char>(text[at + j]);
    const unsigned char folded = case_sensitive ? c : static_cast<unsigned char>(std::tolower(c));
    if (folded != static_cast<unsigned char>(lit[j])) return false;
  }
  return true;
}

template <typename Next>
Expected SlowScan(const LiteralSet& set, std::string_view text, Next next) {
  Expected e;
  for (char c : text) {
    e.newlines += c == '\n';
    e.nul = e.nul || c == '\0';
  }
  for (size_t at = 0; at < text.size();) {
    bool hit = false;
    for (const auto& lit : set.literals()) hit = hit || OccursAt(text, at, lit, set.case_sensitive());
    if (!hit) {
      ++at;
      continue;
    }
    e.hits.push_back(at);
    at = next(at);
  }
  return e;
}

// The line holding `pos`, found the obvious way: after the last '\n' before it, up to the first
// '\n' at or after it (or the text's end).
size_t LineStart(std::string_view text, size_t pos) {
  const size_t nl = pos == 0 ? std::string_view::npos : text.rfind('\n', pos - 1);
  return nl == std::string_view::npos ? 0 : nl + 1;
}
size_t LineEnd(std::string_view text, size_t pos) {
  const size_t nl = text.find('\n', pos);
  return nl == std::string_view::npos ? text.size() : nl;
}

// Where the log scanner goes on after a hit: the next byte (a line not decided yet), past the
// line's end (decided), or further on (any position: ScanText must honour it).
size_t NextAfter(std::string_view text, size_t pos, int how) {
  switch (how) {
    case 0:
      return pos + 1;
    case 1: {
      const size_t nl = text.find('\n', pos);
      return nl == std::string_view::npos ? text.size() : nl + 1;
    }
    default:
      return pos + 37;
  }
}

// Issue 17: the prefilter's pass also counts the lines and looks for NUL bytes, with the same
// loads. Every size up to a few vector blocks, every alignment, literals and newlines and NULs
// anywhere (a block's first and last byte included), each way of going on after a hit: the
// vector pass, the scalar pass and the slow expectation agree on the hits, the newline count
// and the NUL flag.
TEST(LogTextTest, ScanTextCountsLinesAndFindsHitsInOnePass) {
  std::mt19937 rng(17);
  for (bool case_sensitive : {true, false}) {
    LiteralSet set;
    ASSERT_TRUE(set.Assign(case_sensitive ? std::vector<std::string>{"ERROR", "[crit]", "CRITICAL"}
                                          : std::vector<std::string>{"error", "fatal"},
                           case_sensitive));
    for (size_t n = 0; n < 400; ++n) {
      std::string text = RandomText(rng, n + 40, std::string_view("abR\n\r \0E[", 9));
      for (int k = 0; k < 3 && n > 8; ++k) {
        const std::string piece = k == 0 ? "ERROR" : k == 1 ? "[crit]" : "FaTaL";
        text.replace(rng() % (n - 6), piece.size(), piece);
      }
      for (size_t offset : {0, 1, 31}) {
        const std::string_view v(text.data() + offset, n);
        for (int how = 0; how < 3; ++how) {
          const auto next = [&](size_t pos) { return NextAfter(v, pos, how); };
          const Expected want = SlowScan(set, v, next);
          for (bool vector : {true, false}) {
            std::vector<size_t> hits;
            const auto on_hit = [&](size_t pos, LiteralSet::Line line) {
              EXPECT_EQ(line.start, LineStart(v, pos)) << pos;
              EXPECT_EQ(line.end, LineEnd(v, pos)) << pos;
              hits.push_back(pos);
              return next(pos);
            };
            bool nul = !want.nul;
            const uint64_t lines =
                vector ? set.ScanText(v, on_hit, &nul) : set.ScanTextScalar(v, on_hit, &nul);
            ASSERT_EQ(lines, want.newlines) << n << " " << offset << " " << how << " " << vector;
            ASSERT_EQ(nul, want.nul) << n << " " << offset << " " << how << " " << vector;
            ASSERT_EQ(hits, want.hits) << n << " " << offset << " " << how << " " << vector;
          }
        }
      }
    }
  }
}

// The vector pass works in 16 KiB segments and reads a hit's line bounds from the newlines it
// found: lines ending, starting or wholly inside one segment, lines spanning several (up to
// 40,000 bytes), literals across a segment's edge; one to five literals (each count of filters
// has its own loop). The hits, their lines, the newline count and the NUL flag agree with the
// slow expectation.
TEST(LogTextTest, ScanTextGivesEachHitsLineAcrossSegments) {
  std::mt19937 rng(171);
  const std::vector<std::string> all = {"ERROR", "[crit]", "CRITICAL", "[alert]", "fatal"};
  for (size_t count : {1, 2, 3, 4, 5}) {
    for (bool case_sensitive : {true, false}) {
      std::vector<std::string> literals(all.begin(), all.begin() + static_cast<long>(count));
      if (!case_sensitive) {
        for (auto& l : literals) {
          for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      }
      LiteralSet set;
      ASSERT_TRUE(set.Assign(literals, case_sensitive));
      for (int round = 0; round < 6; ++round) {
        std::string text;
        while (text.size() < 100'000) {
          const size_t len = round % 3 == 0 ? rng() % 40'000 : rng() % 300;
          std::string line = RandomText(rng, len, "abcE[ ]");
          for (size_t k = 0; k < 1 + rng() % 3 && len > 10; ++k) {
            const std::string& lit = all[rng() % all.size()];
            line.replace(rng() % (len - 8), lit.size(), lit);
          }
          text += line + "\n";
        }
        // A hit across each 16 KiB edge.
        for (size_t edge = 16'384; edge + 8 < text.size(); edge += 16'384) {
          text.replace(edge - 3, 5, "ERROR");
        }
        if (round == 5) text.back() = 'x';  // no newline at the end
        for (int how = 0; how < 3; ++how) {
          const auto next = [&](size_t pos) { return NextAfter(text, pos, how); };
          const Expected want = SlowScan(set, text, next);
          for (bool vector : {true, false}) {
            std::vector<size_t> hits;
            size_t wrong_lines = 0;
            const auto on_hit = [&](size_t pos, LiteralSet::Line line) {
              wrong_lines += line.start != LineStart(text, pos) || line.end != LineEnd(text, pos);
              hits.push_back(pos);
              return next(pos);
            };
            bool nul = true;
            const uint64_t lines =
                vector ? set.ScanText(text, on_hit, &nul) : set.ScanTextScalar(text, on_hit, &nul);
            ASSERT_EQ(lines, want.newlines) << count << " " << round << " " << how << " " << vector;
            ASSERT_EQ(nul, want.nul);
            ASSERT_EQ(hits, want.hits) << count << " " << round << " " << how << " " << vector;
            ASSERT_EQ(wrong_lines, 0u) << count << " " << round << " " << how << " " << vector;
            ASSERT_FALSE(hits.empty());
          }
        }
      }
    }
  }
}

// A candidate is verified a word at a time (the first 8 bytes of each literal, then the rest of
// a longer one byte by byte), and on_hit is told which literals occur there: literals of 1 to
// 20 bytes, sharing prefixes, with letters and punctuation, folded or not, near the text's end
// (fewer than 8 bytes left: the byte loop) and in the vector pass; `which` must name exactly
// the literals the slow comparison finds.
TEST(LogTextTest, ScanTextNamesTheLiteralsAtEachHit) {
  std::mt19937 rng(29);
  const std::vector<std::string> pool = {
      "\"level\":\"critical\"", "\"level\":\"error\"", "[crit]", "[error]", "e", "error_rate=0.5",
      "ErRoR", "CRITICAL", "critical!", "x[y]z_LONGER_ONE"};
  for (int round = 0; round < 300; ++round) {
    const bool case_sensitive = round % 2 == 0;
    std::vector<std::string> literals;
    for (size_t k = 1 + rng() % 5; k > 0; --k) {
      std::string lit = pool[rng() % pool.size()];
      if (!case_sensitive) {
        for (auto& c : lit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      literals.push_back(lit);
    }
    LiteralSet set;
    ASSERT_TRUE(set.Assign(literals, case_sensitive));
    std::string text;
    while (text.size() < 600 + rng() % 800) {
      std::string piece = pool[rng() % pool.size()];
      if (rng() % 3 == 0) piece.resize(rng() % (piece.size() + 1));  // cut short
      for (auto& c : piece) {
        if (rng() % 4 == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      text += piece + (rng() % 5 == 0 ? "\n" : "");
    }
    for (bool vector : {true, false}) {
      size_t wrong = 0, hits = 0;
      const auto on_hit = [&](size_t pos, LiteralSet::Line, uint32_t which) {
        uint32_t want = 0;
        for (size_t i = 0; i < set.literals().size(); ++i) {
          if (OccursAt(text, pos, set.literals()[i], case_sensitive)) want |= uint32_t{1} << i;
        }
        wrong += which != want;
        ++hits;
        return pos + 1;
      };
      if (vector) {
        set.ScanText(text, on_hit);
      } else {
        set.ScanTextScalar(text, on_hit);
      }
      const Expected e = SlowScan(set, text, [](size_t pos) { return pos + 1; });
      ASSERT_EQ(hits, e.hits.size()) << round << " " << vector;
      ASSERT_EQ(wrong, 0u) << round << " " << vector;
    }
  }
}

// The rest of a decided line is skipped but its newlines still count, however far it reaches:
// 64 KiB lines with a hit at the start, and more than 255 blocks of newlines (the 8-bit lane
// counters must be flushed in time), with a NUL in the very last byte.
TEST(LogTextTest, ScanTextCountsTheNewlinesOfSkippedLines) {
  LiteralSet set;
  ASSERT_TRUE(set.Assign({"ERROR"}, /*case_sensitive=*/true));
  std::string text;
  uint64_t lines = 0;
  for (int i = 0; i < 20; ++i) {
    text += (i % 2 == 0 ? "ERROR " : "INFO ") + std::string(65'536, 'x') + "\n";
    ++lines;
    text += std::string(10'000, '\n');  // empty lines: 312 blocks of nothing but newlines
    lines += 10'000;
  }
  text += "ERROR last";
  text += '\0';
  std::vector<size_t> hits;
  bool nul = false;
  EXPECT_EQ(set.ScanText(
                text,
                [&](size_t pos, LiteralSet::Line line) {
                  EXPECT_EQ(line.start, LineStart(text, pos)) << pos;
                  EXPECT_EQ(line.end, LineEnd(text, pos)) << pos;
                  hits.push_back(pos);
                  return NextAfter(text, pos, 1);
                },
                &nul),
            lines);
  EXPECT_TRUE(nul);
  EXPECT_EQ(hits.size(), 11u);  // ten long lines and the unterminated last one
  for (size_t h : hits) EXPECT_EQ(text.compare(h, 5, "ERROR"), 0) << h;
}

}  // namespace
}  // namespace obsmon::probes
