#include "alerts/promql_aggregation.h"

#include <algorithm>
#include <cmath>

namespace obsmon::alerts::promql {

namespace {
const std::string kAbsent;
}  // namespace

bool AggregationGroups::Listed(const std::string& name) const {
  return std::find(e_.grouping.begin(), e_.grouping.end(), name) != e_.grouping.end();
}

void AggregationGroups::Add(const Labels& labels, double v, bool name_dropped) {
  // The value of a `by` label as the aggregated vector has it.
  auto value_of = [&](const std::string& n) -> const std::string& {
    return name_dropped && n == "__name__" ? kAbsent : labels.Get(n);
  };
  key_.clear();
  if (e_.without) {
    for (const auto& [n, val] : labels.pairs()) {
      if (n == "__name__" || Listed(n)) continue;
      key_.append(n).push_back('\xff');
      key_.append(val).push_back('\xfe');
    }
  } else {
    for (const auto& n : e_.grouping) {
      const std::string& val = value_of(n);
      if (val.empty()) continue;
      key_.append(n).push_back('\xff');
      key_.append(val).push_back('\xfe');
    }
  }
  if (auto found = index_.find(key_); found != index_.end()) {
    Accumulate(groups_[found->second], v);
    return;
  }
  Group g;
  if (e_.without) {
    g.labels = labels;
    g.labels.Remove("__name__");
    for (const auto& n : e_.grouping) g.labels.Remove(n);
  } else {
    for (const auto& n : e_.grouping) {
      const std::string& val = value_of(n);
      if (!val.empty()) g.labels.Set(n, val);
    }
  }
  g.value = v;
  g.mean = v;
  g.count = 1;
  index_.emplace(key_, groups_.size());
  groups_.push_back(std::move(g));
}

void AggregationGroups::Accumulate(Group& g, double v) const {
  switch (e_.agg) {
    case AggOp::kSum:
      g.value += v;
      break;
    case AggOp::kAvg: {
      g.count++;
      if (std::isinf(g.mean)) {
        if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
        if (!std::isinf(v) && !std::isnan(v)) break;
      }
      g.mean += v / g.count - g.mean / g.count;
      break;
    }
    case AggOp::kMin:
      if (g.value > v || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kMax:
      if (g.value < v || std::isnan(g.value)) g.value = v;
      break;
    case AggOp::kCount:
      g.count++;
      break;
  }
}

Vector AggregationGroups::Take() {
  Vector out;
  out.reserve(groups_.size());
  for (auto& g : groups_) {
    double v = g.value;
    if (e_.agg == AggOp::kAvg) v = g.mean;
    if (e_.agg == AggOp::kCount) v = g.count;
    out.push_back({std::move(g.labels), v});
  }
  groups_.clear();
  index_.clear();
  return out;
}

}  // namespace obsmon::alerts::promql
