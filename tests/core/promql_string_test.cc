// core/promql_string: string literals as Prometheus 2.42's lexer reads them. Each case below was
// given to `promtool check rules` in an expression x{a=<literal>} (accepted or refused as said).
#include "core/promql_string.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

struct Read {
  bool ok = false;
  std::string value;
  size_t end = 0;
  PromqlStringError error;
};

Read ReadAll(std::string_view text) {
  Read r;
  r.ok = ReadPromqlString(text, &r.end, &r.value, &r.error);
  return r;
}

TEST(PromqlStringTest, EscapesPromtoolAcceptsDecodeAsGoDoes) {
  EXPECT_EQ(ReadAll(R"("\x41")").value, "A");
  EXPECT_EQ(ReadAll(R"("\u00e9")").value, "\xc3\xa9");
  EXPECT_EQ(ReadAll(R"("\101")").value, "A");
  EXPECT_EQ(ReadAll(R"("\377")").value, "\xff");  // a byte, not U+00FF
  EXPECT_EQ(ReadAll(R"("\xff")").value, "\xff");
  EXPECT_EQ(ReadAll(R"("\U0010FFFF")").value, "\xf4\x8f\xbf\xbf");
  EXPECT_EQ(ReadAll(R"('\'')").value, "'");
  EXPECT_EQ(ReadAll(R"("a\"b\\c\n\t")").value, "a\"b\\c\n\t");
  EXPECT_EQ(ReadAll(R"("\a\b\f\r\v")").value, "\a\b\f\r\v");
  EXPECT_EQ(ReadAll("`raw\\d\nline`").value, "raw\\d\nline");
  const Read r = ReadAll(R"("ab" rest)");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.end, 4u);  // just past the closing quote
}

TEST(PromqlStringTest, WhatPromtoolRefusesIsRefusedAtTheBackslash) {
  struct Case {
    const char* text;
    const char* message;
    size_t pos;
  };
  for (const Case& c : {
           Case{R"("\q")", "unknown escape sequence '\\q' in string", 1},
           Case{R"("\'")", "unknown escape sequence '\\'' in string", 1},
           Case{R"('\"')", "unknown escape sequence '\\\"' in string", 1},
           Case{R"("\400")", "escape sequence is an invalid Unicode code point", 1},
           Case{R"("\uD800")", "escape sequence is an invalid Unicode code point", 1},
           Case{R"("\U00110000")", "escape sequence is an invalid Unicode code point", 1},
           Case{R"("a\08")", "illegal character '8' in escape sequence", 2},
           Case{R"("\x4g")", "illegal character 'g' in escape sequence", 1},
           Case{R"("\u12")", "illegal character '\"' in escape sequence", 1},
           Case{"\"a\nb\"", "unterminated quoted string", 0},
           Case{R"("abc)", "unterminated quoted string", 0},
           Case{R"("\)", "unterminated quoted string", 0},
           Case{R"("\x4)", "escape sequence not terminated", 1},
       }) {
    const Read r = ReadAll(c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(r.error.message, c.message) << c.text;
    EXPECT_EQ(r.error.pos, c.pos) << c.text;
  }
}

}  // namespace
}  // namespace obsmon
