// Alert history rows paired into the alerts a report lists: a `firing` row opens an alert of its
// group, rule and labels, the next `resolved` row of the same closes it, a `firing` of an open
// one is a resend. Rows are fed as storage reads them (PeriodStore::ForEachAlertHistory): a week of an
// alert that flaps is hundreds of thousands of rows, and until stop 69 the report read the first
// 1,000, so it listed and counted at most that many and said nothing of the rest.
//
// As the report lists incidents and gaps (ReportOptions::max_listed), the longest `max_listed`
// alerts are kept (one still open at the end as lasting to `until_ms`; ties: the one that fired
// first) and the rest counted. What it holds: the alerts open at once and the kept ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "report/report.h"
#include "storage/period_store.h"

namespace obsmon {

class AlertPairing {
 public:
  // max_listed 0 keeps every alert.
  AlertPairing(size_t max_listed, TimestampMs until_ms)
      : max_listed_(max_listed), until_ms_(until_ms) {}

  void Add(storage::AlertHistoryRow&& row);

  struct Listed {
    std::vector<AlertFired> alerts;  // oldest first (in the order they fired)
    uint64_t not_listed = 0;         // alerts that fired too but are not among them
  };
  // Closes the pairing (the alerts still open are kept or counted as lasting to until_ms).
  Listed Finish() &&;

 private:
  struct Kept {
    AlertFired alert;
    uint64_t order = 0;  // the how-many-th alert to fire
  };
  TimestampMs DurationOf(const Kept& k) const;
  // True when `a` goes before `b` in the list of the longest (longer, or as long and earlier).
  bool Longer(const Kept& a, const Kept& b) const;
  void Offer(Kept k);

  size_t max_listed_;
  TimestampMs until_ms_;
  uint64_t fired_ = 0;
  // By group, rule and labels: two groups may each hold an alert of one name and labels
  // (fresh eyes, stop 69: one of two such alerts vanished, the other took its resolution).
  std::map<std::tuple<std::string, std::string, std::string>, Kept> open_;
  std::vector<Kept> kept_;  // while full, a heap with the one to drop first on top
  uint64_t not_listed_ = 0;
};

}  // namespace obsmon
