// How big the writer's SQLite page cache should be: about 8 KiB per series written in the last
// minute (a commit touches one leaf page per series it writes: samples are keyed by series, then
// time), at least 2 MiB, at most the configured cap (storage.cache_size). Sized to the work, so
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
  static constexpr int64_t kBytesPerSeries = 8 << 10;
  static constexpr int64_t kFloorBytes = 2 << 20;
  static constexpr auto kWindow = std::chrono::seconds(60);

  explicit CacheSizer(int64_t cap_bytes) : cap_bytes_(cap_bytes) {}

  // A sample of series `series_id` was written.
  void Written(int64_t series_id) { recent_.insert(series_id); }

  // The size the cache should take now, when it should change: at the first call (the floor),
  // then at the end of each window when the wanted size differs from the current one by more
  // than a quarter (small changes are not worth evicting or growing for).
  std::optional<int64_t> Resize(SteadyTime now);

  int64_t size_bytes() const { return size_bytes_; }

 private:
  int64_t Wanted(size_t series) const;

  const int64_t cap_bytes_;
  int64_t size_bytes_ = 0;  // 0: not set yet
  std::optional<SteadyTime> window_start_;
  std::unordered_set<int64_t> recent_;  // series written since window_start_
};

}  // namespace obsmon::storage
