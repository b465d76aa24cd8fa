#include "alerts/promql_engine.h"
#include "alerts/template.h"

#include "alerts/go_float.h"
#include "alerts/promql_aggregation.h"
#include "alerts/promql_evaluation_memory.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <unordered_set>

namespace obsmon::alerts::promql {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Key of a label set restricted to (on) or stripped of (ignoring, always also __name__) names.
std::string Signature(const Labels& l, bool on, const std::vector<std::string>& names) {
  std::string key;
  for (const auto& [n, v] : l.pairs()) {
    bool listed = std::find(names.begin(), names.end(), n) != names.end();
    if (on ? !listed : (listed || n == "__name__")) continue;
    key += n;
    key += '\xff';
    key += v;
    key += '\xfe';
  }
  return key;
}

Labels DropName(Labels l) {
  l.Remove("__name__");
  return l;
}

// Go's math.Max/Min, special cases in Go's order: an infinity in the direction asked wins even
// over NaN (Max(NaN, +Inf) is +Inf: found by the alert differential test in
// clamp_min(NaN, Inf)), then NaN propagates (std::fmax does not), and Max(-0, 0) is 0.
double GoMax(double a, double b) {
  if (std::isinf(a) && a > 0) return a;
  if (std::isinf(b) && b > 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
double GoMin(double a, double b) {
  if (std::isinf(a) && a < 0) return a;
  if (std::isinf(b) && b < 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

// Arithmetic or comparison of two numbers; `keep` is false when a comparison is false.
double ElemBinop(BinOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinOp::kAdd:
      return l + r;
    case BinOp::kSub:
      return l - r;
    case BinOp::kMul:
      return l * r;
    case BinOp::kDiv:
      return l / r;
    case BinOp::kMod:
      return std::fmod(l, r);
    case BinOp::kPow:
      return GoPow(l, r);
    case BinOp::kEq:
      *keep = l == r;
      return l;
    case BinOp::kNe:
      *keep = l != r;
      return l;
    case BinOp::kGt:
      *keep = l > r;
      return l;
    case BinOp::kLt:
      *keep = l < r;
      return l;
    case BinOp::kGe:
      *keep = l >= r;
      return l;
    case BinOp::kLe:
      *keep = l <= r;
      return l;
    default:
      break;
  }
  *keep = false;
  return 0;
}

bool DropsName(BinOp op) {
  return op == BinOp::kAdd || op == BinOp::kSub || op == BinOp::kMul || op == BinOp::kDiv ||
         op == BinOp::kMod || op == BinOp::kPow;
}

Status CheckUniqueLabelsets(const Vector& v) {
  if (HasDuplicateLabelsets(v)) {
    return Status::InvalidArgument("vector cannot contain metrics with the same labelset");
  }
  return Status::Ok();
}

bool HasNameEquality(const Expr& sel) {
  return std::any_of(sel.matchers.begin(), sel.matchers.end(), [](const Matcher& m) {
    return m.name == "__name__" && m.op == Matcher::Op::kEq;
  });
}

Labels AbsentLabels(const Expr& arg) {
  Labels out;
  if (arg.kind != NodeKind::kVectorSelector && arg.kind != NodeKind::kMatrixSelector) return out;
  // In the selector's order, as promtool 2.42: the first equality matcher of a label sets it,
  // any other matcher of that label drops it then and there (so `{job!="b",job="a"}` keeps
  // job="a" and `{job="a",job!="b"}` does not; fresh eyes, stop 57, against promtool).
  std::unordered_set<std::string_view> set;
  for (const auto& m : arg.matchers) {
    if (m.name == "__name__") continue;
    if (m.op == Matcher::Op::kEq && set.insert(m.name).second) {
      out.Set(m.name, m.value);
    } else {
      out.Remove(m.name);
    }
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(int64_t ts, const Querier& q, const EvalOptions& o) : ts_(ts), q_(q), o_(o) {}

  Result<Value> Eval(const Expr& e) {
    if (o_.shared == nullptr) return EvalNode(e);
    if (const Result<Value>* kept = o_.shared->Find(e, ts_)) return *kept;
    Result<Value> r = EvalNode(e);
    o_.shared->Keep(e, ts_, r);
    return r;
  }

 private:
  Result<Value> EvalNode(const Expr& e) {
    switch (e.kind) {
      case NodeKind::kNumber:
        return Scalar(e.number);
      case NodeKind::kString: {
        Value v;
        v.type = ValueType::kString;
        v.str = e.str;
        return v;
      }
      case NodeKind::kVectorSelector:
        return SelectVector(e);
      case NodeKind::kMatrixSelector:
        return SelectMatrix(e);
      case NodeKind::kUnaryMinus: {
        auto r = Eval(*e.args[0]);
        if (!r.ok()) return r;
        Value v = std::move(r).value();
        if (v.type == ValueType::kScalar) {
          v.scalar = -v.scalar;
          return v;
        }
        for (auto& s : v.vector) {
          s.v = -s.v;
          s.labels.Remove("__name__");
        }
        Status st = CheckUniqueLabelsets(v.vector);
        if (!st.ok()) return st;
        return v;
      }
      case NodeKind::kBinary:
        return Binary(e);
      case NodeKind::kAggregate:
        return Aggregate(e);
      case NodeKind::kCall:
        return Call(e);
    }
    return Status::Internal("unknown node");
  }

  static Value Scalar(double d) {
    Value v;
    v.type = ValueType::kScalar;
    v.scalar = d;
    return v;
  }
  static Value VectorValue(Vector vec) {
    Value v;
    v.type = ValueType::kVector;
    v.vector = std::move(vec);
    return v;
  }

  Result<Value> SelectVector(const Expr& e) {
    const int64_t ref = ts_ - e.offset_ms;
    Vector out;
    q_.ForEachLatest(e.matchers, ref - o_.lookback_ms, ref,
                     [&](const Labels& labels, const Point& p) {
                       if (!IsStaleNaN(p.v)) out.push_back({labels, p.v});
                     });
    return VectorValue(std::move(out));
  }

  Result<Value> SelectMatrix(const Expr& e) {
    const int64_t maxt = ts_ - e.offset_ms;
    Matrix m;
    q_.Select(e.matchers, maxt - e.range_ms, maxt, &m);
    Value v;
    v.type = ValueType::kMatrix;
    for (auto& s : m) {
      std::erase_if(s.points, [](const Point& p) { return IsStaleNaN(p.v); });
      if (!s.points.empty()) v.matrix.push_back(std::move(s));
    }
    return v;
  }

  Result<Value> Binary(const Expr& e) {
    auto lr = Eval(*e.args[0]);
    if (!lr.ok()) return lr;
    auto rr = Eval(*e.args[1]);
    if (!rr.ok()) return rr;
    Value& l = lr.value();
    Value& r = rr.value();
    if (l.type == ValueType::kScalar && r.type == ValueType::kScalar) {
      bool keep;
      double v = ElemBinop(e.op, l.scalar, r.scalar, &keep);
      if (IsComparison(e.op)) v = keep ? 1 : 0;  // scalar comparisons always have `bool`
      return Scalar(v);
    }
    if (l.type == ValueType::kVector && r.type == ValueType::kVector) {
      if (IsSetOp(e.op)) return SetOp(e, l.vector, r.vector);
      return VectorVector(e, l.vector, r.vector);
    }
    // vector / scalar in either order
    const bool swap = l.type == ValueType::kScalar;
    Vector& vec = swap ? r.vector : l.vector;
    const double scalar = swap ? l.scalar : r.scalar;
    Vector out;
    out.reserve(vec.size());
    for (auto& s : vec) {
      double lv = s.v, rv = scalar;
      if (swap) std::swap(lv, rv);
      bool keep;
      double v = ElemBinop(e.op, lv, rv, &keep);
      // The vector element's value is the result of a filtering comparison, on either side.
      if (IsComparison(e.op) && swap) v = rv;
      if (e.return_bool) {
        v = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      if (DropsName(e.op) || e.return_bool) s.labels.Remove("__name__");
      out.push_back({std::move(s.labels), v});
    }
    Status st = CheckUniqueLabelsets(out);
    if (!st.ok()) return st;
    return VectorValue(std::move(out));
  }

  std::string SigOf(const Expr& e, const Labels& l) {
    if (e.has_matching && e.on) return Signature(l, true, e.matching_labels);
    return Signature(l, false, e.has_matching ? e.matching_labels : std::vector<std::string>{});
  }

  Result<Value> SetOp(const Expr& e, Vector& lhs, Vector& rhs) {
    Vector out;
    if (e.op == BinOp::kAnd || e.op == BinOp::kUnless) {
      std::unordered_set<std::string> rs;
      for (const auto& s : rhs) rs.insert(SigOf(e, s.labels));
      for (auto& s : lhs) {
        bool in = rs.count(SigOf(e, s.labels)) > 0;
        if (in == (e.op == BinOp::kAnd)) out.push_back(std::move(s));
      }
    } else {  // or
      std::unordered_set<std::string> ls;
      for (auto& s : lhs) {
        ls.insert(SigOf(e, s.labels));
        out.push_back(std::move(s));
      }
      for (auto& s : rhs) {
        if (!ls.count(SigOf(e, s.labels))) out.push_back(std::move(s));
      }
    }
    return VectorValue(std::move(out));
  }

  Result<Value> VectorVector(const Expr& e, Vector& lhs, Vector& rhs) {
    // As Prometheus's VectorBinop: with one side empty nothing can match, so the result is empty
    // before duplicate series on the other side could be an error (issue 14, item 4).
    if (lhs.empty() || rhs.empty()) return VectorValue(Vector());
    std::unordered_map<std::string, const VSample*> right;
    right.reserve(rhs.size());
    for (const auto& s : rhs) {
      auto [it, inserted] = right.emplace(SigOf(e, s.labels), &s);
      if (!inserted) {
        Labels group = e.has_matching && e.on ? Labels() : DropName(s.labels);
        if (e.has_matching) {
          Labels g;
          for (const auto& [n, v] : s.labels.pairs()) {
            bool listed = std::find(e.matching_labels.begin(), e.matching_labels.end(), n) !=
                          e.matching_labels.end();
            if (e.on ? listed : (!listed && n != "__name__")) g.Set(n, v);
          }
          group = g;
        }
        // As Prometheus: labels as Go's labels.String() ({a="1", b="2"}, "{}" when empty), this
        // series first and then the one already seen.
        auto go_labels = [](const Labels& l) {
          std::string out = "{";
          for (const auto& [n, v] : l.pairs()) {
            if (out.size() > 1) out += ", ";
            out += n + "=" + GoQuote(v);
          }
          return out + "}";
        };
        return Status::InvalidArgument(
            "found duplicate series for the match group " + go_labels(group) +
            " on the right hand-side of the operation: [" + go_labels(s.labels) + ", " +
            go_labels(it->second->labels) +
            "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
    }
    std::unordered_set<std::string> matched;
    Vector out;
    for (auto& ls : lhs) {
      std::string sig = SigOf(e, ls.labels);
      auto it = right.find(sig);
      if (it == right.end()) continue;
      bool keep;
      double v = ElemBinop(e.op, ls.v, it->second->v, &keep);
      if (e.return_bool) {
        v = keep ? 1 : 0;
      } else if (!keep) {
        continue;
      }
      if (!matched.insert(sig).second) {
        return Status::InvalidArgument(
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
      }
      Labels metric = std::move(ls.labels);
      if (DropsName(e.op) || e.return_bool) metric.Remove("__name__");
      if (e.has_matching) {
        if (e.on) {
          Labels kept;
          for (const auto& [n, val] : metric.pairs()) {
            if (std::find(e.matching_labels.begin(), e.matching_labels.end(), n) !=
                e.matching_labels.end()) {
              kept.Set(n, val);
            }
          }
          metric = std::move(kept);
        } else {
          for (const auto& n : e.matching_labels) metric.Remove(n);
        }
      }
      out.push_back({std::move(metric), v});
    }
    Status st = CheckUniqueLabelsets(out);
    if (!st.ok()) return st;
    return VectorValue(std::move(out));
  }

  Result<Value> Aggregate(const Expr& e) {
    AggregationGroups fresh(e);
    AggregationGroups& groups = o_.memory ? o_.memory->GroupsOf(e) : fresh;
    const Expr& arg = *e.args[0];
    if (IsNamedRangeCall(arg)) {
      // The common `sum by (job) (rate(m[5m]))`: each series' result goes to its group as it is
      // computed, without a vector of copied labels in between (they would be the series' own
      // labels without __name__, distinct as one metric's series are: no check is skipped).
      ForEachRangeResult(arg, [&](const Labels& labels, double v) { groups.Add(labels, v, true); });
      return VectorValue(groups.Take());
    }
    auto ar = Eval(arg);
    if (!ar.ok()) return ar;
    for (const auto& s : ar->vector) groups.Add(s.labels, s.v, false);
    return VectorValue(groups.Take());
  }

  // rate / increase / delta as Prometheus 2.x's extrapolatedRate.
  std::optional<double> ExtrapolatedRate(std::span<const Point> pts, const Expr& sel, bool counter,
                                         bool rate) {
    if (pts.size() < 2) return std::nullopt;
    const int64_t range_start = ts_ - (sel.range_ms + sel.offset_ms);
    const int64_t range_end = ts_ - sel.offset_ms;
    double result = pts.back().v - pts.front().v;
    if (counter) {
      double last = 0;
      for (const auto& p : pts) {
        if (p.v < last) result += last;
        last = p.v;
      }
    }
    double to_start = static_cast<double>(pts.front().t - range_start) / 1000;
    double to_end = static_cast<double>(range_end - pts.back().t) / 1000;
    double sampled = static_cast<double>(pts.back().t - pts.front().t) / 1000;
    double avg_step = sampled / static_cast<double>(pts.size() - 1);
    if (counter && result > 0 && pts.front().v >= 0) {
      double to_zero = sampled * (pts.front().v / result);
      if (to_zero < to_start) to_start = to_zero;
    }
    double threshold = avg_step * 1.1;
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg_step / 2;
    interval += to_end < threshold ? to_end : avg_step / 2;
    // The order of operations matters for bit-exact agreement with promtool 2.42.
    double factor = interval / sampled;
    if (rate) factor /= static_cast<double>(sel.range_ms) / 1000;
    return result * factor;
  }

  Result<Value> Call(const Expr& e) {
    const std::string& f = e.str;
    if (f == "time") return Scalar(static_cast<double>(ts_) / 1000);
    std::vector<Value> args;
    const bool range_fn =
        !e.args.empty() && e.args[0]->type == ValueType::kMatrix && f != "absent_over_time";
    for (size_t i = range_fn ? 1 : 0; i < e.args.size(); ++i) {
      auto r = Eval(*e.args[i]);
      if (!r.ok()) return r;
      args.push_back(std::move(r).value());
    }
    if (range_fn) args.insert(args.begin(), Value{});  // read through ForEachSeries below
    Vector out;
    if (f == "vector") {
      out.push_back({Labels(), args[0].scalar});
      return VectorValue(std::move(out));
    }
    if (f == "scalar") {
      return Scalar(args[0].vector.size() == 1 ? args[0].vector[0].v : kNaN);
    }
    if (f == "absent") {
      if (args[0].vector.empty()) out.push_back({AbsentLabels(*e.args[0]), 1});
      return VectorValue(std::move(out));
    }
    if (f == "absent_over_time") {
      if (args[0].matrix.empty()) out.push_back({AbsentLabels(*e.args[0]), 1});
      return VectorValue(std::move(out));
    }
    if (f == "abs" || f == "clamp_min" || f == "clamp_max") {
      for (auto& s : args[0].vector) {
        double v = s.v;
        if (f == "abs") v = std::fabs(v);
        if (f == "clamp_min") v = GoMax(args[1].scalar, v);
        if (f == "clamp_max") v = GoMin(args[1].scalar, v);
        out.push_back({DropName(std::move(s.labels)), v});
      }
    } else {
      // Functions over a range vector (all drop the metric name).
      KeptNameDrops* kept = o_.memory ? &o_.memory->NameDropsOf(e) : nullptr;
      ForEachRangeResult(e, [&](const Labels& labels, double v) {
        out.push_back({kept ? kept->At(out.size(), labels) : DropName(labels), v});
      });
      if (kept) kept->Finish(out.size());
      // Series of one metric name stay distinct after dropping the name: no check needed.
      if (IsNamedRangeCall(e)) return VectorValue(std::move(out));
    }
    Status st = CheckUniqueLabelsets(out);
    if (!st.ok()) return st;
    return VectorValue(std::move(out));
  }

  // Whether `e` is a call of a function over a range vector whose selector names its metric
  // (`rate(m[5m])`): its results are that metric's series without __name__, distinct.
  static bool IsNamedRangeCall(const Expr& e) {
    return e.kind == NodeKind::kCall && !e.args.empty() &&
           e.args[0]->kind == NodeKind::kMatrixSelector && e.str != "absent_over_time" &&
           HasNameEquality(*e.args[0]);
  }

  // Calls fn(labels, value) for each series' result of the range function `call`, computed on
  // the store's points in place; `labels` are the series' own, __name__ included (the result
  // drops it) and valid only during the call.
  template <typename Fn>
  void ForEachRangeResult(const Expr& call, Fn&& fn) {
    const Expr& sel = *call.args[0];
    const int64_t maxt = ts_ - sel.offset_ms;
    const RangeFn f = RangeFnOf(call.str);  // once a call, not compared per series
    // The querier leaves stale markers out.
    q_.ForEachSeries(sel.matchers, maxt - sel.range_ms, maxt,
                     [&](const Labels& labels, const Point* b, const Point* end) {
                       std::optional<double> v = RangeFunction(f, b, end, sel);
                       if (v) fn(labels, *v);
                     });
  }

  enum class RangeFn { kRate, kIncrease, kDelta, kIrate, kCount, kSum, kAvg, kMin, kMax, kOther };
  static RangeFn RangeFnOf(const std::string& f) {
    static const std::pair<const char*, RangeFn> kNames[] = {
        {"rate", RangeFn::kRate},           {"increase", RangeFn::kIncrease},
        {"delta", RangeFn::kDelta},         {"irate", RangeFn::kIrate},
        {"count_over_time", RangeFn::kCount}, {"sum_over_time", RangeFn::kSum},
        {"avg_over_time", RangeFn::kAvg},   {"min_over_time", RangeFn::kMin},
        {"max_over_time", RangeFn::kMax}};
    for (const auto& [name, fn] : kNames) {
      if (f == name) return fn;
    }
    return RangeFn::kOther;
  }

  // `pts` holds at least one point and no stale markers.
  std::optional<double> RangeFunction(RangeFn f, const Point* b, const Point* e,
                                      const Expr& sel) {
    const std::span<const Point> pts(b, e);
    if (f == RangeFn::kRate) return ExtrapolatedRate(pts, sel, true, true);
    if (f == RangeFn::kIncrease) return ExtrapolatedRate(pts, sel, true, false);
    if (f == RangeFn::kDelta) return ExtrapolatedRate(pts, sel, false, false);
    if (f == RangeFn::kIrate) {
      if (pts.size() < 2) return std::nullopt;
      const Point& last = pts[pts.size() - 1];
      const Point& prev = pts[pts.size() - 2];
      double result = last.v < prev.v ? last.v : last.v - prev.v;
      int64_t dt = last.t - prev.t;
      if (dt == 0) return std::nullopt;
      return result / (static_cast<double>(dt) / 1000);
    }
    if (f == RangeFn::kCount) return static_cast<double>(pts.size());
    if (f == RangeFn::kSum) {
      KahanSum sum;
      for (const auto& p : pts) sum.Add(p.v);
      return sum.Value();
    }
    if (f == RangeFn::kAvg) {
      // An incremental mean (no overflow of a plain sum), Kahan-compensated, as Prometheus 2.42.
      KahanSum mean;
      double count = 0;
      for (const auto& p : pts) {
        count++;
        if (std::isinf(mean.sum)) {
          if (std::isinf(p.v) && (mean.sum > 0) == (p.v > 0)) continue;
          if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
        }
        mean.Add(p.v / count - mean.sum / count);
      }
      return mean.Value();
    }
    if (f == RangeFn::kMin || f == RangeFn::kMax) {
      double m = pts[0].v;
      for (const auto& p : pts) {
        bool better = f == RangeFn::kMin ? p.v < m : p.v > m;
        if (better || std::isnan(m)) m = p.v;
      }
      return m;
    }
    return std::nullopt;
  }

  int64_t ts_;
  const Querier& q_;
  const EvalOptions& o_;
};

}  // namespace

bool HasDuplicateLabelsets(const Vector& v) {
  if (v.size() < 2) return false;
  // Sort indices by label hash; only equal hashes need a full comparison.
  std::vector<std::pair<size_t, size_t>> h;
  h.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) h.emplace_back(v[i].labels.Hash(), i);
  std::sort(h.begin(), h.end());
  for (size_t i = 1; i < h.size(); ++i) {
    for (size_t j = i; j-- > 0 && h[j].first == h[i].first;) {
      if (v[h[j].second].labels == v[h[i].second].labels) return true;
    }
  }
  return false;
}

Result<Value> Evaluate(const Expr& expr, int64_t ts_ms, const Querier& querier,
                       const EvalOptions& options) {
  Evaluator ev(ts_ms, querier, options);
  return ev.Eval(expr);
}

int64_t MaxLookbehindMs(const Expr& expr, const EvalOptions& options) {
  int64_t own = 0;
  if (expr.kind == NodeKind::kVectorSelector) own = expr.offset_ms + options.lookback_ms;
  if (expr.kind == NodeKind::kMatrixSelector) own = expr.offset_ms + expr.range_ms;
  for (const auto& a : expr.args) own = std::max(own, MaxLookbehindMs(*a, options));
  return own;
}

}  // namespace obsmon::alerts::promql
