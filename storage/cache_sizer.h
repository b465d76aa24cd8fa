// How big the writer's SQLite page cache should be: about 2 KiB per series written in the last
// minute, at least 2 MiB, at most the configured cap (storage.cache_size). What a commit touches
// is a page of runs per probe (probe_runs is keyed by probe, then time), a share of a rollup and
// a span page, and the head's last pages (samples_head is in time order): about 1.5 pages per
// probe, and an http probe writes five series. The series' own pages (samples_by_series) change
// once per 15 s move, where re-reading a page that left the cache costs a 4 KiB pread from the
// kernel's page cache, not a cliff. Before the head every commit touched a leaf per series and 7
// KiB per series was needed; at 1,000 http probes 2 KiB keeps RSS at 43 MB instead of 69 MB with
// the same writer queue and CPU (docs/storage.md, "Memory"). Sized to the work, so 100 probes do
// not hold the memory 1,000 would need, and never more than the user allowed. Writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_set>

#include "core/clock.h"

namespace obsmon::storage {

class CacheSizer {
 public:
  static constexpr int64_t kBytesPerSeries = 2 << 10;
  static constexpr int64_t kFloorBytes = 2 << 20;
  static constexpr auto kWindow = std::chrono::seconds(60);
  // Within a window the cache grows as soon as the series seen so far want a quarter more (a
  // burst of new series must not wait a minute with a cache too small to keep up).
  static constexpr auto kGrowCheck = std::chrono::seconds(5);

  explicit CacheSizer(int64_t cap_bytes) : cap_bytes_(cap_bytes) {}

  // A sample of series `series_id` was written. Once the window's series alone want the cap,
  // more are not remembered: the answer is the cap anyway, and a target sending new series on
  // every scrape must not fill a set (20,000 a second would be a million ids a minute).
  void Written(int64_t series_id) {
    if (static_cast<int64_t>(recent_.size()) * kBytesPerSeries < cap_bytes_) recent_.insert(series_id);
  }

  // The size the cache should take now, when it should change: at the first call (the floor);
  // every kGrowCheck when the series of the window so far want more than a quarter more; and at
  // the end of each window when its series want a size a quarter away, up or down (small
  // changes are not worth evicting or growing for).
  std::optional<int64_t> Resize(SteadyTime now);

  int64_t size_bytes() const { return size_bytes_; }

 private:
  int64_t Wanted(size_t series) const;

  const int64_t cap_bytes_;
  int64_t size_bytes_ = 0;  // 0: not set yet
  std::optional<SteadyTime> window_start_;
  SteadyTime last_check_{};
  std::unordered_set<int64_t> recent_;  // series written since window_start_
};

}  // namespace obsmon::storage
