// Label sets as in Prometheus: name/value pairs kept sorted by name, so equal sets compare equal
// and have one canonical text form.
//
// A copy shares the pairs (copy on write): a probe run's label set is copied into each of its
// samples and on to every sink, and each copy of the pairs was an allocation per string. The
// hash is computed once per shared set. Copies may be read and copied from several threads at
// once, like a std::string; changing one Labels object is not thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace obsmon {

class Labels {
 public:
  using Pair = std::pair<std::string, std::string>;

  Labels() = default;
  Labels(std::initializer_list<Pair> pairs);
  explicit Labels(std::vector<Pair> pairs);

  // Sets `name` to `value`, replacing an existing value. An empty value removes the label,
  // as Prometheus treats empty labels as absent.
  void Set(std::string_view name, std::string_view value);
  // As Set, but an empty value is kept: annotations (which share this type) may be empty, and
  // Prometheus keeps them; labels may not.
  void SetAllowingEmpty(std::string_view name, std::string_view value);
  void Remove(std::string_view name);
  // Room for `n` pairs, so that Sets up to that size allocate nothing more and leave no room
  // unused: a set grown one Set at a time doubles its room (a scraped series' 4 labels plus
  // __name__ held room for 8 pairs, 512 bytes a sample; stop 67).
  void Reserve(size_t n);
  // The value of `name`, or "" when absent.
  const std::string& Get(std::string_view name) const;
  bool Has(std::string_view name) const;

  const std::vector<Pair>& pairs() const { return data_ ? data_->pairs : kNoPairs; }
  bool empty() const { return pairs().empty(); }
  size_t size() const { return pairs().size(); }

  // What the shared pairs hold on the heap (the block, its pairs, strings too long to live in
  // their object): each object sharing them reports the same, so a caller counts a set once.
  size_t HeapBytes() const;

  // Prometheus text form: {a="1",b="x\"y"}; "" for an empty set.
  std::string ToString() const;
  size_t Hash() const;

  // Whether both share one set of pairs (one is a copy of the other): equal without reading
  // the pairs; false says nothing.
  bool SharesPairsWith(const Labels& other) const { return data_ == other.data_; }

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.data_ == b.data_ || a.pairs() == b.pairs();
  }
  friend bool operator<(const Labels& a, const Labels& b) { return a.pairs() < b.pairs(); }

 private:
  struct Data {
    // Sorted by name, names unique, values non-empty (but an annotation's: SetAllowingEmpty).
    std::vector<Pair> pairs;
    mutable std::atomic<size_t> hash{0};  // 0: not computed yet
  };
  static inline const std::vector<Pair> kNoPairs{};
  // The pairs of this object alone, to change (copied first when shared).
  std::vector<Pair>& MutablePairs();

  std::shared_ptr<const Data> data_;  // null: no pairs
};

// Escapes a label value for the Prometheus text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view value);

}  // namespace obsmon

// Label sets as keys of hash tables (the hash is cached with the shared pairs).
template <>
struct std::hash<obsmon::Labels> {
  size_t operator()(const obsmon::Labels& labels) const noexcept { return labels.Hash(); }
};
