#include "alerts/promql_ast.h"

#include <re2/re2.h>

#include "core/duration.h"

#include <cmath>
#include <sstream>
#include <string_view>

namespace obsmon::alerts::promql {

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
    case ValueType::kNone:
      break;
  }
  return "none";
}

bool Matcher::Matches(const std::string& v) const {
  switch (op) {
    case Op::kEq:
      return v == value;
    case Op::kNe:
      return v != value;
    case Op::kRe:
      return RE2::FullMatch(v, *re);
    case Op::kNre:
      return !RE2::FullMatch(v, *re);
  }
  return false;
}

bool IsComparison(BinOp op) {
  return op == BinOp::kEq || op == BinOp::kNe || op == BinOp::kGt || op == BinOp::kLt ||
         op == BinOp::kGe || op == BinOp::kLe;
}

bool IsSetOp(BinOp op) { return op == BinOp::kAnd || op == BinOp::kOr || op == BinOp::kUnless; }

const char* BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kMod:
      return "%";
    case BinOp::kPow:
      return "^";
    case BinOp::kEq:
      return "==";
    case BinOp::kNe:
      return "!=";
    case BinOp::kGt:
      return ">";
    case BinOp::kLt:
      return "<";
    case BinOp::kGe:
      return ">=";
    case BinOp::kLe:
      return "<=";
    case BinOp::kAnd:
      return "and";
    case BinOp::kOr:
      return "or";
    case BinOp::kUnless:
      return "unless";
  }
  return "?";
}

namespace {

const char* MatchOpText(Matcher::Op op) {
  switch (op) {
    case Matcher::Op::kEq:
      return "=";
    case Matcher::Op::kNe:
      return "!=";
    case Matcher::Op::kRe:
      return "=~";
    case Matcher::Op::kNre:
      return "!~";
  }
  return "=";
}

// A double-quoted PromQL string that the parser reads back to `text` (found by fuzz_promql: a
// quote inside a string literal or matcher value was printed raw).
void Quote(std::string_view text, std::ostringstream& out) {
  out << '"';
  for (char c : text) {
    switch (c) {
      case '\\':
        out << "\\\\";
        break;
      case '"':
        out << "\\\"";
        break;
      case '\n':
        out << "\\n";
        break;
      default:
        out << c;
    }
  }
  out << '"';
}

void Print(const Expr& e, std::ostringstream& out) {
  switch (e.kind) {
    case NodeKind::kNumber:
      out << e.number;
      break;
    case NodeKind::kString:
      Quote(e.str, out);
      break;
    case NodeKind::kVectorSelector:
    case NodeKind::kMatrixSelector: {
      out << e.metric;
      bool first = true;
      for (const auto& m : e.matchers) {
        if (m.name == "__name__" && !e.metric.empty()) continue;
        out << (first ? "{" : ",") << m.name << MatchOpText(m.op);
        Quote(m.value, out);
        first = false;
      }
      if (!first) out << '}';
      // In the duration notation, not whole seconds: `[500ms]` printed as `[0s]` did not parse.
      if (e.kind == NodeKind::kMatrixSelector) out << '[' << FormatDurationMs(e.range_ms) << ']';
      if (e.offset_ms) out << " offset " << FormatDurationMs(e.offset_ms);
      break;
    }
    case NodeKind::kUnaryMinus:
      out << "-(";
      Print(*e.args[0], out);
      out << ')';
      break;
    case NodeKind::kBinary:
      out << '(';
      Print(*e.args[0], out);
      out << ' ' << BinOpName(e.op) << (e.return_bool ? " bool" : "");
      if (e.has_matching) {
        out << (e.on ? " on(" : " ignoring(");
        for (size_t i = 0; i < e.matching_labels.size(); ++i)
          out << (i ? "," : "") << e.matching_labels[i];
        out << ')';
      }
      out << ' ';
      Print(*e.args[1], out);
      out << ')';
      break;
    case NodeKind::kAggregate:
      out << e.str;
      if (!e.grouping.empty() || e.without) {
        out << (e.without ? " without(" : " by(");
        for (size_t i = 0; i < e.grouping.size(); ++i) out << (i ? "," : "") << e.grouping[i];
        out << ')';
      }
      out << '(';
      Print(*e.args[0], out);
      out << ')';
      break;
    case NodeKind::kCall:
      out << e.str << '(';
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) out << ", ";
        Print(*e.args[i], out);
      }
      out << ')';
      break;
  }
}

}  // namespace

Expr::~Expr() {
  // The default destructor would recurse once per level: `up+up+...` with 300k terms overflowed
  // the stack. Detach the children and free them from a work list instead.
  std::vector<ExprPtr> pending = std::move(args);
  while (!pending.empty()) {
    ExprPtr e = std::move(pending.back());
    pending.pop_back();
    for (auto& a : e->args) pending.push_back(std::move(a));
    e->args.clear();
  }  // each `e` is destroyed here with no children left
}

std::string ToString(const Expr& e) {
  std::ostringstream out;
  Print(e, out);
  return out.str();
}

}  // namespace obsmon::alerts::promql
