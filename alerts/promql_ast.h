// The syntax tree of obsmon's PromQL subset (docs/alerts.md lists it). Built by promql_parser,
// read by promql_engine. Trees are immutable after parsing and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace obsmon::alerts::promql {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };
const char* ValueTypeName(ValueType t);

// One label matcher of a selector. Regex matchers are fully anchored, as in Prometheus.
struct Matcher {
  enum class Op { kEq, kNe, kRe, kNre };
  Op op = Op::kEq;
  std::string name;
  std::string value;
  std::shared_ptr<const re2::RE2> re;        // set for kRe / kNre
  bool Matches(const std::string& v) const;  // "" stands for an absent label
};

enum class BinOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEq,
  kNe,
  kGt,
  kLt,
  kGe,
  kLe,
  kAnd,
  kOr,
  kUnless
};
bool IsComparison(BinOp op);
bool IsSetOp(BinOp op);
const char* BinOpName(BinOp op);

enum class AggOp { kSum, kAvg, kMin, kMax, kCount };

enum class NodeKind {
  kNumber,
  kString,
  kVectorSelector,
  kMatrixSelector,
  kUnaryMinus,
  kBinary,
  kAggregate,
  kCall
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One node; which fields are meaningful depends on `kind` (a tagged struct keeps the parser and
// the evaluator short; the tree is small: the parser bounds its height and size, see
// promql_parser.h).
struct Expr {
  Expr() = default;
  Expr(Expr&&) = default;
  Expr& operator=(Expr&&) = default;
  // Iterative: a deep tree is freed with a bounded stack, whatever its shape.
  ~Expr();

  NodeKind kind = NodeKind::kNumber;
  ValueType type = ValueType::kNone;
  size_t pos = 0;  // byte offset of the node in the expression text

  double number = 0;  // kNumber
  std::string str;    // kString; kCall: function name

  // kVectorSelector / kMatrixSelector
  std::string metric;             // may be empty when matched through __name__
  std::vector<Matcher> matchers;  // includes __name__="metric" when metric is set
  int64_t offset_ms = 0;
  int64_t range_ms = 0;  // kMatrixSelector only

  // kBinary
  BinOp op = BinOp::kAdd;
  bool return_bool = false;
  bool has_matching = false;  // on(...) or ignoring(...) was written
  bool on = false;            // on(...) (else ignoring(...))
  std::vector<std::string> matching_labels;

  // kAggregate
  AggOp agg = AggOp::kSum;
  bool without = false;
  std::vector<std::string> grouping;

  std::vector<ExprPtr> args;  // operands / function arguments / aggregated expression
  // 1 for a leaf, else 1 + the tallest argument's height: the depth of every recursive walk of
  // this subtree (evaluation, printing), which the parser keeps below kMaxExprHeight.
  uint32_t height = 1;
};

// Canonical text of an expression (used in messages and tests).
std::string ToString(const Expr& e);

}  // namespace obsmon::alerts::promql
