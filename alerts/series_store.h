// The in-memory head that rules read: a bounded recent window per series, fed by the daemon
// with every probe result (including `up{job,instance}` of health probes) and by the rule
// manager (recording rules, ALERTS, ALERTS_FOR_STATE).
//
// Thread-safe: Append() from any thread, Select() concurrently (a shared lock is held while
// points are copied out). Memory is bounded by `retention_ms` (points older than the newest
// append minus retention are dropped), `max_points_per_series`, `max_series` and, over all
// series, `max_point_bytes` (the oldest points go first, as Prometheus's size-based retention
// drops its oldest blocks; each series' last `size_keep_ms` stays). A series keeps
// its newest points plain (what rules read most) and packs older ones (point_chunk.h): 3 to 4
// KiB for 15 minutes of a probe's `up` at 1 s instead of 14.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "alerts/point_chunk.h"
#include "alerts/promql_value.h"
#include "core/alert_records.h"
#include "core/mutex.h"
#include "core/records.h"

namespace obsmon::alerts {

struct SeriesStoreOptions {
  // How much history each series keeps. Should be >= the largest range in any rule plus the 5m
  // lookback; the rule manager raises it with RequireRetention().
  int64_t retention_ms = 3'600'000;
  // A bound for a series whose points come faster than anything obsmon produces. It never cuts
  // the history a rule needs: a series keeps up to max(max_points_per_series, its retention /
  // min_point_spacing_ms) points, and no probe runs more often than every 100 ms nor a rule
  // group more often than every second. (A fixed 20,000 cut a 7-day SLO window recorded every
  // 15 s to 3.5 days.) 0: max_points_per_series alone.
  size_t max_points_per_series = 20'000;
  int64_t min_point_spacing_ms = 100;
  // Beyond it new series are refused and counted. About 1 KB a series (labels and index).
  size_t max_series = 200'000;
  // The bytes all series' points may take (what Stats().point_bytes counts). Past it the
  // oldest points of any series are dropped until the points take 90 % of it; 0: no bound.
  // A rule reading further back than the head then holds sees only what is left, as a
  // Prometheus query over data its size retention dropped.
  uint64_t max_point_bytes = uint64_t{256} << 20;
  // What the byte bound never drops: each series' newest point and the points less than this
  // older than it (the 5-minute lookback and a cycle's slack), so instant queries and short
  // ranges go on as before while long ranges are cut.
  int64_t size_keep_ms = 6 * 60'000;
};

struct SeriesStoreStats {
  uint64_t series = 0;
  uint64_t points = 0;
  // What the points hold allocated (plain tails' capacity, packed chunks, dead and live points):
  // the head's memory but for labels and index (about 1 KB a series).
  uint64_t point_bytes = 0;
  // The rest a series costs: its entry, labels, the indexes that find it (by labels, by
  // metric name, by source) and what selectors matched; estimated from their sizes.
  uint64_t index_bytes = 0;
  uint64_t out_of_order = 0;    // appends older than the series' newest point, dropped
  uint64_t refused_series = 0;  // new series refused because max_series was reached
  uint64_t unselected = 0;      // samples not kept because no rule selects their metric
  size_t max_series = 0;        // the limits in force (SetLimits)
  uint64_t max_point_bytes = 0;
  // How often max_point_bytes dropped the oldest points, how many live points it dropped, and
  // the time before which they went (INT64_MIN: never).
  uint64_t size_retentions = 0;
  uint64_t size_dropped_points = 0;
  int64_t size_floor_ms = INT64_MIN;
};

// Where the series a rule writes at one place of its result was found last time, so that its
// next sample needs no lookup by labels (a hash table of every series: a cache miss or three
// per sample). It holds while the labels are the same shared set (held here, so their address
// is never another set's) and the store has dropped no series since.
class RuleSeriesHint {
 private:
  friend class SeriesStore;
  Labels labels_;
  void* entry_ = nullptr;
  uint64_t drops_ = 0;
};

class SeriesStore final : public promql::Querier {
 public:
  explicit SeriesStore(SeriesStoreOptions options = {});

  // Appends samples; the metric name becomes the __name__ label. A sample at the same timestamp
  // as the series' newest replaces it; an older one is dropped (counted in out_of_order). A
  // sample whose metric no rule can select (SetSelectedNames) is not kept.
  void Append(const std::vector<Sample>& samples);
  void Append(const Sample& sample);
  // Appends with labels that already include __name__ (used by the rule manager).
  void AppendLabeled(const Labels& labels_with_name, int64_t ts_ms, double value);
  // A rule's output sample, taken as Prometheus's storage takes it: at the time the series'
  // newest point already has, it is refused ("duplicate sample for timestamp") unless it is
  // the same value, bit for bit, and the point there stays. Two rules recording one series,
  // or a rule recording a probe's metric, would otherwise overwrite each other (fresh eyes,
  // stop 57: `record: m` over `m * 10` compounded 3, 30, 300). False when refused.
  // `hint`, when given, is where this place of the rule's result wrote last time (read, then
  // set to this sample's series).
  bool AppendRuleSample(const Labels& labels_with_name, int64_t ts_ms, double value,
                        RuleSeriesHint* hint = nullptr);
  // Adds history read back from storage: unlike Append, points older than a series' newest are
  // merged in, not refused, since probe runs may have appended newer points while the history
  // was being read (a reload that selects new metrics, a start with probes already running). A
  // point at a time the series already has keeps the series' value. Selection as for Append.
  void Backfill(const std::vector<Sample>& samples);
  // The same for one series' points (any order), its labels including __name__: history read
  // back one series at a time (storage::Reader::StreamRecentSeries), so that a start holds one
  // series' history at once, not every series'.
  void BackfillSeries(const Labels& labels_with_name, std::vector<promql::Point> points);
  // The longest history any metric needs (RequireRetention, RequireRetentionFor).
  int64_t MaxRetentionMs() const;
  // Ends a series now, like Prometheus does when a target disappears: appends a stale marker so
  // that instant queries stop seeing it at once instead of after the 5m lookback. A point the
  // series already has at ts_ms stays (Prometheus's storage refuses the marker as a duplicate),
  // and so does the series when it has a newer point (refused as out of order, not counted).
  void MarkStale(const Labels& labels_with_name, int64_t ts_ms);

  // One probe run's samples, appended as Append() does; and, as Prometheus's scrape loop does
  // for a target, every series the previous run of the same `source` had and this one lacks
  // gets a stale marker at `run_ts_ms`, so `up == 0` or `x > 0` on it ends at the next
  // evaluation instead of after the 5m lookback; unless another source's last run has it too
  // (two probes writing one series: it ends when the last of them drops it). Samples with a
  // timestamp of their own (not `run_ts_ms`) are not tracked, as Prometheus does not track
  // them either. `interval_ms`: how often the source runs (for EndSourcesExcept).
  void AppendRun(const std::string& source, const std::vector<Sample>& samples, int64_t run_ts_ms,
                 int64_t interval_ms);
  // Forgets the sources not in `live` (the probes a reload removed or renamed; `live` maps each
  // source of the new config to its interval) and ends their last run's series at `ts_ms`, as
  // Prometheus ends a removed target's series: not at once but two intervals later
  // (ApplyDueEnds), and only the series no source has written since. The interval is the
  // larger of the removed source's and the longest of the sources that have not run yet: a
  // renamed probe (a new source) runs first somewhere within its own interval, and may write
  // the same `up{job,instance,probe}`. So a rename goes on without a false "resolved", while a
  // removed probe's alerts resolve two intervals on.
  void EndSourcesExcept(const std::unordered_map<std::string, int64_t>& live, int64_t ts_ms);
  // Applies the ends EndSourcesExcept deferred whose time has come by `now_ms`; cheap when none
  // wait. The rule manager calls it before each evaluation.
  void ApplyDueEnds(int64_t now_ms);
  // The ends of probes' series (the stale markers AppendRun, ApplyDueEnds append) since the
  // last call, for storage: a restart reads them back with the samples (Backfill). At most
  // kMaxUntakenEnds wait; more are dropped (a target churning series faster than that).
  std::vector<SeriesEnd> TakeEnds();
  static constexpr size_t kMaxUntakenEnds = 100'000;
  // How many sources (probes) have their last run's series tracked.
  size_t SourceCount() const;

  // Which metric names the rules select: `names`, or every name when nullopt (the default, and
  // what a selector without an exact __name__ needs). The store holds what rules read, not every
  // series probes produce: a target that sends new series on every scrape would otherwise fill
  // it to max_series (issue 13, N1). Applies to later Append() calls; AppendLabeled (the rules'
  // own output) is always kept.
  void SetSelectedNames(std::optional<std::unordered_set<std::string>> names);

  // The limits from the config (alerting.head), at start and at each reload. A lower
  // max_series refuses new series until the count is under it (none is dropped); a lower
  // max_point_bytes drops the oldest points at once.
  void SetLimits(size_t max_series, uint64_t max_point_bytes);
  // Called (under the store's lock: it must not call back) each time max_point_bytes drops
  // points: the time before which they went, the points' bytes after, live points dropped.
  using SizeRetentionFn = std::function<void(int64_t floor_ms, uint64_t bytes, uint64_t dropped)>;
  void OnSizeRetention(SizeRetentionFn fn);

  // Keeps at least `ms` of history from now on (never lowers it).
  void RequireRetention(int64_t ms);
  int64_t retention_ms() const { return retention_ms_; }
  // Raises the retention of the series named `metric` only: a 7-day SLO window over a recorded
  // series must not make every raw 1-second probe series keep 7 days in memory.
  void RequireRetentionFor(const std::string& metric, int64_t ms);
  // Drops series whose newest point is older than now_ms - retention. Call once per cycle.
  void GarbageCollect(int64_t now_ms);

  void Select(const std::vector<promql::Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
              promql::Matrix* out) const override;
  void ForEachSeries(const std::vector<promql::Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
                     const SeriesFn& fn) const override;
  void ForEachLatest(const std::vector<promql::Matcher>& matchers, int64_t mint_ms,
                     int64_t maxt_ms, const LatestFn& fn) const override;

  SeriesStoreStats Stats() const;

  // How many selectors' matches each metric keeps (MetricSeries): rules' selectors are a fixed
  // set; the HTTP API's queries may bring new ones without end.
  static constexpr size_t kMaxCachedSelectors = 1'000;

 private:
  struct Entry {
    Labels labels;
    std::vector<PointChunk> chunks;   // older points, packed, oldest first
    std::vector<promql::Point> tail;  // the newest points, plain; never empty once appended to
    size_t stored = 0;                // points in chunks and tail, the dead ones included
    // Points older than this are dead (past retention or max_points_per_series): never read,
    // dropped with their chunk or when the tail is packed. Only ever rises.
    int64_t visible_from = INT64_MIN;
    int64_t retention_ms = 0;  // this metric's own need (RequireRetentionFor), or 0
    uint32_t run_sources = 0;  // sources whose last run wrote this series (AppendRun)
    // The time of the newest stale marker ever appended (never lowered): a range read after
    // it holds none, and ForEachSeries need not look at each point for one.
    int64_t newest_stale_ms = INT64_MIN;
    size_t chunk_heap_bytes = 0;  // the chunks' heap_bytes() summed (PointBytes)
  };
  // Where the sample at one place of a source's runs went last time. The next run's sample
  // there most likely goes to the same series: while no series was dropped since, its labels
  // and name are compared with that series' labels, without the copy of its labels with
  // __name__ set, their hash and the lookup (3.8 % of a worker at 1,000 probes).
  struct RunHint {
    Entry* entry = nullptr;
    uint64_t drops = 0;  // series_dropped_ when it was set
  };
  // The first this many samples of a run are hinted: a probe's few, not a scrape's thousands.
  static constexpr size_t kMaxRunHints = 16;
  struct Source {
    std::vector<Entry*> last_run;  // sorted by address
    int64_t interval_ms = 0;
    std::vector<RunHint> hints;  // by the sample's place in the run
  };
  // The hint at place `i`, made (empty) when the list is shorter.
  static RunHint& HintAt(std::vector<RunHint>& hints, size_t i);
  // Whether `with_name` is `labels` with __name__ set to `name` (`labels` has no __name__).
  static bool IsNamed(const Labels& with_name, const Labels& labels, const std::string& name);
  // One metric's series, and which of them the selectors read lately matched: a rule such as
  // `m{job="a"} > 1` would otherwise test every series of `m` in every evaluation, and each
  // test is a cache miss or three (labels live apart from one another). Rules select the same
  // series each time; the matches hold until a series of the metric comes or goes.
  struct MetricSeries {
    std::vector<Entry*> entries;  // sorted by labels
    // Key: the selector's matchers but the metric name (MatchersKey). Cleared whenever
    // `entries` changes (which needs mu_ held for writing, so a reader's copy stays valid
    // while it holds mu_ shared); at most kMaxCachedSelectors keys.
    mutable Mutex matched_mu;
    mutable std::unordered_map<std::string, std::shared_ptr<const std::vector<Entry*>>> matched
        GUARDED_BY(matched_mu);
  };
  // The entries of `metric` the matchers (but name_eq) select, from the cache or computed.
  std::shared_ptr<const std::vector<Entry*>> Matched(
      const MetricSeries& metric, const std::vector<promql::Matcher>& matchers,
      const promql::Matcher* name_eq) const REQUIRES_SHARED(mu_);
  // A removed source's series, to end at `end_ms` once `due_ms` has come (EndSourcesExcept).
  struct PendingEnd {
    Entry* entry;
    int64_t end_ms;
    int64_t due_ms;
  };
  // The series appended to (the point itself may have been dropped as out of order), or null
  // when the series was refused (max_series).
  Entry* AppendLocked(const Labels& labels, int64_t ts_ms, double value) REQUIRES(mu_);
  // The same for a series already found: a point newer than its newest is appended, one at its
  // newest's time replaces it, an older one is dropped (out_of_order).
  void AppendToLocked(Entry& e, int64_t ts_ms, double value) REQUIRES(mu_);
  // Appends the samples of the selected metrics, calling appended(entry or null, sample).
  template <typename Fn>
  void AppendSamplesLocked(const std::vector<Sample>& samples, Fn&& appended) REQUIRES(mu_);
  // Whether the rules read the series' metric now (SetSelectedNames).
  bool IsSelectedLocked(const Entry& e) const REQUIRES_SHARED(mu_);
  // Appends a stale marker at ts_ms unless the series already ends there or later.
  void EndLocked(Entry& e, int64_t ts_ms) REQUIRES(mu_);
  // What Visit passes of a series' points in range: all of them, or only the newest.
  enum class Span { kWindow, kNewest };
  // Calls fn(entry, first, last) for every matching series with points in range.
  template <typename Fn>
  void Visit(const std::vector<promql::Matcher>& matchers, int64_t mint_ms, int64_t maxt_ms,
             Span span, Fn&& fn) const REQUIRES_SHARED(mu_);
  // Forgets what the metric's selectors matched (its series changed).
  void ClearMatched(MetricSeries& metric) REQUIRES(mu_);
  // Appends a point newer than the series' newest, then trims and packs.
  void PushLocked(Entry& e, const promql::Point& p) REQUIRES(mu_);
  void TrimLocked(Entry& e) REQUIRES(mu_);
  Entry* FindOrAddLocked(const Labels& labels) REQUIRES(mu_);
  // Merges read-back `points` (sorted here) into the series under the live ones (Backfill).
  void MergeHistoryLocked(const Labels& labels, std::vector<promql::Point>& points) REQUIRES(mu_);
  static size_t DeadCount(const Entry& e);
  static void PackTail(Entry& e);
  // Drops the chunks wholly older than visible_from.
  static void DropDeadChunks(Entry& e);
  // What a series' points hold allocated (Stats().point_bytes is the sum over series).
  static uint64_t PointBytes(const Entry& e);
  // The oldest point the byte bound may not drop for this series (its newest - size_keep_ms).
  int64_t SizeKeepFrom(const Entry& e) const;
  // Past max_point_bytes, drops the oldest points of all series until their bytes are 90 % of
  // it (or only the kept windows are left), by raising size_floor_ms_.
  void EnforceSizeLocked() REQUIRES(mu_);

  SeriesStoreOptions options_;
  mutable SharedMutex mu_;
  // All series ordered by labels (owning); `lookup_` finds one by its labels in O(1) for
  // appends; `by_name_` lists each metric's series sorted by labels (for selection in order)
  // and what its selectors matched.
  std::map<Labels, std::unique_ptr<Entry>> series_ GUARDED_BY(mu_);
  std::unordered_map<Labels, Entry*> lookup_ GUARDED_BY(mu_);
  std::unordered_map<std::string, MetricSeries> by_name_ GUARDED_BY(mu_);
  // Per source (AppendRun), the series its last run appended, and the ends of removed sources'
  // series still to apply. GarbageCollect removes the series it drops from both, so no pointer
  // here dangles.
  std::unordered_map<std::string, Source> sources_ GUARDED_BY(mu_);
  std::vector<PendingEnd> pending_ends_ GUARDED_BY(mu_);
  std::vector<SeriesEnd> untaken_ends_ GUARDED_BY(mu_);
  // Sources a reload removed, until their ends are due: a run of one still under way at the
  // reload appends its points but is not tracked.
  std::unordered_map<std::string, int64_t> removed_ GUARDED_BY(mu_);
  // pending_ends_.size() + removed_.size(), read without the lock.
  std::atomic<size_t> pending_count_{0};
  std::atomic<int64_t> retention_ms_;
  std::unordered_map<std::string, int64_t> name_retention_ GUARDED_BY(mu_);
  std::atomic<uint64_t> out_of_order_{0};
  std::atomic<uint64_t> refused_series_{0};
  uint64_t series_dropped_ GUARDED_BY(mu_) = 0;  // series dropped ever (RuleSeriesHint)
  std::atomic<uint64_t> unselected_{0};
  // The points' bytes (PointBytes summed), kept as they change; EnforceSizeLocked runs when
  // they pass enforce_above_ (max_point_bytes, or 10 % over what it could not drop last time,
  // so that a head held up by its kept windows is not searched on every append).
  uint64_t point_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t enforce_above_ GUARDED_BY(mu_) = 0;
  int64_t size_floor_ms_ GUARDED_BY(mu_) = INT64_MIN;
  uint64_t size_retentions_ GUARDED_BY(mu_) = 0;
  uint64_t size_dropped_points_ GUARDED_BY(mu_) = 0;
  SizeRetentionFn on_size_retention_ GUARDED_BY(mu_);
  // nullopt: every name.
  std::optional<std::unordered_set<std::string>> selected_names_ GUARDED_BY(mu_);
};

}  // namespace obsmon::alerts
