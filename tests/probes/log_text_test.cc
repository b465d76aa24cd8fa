#include "probes/log_text.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

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

}  // namespace
}  // namespace obsmon::probes
