#include "probes/log_literal.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <vector>

namespace obsmon::probes {
namespace {

// What the log scanner would have asked RE2 (case-sensitive, one line, no newline).
bool Re2Matches(const std::string& pattern, std::string_view line) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  EXPECT_TRUE(re.ok()) << pattern;
  return RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), re);
}

TEST(LiteralPatternTest, ParsesPlainLiteralsWithBoundariesAndEscapedPunctuation) {
  auto p = LiteralPattern::Parse(R"(\bCRITICAL\b|\bFATAL\b)");
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->alternatives().size(), 2u);
  EXPECT_EQ(p->alternatives()[0].text, "CRITICAL");
  EXPECT_TRUE(p->alternatives()[0].boundary_before);
  EXPECT_TRUE(p->alternatives()[1].boundary_after);
  auto nginx = LiteralPattern::Parse(R"(\[crit\]|\[alert\])");
  ASSERT_TRUE(nginx.has_value());
  EXPECT_EQ(nginx->alternatives()[0].text, "[crit]");
  EXPECT_FALSE(nginx->alternatives()[0].boundary_after);
  auto json = LiteralPattern::Parse(R"("level":"error")");
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(json->alternatives()[0].text, R"("level":"error")");
  auto pipe = LiteralPattern::Parse(R"(a\|b)");
  ASSERT_TRUE(pipe.has_value());
  ASSERT_EQ(pipe->alternatives().size(), 1u);
  EXPECT_EQ(pipe->alternatives()[0].text, "a|b");
  auto slash_b = LiteralPattern::Parse(R"(x\\b)");  // an escaped backslash, then "b"
  ASSERT_TRUE(slash_b.has_value());
  EXPECT_EQ(slash_b->alternatives()[0].text, "x\\b");
  EXPECT_FALSE(slash_b->alternatives()[0].boundary_after);
}

TEST(LiteralPatternTest, AnythingButPlainLiteralsIsLeftToRe2) {
  for (const char* p : {"ERR(OR)?", "ERROR.*", "[Ee]rror", "^ERROR", "ERROR$", "a||b", "", "|",
                        "(?i)error", R"(\d+)", R"(\x41)", R"(\QERROR\E)", R"(a\bb)", "\\b",
                        "caf\xc3\xa9", "tab\there", "ERROR{2}", "a+", "trailing\\"}) {
    EXPECT_FALSE(LiteralPattern::Parse(p).has_value()) << p;
  }
}

// The property the scanner relies on: for every pattern it accepts, Matches() is RE2's answer.
TEST(LiteralPatternTest, AgreesWithRe2OnRandomLines) {
  const std::vector<std::string> patterns = {R"(\bERROR\b)",
                                             R"(\bCRITICAL\b|\bFATAL\b)",
                                             "ERROR",
                                             R"(\[error\])",
                                             R"(\[crit\]|\[alert\]|\[emerg\])",
                                             R"("level":"error")",
                                             R"(\b\[x\]\b)",
                                             R"(\b_a)",
                                             R"(a\b)",
                                             R"(\b-\b)"};
  // Lines built from pieces that make boundaries interesting.
  const std::vector<std::string> pieces = {"ERROR",
                                           "ERRORS",
                                           "xERROR",
                                           "CRITICAL",
                                           "FATAL",
                                           "NONFATAL",
                                           "[error]",
                                           "[crit]",
                                           "[alert]",
                                           "[emerg]",
                                           "\"level\":\"error\"",
                                           "\"level\":\"info\"",
                                           "[x]",
                                           "_a",
                                           "a",
                                           "-",
                                           " ",
                                           "_",
                                           "9",
                                           "\xff",
                                           "\xc3\xa9",
                                           "\r",
                                           "\t",
                                           "error",
                                           ":",
                                           "b"};
  std::mt19937 rng(7);
  int checked = 0;
  for (const auto& pattern : patterns) {
    auto lp = LiteralPattern::Parse(pattern);
    ASSERT_TRUE(lp.has_value()) << pattern;
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(pattern, options);
    for (int i = 0; i < 3000; ++i) {
      std::string line;
      const int n = static_cast<int>(rng() % 6);
      for (int j = 0; j < n; ++j) line += pieces[rng() % pieces.size()];
      const bool want = RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), re);
      ASSERT_EQ(lp->Matches(line), want) << "pattern " << pattern << " line '" << line << "'";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 30000);
}

TEST(LiteralPatternTest, WordBoundariesAreAsciiAsRe2s) {
  auto p = LiteralPattern::Parse(R"(\bERROR\b)");
  ASSERT_TRUE(p.has_value());
  for (const std::string line : {"ERROR", "a ERROR b",
                                 "\xc3\xa9"
                                 "ERROR",
                                 "ERROR_x", "1ERROR", "ERROR\xff", "xERROR", "[ERROR]"}) {
    EXPECT_EQ(p->Matches(line), Re2Matches(R"(\bERROR\b)", line)) << line;
  }
}

}  // namespace
}  // namespace obsmon::probes
