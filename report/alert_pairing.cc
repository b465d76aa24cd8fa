#include "report/alert_pairing.h"

#include <algorithm>

namespace obsmon {

void AlertPairing::Add(storage::AlertHistoryRow&& row) {
  auto key = std::make_tuple(std::move(row.group_key), std::move(row.rule), std::move(row.labels));
  if (row.event == "firing") {
    if (open_.count(key)) return;  // a resend of an alert already firing
    Kept k;
    k.alert.fired_ms = row.ts_ms;
    k.alert.rule = std::get<1>(key);
    k.alert.labels = std::get<2>(key);
    k.alert.summary = std::move(row.summary);
    k.order = fired_++;
    open_.emplace(std::move(key), std::move(k));
  } else if (row.event == "resolved") {
    auto it = open_.find(key);
    if (it == open_.end()) return;  // fired before the window: not "fired in" it
    it->second.alert.resolved_ms = row.ts_ms;
    Offer(std::move(it->second));
    open_.erase(it);
  }
}

TimestampMs AlertPairing::DurationOf(const Kept& k) const {
  return k.alert.resolved_ms.value_or(std::max(until_ms_, k.alert.fired_ms)) - k.alert.fired_ms;
}

bool AlertPairing::Longer(const Kept& a, const Kept& b) const {
  const TimestampMs da = DurationOf(a);
  const TimestampMs db = DurationOf(b);
  return da != db ? da > db : a.order < b.order;
}

void AlertPairing::Offer(Kept k) {
  // The heap's top is the kept alert that goes last in the list of the longest.
  const auto goes_first = [this](const Kept& a, const Kept& b) { return Longer(a, b); };
  if (max_listed_ == 0 || kept_.size() < max_listed_) {
    kept_.push_back(std::move(k));
    if (max_listed_ != 0 && kept_.size() == max_listed_) {
      std::make_heap(kept_.begin(), kept_.end(), goes_first);
    }
    return;
  }
  ++not_listed_;
  if (!Longer(k, kept_.front())) return;
  std::pop_heap(kept_.begin(), kept_.end(), goes_first);
  kept_.back() = std::move(k);
  std::push_heap(kept_.begin(), kept_.end(), goes_first);
}

AlertPairing::Listed AlertPairing::Finish() && {
  for (auto& [key, k] : open_) Offer(std::move(k));
  open_.clear();
  std::sort(kept_.begin(), kept_.end(),
            [](const Kept& a, const Kept& b) { return a.order < b.order; });
  Listed out;
  out.alerts.reserve(kept_.size());
  for (Kept& k : kept_) out.alerts.push_back(std::move(k.alert));
  out.not_listed = not_listed_;
  return out;
}

}  // namespace obsmon
