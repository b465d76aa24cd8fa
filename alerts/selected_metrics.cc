#include "alerts/selected_metrics.h"

namespace obsmon::alerts {

std::optional<std::unordered_set<std::string>> SelectedMetricNames(
    const std::vector<RuleGroupSpec>& groups) {
  std::unordered_set<std::string> names;
  std::vector<const promql::Expr*> todo;  // an explicit stack: no recursion over the tree
  for (const auto& group : groups) {
    for (const auto& rule : group.rules) {
      if (rule.expr) todo.push_back(rule.expr.get());
    }
  }
  while (!todo.empty()) {
    const promql::Expr* e = todo.back();
    todo.pop_back();
    if (e->kind == promql::NodeKind::kVectorSelector ||
        e->kind == promql::NodeKind::kMatrixSelector) {
      const promql::Matcher* exact = nullptr;
      for (const auto& m : e->matchers) {
        if (m.name == "__name__" && m.op == promql::Matcher::Op::kEq) exact = &m;
      }
      if (!exact) return std::nullopt;
      names.insert(exact->value);
    }
    for (const auto& arg : e->args) todo.push_back(arg.get());
  }
  return names;
}

}  // namespace obsmon::alerts
