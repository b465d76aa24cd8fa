#include "storage/cache_sizer.h"

#include <algorithm>

namespace obsmon::storage {

int64_t CacheSizer::Wanted(size_t series) const {
  const int64_t want = std::max<int64_t>(kFloorBytes, static_cast<int64_t>(series) * kBytesPerSeries);
  return std::min(want, cap_bytes_);
}

std::optional<int64_t> CacheSizer::Resize(SteadyTime now) {
  if (!window_start_) {
    window_start_ = now;
    last_check_ = now;
    size_bytes_ = Wanted(0);
    return size_bytes_;
  }
  const bool window_over = now - *window_start_ >= kWindow;
  if (!window_over && now - last_check_ < kGrowCheck) return std::nullopt;
  last_check_ = now;
  const int64_t want = Wanted(recent_.size());
  if (window_over) {  // the minute is over: follow it, up or down
    recent_.clear();
    window_start_ = now;
    if (std::abs(want - size_bytes_) * 4 <= size_bytes_) return std::nullopt;
  } else if ((want - size_bytes_) * 4 <= size_bytes_) {  // within the minute: only grow, at once
    return std::nullopt;
  }
  size_bytes_ = want;
  return size_bytes_;
}

}  // namespace obsmon::storage
