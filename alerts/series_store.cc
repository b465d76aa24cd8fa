#include "alerts/series_store.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <utility>

#include "core/heap_size.h"

namespace obsmon::alerts {

using promql::Matcher;
using promql::Point;

namespace {

// A series' plain tail holds at most kTailPoints (1 KiB); when full, the oldest kPackedPoints
// are packed into one chunk. The newest 16 stay plain: instant selectors and short ranges
// read them in place.
constexpr size_t kTailPoints = 64;
constexpr size_t kPackedPoints = 48;

}  // namespace

SeriesStore::SeriesStore(SeriesStoreOptions options)
    : options_(options), retention_ms_(options.retention_ms) {
  enforce_above_ = options_.max_point_bytes;
}

void SeriesStore::SetLimits(size_t max_series, uint64_t max_point_bytes) {
  WriterMutexLock lock(mu_);
  options_.max_series = max_series;
  options_.max_point_bytes = max_point_bytes;
  enforce_above_ = max_point_bytes;
  EnforceSizeLocked();
}

void SeriesStore::OnSizeRetention(SizeRetentionFn fn) {
  WriterMutexLock lock(mu_);
  on_size_retention_ = std::move(fn);
}

template <typename Fn>
void SeriesStore::AppendSamplesLocked(const std::vector<Sample>& samples, Fn&& appended) {
  for (const auto& s : samples) {
    if (selected_names_ && !selected_names_->count(s.name)) {
      ++unselected_;
      continue;
    }
    Labels l = s.labels;
    l.Set("__name__", s.name);
    appended(AppendLocked(l, s.ts_ms, s.value), s);
  }
}

void SeriesStore::Append(const std::vector<Sample>& samples) {
  WriterMutexLock lock(mu_);
  AppendSamplesLocked(samples, [](Entry*, const Sample&) {});
}

void SeriesStore::Append(const Sample& sample) { Append(std::vector<Sample>{sample}); }

void SeriesStore::AppendLabeled(const Labels& labels_with_name, int64_t ts_ms, double value) {
  WriterMutexLock lock(mu_);
  AppendLocked(labels_with_name, ts_ms, value);
}

bool SeriesStore::AppendRuleSample(const Labels& labels_with_name, int64_t ts_ms, double value,
                                   RuleSeriesHint* hint) {
  WriterMutexLock lock(mu_);
  Entry* e = nullptr;
  if (hint != nullptr && hint->entry_ != nullptr && hint->drops_ == series_dropped_ &&
      hint->labels_.SharesPairsWith(labels_with_name)) {
    e = static_cast<Entry*>(hint->entry_);
  } else {
    e = FindOrAddLocked(labels_with_name);
    if (hint != nullptr) {
      hint->labels_ = labels_with_name;
      hint->entry_ = e;
      hint->drops_ = series_dropped_;
    }
  }
  if (e == nullptr) return true;  // refused as a new series past max_series, counted there
  if (!e->tail.empty() && e->tail.back().t == ts_ms &&
      std::bit_cast<uint64_t>(e->tail.back().v) != std::bit_cast<uint64_t>(value)) {
    return false;
  }
  AppendToLocked(*e, ts_ms, value);
  return true;
}

void SeriesStore::MarkStale(const Labels& labels_with_name, int64_t ts_ms) {
  WriterMutexLock lock(mu_);
  auto found = lookup_.find(labels_with_name);
  if (found == lookup_.end()) return;
  Entry& e = *found->second;
  // A point at that time or later: the series was written since, and goes on (an end is no
  // sample out of order).
  if (!e.tail.empty() && e.tail.back().t >= ts_ms) return;
  AppendToLocked(e, ts_ms, promql::StaleNaN());
}

namespace {
bool EntryLess(const Labels& a, const Labels& b) { return a < b; }
}  // namespace

void SeriesStore::ClearMatched(MetricSeries& metric) {
  MutexLock lock(metric.matched_mu);
  metric.matched.clear();
}

SeriesStore::Entry* SeriesStore::FindOrAddLocked(const Labels& labels) {
  if (auto found = lookup_.find(labels); found != lookup_.end()) return found->second;
  if (series_.size() >= options_.max_series) {
    ++refused_series_;
    return nullptr;
  }
  auto e = std::make_unique<Entry>();
  e->labels = labels;
  if (auto r = name_retention_.find(labels.Get("__name__")); r != name_retention_.end()) {
    e->retention_ms = r->second;
  }
  Entry* entry = e.get();
  series_.emplace(labels, std::move(e));
  lookup_.emplace(labels, entry);
  MetricSeries& metric = by_name_[labels.Get("__name__")];
  ClearMatched(metric);
  auto& list = metric.entries;
  auto pos = std::lower_bound(
      list.begin(), list.end(), entry,
      [](const Entry* x, const Entry* y) { return EntryLess(x->labels, y->labels); });
  list.insert(pos, entry);
  return entry;
}

SeriesStore::Entry* SeriesStore::AppendLocked(const Labels& labels, int64_t ts_ms, double value) {
  Entry* entry = FindOrAddLocked(labels);
  if (entry != nullptr) AppendToLocked(*entry, ts_ms, value);
  return entry;
}

void SeriesStore::AppendToLocked(Entry& e, int64_t ts_ms, double value) {
  if (!e.tail.empty()) {
    Point& last = e.tail.back();
    if (ts_ms < last.t) {
      ++out_of_order_;
      return;
    }
    if (ts_ms == last.t) {
      last.v = value;
      if (promql::IsStaleNaN(value)) e.newest_stale_ms = ts_ms;
      return;
    }
  }
  PushLocked(e, {ts_ms, value});
}

void SeriesStore::EndLocked(Entry& e, int64_t ts_ms) {
  if (e.tail.empty()) return;
  const Point& last = e.tail.back();
  if (last.t >= ts_ms || promql::IsStaleNaN(last.v)) return;
  PushLocked(e, {ts_ms, promql::StaleNaN()});
  if (untaken_ends_.size() < kMaxUntakenEnds) untaken_ends_.push_back({e.labels, ts_ms});
}

std::vector<SeriesEnd> SeriesStore::TakeEnds() {
  WriterMutexLock lock(mu_);
  return std::exchange(untaken_ends_, {});
}

void SeriesStore::AppendRun(const std::string& source, const std::vector<Sample>& samples,
                            int64_t run_ts_ms, int64_t interval_ms) {
  WriterMutexLock lock(mu_);
  std::vector<Entry*> now;
  now.reserve(samples.size());
  const auto known = sources_.find(source);
  std::vector<RunHint>* hints = known == sources_.end() ? nullptr : &known->second.hints;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (selected_names_ && !selected_names_->count(s.name)) {
      ++unselected_;
      continue;
    }
    RunHint* hint = hints && i < kMaxRunHints ? &HintAt(*hints, i) : nullptr;
    Entry* e = nullptr;
    if (hint && hint->entry && hint->drops == series_dropped_ &&
        IsNamed(hint->entry->labels, s.labels, s.name)) {
      e = hint->entry;
    } else {
      Labels l = s.labels;
      l.Set("__name__", s.name);
      e = FindOrAddLocked(l);
      if (hint) *hint = {e, series_dropped_};
    }
    if (e == nullptr) continue;  // refused as a new series past max_series, counted there
    AppendToLocked(*e, s.ts_ms, s.value);
    if (s.ts_ms == run_ts_ms) now.push_back(e);
  }
  // A run of a removed probe that was under way at the reload: its points are in, but it must
  // not make the probe a source again (its series would then never end).
  if (removed_.count(source)) return;
  std::sort(now.begin(), now.end());
  now.erase(std::unique(now.begin(), now.end()), now.end());
  // Found before, or new (its hints are made by its next run).
  Source& src = known != sources_.end() ? known->second : sources_[source];
  src.interval_ms = interval_ms;
  // Both lists are sorted: walk them together. Only in `now`: one more source writes it; only
  // in the last run: one fewer, and the series ends when none is left.
  auto before = src.last_run.begin();
  auto after = now.begin();
  while (before != src.last_run.end() || after != now.end()) {
    if (after == now.end() || (before != src.last_run.end() && *before < *after)) {
      // A series of a metric the rules no longer read is missing from the run because the
      // head did not keep it, not because the target dropped it: no end. One put there came
      // back with the metric at the next reload that read it, over the run's real sample at
      // the same time (a point missing per reload; fresh eyes, stop 68).
      Entry& gone = **before;
      if (--gone.run_sources == 0 && IsSelectedLocked(gone)) EndLocked(gone, run_ts_ms);
      ++before;
    } else if (before == src.last_run.end() || *after < *before) {
      ++(*after)->run_sources;
      ++after;
    } else {
      ++before;
      ++after;
    }
  }
  src.last_run = std::move(now);
}

SeriesStore::RunHint& SeriesStore::HintAt(std::vector<RunHint>& hints, size_t i) {
  if (hints.size() <= i) hints.resize(i + 1);
  return hints[i];
}

bool SeriesStore::IsNamed(const Labels& with_name, const Labels& labels, const std::string& name) {
  const auto& named = with_name.pairs();
  const auto& plain = labels.pairs();
  if (named.size() != plain.size() + 1) return false;
  // Both sorted by label name: `named` is `plain` with __name__ in its place.
  size_t j = 0;
  for (const auto& [k, v] : named) {
    if (k == "__name__") {
      if (v != name) return false;
    } else if (j == plain.size() || plain[j].first != k || plain[j++].second != v) {
      return false;
    }
  }
  return j == plain.size();
}

void SeriesStore::EndSourcesExcept(const std::unordered_map<std::string, int64_t>& live,
                                   int64_t ts_ms) {
  WriterMutexLock lock(mu_);
  int64_t newcomers = 0;  // the longest interval of a source that has not run yet
  for (const auto& [source, interval_ms] : live) {
    if (!sources_.count(source)) newcomers = std::max(newcomers, interval_ms);
    removed_.erase(source);  // put back by this reload
  }
  for (auto it = sources_.begin(); it != sources_.end();) {
    if (live.count(it->first)) {
      ++it;
      continue;
    }
    // Prometheus waits for the scrape the target would have had next and one interval more.
    const int64_t interval = std::max<int64_t>({it->second.interval_ms, newcomers, 1});
    const int64_t due = ts_ms + 2 * interval;
    for (Entry* e : it->second.last_run) {
      if (--e->run_sources == 0) pending_ends_.push_back({e, ts_ms, due});
    }
    removed_[it->first] = due;
    it = sources_.erase(it);
  }
  pending_count_ = pending_ends_.size() + removed_.size();
}

bool SeriesStore::IsSelectedLocked(const Entry& e) const {
  return !selected_names_ || selected_names_->count(e.labels.Get("__name__")) > 0;
}

void SeriesStore::ApplyDueEnds(int64_t now_ms) {
  if (pending_count_.load() == 0) return;
  WriterMutexLock lock(mu_);
  // A plain loop, not erase_if: the thread-safety analysis does not see mu_ held in a lambda.
  size_t kept = 0;
  for (PendingEnd& p : pending_ends_) {
    if (p.due_ms > now_ms) {
      pending_ends_[kept++] = p;
      continue;
    }
    // A source that took the series over since (a renamed probe) keeps it alive; EndLocked
    // also leaves it when a newer point came in meanwhile. A series of a metric no rule reads
    // now is not ended: the renamed probe writing it goes on unseen (its runs' samples of
    // the metric are not kept), and the end would be stored and read back (fresh eyes 2,
    // stop 68).
    if (p.entry->run_sources == 0 && IsSelectedLocked(*p.entry)) EndLocked(*p.entry, p.end_ms);
  }
  pending_ends_.resize(kept);
  for (auto it = removed_.begin(); it != removed_.end();) {
    it = it->second <= now_ms ? removed_.erase(it) : std::next(it);
  }
  pending_count_ = pending_ends_.size() + removed_.size();
}

size_t SeriesStore::SourceCount() const {
  ReaderMutexLock lock(mu_);
  return sources_.size();
}

void SeriesStore::PushLocked(Entry& e, const Point& p) {
  const uint64_t bytes_before = PointBytes(e);
  if (promql::IsStaleNaN(p.v)) e.newest_stale_ms = p.t;  // points come in time order
  e.tail.push_back(p);
  ++e.stored;
  TrimLocked(e);
  if (e.tail.size() >= kTailPoints) PackTail(e);
  point_bytes_ = point_bytes_ - bytes_before + PointBytes(e);
  if (options_.max_point_bytes > 0 && point_bytes_ > enforce_above_) EnforceSizeLocked();
}

uint64_t SeriesStore::PointBytes(const Entry& e) {
  return e.tail.capacity() * sizeof(Point) + e.chunks.capacity() * sizeof(PointChunk) +
         e.chunk_heap_bytes;
}

int64_t SeriesStore::SizeKeepFrom(const Entry& e) const {
  const int64_t newest = e.tail.empty() ? INT64_MIN : e.tail.back().t;
  int64_t from = 0;
  return __builtin_sub_overflow(newest, options_.size_keep_ms, &from) ? INT64_MIN : from;
}

void SeriesStore::EnforceSizeLocked() {
  const uint64_t bound = options_.max_point_bytes;
  if (bound == 0 || point_bytes_ <= enforce_above_) return;
  const uint64_t target = bound - bound / 10;
  // Every chunk the bound may drop (wholly before its series' kept window), oldest first.
  // (Chunks wholly before visible_from are gone already: DropDeadChunks.)
  std::vector<std::pair<int64_t, size_t>> droppable;  // last_t, heap bytes
  for (const auto& [labels, e] : series_) {
    const int64_t keep_from = SizeKeepFrom(*e);
    for (const PointChunk& c : e->chunks) {
      if (c.last_t() >= keep_from) break;
      droppable.emplace_back(c.last_t(), c.heap_bytes());
    }
  }
  std::sort(droppable.begin(), droppable.end());
  uint64_t freed = 0;
  int64_t floor = size_floor_ms_;
  for (const auto& [last_t, bytes] : droppable) {
    if (point_bytes_ - std::min(point_bytes_, freed) <= target) break;
    freed += bytes;
    floor = std::max(floor, last_t + 1);
  }
  if (floor > size_floor_ms_) {
    size_floor_ms_ = floor;
    ++size_retentions_;
    const uint64_t dropped_before = size_dropped_points_;
    for (auto& [labels, e] : series_) {
      const int64_t from = std::min(floor, SizeKeepFrom(*e));
      if (e->tail.empty() || e->visible_from >= from) continue;
      const uint64_t bytes_before = PointBytes(*e);
      const size_t live_before = e->stored - DeadCount(*e);
      e->visible_from = from;
      DropDeadChunks(*e);
      size_dropped_points_ += live_before - (e->stored - DeadCount(*e));
      point_bytes_ = point_bytes_ - bytes_before + PointBytes(*e);
    }
    if (on_size_retention_) {
      on_size_retention_(floor, point_bytes_, size_dropped_points_ - dropped_before);
    }
  }
  enforce_above_ = std::max(bound, point_bytes_ + bound / 10);
}

// Dead points sit at the front, and only in the first container (chunks wholly dead are
// dropped at once): count them there.
size_t SeriesStore::DeadCount(const Entry& e) {
  if (!e.chunks.empty()) return e.chunks.front().CountBefore(e.visible_from);
  return static_cast<size_t>(
      std::lower_bound(e.tail.begin(), e.tail.end(), e.visible_from,
                       [](const Point& p, int64_t t) { return p.t < t; }) -
      e.tail.begin());
}

void SeriesStore::PackTail(Entry& e) {
  const auto pack_end = e.tail.begin() + static_cast<std::ptrdiff_t>(kPackedPoints);
  const auto live = std::lower_bound(e.tail.begin(), pack_end, e.visible_from,
                                     [](const Point& p, int64_t t) { return p.t < t; });
  e.stored -= static_cast<size_t>(live - e.tail.begin());  // dead ones are dropped, not packed
  if (live != pack_end) {
    e.chunks.push_back(PointChunk::Pack(&*live, &*pack_end));
    e.chunk_heap_bytes += e.chunks.back().heap_bytes();
  }
  e.tail.erase(e.tail.begin(), pack_end);
}

void SeriesStore::DropDeadChunks(Entry& e) {
  size_t n = 0;
  while (n < e.chunks.size() && e.chunks[n].last_t() < e.visible_from) {
    e.stored -= e.chunks[n].size();
    e.chunk_heap_bytes -= e.chunks[n].heap_bytes();
    ++n;
  }
  if (n == 0) return;
  e.chunks.erase(e.chunks.begin(), e.chunks.begin() + static_cast<std::ptrdiff_t>(n));
  // A history cut short (the byte bound, a lower retention) gives back its list's room too:
  // an hour of a series' chunks leaves room for 128 at 56 bytes each.
  if (e.chunks.capacity() > 2 * e.chunks.size() + 8) e.chunks.shrink_to_fit();
}

void SeriesStore::TrimLocked(Entry& e) {
  const int64_t retention = std::max(retention_ms_.load(), e.retention_ms);
  e.visible_from = std::max(e.visible_from, e.tail.back().t - retention);
  // What the byte bound dropped stays dropped (history read back after it is not kept).
  e.visible_from = std::max(e.visible_from, std::min(size_floor_ms_, SizeKeepFrom(e)));
  size_t max_points = options_.max_points_per_series;
  if (options_.min_point_spacing_ms > 0) {
    max_points =
        std::max(max_points, static_cast<size_t>(retention / options_.min_point_spacing_ms));
  }
  // The cap: the point that becomes the oldest live one sets visible_from. Only counted when it
  // can matter (stored counts dead points too, so it is never below live).
  if (e.stored > max_points) {
    const size_t dead = DeadCount(e);
    const size_t live = e.stored - dead;
    if (live > max_points) {
      size_t index = dead + (live - max_points);  // among stored points
      bool found = false;
      for (const PointChunk& c : e.chunks) {
        if (index < c.size()) {
          e.visible_from = std::max(e.visible_from, c.TimeAt(index));
          found = true;
          break;
        }
        index -= c.size();
      }
      if (!found) e.visible_from = std::max(e.visible_from, e.tail[index].t);
    }
  }
  DropDeadChunks(e);
}

void SeriesStore::Backfill(const std::vector<Sample>& samples) {
  // Each series' read-back points, in time order.
  std::map<Labels, std::vector<Point>> history;
  {
    ReaderMutexLock lock(mu_);
    for (const auto& s : samples) {
      if (selected_names_ && !selected_names_->count(s.name)) continue;
      Labels l = s.labels;
      l.Set("__name__", s.name);
      history[std::move(l)].push_back({s.ts_ms, s.value});
    }
  }
  WriterMutexLock lock(mu_);
  for (auto& [labels, points] : history) MergeHistoryLocked(labels, points);
}

void SeriesStore::BackfillSeries(const Labels& labels_with_name, std::vector<Point> points) {
  WriterMutexLock lock(mu_);
  if (selected_names_ && !selected_names_->count(labels_with_name.Get("__name__"))) return;
  MergeHistoryLocked(labels_with_name, points);
}

void SeriesStore::MergeHistoryLocked(const Labels& labels, std::vector<Point>& points) {
  std::stable_sort(points.begin(), points.end(),
                   [](const Point& a, const Point& b) { return a.t < b.t; });
  Entry* e = FindOrAddLocked(labels);
  if (e == nullptr) return;
  // What the series holds now (live points only), merged with the history; on a time both
  // have, the series' own point stays.
  std::vector<Point> merged;
  {
    std::vector<Point> held;
    for (const PointChunk& c : e->chunks) c.AppendTo(e->visible_from, INT64_MAX, &held);
    for (const Point& p : e->tail) {
      if (p.t >= e->visible_from) held.push_back(p);
    }
    merged.reserve(held.size() + points.size());
    size_t i = 0;
    size_t j = 0;
    while (i < held.size() || j < points.size()) {
      if (j == points.size() || (i < held.size() && held[i].t <= points[j].t)) {
        if (j < points.size() && held[i].t == points[j].t) ++j;
        merged.push_back(held[i++]);
      } else {
        if (merged.empty() || merged.back().t != points[j].t) merged.push_back(points[j]);
        ++j;
      }
    }
  }
  // Rebuilt through the append path, so retention, max points and packing apply as usual.
  point_bytes_ -= PointBytes(*e);
  e->chunks.clear();
  e->tail.clear();
  e->chunk_heap_bytes = 0;
  point_bytes_ += PointBytes(*e);  // the vectors keep their capacity
  e->stored = 0;
  e->visible_from = INT64_MIN;
  e->newest_stale_ms = INT64_MIN;
  for (const Point& p : merged) PushLocked(*e, p);
}

int64_t SeriesStore::MaxRetentionMs() const {
  ReaderMutexLock lock(mu_);
  int64_t most = retention_ms_.load();
  for (const auto& [name, ms] : name_retention_) most = std::max(most, ms);
  return most;
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
    for (Entry* e : it->second.entries) e->retention_ms = std::max(e->retention_ms, need);
  }
}

void SeriesStore::GarbageCollect(int64_t now_ms) {
  WriterMutexLock lock(mu_);
  const int64_t base = retention_ms_.load();
  std::vector<const Entry*> dropped;
  for (const auto& [labels, entry] : series_) {
    const int64_t cutoff = now_ms - std::max(base, entry->retention_ms);
    if (entry->tail.empty() || entry->tail.back().t < cutoff) dropped.push_back(entry.get());
  }
  // Once a cycle the bound is looked at afresh (kept windows that held the points over it
  // may have moved on).
  enforce_above_ = options_.max_point_bytes;
  if (dropped.empty()) {
    EnforceSizeLocked();
    return;
  }
  // First out of every source's last run (a probe run less often than the retention), while
  // the pointers are still valid.
  std::sort(dropped.begin(), dropped.end());
  auto is_dropped = [&](const Entry* e) {
    return std::binary_search(dropped.begin(), dropped.end(), e);
  };
  for (auto& [source, src] : sources_) std::erase_if(src.last_run, is_dropped);
  std::erase_if(pending_ends_, [&](const PendingEnd& p) { return is_dropped(p.entry); });
  pending_count_ = pending_ends_.size() + removed_.size();
  for (const Entry* e : dropped) {
    if (auto name_it = by_name_.find(e->labels.Get("__name__")); name_it != by_name_.end()) {
      ClearMatched(name_it->second);
      std::erase(name_it->second.entries, e);
      if (name_it->second.entries.empty()) by_name_.erase(name_it);
    }
    lookup_.erase(e->labels);
    point_bytes_ -= PointBytes(*e);
    series_.erase(series_.find(e->labels));  // last: it owns the entry and its labels
  }
  ++series_dropped_;
  EnforceSizeLocked();
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

namespace {

// The first point in [lo, hi) at or after t (points in time order): a lower bound whose steps
// are conditional moves, not branches. Walking back from the newest point cost 7 % of a
// rule cycle (callgrind, rules_bench --distinct: 21 points for each 5m range, one mispredicted
// exit each), a branching binary search a mispredict at most steps.
const Point* FirstAtOrAfter(const Point* lo, const Point* hi, int64_t t) {
  size_t n = static_cast<size_t>(hi - lo);
  while (n > 0) {
    const size_t half = n / 2;
    const bool right = lo[half].t < t;
    lo = right ? lo + half + 1 : lo;
    n = right ? n - half - 1 : half;
  }
  return lo;
}

// The first point in [lo, last) at or after t, found from the step between the two newest
// points, when the points before them are as evenly spaced (a probe's or a rule's series): the
// point so found and the one before it are read, in the line the range starts in, which the
// caller reads next anyway; a lower bound over the tail read other lines (a quarter of a rule
// cycle's cache misses, callgrind --cache-sim, rules_bench --distinct, stop 59). Returns the
// point only when the one before it is in [lo, last) too and before t, which also says that
// no packed point is in range; nullptr when the guess, nudged by two points at most, misses.
const Point* FirstByStep(const Point* lo, const Point* last, int64_t t) {
  if (last - lo < 2) return nullptr;
  const int64_t newest = (last - 1)->t;
  if (newest < t) return last;  // nothing in range, packed points older still
  const int64_t step = newest - (last - 2)->t;
  int64_t behind = 0;
  if (step <= 0 || __builtin_sub_overflow(newest, t, &behind)) return nullptr;
  behind /= step;  // points in range before the newest, if evenly spaced
  if (behind >= last - lo - 1) return nullptr;  // would reach the tail's first point or past
  const Point* g = last - 1 - behind;
  for (int nudge = 0; nudge < 2 && g->t < t && g + 1 < last; ++nudge) ++g;
  for (int nudge = 0; nudge < 2 && g - 1 > lo && (g - 1)->t >= t; ++nudge) --g;
  return g - 1 >= lo && (g - 1)->t < t && g->t >= t ? g : nullptr;
}

// The matchers but `skip`, as a key: op, then name and value each after its length (values
// may hold any byte), in the selector's order (a selector written in another order is cached
// apart, at no harm).
std::string MatchersKey(const std::vector<Matcher>& matchers, const Matcher* skip) {
  std::string key;
  for (const auto& m : matchers) {
    if (&m == skip) continue;
    key.push_back(static_cast<char>('0' + static_cast<int>(m.op)));
    for (const std::string* part : {&m.name, &m.value}) {
      key.append(std::to_string(part->size())).push_back(':');
      key.append(*part);
    }
  }
  return key;
}

}  // namespace

std::shared_ptr<const std::vector<SeriesStore::Entry*>> SeriesStore::Matched(
    const MetricSeries& metric, const std::vector<Matcher>& matchers,
    const Matcher* name_eq) const {
  const std::string key = MatchersKey(matchers, name_eq);
  {
    MutexLock lock(metric.matched_mu);
    if (auto found = metric.matched.find(key); found != metric.matched.end()) return found->second;
  }
  auto list = std::make_shared<std::vector<Entry*>>();
  for (Entry* entry : metric.entries) {
    if (MatchesAll(entry->labels, matchers, name_eq)) list->push_back(entry);
  }
  MutexLock lock(metric.matched_mu);
  // A bound for selectors that change with every query (the HTTP API's): start afresh.
  if (metric.matched.size() >= kMaxCachedSelectors) metric.matched.clear();
  metric.matched.emplace(key, list);
  return list;
}

template <typename Fn>
void SeriesStore::Visit(const std::vector<Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                        Span span, Fn&& fn) const {
  std::vector<Point> unpacked;  // a series' points in range when some are packed
  // The points in [from, maxt_ms] of a series some of whose points are packed: unpacked.
  auto visit_packed = [&](const Entry& e, int64_t from) {
    unpacked.clear();
    for (const PointChunk& c : e.chunks) c.AppendTo(from, maxt_ms, &unpacked);
    for (const Point& p : e.tail) {
      if (p.t > maxt_ms) break;
      unpacked.push_back(p);
    }
    if (unpacked.empty()) return;
    const Point* end = unpacked.data() + unpacked.size();
    fn(e, span == Span::kNewest ? end - 1 : unpacked.data(), end);
  };
  auto visit = [&](const Entry& e) {
    if (e.tail.empty()) return;
    const int64_t from = std::max(mint_ms, e.visible_from);
    if (from > maxt_ms) return;
    const Point* lo = e.tail.data();
    const Point* hi = e.tail.data() + e.tail.size();
    // Rules read the recent end of each series: walk back from the newest point (sequential
    // memory) for a few steps before falling back to binary search (random cache misses).
    const Point* last = hi;
    int steps = 0;
    while (last != lo && (last - 1)->t > maxt_ms && ++steps < 16) --last;
    if (last != lo && (last - 1)->t > maxt_ms) {
      last = std::upper_bound(lo, last, maxt_ms, [](int64_t t, const Point& p) { return t < p.t; });
    }
    // Chunks hold only points older than the tail's first, so a tail point in range (or, for a
    // window, one before it) says the range lies in the plain tail, without reading the
    // tail's first point: a cache miss for every series of every rule (stop 59).
    if (span == Span::kNewest) {
      // An instant selector reads one point: no need to walk its whole lookback window.
      if (last != lo) {
        if ((last - 1)->t >= from) fn(e, last - 1, last);
      } else if (!e.chunks.empty()) {
        visit_packed(e, from);
      }
      return;
    }
    const Point* first = FirstByStep(lo, last, from);
    if (first == nullptr) {
      if (!e.chunks.empty() && lo->t > from) {
        visit_packed(e, from);
        return;
      }
      first = FirstAtOrAfter(lo, last, from);
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
    if (matchers.size() == 1) {  // the name alone: every series of the metric
      for (const Entry* entry : it->second.entries) visit(*entry);
      return;
    }
    const std::shared_ptr<const std::vector<Entry*>> matched =
        Matched(it->second, matchers, name_eq);
    for (const Entry* entry : *matched) visit(*entry);
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

void SeriesStore::ForEachSeries(const std::vector<Matcher>& matchers, int64_t mint_ms,
                                int64_t maxt_ms, const SeriesFn& fn) const {
  ReaderMutexLock lock(mu_);
  std::vector<Point> scratch;  // a series' points in range without its stale markers
  Visit(matchers, mint_ms, maxt_ms, Span::kWindow,
        [&](const Entry& e, const Point* first, const Point* last) {
          if (e.newest_stale_ms >= first->t) {
            scratch.clear();
            for (const Point* p = first; p != last; ++p) {
              if (!promql::IsStaleNaN(p->v)) scratch.push_back(*p);
            }
            if (scratch.empty()) return;
            first = scratch.data();
            last = first + scratch.size();
          }
          fn(e.labels, first, last);
        });
}

void SeriesStore::ForEachLatest(const std::vector<Matcher>& matchers, int64_t mint_ms,
                                int64_t maxt_ms, const LatestFn& fn) const {
  ReaderMutexLock lock(mu_);
  Visit(matchers, mint_ms, maxt_ms, Span::kNewest,
        [&](const Entry& e, const Point*, const Point* last) { fn(e.labels, *(last - 1)); });
}

SeriesStoreStats SeriesStore::Stats() const {
  ReaderMutexLock lock(mu_);
  SeriesStoreStats s;
  s.series = series_.size();
  for (const auto& [l, e] : series_) {
    s.points += e->stored - DeadCount(*e);
    s.point_bytes += e->tail.capacity() * sizeof(Point) + e->chunks.capacity() * sizeof(PointChunk);
    for (const PointChunk& c : e->chunks) s.point_bytes += c.heap_bytes();
  }
  // Nodes as libstdc++ lays them out: a map node has three pointers and a colour before its
  // value, a hash node one pointer (no cached hash for Labels or strings).
  constexpr size_t kTreeNode = 32;
  constexpr size_t kHashNode = 8;
  for (const auto& [l, e] : series_) {
    s.index_bytes +=
        AllocatedBytes(sizeof(Entry)) + l.HeapBytes() +
        AllocatedBytes(kTreeNode + sizeof(std::pair<const Labels, std::unique_ptr<Entry>>)) +
        AllocatedBytes(kHashNode + sizeof(std::pair<const Labels, Entry*>));
  }
  s.index_bytes += AllocatedBytes(lookup_.bucket_count() * sizeof(void*));
  for (const auto& [name, metric] : by_name_) {
    s.index_bytes +=
        AllocatedBytes(kHashNode + sizeof(std::pair<const std::string, MetricSeries>)) +
        StringHeapBytes(name) + VectorHeapBytes(metric.entries);
    MutexLock matched_lock(metric.matched_mu);
    for (const auto& [key, list] : metric.matched) {
      // The key's node and string, the list's shared block (count and vector) and buffer.
      s.index_bytes +=
          AllocatedBytes(kHashNode + sizeof(std::pair<const std::string, std::shared_ptr<void>>)) +
          StringHeapBytes(key) + AllocatedBytes(16 + sizeof(*list)) + VectorHeapBytes(*list);
    }
  }
  for (const auto& [name, src] : sources_) {
    s.index_bytes += AllocatedBytes(kHashNode + sizeof(std::pair<const std::string, Source>)) +
                     StringHeapBytes(name) + VectorHeapBytes(src.last_run) +
                     VectorHeapBytes(src.hints);
  }
  s.out_of_order = out_of_order_.load();
  s.refused_series = refused_series_.load();
  s.unselected = unselected_.load();
  s.max_series = options_.max_series;
  s.max_point_bytes = options_.max_point_bytes;
  s.size_retentions = size_retentions_;
  s.size_dropped_points = size_dropped_points_;
  s.size_floor_ms = size_floor_ms_;
  return s;
}

}  // namespace obsmon::alerts
