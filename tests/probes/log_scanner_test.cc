#include "probes/log_scanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace obsmon::probes {
namespace {

std::unique_ptr<LogScanner> Make(std::vector<SeverityPattern> sev = DefaultSeverities(),
                                 bool ci = false) {
  auto s = LogScanner::Create(std::move(sev), ci);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// Severity names of the matched lines, in order.
std::vector<std::string> Names(const LogScanner& s, std::string_view text, uint64_t* lines) {
  std::vector<LineMatch> m;
  *lines = s.Scan(text, &m);
  std::vector<std::string> out;
  for (const auto& x : m)
    out.push_back(s.severities()[x.severity].name + ":" +
                  std::string(text.substr(x.offset, x.length)));
  return out;
}

TEST(LogScannerTest, DefaultPatternsRespectWordBoundaries) {
  auto s = Make();
  uint64_t lines = 0;
  const std::string text =
      "ok\n"
      "[ERROR] disk\n"
      "ERRORS are plural\n"
      "xERROR glued\n"
      "code=ERROR_42\n"
      "FATAL: boom\n"
      "level=CRITICAL\n"
      "NONFATAL thing\n";
  EXPECT_EQ(Names(*s, text, &lines),
            (std::vector<std::string>{"error:[ERROR] disk", "critical:FATAL: boom",
                                      "critical:level=CRITICAL"}));
  EXPECT_EQ(lines, 8u);
}

TEST(LogScannerTest, CaseSensitiveByDefaultAndInsensitiveWhenAsked) {
  uint64_t lines = 0;
  auto strict = Make();
  EXPECT_TRUE(Names(*strict, "an error here\nError too\n", &lines).empty());
  auto loose = Make(DefaultSeverities(), /*ci=*/true);
  EXPECT_EQ(Names(*loose, "an error here\nError too\nfine\n", &lines),
            (std::vector<std::string>{"error:an error here", "error:Error too"}));
  EXPECT_EQ(lines, 3u);
}

TEST(LogScannerTest, LineMatchingSeveralSeveritiesCountsOnceUnderTheFirstListed) {
  auto s = Make();
  uint64_t lines = 0;
  EXPECT_EQ(Names(*s, "ERROR then FATAL\n", &lines),
            (std::vector<std::string>{"critical:ERROR then FATAL"}));
  auto reversed = Make({{"error", R"(\bERROR\b)"}, {"critical", R"(\bFATAL\b)"}});
  EXPECT_EQ(Names(*reversed, "ERROR then FATAL\n", &lines),
            (std::vector<std::string>{"error:ERROR then FATAL"}));
}

TEST(LogScannerTest, CrlfLinesMatchEndAnchoredPatterns) {
  auto s = Make({{"error", "ERROR$"}});
  uint64_t lines = 0;
  EXPECT_EQ(Names(*s, "disk ERROR\r\nERROR later\r\n", &lines),
            (std::vector<std::string>{"error:disk ERROR\r"}));
  EXPECT_EQ(lines, 2u);
}

TEST(LogScannerTest, MatchesOnFirstAndLastLineOfTheBuffer) {
  auto s = Make();
  uint64_t lines = 0;
  EXPECT_EQ(Names(*s, "ERROR\nx\nFATAL\n", &lines),
            (std::vector<std::string>{"error:ERROR", "critical:FATAL"}));
  EXPECT_EQ(lines, 3u);
  EXPECT_EQ(Names(*s, "", &lines).size(), 0u);
  EXPECT_EQ(lines, 0u);
}

TEST(LogScannerTest, PrefilterLiteralsComeFromThePatterns) {
  auto s = Make();
  auto lits = s->prefilter_literals();
  std::sort(lits.begin(), lits.end());
  // Case-sensitive patterns keep their spelling: the prefilter compares bytes exactly.
  EXPECT_EQ(lits, (std::vector<std::string>{"CRITICAL", "ERROR", "FATAL"}));
  auto folded = Make(DefaultSeverities(), /*ci=*/true)->prefilter_literals();
  std::sort(folded.begin(), folded.end());
  EXPECT_EQ(folded, (std::vector<std::string>{"critical", "error", "fatal"}));
  // An inline flag may change case: fall back to folding.
  auto inline_flag = Make({{"error", "(?i)ERROR"}})->prefilter_literals();
  EXPECT_EQ(inline_flag, (std::vector<std::string>{"error"}));
  // No literal of 3+ bytes: the combined-regex path.
  auto r = Make({{"error", R"(\bE\d\b)"}});
  EXPECT_TRUE(r->prefilter_literals().empty());
}

TEST(LogScannerTest, BadPatternIsRefusedByName) {
  auto s = LogScanner::Create({{"error", "ERROR("}}, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("severity 'error'"), std::string::npos);
  EXPECT_FALSE(LogScanner::Create({}, false).ok());
}

// Random logs: scanning the whole buffer finds exactly the lines a line-by-line check finds,
// on both the prefilter and the regex paths.
TEST(LogScannerTest, WholeBufferScanEqualsLineByLineClassification) {
  const std::vector<std::vector<SeverityPattern>> configs = {
      DefaultSeverities(),
      {{"error", R"(\bE\d\b)"}, {"warn", R"(^W )"}},
      {{"slow", R"(took=\d{4,}ms)"}, {"error", R"((?i)\berror\b)"}},
      {{"span", R"(ERROR\s+FATAL)"}},  // \s may cross a newline in the buffer, never in a line
      // No literal: the combined RE2 over the buffer, where `$` meets "\r\n" and the text's
      // anchors meet the buffer's ends (fresh eyes, stop 41).
      {{"empty", "^$"}, {"short", "^.?$"}},
      {{"digits", R"(\A\d+\z)"}},
      {{"w", R"((?-m)^W$)"}},
      // Unicode case folding: `k` is also U+212A, `s` U+017F.
      {{"task", "(?i)task"}},
  };
  const std::vector<std::string> words = {"ERROR", "error", "FATAL", "CRITICAL",     "ERRORS",
                                          "E1",    "W",     "x",     "took=12345ms", "took=1ms",
                                          "é",     "\r",    "\t",    "fatal",        "_ERROR",
                                          "12",    "",      "task",  "ta\xC5\xBFk",
                                          "TAS\xE2\x84\xAA"};
  std::mt19937 rng(3);
  for (const auto& config : configs) {
    auto s = Make(config);
    for (int round = 0; round < 50; ++round) {
      std::string text;
      const int n_lines = 1 + static_cast<int>(rng() % 60);
      for (int l = 0; l < n_lines; ++l) {
        const int n_words = static_cast<int>(rng() % 6);
        for (int w = 0; w < n_words; ++w) {
          if (w > 0) text += ' ';
          text += words[rng() % words.size()];
        }
        text += '\n';
      }
      std::vector<LineMatch> expected;
      size_t start = 0;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n') continue;
        const int sev = s->Classify(std::string_view(text).substr(start, i - start));
        if (sev >= 0) expected.push_back({start, i - start, sev});
        start = i + 1;
      }
      std::vector<LineMatch> got;
      ASSERT_EQ(s->Scan(text, &got), static_cast<uint64_t>(n_lines));
      ASSERT_EQ(got.size(), expected.size()) << text;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].offset, expected[i].offset);
        EXPECT_EQ(got[i].length, expected[i].length);
        EXPECT_EQ(got[i].severity, expected[i].severity);
      }
    }
  }
}

// Fresh eyes, stop 41, each case as reported: over CRLF lines `^$` found 1 of 3 and `^.?$` 4
// of 5 (the buffer-wide RE2 saw the '\r' that a line's classification drops); `(?i)task` missed
// "ta\u017fk" (the prefilter folded ASCII only, RE2 folds `s` to U+017F too).
TEST(LogScannerTest, PatternsWithoutALiteralAndUnicodeFoldsMatchAsOneLineDoes) {
  uint64_t lines = 0;
  const std::string crlf = "a\r\n\r\nb\n\n\r\nERROR\r\n";
  EXPECT_EQ(Names(*Make({{"e", "^$"}}), crlf, &lines),
            (std::vector<std::string>{"e:\r", "e:", "e:\r"}));
  EXPECT_EQ(lines, 6u);
  EXPECT_EQ(Names(*Make({{"s", "^.?$"}}), crlf, &lines).size(), 5u);
  EXPECT_EQ(Names(*Make({{"d", R"(\A\d+\z)"}}), "12\nab\n34\r\n5x\n", &lines),
            (std::vector<std::string>{"d:12", "d:34\r"}));
  const std::string folds = "tas\xE2\x84\xAA\nta\xC5\xBFk\ntask\nTASK\nplain\n";
  for (bool ci : {false, true}) {
    for (const std::string& p : {std::string("(?i)task"), std::string("task")}) {
      if (!ci && p == "task") continue;  // case-sensitive: only "task"
      EXPECT_EQ(Names(*Make({{"t", p}}, ci), folds, &lines).size(), 4u) << p << " " << ci;
    }
  }
}

// Plain-literal severities (matched without RE2) must give exactly what RE2 gives: the same
// severities written as `(?:...)` are not plain (a group), so they take the RE2 path, which is
// the truth here. Random lines mix the literals, their near misses and word boundaries.
TEST(LogScannerTest, PlainLiteralPathEqualsTheRe2Path) {
  const std::vector<std::vector<SeverityPattern>> sets = {
      {{"critical", R"(\bCRITICAL\b|\bFATAL\b)"}, {"error", R"(\bERROR\b)"}},
      {{"critical", R"(\[crit\]|\[alert\]|\[emerg\])"}, {"error", R"(\[error\])"}},
      {{"critical", R"("level":"critical")"}, {"error", R"("level":"error")"}},
      {{"error", "ERROR"}, {"critical", "CRITICAL"}}};
  const std::vector<std::string> pieces = {
      "ERROR", "ERRORS", "xERROR", "CRITICAL", "FATAL", "NONFATAL", "[error]", "[crit]",
      "[alert]", "[emerg]", "[err", "\"level\":\"error\"", "\"level\":\"critical\"",
      "\"level\":\"info\"", " ", "_", "error", "\r", "\xff", "\0", "abcdefghijklmnopqrstuvwxyz0123"};
  std::mt19937 rng(11);
  for (const auto& set : sets) {
    auto plain = Make(set);
    std::vector<SeverityPattern> grouped;
    for (const auto& s : set) grouped.push_back({s.name, "(?:" + s.pattern + ")"});
    auto re2 = Make(grouped);
    for (int round = 0; round < 200; ++round) {
      std::string text;
      const int lines = 1 + static_cast<int>(rng() % 40);
      for (int l = 0; l < lines; ++l) {
        const int n = static_cast<int>(rng() % 8);
        for (int j = 0; j < n; ++j) text += pieces[rng() % pieces.size()];
        text += '\n';
      }
      uint64_t plain_lines = 0, re2_lines = 0;
      ASSERT_EQ(Names(*plain, text, &plain_lines), Names(*re2, text, &re2_lines)) << text;
      ASSERT_EQ(plain_lines, re2_lines);
    }
  }
}

TEST(LogScannerTest, PlainLiteralLineCountsUnderTheFirstListedSeverityWhereverItsLiteralIs) {
  auto s = Make({{"critical", R"(\[crit\]|\[alert\])"}, {"error", R"(\[error\])"}});
  uint64_t lines = 0;
  EXPECT_EQ(Names(*s, "[error] then [alert]\n[error] twice [error]\n[alert] [error]\n", &lines),
            (std::vector<std::string>{"critical:[error] then [alert]", "error:[error] twice [error]",
                                      "critical:[alert] [error]"}));
  EXPECT_EQ(lines, 3u);
}

}  // namespace
}  // namespace obsmon::probes
