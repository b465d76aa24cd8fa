// How big the writer's SQLite page cache should be: about 7 KiB per series written in the last
// minute (a commit touches one leaf page per series it writes: samples are keyed by series, then
// time; and a page of runs, spans or rollups per probe), at least 2 MiB, at most the configured
// cap (storage.cache_size). Below the pages a commit touches the cost is a cliff (every page read
// again each commit): 1,000 http probes touch about 7,000 pages, 29 MB with SQLite's headers; 7
// KiB per series gives them 35 MiB, and the writer kept up at 30 (docs/storage.md, "Memory"). Sized to the work, so
// 100 probes do not hold the memory 1,000 would need, and never more than the user allowed.
// Writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_set>

#include "core/clock.h"

namespace obsmon::storage {

class CacheSizer {
 public:
  static constexpr int64_t kBytesPerSeries = 7 << 10;
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
