// The Probe seam: one small interface, one final class per kind (probes/<kind>_probe.{h,cc}),
// chosen from the table in probe_registry.cc by the config's `kind`.
//
// A probe never throws for a failed check: a down target is a ProbeResult with a reason a human
// understands ("timeout after 2s", "connection refused", "status 503", "body did not match",
// "exit 1: <last line>"). Timing, the probe_success / probe_duration_seconds samples, timestamps
// and outcome counters are done once by the caller (runtime/probe_runner), not by each probe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/probe_records.h"
#include "core/probe_state_source.h"
#include "core/records.h"

namespace obsmon {

// One configured check. Run() is called from a worker thread, never concurrently with itself
// for the same probe (the scheduler guarantees it), so probes need no locking of their own state.
class Probe {
 public:
  virtual ~Probe() = default;

  // Runs one check and returns by `deadline` (a hanging target must not hold the worker much
  // longer than the deadline). Never throws for a failed check.
  virtual ProbeResult Run(const Deadline& deadline) = 0;

  // The `instance` label value: "host:port" for network probes, a name otherwise.
  virtual std::string Instance() const = 0;

  // Called once before the first Run() with what storage remembers of this probe.
  virtual void Restore(ProbeStateSource& state) {}
};

}  // namespace obsmon
