#include "alerts/promql_evaluation_memory.h"

namespace obsmon::alerts::promql {

Labels KeptNameDrops::At(size_t place, const Labels& series) {
  if (place < kept_.size() && kept_[place].series.SharesPairsWith(series)) {
    return kept_[place].dropped;
  }
  Labels dropped = series;
  dropped.Remove("__name__");
  if (place < kept_.size()) {
    kept_[place] = {series, dropped};
  } else {
    kept_.push_back({series, dropped});
  }
  return dropped;
}

void KeptNameDrops::Finish(size_t places) {
  if (kept_.size() > places) kept_.resize(places);
}

size_t KeptNameDrops::HeapBytes() const {
  size_t bytes = kept_.capacity() * sizeof(Kept);
  for (const Kept& k : kept_) bytes += k.dropped.HeapBytes();
  return bytes;
}

AggregationGroups& EvaluationMemory::GroupsOf(const Expr& aggregate) {
  std::unique_ptr<AggregationGroups>& groups = groups_[&aggregate];
  if (!groups) groups = std::make_unique<AggregationGroups>(aggregate, true);
  groups->StartEvaluation();  // whatever an unfinished evaluation left
  return *groups;
}

KeptNameDrops& EvaluationMemory::NameDropsOf(const Expr& call) { return name_drops_[&call]; }

size_t EvaluationMemory::HeapBytes() const {
  // A hash node: the next pointer and the pair.
  size_t bytes = (groups_.bucket_count() + name_drops_.bucket_count()) * sizeof(void*);
  for (const auto& [node, groups] : groups_) {
    bytes += sizeof(void*) + sizeof(*groups_.begin()) + sizeof(AggregationGroups) +
             groups->HeapBytes();
  }
  for (const auto& [node, drops] : name_drops_) {
    bytes += sizeof(void*) + sizeof(*name_drops_.begin()) + drops.HeapBytes();
  }
  return bytes;
}

}  // namespace obsmon::alerts::promql
