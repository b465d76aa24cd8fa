// Test support: run a probe once against the real clock with a deadline `timeout_ms` from now,
// optionally measuring how long it took (the probe tests check deadlines are honoured).
#pragma once

#include <chrono>
#include <cstdint>

#include "core/clock.h"
#include "probes/probe.h"

namespace obsmon::probes {

inline ProbeResult RunProbe(Probe& probe, int64_t timeout_ms,
                            std::chrono::milliseconds* elapsed = nullptr) {
  using std::chrono::milliseconds;
  const Clock& clock = SystemClock::Instance();
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = probe.Run(Deadline{clock.SteadyNow() + milliseconds(timeout_ms)});
  if (elapsed) {
    *elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  }
  return r;
}

}  // namespace obsmon::probes
