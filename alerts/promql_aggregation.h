// The groups of one PromQL aggregation (sum, avg, min, max, count with `by` or `without`), fed
// one sample at a time, with Prometheus 2.42's arithmetic and its order of results (groups in
// order of first appearance). Used by promql_engine; not thread-safe.
//
// A rule's aggregation reads the same series in the same order every cycle, and a series' group
// follows from its labels alone. Kept from one evaluation to the next (EvaluationMemory, the
// rule manager's), the groups remember which group the series at each position went to, and
// the series' label set by its shared pairs: a series found at its position again goes to its
// group without its labels being read (their memory was an eighth of a rule cycle's time on
// 300 `sum by (job) (rate(...))` rules, stop 59).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/promql_ast.h"
#include "alerts/promql_value.h"

namespace obsmon::alerts::promql {

class AggregationGroups {
 public:
  // `aggregate` is the kAggregate node; it must outlive this object. `kept`: the object serves
  // every evaluation of the node (EvaluationMemory) and remembers each position's group.
  explicit AggregationGroups(const Expr& aggregate, bool kept = false)
      : e_(aggregate), kept_(kept) {}

  // Adds one sample of the aggregated vector. `name_dropped`: the sample's labels still hold a
  // __name__ that its vector has dropped (a range function's result read from the store without
  // copying its labels), so that `by (__name__)` must read it as absent.
  void Add(const Labels& labels, double v, bool name_dropped);

  // The result, one sample per group. Afterwards the object is empty, or, kept, ready for the
  // next evaluation (nothing added yet).
  Vector Take();

  // A new evaluation begins: nothing added yet (Take() ends one this way too).
  void StartEvaluation();

  // What the groups and the remembered positions hold on the heap, roughly (the positions'
  // label sets are the series' own, counted by the store).
  size_t HeapBytes() const;

 private:
  struct Group {
    Labels labels;
    double value = 0;
    double mean = 0;
    double count = 0;
    uint64_t added_in = 0;  // the evaluation (evaluation_) that last added to it
  };
  // The series at one position of the last evaluations and its group.
  struct Position {
    Labels labels;  // a copy: its shared pairs stay alive, so their address is never reused
    size_t group = 0;
  };
  bool Listed(const std::string& name) const;
  // The group of a series with `labels`, made when it is the first.
  size_t GroupOf(const Labels& labels, bool name_dropped);
  void Accumulate(Group& g, double v) const;
  // Forgets every group and position (kept: when groups no series goes to pile up).
  void Clear();
  // The group whose key is key_ (hash h), or groups_.size() when there is none yet.
  size_t Find(uint64_t h) const;
  void Index(uint64_t h, size_t group);

  const Expr& e_;
  const bool kept_;
  // Every group made; kept, also those no series went to this evaluation (Take leaves them out).
  std::vector<Group> groups_;
  std::vector<size_t> order_;  // the groups added to this evaluation, in order of first appearance
  uint64_t evaluation_ = 1;
  std::vector<Position> positions_;  // kept only
  size_t position_ = 0;              // how many samples this evaluation has added
  // Each group's key and its hash. An aggregation adds one sample per series read and most
  // have a few groups: a look at the hashes of up to kScanGroups groups costs less than a
  // hash table of strings (a profile of 300 `sum by (job) (rate(...))` rules, stop 57).
  static constexpr size_t kScanGroups = 16;
  std::vector<std::string> keys_;
  std::vector<uint64_t> hashes_;
  std::unordered_multimap<uint64_t, size_t> by_hash_;  // past kScanGroups groups
  std::string key_;  // reused: building a key allocates only when it grows
};

}  // namespace obsmon::alerts::promql
