#include "alerts/series_store.h"

#include <algorithm>
#include <mutex>

namespace obsmon::alerts {

using promql::Matcher;
using promql::Point;

SeriesStore::SeriesStore(SeriesStoreOptions options)
    : options_(options), retention_ms_(options.retention_ms) {}

void SeriesStore::Append(const std::vector<Sample>& samples) {
  std::unique_lock lock(mu_);
  for (const auto& s : samples) {
    Labels l = s.labels;
    l.Set("__name__", s.name);
    AppendLocked(l, s.ts_ms, s.value);
  }
}

void SeriesStore::Append(const Sample& sample) { Append(std::vector<Sample>{sample}); }

void SeriesStore::AppendLabeled(const Labels& labels_with_name, int64_t ts_ms, double value) {
  std::unique_lock lock(mu_);
  AppendLocked(labels_with_name, ts_ms, value);
}

void SeriesStore::MarkStale(const Labels& labels_with_name, int64_t ts_ms) {
  std::unique_lock lock(mu_);
  if (series_.count(labels_with_name)) AppendLocked(labels_with_name, ts_ms, promql::StaleNaN());
}

void SeriesStore::AppendLocked(const Labels& labels, int64_t ts_ms, double value) {
  auto it = series_.find(labels);
  if (it == series_.end()) {
    if (series_.size() >= options_.max_series) {
      ++refused_series_;
      return;
    }
    auto e = std::make_unique<Entry>();
    e->labels = labels;
    Entry* raw = e.get();
    it = series_.emplace(labels, std::move(e)).first;
    by_name_[labels.Get("__name__")].emplace(labels, raw);
  }
  Entry& e = *it->second;
  if (e.points.size() > e.begin) {
    Point& last = e.points.back();
    if (ts_ms < last.t) {
      ++out_of_order_;
      return;
    }
    if (ts_ms == last.t) {
      last.v = value;
      return;
    }
  }
  e.points.push_back({ts_ms, value});
  TrimLocked(e);
}

void SeriesStore::TrimLocked(Entry& e) {
  const int64_t keep_from = e.points.back().t - retention_ms_.load();
  while (e.begin < e.points.size() && e.points[e.begin].t < keep_from) ++e.begin;
  size_t live = e.points.size() - e.begin;
  if (live > options_.max_points_per_series) e.begin += live - options_.max_points_per_series;
  // Compact once the dead prefix is at least half the vector (amortised O(1) per append).
  if (e.begin > 64 && e.begin * 2 >= e.points.size()) {
    e.points.erase(e.points.begin(), e.points.begin() + static_cast<std::ptrdiff_t>(e.begin));
    e.begin = 0;
  }
}

void SeriesStore::RequireRetention(int64_t ms) {
  int64_t cur = retention_ms_.load();
  while (ms > cur && !retention_ms_.compare_exchange_weak(cur, ms)) {
  }
}

void SeriesStore::GarbageCollect(int64_t now_ms) {
  std::unique_lock lock(mu_);
  const int64_t cutoff = now_ms - retention_ms_.load();
  for (auto it = series_.begin(); it != series_.end();) {
    Entry& e = *it->second;
    if (e.points.size() == e.begin || e.points.back().t < cutoff) {
      auto name_it = by_name_.find(e.labels.Get("__name__"));
      if (name_it != by_name_.end()) {
        name_it->second.erase(e.labels);
        if (name_it->second.empty()) by_name_.erase(name_it);
      }
      it = series_.erase(it);
    } else {
      ++it;
    }
  }
}

namespace {

bool MatchesAll(const Labels& labels, const std::vector<Matcher>& matchers, const Matcher* skip) {
  for (const auto& m : matchers) {
    if (&m == skip) continue;
    if (!m.Matches(labels.Get(m.name))) return false;
  }
  return true;
}

}  // namespace

void SeriesStore::Select(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                         promql::Matrix* out) const {
  std::shared_lock lock(mu_);
  auto emit = [&](const Entry& e) {
    auto first = std::lower_bound(e.points.begin() + static_cast<std::ptrdiff_t>(e.begin),
                                  e.points.end(), mint_ms,
                                  [](const Point& p, int64_t t) { return p.t < t; });
    auto last = std::upper_bound(first, e.points.end(), maxt_ms,
                                 [](int64_t t, const Point& p) { return t < p.t; });
    if (first == last) return;
    promql::Series s;
    s.labels = e.labels;
    s.points.assign(first, last);
    out->push_back(std::move(s));
  };
  // Use the name index when the selector names its metric exactly (the common case).
  const Matcher* name_eq = nullptr;
  for (const auto& m : matchers) {
    if (m.name == "__name__" && m.op == Matcher::Op::kEq) name_eq = &m;
  }
  if (name_eq) {
    auto it = by_name_.find(name_eq->value);
    if (it == by_name_.end()) return;
    for (const auto& [labels, entry] : it->second) {
      if (MatchesAll(labels, matchers, name_eq)) emit(*entry);
    }
    return;
  }
  for (const auto& [labels, entry] : series_) {
    if (MatchesAll(labels, matchers, nullptr)) emit(*entry);
  }
}

SeriesStoreStats SeriesStore::Stats() const {
  std::shared_lock lock(mu_);
  SeriesStoreStats s;
  s.series = series_.size();
  for (const auto& [l, e] : series_) s.points += e->points.size() - e->begin;
  s.out_of_order = out_of_order_.load();
  s.refused_series = refused_series_.load();
  return s;
}

}  // namespace obsmon::alerts
