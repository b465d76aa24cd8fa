// The CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID), in seconds: what a piece of
// work costs whatever else the machine is doing, for work whose cadence follows its own cost.
#pragma once

#include <time.h>

namespace obsmon {

inline double ThreadCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace obsmon
