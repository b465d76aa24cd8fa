#include "examples/demo_component/failure_schedule.h"

namespace obsmon::demo {

FailureSchedule::FailureSchedule(FailureOptions options, TimestampMs start_ms)
    : options_(options), start_ms_(start_ms), rng_(options.seed) {}

bool FailureSchedule::InWindow(TimestampMs now_ms) const {
  if (options_.fail_every_ms <= 0 || options_.fail_for_ms <= 0) return false;
  int64_t since = now_ms - start_ms_;
  if (since < 0) return false;
  return since % options_.fail_every_ms >= options_.fail_every_ms - options_.fail_for_ms;
}

bool FailureSchedule::ShouldFail(TimestampMs now_ms) {
  if (InWindow(now_ms)) return true;
  if (options_.random_failure_ratio <= 0) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return std::uniform_real_distribution<double>(0, 1)(rng_) < options_.random_failure_ratio;
}

}  // namespace obsmon::demo
