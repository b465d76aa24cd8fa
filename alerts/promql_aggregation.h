// The groups of one PromQL aggregation (sum, avg, min, max, count with `by` or `without`), fed
// one sample at a time, with Prometheus 2.42's arithmetic and its order of results (groups in
// order of first appearance). Used by promql_engine; not thread-safe (one per evaluation).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/promql_ast.h"
#include "alerts/promql_value.h"

namespace obsmon::alerts::promql {

class AggregationGroups {
 public:
  // `aggregate` is the kAggregate node; it must outlive this object.
  explicit AggregationGroups(const Expr& aggregate) : e_(aggregate) {}

  // Adds one sample of the aggregated vector. `name_dropped`: the sample's labels still hold a
  // __name__ that its vector has dropped (a range function's result read from the store without
  // copying its labels), so that `by (__name__)` must read it as absent.
  void Add(const Labels& labels, double v, bool name_dropped);

  // The result, one sample per group; the object is empty afterwards.
  Vector Take();

 private:
  struct Group {
    Labels labels;
    double value = 0;
    double mean = 0;
    double count = 0;
  };
  bool Listed(const std::string& name) const;
  void Accumulate(Group& g, double v) const;
  // The group whose key is key_ (hash h), or groups_.size() when there is none yet.
  size_t Find(uint64_t h) const;
  void Index(uint64_t h, size_t group);

  const Expr& e_;
  std::vector<Group> groups_;  // in order of first appearance, like Prometheus
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
