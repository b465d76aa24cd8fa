// A log line that repeats for as long as its cause lasts (a destination rejecting every request,
// one window after the other) is let through the first time, then at most once per `every`,
// saying how many were held back since: a long-running daemon must not fill the journal. Only the
// log is limited; the counters on /metrics count every occurrence.
//
// Not thread-safe: the owner locks it (the sender's shards share one).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/clock.h"

namespace obsmon::remote {

class LogLimiter {
 public:
  // What was held back since the last line let through.
  struct HeldBack {
    uint64_t occurrences = 0;
    uint64_t amount = 0;  // the sum of their `amount` (samples, for the sender)
  };

  explicit LogLimiter(std::chrono::milliseconds every) : every_(every) {}

  // One occurrence at `now`, weighing `amount`. Set when it is to be logged (the first one, and
  // then one at least `every` after the last one logged), holding what was held back since;
  // nullopt when it is held back itself.
  std::optional<HeldBack> Admit(SteadyTime now, uint64_t amount);

  // What was held back since the last line let through, and forgets it (nullopt when nothing
  // was): for a last line when the cause is gone, so that no occurrence goes unreported.
  std::optional<HeldBack> TakeHeldBack();

  bool started() const { return last_.has_value(); }

 private:
  std::chrono::milliseconds every_;
  std::optional<SteadyTime> last_;  // when the last line was let through
  HeldBack held_;
};

}  // namespace obsmon::remote
