// Test support: the counters obsmon's database holds, read beside the running daemon (the log
// probe's totals are the truth the log tests compare with what their writers wrote).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/records.h"
#include "storage/storage.h"

namespace obsmon::testing {

struct StoredCounters {
  bool ok = false;  // false when the database could not be read (yet)
  std::vector<CounterValue> all;

  // The sum of the counters named `name` whose labels hold every (label, value) of `match`.
  double Sum(const std::string& name,
             std::initializer_list<std::pair<const char*, const char*>> match = {}) const {
    double sum = 0;
    for (const auto& c : all) {
      if (c.name != name) continue;
      bool matches = true;
      for (const auto& [label, value] : match) matches = matches && c.labels.Get(label) == value;
      if (matches) sum += c.value;
    }
    return sum;
  }
};

inline StoredCounters ReadStoredCounters(const std::string& db) {
  StoredCounters s;
  auto reader = storage::Reader::Open(db);
  if (!reader.ok()) return s;
  auto counters = (*reader)->AllCounters();
  if (!counters.ok()) return s;
  s.all = std::move(*counters);
  s.ok = true;
  return s;
}

}  // namespace obsmon::testing
