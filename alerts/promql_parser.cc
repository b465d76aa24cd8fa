#include "alerts/promql_parser.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "core/duration.h"
#include "core/promql_string.h"

namespace obsmon::alerts::promql {

namespace {

// Prometheus functions and aggregations that obsmon refuses by name (rather than calling them
// "unknown"), so a user sees that the rule is valid PromQL but outside obsmon's subset.
const std::set<std::string, std::less<>> kUnsupportedFunctions = {"acos",
                                                                  "acosh",
                                                                  "asin",
                                                                  "asinh",
                                                                  "atan",
                                                                  "atanh",
                                                                  "ceil",
                                                                  "changes",
                                                                  "clamp",
                                                                  "cos",
                                                                  "cosh",
                                                                  "days_in_month",
                                                                  "day_of_month",
                                                                  "day_of_week",
                                                                  "day_of_year",
                                                                  "deg",
                                                                  "deriv",
                                                                  "exp",
                                                                  "floor",
                                                                  "histogram_count",
                                                                  "histogram_fraction",
                                                                  "histogram_quantile",
                                                                  "histogram_sum",
                                                                  "holt_winters",
                                                                  "hour",
                                                                  "idelta",
                                                                  "label_join",
                                                                  "label_replace",
                                                                  "last_over_time",
                                                                  "ln",
                                                                  "log10",
                                                                  "log2",
                                                                  "minute",
                                                                  "month",
                                                                  "pi",
                                                                  "predict_linear",
                                                                  "present_over_time",
                                                                  "quantile_over_time",
                                                                  "rad",
                                                                  "resets",
                                                                  "round",
                                                                  "sgn",
                                                                  "sin",
                                                                  "sinh",
                                                                  "sort",
                                                                  "sort_desc",
                                                                  "sqrt",
                                                                  "stddev_over_time",
                                                                  "stdvar_over_time",
                                                                  "tan",
                                                                  "tanh",
                                                                  "timestamp",
                                                                  "year"};
const std::set<std::string, std::less<>> kUnsupportedAggregations = {
    "group", "stddev", "stdvar", "topk", "bottomk", "count_values", "quantile"};

struct FunctionSig {
  std::vector<ValueType> args;
  ValueType ret;
};

const FunctionSig* LookupFunction(std::string_view name) {
  using VT = ValueType;
  static const std::vector<std::pair<std::string, FunctionSig>> kFunctions = {
      {"rate", {{VT::kMatrix}, VT::kVector}},
      {"increase", {{VT::kMatrix}, VT::kVector}},
      {"delta", {{VT::kMatrix}, VT::kVector}},
      {"irate", {{VT::kMatrix}, VT::kVector}},
      {"avg_over_time", {{VT::kMatrix}, VT::kVector}},
      {"min_over_time", {{VT::kMatrix}, VT::kVector}},
      {"max_over_time", {{VT::kMatrix}, VT::kVector}},
      {"sum_over_time", {{VT::kMatrix}, VT::kVector}},
      {"count_over_time", {{VT::kMatrix}, VT::kVector}},
      {"absent", {{VT::kVector}, VT::kVector}},
      {"absent_over_time", {{VT::kMatrix}, VT::kVector}},
      {"time", {{}, VT::kScalar}},
      {"vector", {{VT::kScalar}, VT::kVector}},
      {"scalar", {{VT::kVector}, VT::kScalar}},
      {"abs", {{VT::kVector}, VT::kVector}},
      {"clamp_min", {{VT::kVector, VT::kScalar}, VT::kVector}},
      {"clamp_max", {{VT::kVector, VT::kScalar}, VT::kVector}},
  };
  for (const auto& [n, sig] : kFunctions) {
    if (n == name) return &sig;
  }
  return nullptr;
}

bool IsAggregation(std::string_view name, AggOp* op) {
  static const std::pair<const char*, AggOp> kAggs[] = {{"sum", AggOp::kSum},
                                                        {"avg", AggOp::kAvg},
                                                        {"min", AggOp::kMin},
                                                        {"max", AggOp::kMax},
                                                        {"count", AggOp::kCount}};
  for (const auto& [n, o] : kAggs) {
    if (name == n) {
      *op = o;
      return true;
    }
  }
  return false;
}

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool EqualsFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Recursive-descent parser with precedence climbing. Errors set error_ once (the first one
// wins) and make every caller return nullptr.
class Parser {
 public:
  Parser(std::string_view text, ParseError* error) : s_(text), error_(error) {}

  ExprPtr ParseAll() {
    SkipSpace();
    if (p_ >= s_.size()) return Fail(0, "no expression found in input");
    ExprPtr e = ParseBinary(0);
    if (!e) return nullptr;
    SkipSpace();
    if (p_ < s_.size()) return Fail(p_, "unexpected " + Describe() + " after expression");
    return e;
  }

  // metric{labels} for promtool series descriptions.
  bool ParseSeries(std::string* name, std::vector<std::pair<std::string, std::string>>* labels) {
    SkipSpace();
    if (p_ < s_.size() && IsIdentStart(s_[p_])) *name = std::string(ReadIdent());
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == '{') {
      ++p_;
      while (true) {
        SkipSpace();
        if (p_ < s_.size() && s_[p_] == '}') {
          ++p_;
          break;
        }
        size_t at = p_;
        std::string_view ln = ReadIdent();
        if (ln.empty() || !IsValidLabelName(ln)) return Fail(at, "expected label name"), false;
        SkipSpace();
        if (!Consume("=")) return Fail(p_, "expected '=' after label name"), false;
        SkipSpace();
        std::string v;
        if (!ReadString(&v)) return false;
        if (ln == "__name__") {
          *name = v;
        } else {
          labels->emplace_back(std::string(ln), v);
        }
        SkipSpace();
        if (Consume(",")) continue;
        if (Consume("}")) break;
        return Fail(p_, "expected ',' or '}' in label set"), false;
      }
    }
    SkipSpace();
    if (p_ < s_.size()) return Fail(p_, "unexpected " + Describe() + " after series"), false;
    if (name->empty()) return Fail(0, "series has no metric name"), false;
    return true;
  }

 private:
  ExprPtr Fail(size_t pos, std::string msg) {
    if (!failed_) {
      failed_ = true;
      error_->pos = std::min(pos, s_.size());
      error_->message = std::move(msg);
    }
    return nullptr;
  }

  void SkipSpace() {
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++p_;
      } else if (c == '#') {  // comment to end of line
        while (p_ < s_.size() && s_[p_] != '\n') ++p_;
      } else {
        break;
      }
    }
  }

  std::string Describe() const {
    if (p_ >= s_.size()) return "end of input";
    size_t n = 1;
    if (IsIdentChar(s_[p_])) {
      while (p_ + n < s_.size() && IsIdentChar(s_[p_ + n])) ++n;
    }
    return "'" + std::string(s_.substr(p_, n)) + "'";
  }

  bool Consume(std::string_view tok) {
    if (s_.substr(p_, tok.size()) == tok) {
      p_ += tok.size();
      return true;
    }
    return false;
  }

  // Consumes the keyword `kw` (case-insensitive) when it is a whole identifier here.
  bool ConsumeKeyword(std::string_view kw) {
    if (p_ + kw.size() > s_.size()) return false;
    if (!EqualsFold(s_.substr(p_, kw.size()), kw)) return false;
    if (p_ + kw.size() < s_.size() && IsIdentChar(s_[p_ + kw.size()])) return false;
    p_ += kw.size();
    return true;
  }

  std::string_view PeekIdent() const {
    size_t q = p_;
    if (q >= s_.size() || !IsIdentStart(s_[q])) return {};
    while (q < s_.size() && IsIdentChar(s_[q])) ++q;
    return s_.substr(p_, q - p_);
  }

  std::string_view ReadIdent() {
    std::string_view id = PeekIdent();
    p_ += id.size();
    return id;
  }

  bool ReadString(std::string* out) {
    if (p_ >= s_.size() || (s_[p_] != '"' && s_[p_] != '\'' && s_[p_] != '`')) {
      Fail(p_, "expected string literal, got " + Describe());
      return false;
    }
    PromqlStringError error;
    if (!ReadPromqlString(s_, &p_, out, &error)) {
      Fail(error.pos, error.message);
      return false;
    }
    return true;
  }

  // A duration at p_ ("5m", "1h30m"). Returns -1 (with an error) when there is none.
  int64_t ReadDuration() {
    size_t start = p_;
    while (p_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[p_]))) ++p_;
    std::string_view text = s_.substr(start, p_ - start);
    auto ms = ParseDurationMs(text);
    if (!ms) {
      Fail(start, text.empty() ? "expected duration, got " + Describe()
                               : "bad duration '" + std::string(text) + "'");
      return -1;
    }
    return *ms;
  }

  // Binary operator at p_ (without consuming); returns precedence or -1.
  int PeekBinOp(BinOp* op, size_t* len) {
    struct Tok {
      const char* text;
      BinOp op;
      int prec;
      bool word;
    };
    static const Tok kToks[] = {
        {"==", BinOp::kEq, 3, false},        {"!=", BinOp::kNe, 3, false},
        {">=", BinOp::kGe, 3, false},        {"<=", BinOp::kLe, 3, false},
        {">", BinOp::kGt, 3, false},         {"<", BinOp::kLt, 3, false},
        {"+", BinOp::kAdd, 4, false},        {"-", BinOp::kSub, 4, false},
        {"*", BinOp::kMul, 5, false},        {"/", BinOp::kDiv, 5, false},
        {"%", BinOp::kMod, 5, false},        {"^", BinOp::kPow, 6, false},
        {"or", BinOp::kOr, 1, true},         {"and", BinOp::kAnd, 2, true},
        {"unless", BinOp::kUnless, 2, true},
    };
    for (const auto& t : kToks) {
      size_t n = std::char_traits<char>::length(t.text);
      if (t.word) {
        std::string_view id = PeekIdent();
        if (!EqualsFold(id, t.text)) continue;
      } else if (s_.substr(p_, n) != t.text) {
        continue;
      }
      *op = t.op;
      *len = n;
      return t.prec;
    }
    if (EqualsFold(PeekIdent(), "atan2")) {
      Fail(p_, "operator 'atan2' is not supported by obsmon");
    }
    return -1;
  }

  bool ReadLabelList(std::vector<std::string>* out) {
    SkipSpace();
    if (!Consume("(")) {
      Fail(p_, "expected '(' before label list, got " + Describe());
      return false;
    }
    while (true) {
      SkipSpace();
      if (Consume(")")) return true;
      size_t at = p_;
      std::string_view id = ReadIdent();
      if (id.empty() || !IsValidLabelName(id)) {
        Fail(at, "expected label name in grouping, got " + Describe());
        return false;
      }
      out->emplace_back(id);
      SkipSpace();
      if (Consume(",")) continue;
      if (Consume(")")) return true;
      Fail(p_, "expected ',' or ')' in label list, got " + Describe());
      return false;
    }
  }

  ExprPtr ParseBinary(int min_prec) {
    if (depth_ > 200) return Fail(p_, "expression nested too deeply");
    ++depth_;
    ExprPtr e = ParseBinaryInner(min_prec);
    --depth_;
    return e;
  }

  ExprPtr ParseBinaryInner(int min_prec) {
    ExprPtr lhs = ParseUnary();
    if (!lhs) return nullptr;
    while (true) {
      SkipSpace();
      BinOp op;
      size_t len = 0;
      size_t op_pos = p_;
      int prec = PeekBinOp(&op, &len);
      if (failed_) return nullptr;
      if (prec < 0 || prec < min_prec) return lhs;
      p_ += len;
      auto node = std::make_unique<Expr>();
      node->kind = NodeKind::kBinary;
      node->op = op;
      node->pos = op_pos;
      SkipSpace();
      if (ConsumeKeyword("bool")) {
        if (!IsComparison(op))
          return Fail(op_pos, "bool modifier can only be used on comparison operators");
        node->return_bool = true;
        SkipSpace();
      }
      bool on = ConsumeKeyword("on");
      if (on || ConsumeKeyword("ignoring")) {
        node->has_matching = true;
        node->on = on;
        if (!ReadLabelList(&node->matching_labels)) return nullptr;
        SkipSpace();
      }
      if (EqualsFold(PeekIdent(), "group_left") || EqualsFold(PeekIdent(), "group_right")) {
        return Fail(p_, "'" + std::string(PeekIdent()) +
                            "' (many-to-one matching) is not supported by obsmon");
      }
      // ^ is right-associative; everything else left-associative.
      ExprPtr rhs = ParseBinary(op == BinOp::kPow ? prec : prec + 1);
      if (!rhs) return nullptr;
      node->args.push_back(std::move(lhs));
      node->args.push_back(std::move(rhs));
      if (!CheckBinary(node.get()) || !SetHeight(node.get())) return nullptr;
      lhs = std::move(node);
    }
  }

  bool CheckBinary(Expr* n) {
    ValueType lt = n->args[0]->type, rt = n->args[1]->type;
    auto ok_type = [](ValueType t) { return t == ValueType::kScalar || t == ValueType::kVector; };
    if (!ok_type(lt) || !ok_type(rt)) {
      Fail(n->pos, "binary expression must contain only scalar and instant vector types");
      return false;
    }
    if (IsSetOp(n->op) && (lt != ValueType::kVector || rt != ValueType::kVector)) {
      Fail(n->pos, std::string("set operator '") + BinOpName(n->op) +
                       "' not allowed in binary scalar expression");
      return false;
    }
    if (lt == ValueType::kScalar && rt == ValueType::kScalar && IsComparison(n->op) &&
        !n->return_bool) {
      Fail(n->pos, "comparisons between scalars must use BOOL modifier");
      return false;
    }
    if (n->has_matching && (lt != ValueType::kVector || rt != ValueType::kVector)) {
      Fail(n->pos, "vector matching only allowed between instant vectors");
      return false;
    }
    n->type = (lt == ValueType::kVector || rt == ValueType::kVector) ? ValueType::kVector
                                                                     : ValueType::kScalar;
    return true;
  }

  // 1 + the tallest argument; fails when the tree would be taller than kMaxExprHeight (a chain
  // `up+up+...` is built by a loop here, but evaluated and printed by recursion).
  bool SetHeight(Expr* n) {
    uint32_t h = 0;
    for (const auto& a : n->args) h = std::max(h, a->height);
    n->height = h + 1;
    if (n->height > kMaxExprHeight) {
      Fail(n->pos, "expression nested too deeply (more than " + std::to_string(kMaxExprHeight) +
                       " levels of operators)");
      return false;
    }
    return true;
  }

  ExprPtr ParseUnary() {
    SkipSpace();
    // Every operand passes here once: this bounds the size of the tree.
    if (++operands_ > kMaxExprOperands) {
      return Fail(p_, "expression has more than " + std::to_string(kMaxExprOperands) +
                          " operands");
    }
    if (p_ < s_.size() && (s_[p_] == '-' || s_[p_] == '+')) {
      size_t at = p_;
      bool neg = s_[p_] == '-';
      ++p_;
      // Unary minus binds like '*': tighter than + -, looser than ^ (-2^2 == -4).
      ExprPtr operand = ParseBinary(6);
      if (!operand) return nullptr;
      if (operand->type != ValueType::kScalar && operand->type != ValueType::kVector) {
        return Fail(
            at, "unary expression only allowed on expressions of type scalar or instant vector");
      }
      if (!neg) return operand;
      if (operand->kind == NodeKind::kNumber) {
        operand->number = -operand->number;
        operand->pos = at;
        return operand;
      }
      auto node = std::make_unique<Expr>();
      node->kind = NodeKind::kUnaryMinus;
      node->pos = at;
      node->type = operand->type;
      node->args.push_back(std::move(operand));
      if (!SetHeight(node.get())) return nullptr;
      return node;
    }
    ExprPtr e = ParsePrimary();
    if (!e) return nullptr;
    return ParsePostfix(std::move(e));
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    while (true) {
      SkipSpace();
      if (p_ < s_.size() && s_[p_] == '[') {
        size_t at = p_++;
        SkipSpace();
        int64_t range = ReadDuration();
        if (range < 0) return nullptr;
        SkipSpace();
        if (p_ < s_.size() && s_[p_] == ':')
          return Fail(at, "subqueries are not supported by obsmon");
        if (!Consume("]")) return Fail(p_, "expected ']' after range, got " + Describe());
        if (e->kind != NodeKind::kVectorSelector || e->offset_ms != 0) {
          return Fail(at, "ranges only allowed for vector selectors");
        }
        if (range == 0) return Fail(at, "range must be greater than zero");
        if (range > kMaxRangeMs) return Fail(at, "range larger than 10y is not supported by obsmon");
        e->kind = NodeKind::kMatrixSelector;
        e->type = ValueType::kMatrix;
        e->range_ms = range;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '@') {
        return Fail(p_, "the '@' modifier is not supported by obsmon");
      }
      if (ConsumeKeyword("offset")) {
        size_t at = p_;
        if (e->kind != NodeKind::kVectorSelector && e->kind != NodeKind::kMatrixSelector) {
          return Fail(at,
                      "offset modifier must be preceded by an instant vector selector or range "
                      "vector selector");
        }
        if (e->offset_ms != 0) return Fail(at, "offset may not be set multiple times");
        SkipSpace();
        if (p_ < s_.size() && s_[p_] == '-')
          return Fail(p_, "negative offsets are not supported by obsmon");
        int64_t off = ReadDuration();
        if (off < 0) return nullptr;
        if (off > kMaxRangeMs) return Fail(at, "offset larger than 10y is not supported by obsmon");
        e->offset_ms = off;
        continue;
      }
      return e;
    }
  }

  ExprPtr ParseNumber() {
    size_t start = p_;
    const char* begin = s_.data() + p_;
    std::string buf(s_.substr(p_, std::min<size_t>(s_.size() - p_, 64)));
    char* end = nullptr;
    double v;
    if (buf.size() > 1 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
      v = static_cast<double>(std::strtoull(buf.c_str(), &end, 16));
    } else {
      // strtod would accept "inf"/"nan"/hex floats; Prometheus numbers are digits, '.', exponent.
      size_t q = 0;
      while (q < buf.size() && (std::isdigit(static_cast<unsigned char>(buf[q])) || buf[q] == '.'))
        ++q;
      if (q < buf.size() && (buf[q] == 'e' || buf[q] == 'E')) {
        size_t r = q + 1;
        if (r < buf.size() && (buf[r] == '+' || buf[r] == '-')) ++r;
        if (r < buf.size() && std::isdigit(static_cast<unsigned char>(buf[r]))) {
          q = r;
          while (q < buf.size() && std::isdigit(static_cast<unsigned char>(buf[q]))) ++q;
        }
      }
      std::string num = buf.substr(0, q);
      v = std::strtod(num.c_str(), &end);
      if (end != num.c_str() + num.size() || num.empty()) {
        return Fail(start, "bad number '" + num + "'");
      }
      end = buf.data() + q;
    }
    size_t consumed = static_cast<size_t>(end - buf.data());
    (void)begin;
    if (consumed == 0) return Fail(start, "bad number");
    p_ += consumed;
    if (p_ < s_.size() && IsIdentChar(s_[p_])) {
      return Fail(start, "bad number or duration syntax: '" +
                             std::string(s_.substr(start, p_ - start + 1)) + "'");
    }
    auto n = std::make_unique<Expr>();
    n->kind = NodeKind::kNumber;
    n->type = ValueType::kScalar;
    n->number = v;
    n->pos = start;
    return n;
  }

  ExprPtr ParsePrimary() {
    SkipSpace();
    if (p_ >= s_.size()) return Fail(p_, "unexpected end of input");
    char c = s_[p_];
    size_t start = p_;
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && p_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_ + 1])))) {
      return ParseNumber();
    }
    if (c == '"' || c == '\'' || c == '`') {
      auto n = std::make_unique<Expr>();
      n->kind = NodeKind::kString;
      n->type = ValueType::kString;
      n->pos = start;
      if (!ReadString(&n->str)) return nullptr;
      return n;
    }
    if (c == '(') {
      ++p_;
      if (++depth_ > 200) return Fail(start, "expression nested too deeply");
      ExprPtr inner = ParseBinary(0);
      --depth_;
      if (!inner) return nullptr;
      SkipSpace();
      if (!Consume(")"))
        return Fail(p_, "unclosed left parenthesis: expected ')', got " + Describe());
      // A parenthesised selector is no longer a selector for [range] / offset purposes.
      if (inner->kind == NodeKind::kVectorSelector || inner->kind == NodeKind::kMatrixSelector) {
        SkipSpace();
        if (p_ < s_.size() && (s_[p_] == '[')) {
          return Fail(p_, "ranges only allowed for vector selectors");
        }
        if (EqualsFold(PeekIdent(), "offset")) {
          return Fail(p_,
                      "offset modifier must be preceded by an instant vector selector or range "
                      "vector selector");
        }
      }
      return inner;
    }
    if (c == '{') return ParseSelector("", start);
    if (IsIdentStart(c)) {
      std::string_view id = PeekIdent();
      if (EqualsFold(id, "inf") || EqualsFold(id, "nan")) {
        p_ += id.size();
        auto n = std::make_unique<Expr>();
        n->kind = NodeKind::kNumber;
        n->type = ValueType::kScalar;
        n->number = EqualsFold(id, "inf") ? std::numeric_limits<double>::infinity()
                                          : std::numeric_limits<double>::quiet_NaN();
        n->pos = start;
        return n;
      }
      p_ += id.size();
      std::string name(id);
      size_t after = p_;
      SkipSpace();
      AggOp agg;
      // Aggregation operators are keywords, matched case-insensitively as in Prometheus
      // (functions are not).
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      bool is_agg = IsAggregation(lower, &agg);
      bool next_paren = p_ < s_.size() && s_[p_] == '(';
      bool next_grouping = EqualsFold(PeekIdent(), "by") || EqualsFold(PeekIdent(), "without");
      if (is_agg && (next_paren || next_grouping)) return ParseAggregation(agg, lower, start);
      if (kUnsupportedAggregations.count(lower) && (next_paren || next_grouping)) {
        return Fail(start, "aggregation '" + lower + "' is not supported by obsmon");
      }
      if (next_paren) return ParseCall(name, start);
      p_ = after;
      static const char* kKeywords[] = {"by",   "without", "on",         "ignoring",
                                        "bool", "offset",  "group_left", "group_right",
                                        "and",  "or",      "unless"};
      for (const char* kw : kKeywords) {
        if (EqualsFold(name, kw)) return Fail(start, "unexpected keyword '" + name + "'");
      }
      return ParseSelector(name, start);
    }
    p_ = start;
    return Fail(start, "unexpected " + Describe());
  }

  ExprPtr ParseAggregation(AggOp agg, const std::string& name, size_t start) {
    auto n = std::make_unique<Expr>();
    n->kind = NodeKind::kAggregate;
    n->agg = agg;
    n->pos = start;
    n->type = ValueType::kVector;
    n->str = name;
    bool grouped = false;
    auto read_grouping = [&]() -> bool {
      SkipSpace();
      bool by = ConsumeKeyword("by");
      bool without = !by && ConsumeKeyword("without");
      if (!by && !without) return true;
      if (grouped) {
        Fail(p_, "aggregation may have only one grouping clause");
        return false;
      }
      grouped = true;
      n->without = without;
      return ReadLabelList(&n->grouping);
    };
    if (!read_grouping()) return nullptr;
    SkipSpace();
    if (!Consume("(")) return Fail(p_, "expected '(' after aggregation, got " + Describe());
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == ')')
      return Fail(p_, "no arguments for aggregate expression provided");
    ExprPtr arg = ParseBinary(0);
    if (!arg) return nullptr;
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == ',')
      return Fail(p_,
                  "wrong number of arguments for aggregate expression provided, expected 1, got 2");
    if (!Consume(")"))
      return Fail(p_, "expected ')' after aggregation argument, got " + Describe());
    if (!read_grouping()) return nullptr;
    if (arg->type != ValueType::kVector) {
      return Fail(arg->pos,
                  std::string("expected type instant vector in aggregation expression, got ") +
                      ValueTypeName(arg->type));
    }
    n->args.push_back(std::move(arg));
    if (!SetHeight(n.get())) return nullptr;
    return n;
  }

  ExprPtr ParseCall(const std::string& name, size_t start) {
    const FunctionSig* sig = LookupFunction(name);
    if (!sig) {
      if (kUnsupportedFunctions.count(name)) {
        return Fail(start, "function '" + name + "' is not supported by obsmon");
      }
      return Fail(start, "unknown function with name '" + name + "'");
    }
    ++p_;  // '('
    auto n = std::make_unique<Expr>();
    n->kind = NodeKind::kCall;
    n->str = name;
    n->pos = start;
    n->type = sig->ret;
    SkipSpace();
    if (!Consume(")")) {
      while (true) {
        if (++depth_ > 200) return Fail(start, "expression nested too deeply");
        ExprPtr a = ParseBinary(0);
        --depth_;
        if (!a) return nullptr;
        n->args.push_back(std::move(a));
        SkipSpace();
        if (Consume(",")) continue;
        if (Consume(")")) break;
        return Fail(p_, "expected ',' or ')' in function call, got " + Describe());
      }
    }
    if (n->args.size() != sig->args.size()) {
      return Fail(start, "expected " + std::to_string(sig->args.size()) +
                             " argument(s) in call to '" + name + "', got " +
                             std::to_string(n->args.size()));
    }
    for (size_t i = 0; i < n->args.size(); ++i) {
      if (n->args[i]->type != sig->args[i]) {
        return Fail(n->args[i]->pos, std::string("expected type ") + ValueTypeName(sig->args[i]) +
                                         " in call to function '" + name + "', got " +
                                         ValueTypeName(n->args[i]->type));
      }
    }
    if (!SetHeight(n.get())) return nullptr;
    return n;
  }

  ExprPtr ParseSelector(const std::string& name, size_t start) {
    auto n = std::make_unique<Expr>();
    n->kind = NodeKind::kVectorSelector;
    n->type = ValueType::kVector;
    n->pos = start;
    n->metric = name;
    if (!name.empty()) {
      Matcher m;
      m.name = "__name__";
      m.value = name;
      n->matchers.push_back(std::move(m));
    }
    SkipSpace();
    if (p_ < s_.size() && s_[p_] == '{') {
      ++p_;
      while (true) {
        SkipSpace();
        if (Consume("}")) break;
        size_t at = p_;
        std::string_view ln = ReadIdent();
        if (ln.empty() || !IsValidLabelName(ln))
          return Fail(at, "unexpected " + Describe() + " in label matching, expected label");
        SkipSpace();
        Matcher m;
        m.name = std::string(ln);
        if (Consume("=~")) {
          m.op = Matcher::Op::kRe;
        } else if (Consume("!~")) {
          m.op = Matcher::Op::kNre;
        } else if (Consume("!=")) {
          m.op = Matcher::Op::kNe;
        } else if (Consume("=")) {
          m.op = Matcher::Op::kEq;
        } else {
          return Fail(p_, "unexpected " + Describe() +
                              " in label matching, expected label matching operator");
        }
        SkipSpace();
        size_t vpos = p_;
        if (!ReadString(&m.value)) return nullptr;
        if (m.op == Matcher::Op::kRe || m.op == Matcher::Op::kNre) {
          RE2::Options opts;
          opts.set_log_errors(false);
          auto re = std::make_shared<RE2>("^(?:" + m.value + ")$", opts);
          if (!re->ok())
            return Fail(vpos, "invalid regular expression '" + m.value + "': " + re->error());
          m.re = std::move(re);
        }
        if (m.name == "__name__" && !name.empty()) {
          return Fail(at, "metric name must not be set twice: '" + name + "'");
        }
        n->matchers.push_back(std::move(m));
        SkipSpace();
        if (Consume(",")) continue;
        if (Consume("}")) break;
        return Fail(p_, "unexpected " + Describe() + " in label matching, expected ',' or '}'");
      }
    }
    bool non_empty = false;
    for (const auto& m : n->matchers) {
      if (!m.Matches("")) non_empty = true;
    }
    if (!non_empty)
      return Fail(start, "vector selector must contain at least one non-empty matcher");
    return n;
  }

  std::string_view s_;
  size_t p_ = 0;
  int depth_ = 0;
  size_t operands_ = 0;
  bool failed_ = false;
  ParseError* error_;
};

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !IsIdentStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsIdentChar);
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name[0] == ':' || !IsIdentStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c != ':' && IsIdentChar(c); });
}

ExprPtr Parse(std::string_view text, ParseError* error) {
  Parser p(text, error);
  return p.ParseAll();
}

bool ParseSeriesDescription(std::string_view text, std::string* name,
                            std::vector<std::pair<std::string, std::string>>* labels,
                            ParseError* error) {
  Parser p(text, error);
  return p.ParseSeries(name, labels);
}

}  // namespace obsmon::alerts::promql
