#include "alerts/promql_parser.h"

#include <gtest/gtest.h>

namespace obsmon::alerts::promql {
namespace {

ParseError MustFail(const std::string& text) {
  ParseError err;
  ExprPtr e = Parse(text, &err);
  EXPECT_EQ(e, nullptr) << text << " parsed as " << (e ? ToString(*e) : "");
  return err;
}

TEST(PromqlParserTest, ParsesSeedExpressions) {
  ParseError err;
  auto e = Parse("up{job=\"tta-staging-carbon\"} == 0", &err);
  ASSERT_NE(e, nullptr) << err.message;
  EXPECT_EQ(e->kind, NodeKind::kBinary);
  EXPECT_EQ(e->op, BinOp::kEq);
  EXPECT_EQ(e->type, ValueType::kVector);
  ASSERT_EQ(e->args[0]->kind, NodeKind::kVectorSelector);
  EXPECT_EQ(e->args[0]->metric, "up");
  ASSERT_EQ(e->args[0]->matchers.size(), 2u);  // __name__ and job
  EXPECT_EQ(e->args[0]->matchers[1].name, "job");
  EXPECT_EQ(e->args[0]->matchers[1].value, "tta-staging-carbon");
  auto h = Parse("carbon_emissions_kg > 1.0", &err);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->args[1]->number, 1.0);
}

TEST(PromqlParserTest, PrecedenceAndAssociativity) {
  ParseError err;
  // * binds tighter than +, and `or` is the loosest.
  EXPECT_EQ(ToString(*Parse("a + b * c", &err)), "(a + (b * c))");
  EXPECT_EQ(ToString(*Parse("a - b - c", &err)), "((a - b) - c)");
  EXPECT_EQ(ToString(*Parse("a ^ b ^ c", &err)), "(a ^ (b ^ c))");
  EXPECT_EQ(ToString(*Parse("a or b and c", &err)), "(a or (b and c))");
  EXPECT_EQ(ToString(*Parse("a > b unless c", &err)), "((a > b) unless c)");
  EXPECT_EQ(ToString(*Parse("-a * b", &err)), "(-(a) * b)");
}

TEST(PromqlParserTest, ModifiersAndGrouping) {
  ParseError err;
  auto e = Parse("sum by (job) (rate(x_total{a=~\"b.*\"}[5m] offset 1h)) > bool on(job) y", &err);
  ASSERT_NE(e, nullptr) << err.message;
  EXPECT_TRUE(e->return_bool);
  EXPECT_TRUE(e->has_matching);
  EXPECT_TRUE(e->on);
  EXPECT_EQ(e->matching_labels, std::vector<std::string>{"job"});
  const Expr& agg = *e->args[0];
  EXPECT_EQ(agg.kind, NodeKind::kAggregate);
  EXPECT_EQ(agg.grouping, std::vector<std::string>{"job"});
  const Expr& sel = *agg.args[0]->args[0];
  EXPECT_EQ(sel.kind, NodeKind::kMatrixSelector);
  EXPECT_EQ(sel.range_ms, 300'000);
  EXPECT_EQ(sel.offset_ms, 3'600'000);
  // Grouping after the arguments, `without`.
  auto w = Parse("avg(x) without (instance)", &err);
  ASSERT_NE(w, nullptr) << err.message;
  EXPECT_TRUE(w->without);
}

TEST(PromqlParserTest, KeywordsAreCaseInsensitiveFunctionsAreNot) {
  ParseError err;
  auto e = Parse("SUM BY (job) (x) > BOOL ON(job) y OR z", &err);
  ASSERT_NE(e, nullptr) << err.message;
  EXPECT_EQ(ToString(*e), "((sum by(job)(x) > bool on(job) y) or z)");
  EXPECT_EQ(MustFail("RATE(x[5m])").message, "unknown function with name 'RATE'");
}

TEST(PromqlParserTest, RefusesUnsupportedByName) {
  EXPECT_EQ(MustFail("histogram_quantile(0.9, rate(x[5m]))").message,
            "function 'histogram_quantile' is not supported by obsmon");
  EXPECT_EQ(MustFail("topk(3, x)").message, "aggregation 'topk' is not supported by obsmon");
  EXPECT_EQ(MustFail("label_replace(x, \"a\", \"b\", \"c\", \"d\")").message,
            "function 'label_replace' is not supported by obsmon");
  EXPECT_EQ(MustFail("a * on(x) group_left b").message,
            "'group_left' (many-to-one matching) is not supported by obsmon");
  EXPECT_EQ(MustFail("rate(x[5m:1m])").message, "subqueries are not supported by obsmon");
  EXPECT_EQ(MustFail("x @ 100").message, "the '@' modifier is not supported by obsmon");
  EXPECT_EQ(MustFail("x offset -5m").message, "negative offsets are not supported by obsmon");
  EXPECT_EQ(MustFail("x atan2 y").message, "operator 'atan2' is not supported by obsmon");
  EXPECT_EQ(MustFail("nosuchfn(x)").message, "unknown function with name 'nosuchfn'");
}

TEST(PromqlParserTest, ErrorsCarryTheirOffset) {
  // 0123456789012345678
  // up{job="a"} == == 0
  ParseError e = MustFail("up{job=\"a\"} == == 0");
  EXPECT_EQ(e.pos, 15u) << e.message;
  ParseError r = MustFail("rate(x[5q])");
  EXPECT_EQ(r.pos, 7u) << r.message;
  EXPECT_NE(r.message.find("bad duration '5q'"), std::string::npos) << r.message;
  ParseError h = MustFail("sum(x) + histogram_quantile(0.5, y)");
  EXPECT_EQ(h.pos, 9u);
  ParseError u = MustFail("x{a=\"unterminated}");
  EXPECT_EQ(u.pos, 4u);
  EXPECT_EQ(u.message, "unterminated quoted string");
}

TEST(PromqlParserTest, TypeErrors) {
  EXPECT_EQ(MustFail("1 > 2").message, "comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(MustFail("1 and 2").message,
            "set operator 'and' not allowed in binary scalar expression");
  EXPECT_EQ(MustFail("rate(x)").message,
            "expected type range vector in call to function 'rate', got instant vector");
  EXPECT_EQ(MustFail("x[5m] + 1").message,
            "binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(MustFail("sum(x[5m])").message,
            "expected type instant vector in aggregation expression, got range vector");
  EXPECT_EQ(MustFail("{a=~\".*\"}").message,
            "vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(MustFail("x + bool 1").message,
            "bool modifier can only be used on comparison operators");
  EXPECT_EQ(MustFail("(x)[5m]").message, "ranges only allowed for vector selectors");
  EXPECT_NE(MustFail("x{a=~\"(\"}").message.find("invalid regular expression"), std::string::npos);
  EXPECT_EQ(MustFail("").message, "no expression found in input");
  EXPECT_EQ(MustFail("clamp_min(x)").message,
            "expected 2 argument(s) in call to 'clamp_min', got 1");
}

TEST(PromqlParserTest, Literals) {
  ParseError err;
  auto e = Parse("0x1f + 1.5e2 - .5 + Inf", &err);
  ASSERT_NE(e, nullptr) << err.message;
  auto s = Parse("'single' ", &err);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->type, ValueType::kString);
  EXPECT_EQ(s->str, "single");
  auto esc = Parse("x{a=\"q\\\"uote\\n\"}", &err);
  ASSERT_NE(esc, nullptr) << err.message;
  EXPECT_EQ(esc->matchers[1].value, "q\"uote\n");
  auto raw = Parse("x{a=~`\\d+`}", &err);
  ASSERT_NE(raw, nullptr) << err.message;
  EXPECT_TRUE(raw->matchers[1].Matches("123"));
  EXPECT_FALSE(raw->matchers[1].Matches("12a"));  // anchored
}

TEST(PromqlParserTest, SeriesDescriptions) {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  ParseError err;
  ASSERT_TRUE(ParseSeriesDescription("up{job=\"a\", instance=\"b:1\"}", &name, &labels, &err));
  EXPECT_EQ(name, "up");
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[1].second, "b:1");
  name.clear();
  labels.clear();
  ASSERT_TRUE(ParseSeriesDescription("{__name__=\"x\"}", &name, &labels, &err));
  EXPECT_EQ(name, "x");
  EXPECT_FALSE(ParseSeriesDescription("up{job=}", &name, &labels, &err));
}

// Issue 13: `up+up+...` with 300k terms overflowed the stack (parse built the chain in a loop,
// but evaluation and the destructor recursed once per term).
TEST(PromqlParserTest, LongOperatorChainIsRefusedNotACrash) {
  std::string text = "up";
  for (int i = 0; i < 300'000; ++i) text += "+up";
  ParseError err;
  EXPECT_EQ(Parse(text, &err), nullptr);
  EXPECT_NE(err.message.find("nested too deeply"), std::string::npos) << err.message;
}

TEST(PromqlParserTest, ChainJustBelowTheHeightLimitParses) {
  std::string text = "1";
  for (uint32_t i = 1; i < kMaxExprHeight; ++i) text += "+1";
  ParseError err;
  auto e = Parse(text, &err);
  ASSERT_NE(e, nullptr) << err.message;
  EXPECT_EQ(e->height, kMaxExprHeight);
}

TEST(PromqlParserTest, ParenthesisedChainsCountTowardsTheHeight) {
  // 150 levels of parentheses around chains of 10 terms: each level is shallow, the tree is not.
  std::string text = "up";
  for (int i = 0; i < 150; ++i) text = "(" + text + "+up+up+up+up+up+up+up+up+up)";
  ParseError err;
  EXPECT_EQ(Parse(text, &err), nullptr);
  EXPECT_NE(err.message.find("nested too deeply"), std::string::npos) << err.message;
}

TEST(PromqlParserTest, TooManyOperandsIsRefused) {
  std::string text = "vector(1";
  for (int i = 0; i < 20'000; ++i) text += ",1";
  text += ")";
  ParseError err;
  EXPECT_EQ(Parse(text, &err), nullptr);
  EXPECT_NE(err.message.find("more than 10000 operands"), std::string::npos) << err.message;
}

// Issue 13: `time - offset - range` overflowed int64 for huge durations.
TEST(PromqlParserTest, HugeOffsetAndRangeAreRefused) {
  ParseError err;
  EXPECT_EQ(Parse("up offset 200y", &err), nullptr);
  EXPECT_NE(err.message.find("offset larger than 10y"), std::string::npos) << err.message;
  EXPECT_EQ(Parse("rate(up[200y])", &err), nullptr);
  EXPECT_NE(err.message.find("range larger than 10y"), std::string::npos) << err.message;
  EXPECT_NE(Parse("rate(up[5m] offset 10y)", &err), nullptr) << err.message;
}

// Found by fuzz_promql: ToString printed quotes raw and ranges in whole seconds, so its text did
// not parse back.
TEST(PromqlAstTest, ToStringParsesBackToTheSameText) {
  for (const char* text : {R"('{a="b"}')", R"(x{a="q\"u\\o\nte"})", "rate(x[500ms] offset 1m30s)"}) {
    ParseError err;
    auto e = Parse(text, &err);
    ASSERT_NE(e, nullptr) << text << ": " << err.message;
    const std::string printed = ToString(*e);
    auto again = Parse(printed, &err);
    ASSERT_NE(again, nullptr) << printed << ": " << err.message;
    EXPECT_EQ(ToString(*again), printed);
  }
}

TEST(PromqlAstTest, DeepTreeIsDestroyedWithABoundedStack) {
  // Built by hand, past every parser bound: the destructor alone must cope.
  auto root = std::make_unique<Expr>();
  Expr* tip = root.get();
  for (int i = 0; i < 300'000; ++i) {
    tip->args.push_back(std::make_unique<Expr>());
    tip = tip->args.back().get();
  }
  root.reset();
  EXPECT_EQ(root, nullptr);
}

}  // namespace
}  // namespace obsmon::alerts::promql
