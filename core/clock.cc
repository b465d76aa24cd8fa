#include "core/clock.h"

namespace obsmon {

TimestampMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SteadyTime SystemClock::SteadyNow() const { return std::chrono::steady_clock::now(); }

const Clock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace obsmon
