// core/label_selector checks a `source:` selector by hand (config/ may not include alerts/); the
// store reader then sends `probe_success{<matchers>}` to a Prometheus-compatible store. Its oracle
// here is obsmon's PromQL parser (itself checked against promtool, promql_differential_test):
// on generated and mutated selectors, under ASan/UBSan in the sanitized suite,
// - whatever SelectorMatchers accepts, PromQL parses as `probe_success{<matchers>}`;
// - a brace-free matcher list that PromQL parses there, SelectorMatchers accepts;
// - it never crashes, and a refusal names the selector.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "alerts/promql_parser.h"
#include "core/label_selector.h"

namespace obsmon {
namespace {

const std::vector<std::string> kNames = {"job", "instance", "__name__", "a_1", "_x", "1bad", "é"};
const std::vector<std::string> kOps = {"=", "!=", "=~", "!~", "==", "~", " = ", ""};
const std::vector<std::string> kValues = {
    R"("blackbox")", R"('it''s')", R"("a\"b")", "`raw\\d`", R"("")", R"("(unclosed")",
    R"("h.*")", R"("\q")", R"("\x41\u00e9\101")", "blackbox", R"("multi
line")", R"("a\\")"};

std::string Generate(std::mt19937_64& rng) {
  std::string inner;
  const int matchers = static_cast<int>(rng() % 4);
  for (int i = 0; i < matchers; ++i) {
    if (i > 0) inner += rng() % 8 ? "," : " ";
    inner += std::string(rng() % 2, ' ') + kNames[rng() % kNames.size()] +
             kOps[rng() % kOps.size()] + kValues[rng() % kValues.size()];
  }
  if (rng() % 6 == 0) inner += ",";
  return inner;
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static const std::string kBytes = "{}[](),=!~\"'`\\ \t\nab_09.*|$\x01\xff";
  const int edits = rng() % 2 ? 0 : 1 + static_cast<int>(rng() % 2);  // half left as generated
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 3) {
      case 0:
        s.insert(at, 1, kBytes[rng() % kBytes.size()]);
        break;
      case 1:
        if (at < s.size()) s.erase(at, 1);
        break;
      default:
        if (at < s.size()) s[at] = kBytes[rng() % kBytes.size()];
        break;
    }
  }
  return s;
}

bool PromqlParses(const std::string& text) {
  alerts::promql::ParseError error;
  return alerts::promql::Parse(text, &error) != nullptr;
}

TEST(LabelSelectorDifferentialTest, AcceptsWhatPromqlAcceptsAndNothingElse) {
  std::mt19937_64 rng(20261201);
  int accepted = 0, refused = 0;
  for (int n = 0; n < 60'000; ++n) {
    const std::string inner = Mutate(Generate(rng), rng);
    const std::string selector = rng() % 4 ? "{" + inner + "}" : inner;
    auto matchers = SelectorMatchers(selector);
    if (matchers.ok()) {
      ++accepted;
      EXPECT_TRUE(PromqlParses("probe_success{" + *matchers + "}"))
          << "accepted, but a store would refuse: " << selector;
    } else {
      ++refused;
      EXPECT_NE(matchers.status().message().find("selector '"), std::string::npos) << selector;
      if (inner.find_first_of("{}") == std::string::npos) {
        EXPECT_FALSE(PromqlParses("probe_success{" + inner + "}") &&
                     inner.find_first_not_of(" \t\n\r") != std::string::npos)
            << "refused what PromQL reads: " << selector << ": " << matchers.status().message();
      }
    }
  }
  // Both sides are exercised.
  EXPECT_GT(accepted, 2'000);
  EXPECT_GT(refused, 2'000);
}

}  // namespace
}  // namespace obsmon
