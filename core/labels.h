// Label sets as in Prometheus: name/value pairs kept sorted by name, so equal sets compare equal
// and have one canonical text form.
#pragma once

#include <cstddef>
#include <initializer_list>
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
  // The value of `name`, or "" when absent.
  const std::string& Get(std::string_view name) const;
  bool Has(std::string_view name) const;

  const std::vector<Pair>& pairs() const { return pairs_; }
  bool empty() const { return pairs_.empty(); }
  size_t size() const { return pairs_.size(); }

  // Prometheus text form: {a="1",b="x\"y"}; "" for an empty set.
  std::string ToString() const;
  size_t Hash() const;

  friend bool operator==(const Labels& a, const Labels& b) { return a.pairs_ == b.pairs_; }
  friend bool operator<(const Labels& a, const Labels& b) { return a.pairs_ < b.pairs_; }

 private:
  std::vector<Pair> pairs_;  // sorted by name, names unique, values non-empty
};

// Escapes a label value for the Prometheus text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view value);

}  // namespace obsmon
