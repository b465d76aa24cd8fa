// Randomized robustness test of the PromQL parser/evaluator and the rule-file loader: hundreds of
// thousands of mutated inputs (seeded, so a failure reproduces) must neither crash nor hang.
// Each input must also be handled quickly: a super-linear blow-up shows up as a slow input.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "alerts/promql_engine.h"
#include "alerts/promql_parser.h"
#include "alerts/rule_file.h"
#include "alerts/series_store.h"

namespace obsmon::alerts {
namespace {

const std::vector<std::string> kExprCorpus = {
    "up{job=\"tta-staging-carbon\"} == 0",
    "carbon_emissions_kg > 1.0",
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job) "
    "(rate(http_requests_total[5m])) > 0.05",
    "avg_over_time(probe_success[1h] offset 5m) < bool 0.995",
    "absent(up{job=\"x\"}) or absent_over_time(up[10m])",
    "clamp_min(abs(delta(temp[10m])), 1) * on(instance) group_left foo",
    "-2 ^ 3 ^ 2 % 5 - time() + scalar(vector(1))",
    "count without (instance) (max_over_time(x[2m]) unless ignoring(a) y) >= 3",
    "irate(x_total{a!=\"b\",c!~'d|e'}[1m]) + increase(y[`5m`])",
    "(((a)))+(b)-(c)",
};

const std::string kTokens[] = {"(",
                               ")",
                               "{",
                               "}",
                               "[",
                               "]",
                               ",",
                               "\"",
                               "'",
                               "`",
                               "=~",
                               "!~",
                               "==",
                               "!=",
                               ">",
                               "<",
                               "bool",
                               "on",
                               "ignoring",
                               "by",
                               "without",
                               "offset",
                               "5m",
                               "1h",
                               "sum",
                               "rate",
                               "x",
                               " ",
                               "-",
                               "+",
                               "*",
                               "/",
                               "^",
                               "%",
                               "and",
                               "or",
                               "unless",
                               "1e308",
                               "NaN",
                               "Inf",
                               "0x",
                               "@",
                               ":",
                               "\\",
                               "\n",
                               "#",
                               "histogram_quantile",
                               "group_left"};

std::string Mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:  // delete a span
        if (!s.empty()) s.erase(std::min(pos, s.size() - 1), 1 + rng() % 4);
        break;
      case 1:  // insert a token
        s.insert(pos, kTokens[rng() % std::size(kTokens)]);
        break;
      case 2:  // random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<char>(rng() % 256));
        break;
      case 3:  // duplicate a span
        if (!s.empty()) {
          size_t from = rng() % s.size();
          s.insert(pos, s.substr(from, 1 + rng() % 8));
        }
        break;
      default:  // deep nesting
        s = std::string(rng() % 400, '(') + s + std::string(rng() % 400, ')');
        break;
    }
  }
  return s;
}

TEST(ParserFuzzTest, PromqlParserAndEvaluatorSurviveMutatedInputs) {
  std::mt19937_64 rng(20261121);
  SeriesStore store;
  for (int i = 0; i < 20; ++i) {
    store.AppendLabeled(Labels{{"__name__", "x"}, {"a", std::to_string(i % 3)}}, i * 15'000, i);
    store.AppendLabeled(Labels{{"__name__", "up"}, {"job", "tta-staging-carbon"}}, i * 15'000,
                        i % 2);
  }
  // A fixed number of inputs, not a time budget: the test covers the same inputs on a loaded
  // machine or under ASan. The slowest input is printed, not asserted (speed is measured in
  // bench/, never in tests); a super-linear parse shows as ctest's timeout.
  size_t parsed = 0, n = 0;
  double worst_ms = 0;
  for (; n < 100'000; ++n) {
    std::string in = Mutate(kExprCorpus[rng() % kExprCorpus.size()], rng);
    auto start = std::chrono::steady_clock::now();
    promql::ParseError err;
    promql::ExprPtr e = promql::Parse(in, &err);
    if (e) {
      ++parsed;
      (void)promql::Evaluate(*e, 300'000, store);
    } else {
      ASSERT_LE(err.pos, in.size()) << in;
      ASSERT_FALSE(err.message.empty()) << in;
    }
    worst_ms =
        std::max(worst_ms,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  EXPECT_GT(parsed, 100u);  // the mutations keep some inputs valid, so evaluation is exercised
  std::cout << "inputs=" << n << " parsed=" << parsed << " worst_ms=" << worst_ms << "\n";
}

TEST(ParserFuzzTest, RuleFileLoaderSurvivesMutatedInputs) {
  const std::string base = R"(groups:
  - name: carbon
    interval: 30s
    rules:
      - alert: CarbonComponentDown
        expr: up{job="tta-staging-carbon"} == 0
        for: 2m
        keep_firing_for: 1m
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.instance }} down {{ $value | humanize }}"
      - record: job:x:rate5m
        expr: |
          sum by (job) (rate(x[5m]))
)";
  const std::string yaml_tokens[] = {":",      "-",    " ",      "\n",     "  ",   "{",  "}",
                                     "[",      "]",    "'",      "\"",     "&a",   "*a", "!!int",
                                     "{{",     "}}",   "$value", "|",      ">",    "#",  "alert",
                                     "record", "expr", "for",    "groups", "rules"};
  std::mt19937_64 rng(42);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t n = 0, ok = 0;
  for (; n < 20'000 && std::chrono::steady_clock::now() < deadline; ++n) {
    std::string in = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < edits; ++i) {
      size_t pos = rng() % (in.size() + 1);
      if (rng() % 2) {
        in.insert(pos, yaml_tokens[rng() % std::size(yaml_tokens)]);
      } else if (!in.empty()) {
        in.erase(std::min(pos, in.size() - 1), 1 + rng() % 6);
      }
    }
    ConfigErrors errors;
    auto groups = ParseRuleFileText(in, "fuzz.yml", &errors);
    if (errors.empty()) ++ok;
    for (const auto& e : errors.errors()) {
      ASSERT_EQ(e.file, "fuzz.yml");
      ASSERT_FALSE(e.message.empty());
    }
  }
  EXPECT_GE(n, 10'000u);
  EXPECT_GT(ok, 0u);
  std::cout << "rule files=" << n << " valid=" << ok << "\n";
}

}  // namespace
}  // namespace obsmon::alerts
