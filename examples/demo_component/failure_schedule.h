// When the demo component pretends to be broken: the last `fail_for` of every `fail_every`
// (scheduled windows, so a newcomer sees incidents within minutes) plus rare random failures.
// Thread-safe: httplib serves requests from a pool, so the random source is locked.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "core/clock.h"

namespace obsmon::demo {

struct FailureOptions {
  int64_t fail_every_ms = 180'000;     // period of the scheduled windows; 0 disables them
  int64_t fail_for_ms = 20'000;        // length of each window, at the end of the period
  double random_failure_ratio = 0.02;  // share of requests outside windows answered 503
  uint64_t seed = 1;
};

class FailureSchedule {
 public:
  // `start_ms` anchors the periods (the process start), so the first window opens after
  // fail_every - fail_for.
  FailureSchedule(FailureOptions options, TimestampMs start_ms);

  // True inside a scheduled window. Pure; no lock needed.
  bool InWindow(TimestampMs now_ms) const;
  // True when this request should fail: in a window, or by a seeded coin flip.
  bool ShouldFail(TimestampMs now_ms);

 private:
  const FailureOptions options_;
  const TimestampMs start_ms_;
  std::mutex mutex_;
  std::mt19937_64 rng_;  // guarded by mutex_
};

}  // namespace obsmon::demo
