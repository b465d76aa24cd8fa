#include "alerts/series_store.h"

#include <algorithm>
#include <mutex>

namespace obsmon::alerts {

using promql::Matcher;
using promql::Point;

SeriesStore::SeriesStore(SeriesStoreOptions options)
    : options_(options), retention_ms_(options.retention_ms) {}

void SeriesStore::Append(const std::vector<Sample>& samples) {
  WriterMutexLock lock(mu_);
  for (const auto& s : samples) {
    if (selected_names_ && !selected_names_->count(s.name)) {
      ++unselected_;
      continue;
    }
    Labels l = s.labels;
    l.Set("__name__", s.name);
    AppendLocked(l, s.ts_ms, s.value);
  }
}

void SeriesStore::Append(const Sample& sample) { Append(std::vector<Sample>{sample}); }

void SeriesStore::AppendLabeled(const Labels& labels_with_name, int64_t ts_ms, double value) {
  WriterMutexLock lock(mu_);
  AppendLocked(labels_with_name, ts_ms, value);
}

void SeriesStore::MarkStale(const Labels& labels_with_name, int64_t ts_ms) {
  WriterMutexLock lock(mu_);
  if (lookup_.count(labels_with_name)) AppendLocked(labels_with_name, ts_ms, promql::StaleNaN());
}

namespace {
bool EntryLess(const Labels& a, const Labels& b) { return a < b; }
}  // namespace

void SeriesStore::AppendLocked(const Labels& labels, int64_t ts_ms, double value) {
  auto found = lookup_.find(labels);
  Entry* entry = nullptr;
  if (found == lookup_.end()) {
    if (series_.size() >= options_.max_series) {
      ++refused_series_;
      return;
    }
    auto e = std::make_unique<Entry>();
    e->labels = labels;
    if (auto r = name_retention_.find(labels.Get("__name__")); r != name_retention_.end()) {
      e->retention_ms = r->second;
    }
    entry = e.get();
    series_.emplace(labels, std::move(e));
    lookup_.emplace(labels, entry);
    auto& list = by_name_[labels.Get("__name__")];
    auto pos = std::lower_bound(
        list.begin(), list.end(), entry,
        [](const Entry* x, const Entry* y) { return EntryLess(x->labels, y->labels); });
    list.insert(pos, entry);
  } else {
    entry = found->second;
  }
  Entry& e = *entry;
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
  CompactWhenFullLocked(e);
  e.points.push_back({ts_ms, value});
  TrimLocked(e);
}

// A full vector whose front is dead would double its capacity on the next push: a series of
// 900 live points (15 minutes at 1 s) grew to 2,048 points of capacity, 32 KiB where 14 KiB are
// live (1,000 probes: 32 MB of rule head). Moving the live points to the front instead keeps
// the capacity at the next power of two above the live points. Only when at least a sixteenth
// of the vector is dead: moving the live points then costs at most 16 moves per append.
void SeriesStore::CompactWhenFullLocked(Entry& e) {
  if (e.points.size() < e.points.capacity() || e.begin == 0) return;
  if (e.begin * 16 < e.points.capacity()) return;
  e.points.erase(e.points.begin(), e.points.begin() + static_cast<std::ptrdiff_t>(e.begin));
  e.begin = 0;
}

void SeriesStore::TrimLocked(Entry& e) {
  const int64_t keep_from = e.points.back().t - std::max(retention_ms_.load(), e.retention_ms);
  while (e.begin < e.points.size() && e.points[e.begin].t < keep_from) ++e.begin;
  size_t live = e.points.size() - e.begin;
  if (live > options_.max_points_per_series) e.begin += live - options_.max_points_per_series;
  // Compact once the dead prefix is at least half the vector (amortised O(1) per append).
  if (e.begin > 64 && e.begin * 2 >= e.points.size()) {
    e.points.erase(e.points.begin(), e.points.begin() + static_cast<std::ptrdiff_t>(e.begin));
    e.begin = 0;
  }
}

void SeriesStore::SetSelectedNames(std::optional<std::unordered_set<std::string>> names) {
  WriterMutexLock lock(mu_);
  selected_names_ = std::move(names);
}

void SeriesStore::RequireRetention(int64_t ms) {
  int64_t cur = retention_ms_.load();
  while (ms > cur && !retention_ms_.compare_exchange_weak(cur, ms)) {
  }
}

void SeriesStore::RequireRetentionFor(const std::string& metric, int64_t ms) {
  WriterMutexLock lock(mu_);
  int64_t& need = name_retention_[metric];
  need = std::max(need, ms);
  if (auto it = by_name_.find(metric); it != by_name_.end()) {
    for (Entry* e : it->second) e->retention_ms = std::max(e->retention_ms, need);
  }
}

void SeriesStore::GarbageCollect(int64_t now_ms) {
  WriterMutexLock lock(mu_);
  const int64_t base = retention_ms_.load();
  for (auto it = series_.begin(); it != series_.end();) {
    Entry& e = *it->second;
    const int64_t cutoff = now_ms - std::max(base, e.retention_ms);
    if (e.points.size() == e.begin || e.points.back().t < cutoff) {
      auto name_it = by_name_.find(e.labels.Get("__name__"));
      if (name_it != by_name_.end()) {
        std::erase(name_it->second, &e);
        if (name_it->second.empty()) by_name_.erase(name_it);
      }
      lookup_.erase(e.labels);
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

template <typename Fn>
void SeriesStore::Visit(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                        Span span, Fn&& fn) const {
  auto visit = [&](const Entry& e) {
    const Point* lo = e.points.data() + e.begin;
    const Point* hi = e.points.data() + e.points.size();
    // Rules read the recent end of each series: walk back from the newest point (sequential
    // memory) for a few steps before falling back to binary search (random cache misses).
    const Point* last = hi;
    int steps = 0;
    while (last != lo && (last - 1)->t > maxt_ms && ++steps < 16) --last;
    if (last != lo && (last - 1)->t > maxt_ms) {
      last = std::upper_bound(lo, last, maxt_ms, [](int64_t t, const Point& p) { return t < p.t; });
    }
    if (span == Span::kNewest) {
      // An instant selector reads one point: no need to walk its whole lookback window.
      if (last != lo && (last - 1)->t >= mint_ms) fn(e, last - 1, last);
      return;
    }
    const Point* first = last;
    steps = 0;
    while (first != lo && (first - 1)->t >= mint_ms && ++steps < 64) --first;
    if (first != lo && (first - 1)->t >= mint_ms) {
      first =
          std::lower_bound(lo, first, mint_ms, [](const Point& p, int64_t t) { return p.t < t; });
    }
    if (first != last) fn(e, first, last);
  };
  // Use the name index when the selector names its metric exactly (the common case).
  const Matcher* name_eq = nullptr;
  for (const auto& m : matchers) {
    if (m.name == "__name__" && m.op == Matcher::Op::kEq) name_eq = &m;
  }
  if (name_eq) {
    auto it = by_name_.find(name_eq->value);
    if (it == by_name_.end()) return;
    for (const Entry* entry : it->second) {
      if (MatchesAll(entry->labels, matchers, name_eq)) visit(*entry);
    }
    return;
  }
  for (const auto& [labels, entry] : series_) {
    if (MatchesAll(labels, matchers, nullptr)) visit(*entry);
  }
}

void SeriesStore::Select(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                         promql::Matrix* out) const {
  ReaderMutexLock lock(mu_);
  Visit(matchers, mint_ms, maxt_ms, Span::kWindow,
        [&](const Entry& e, const Point* first, const Point* last) {
          promql::Series s;
          s.labels = e.labels;
          s.points.assign(first, last);
          out->push_back(std::move(s));
        });
}

void SeriesStore::SelectLatest(const std::vector<Matcher>& matchers, int64_t mint_ms,
                               int64_t maxt_ms, promql::Matrix* out) const {
  ReaderMutexLock lock(mu_);
  Visit(matchers, mint_ms, maxt_ms, Span::kNewest,
        [&](const Entry& e, const Point*, const Point* last) {
          promql::Series s;
          s.labels = e.labels;
          s.points.push_back(*(last - 1));
          out->push_back(std::move(s));
        });
}

void SeriesStore::ForEachSeries(const std::vector<Matcher>& matchers, int64_t mint_ms,
                                int64_t maxt_ms, const SeriesFn& fn) const {
  ReaderMutexLock lock(mu_);
  Visit(matchers, mint_ms, maxt_ms, Span::kWindow,
        [&](const Entry& e, const Point* first, const Point* last) { fn(e.labels, first, last); });
}

SeriesStoreStats SeriesStore::Stats() const {
  ReaderMutexLock lock(mu_);
  SeriesStoreStats s;
  s.series = series_.size();
  for (const auto& [l, e] : series_) {
    s.points += e->points.size() - e->begin;
    s.point_bytes += e->points.capacity() * sizeof(Point);
  }
  s.out_of_order = out_of_order_.load();
  s.refused_series = refused_series_.load();
  s.unselected = unselected_.load();
  return s;
}

}  // namespace obsmon::alerts
