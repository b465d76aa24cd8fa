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
#include "core/records.h"

namespace obsmon {

// Settings every probe has, read by the config loader before the kind's own keys.
struct ProbeSpec {
  ProbeKey key;
  std::string kind;
  ProbeRole role = ProbeRole::kHealth;
  int64_t interval_ms = 15'000;
  int64_t timeout_ms = 5'000;
  // The component's labels (always with `job`, defaulting to the component name) plus the
  // probe's own `labels:`. The caller adds component, probe and instance to every sample.
  Labels labels;
};

struct ProbeResult {
  bool success = false;
  std::string reason;  // empty on success; short, human, without a trailing newline
  // Extra series measured by this run (status code, scraped metrics, log counters ...). A sample
  // with ts_ms == 0 gets the run's start time; labels are used as given (the caller adds
  // nothing to these: a probe adds component/probe/job/instance itself where they belong).
  std::vector<Sample> samples;
  // Log probes: evidence, cursors and persistent counter increments, committed with the run.
  std::vector<LogEvent> log_events;
  std::vector<LogCursor> log_cursors;
  std::vector<CounterDelta> counters;
  std::string detail;  // optional longer text for humans (exec output tail), capped by the probe

  static ProbeResult Up() {
    ProbeResult r;
    r.success = true;
    return r;
  }
  static ProbeResult Down(std::string reason) {
    ProbeResult r;
    r.reason = std::move(reason);
    return r;
  }
};

// What a probe may read back from storage when it starts (log cursors, persistent counters, the
// last value it recorded of a series).
class ProbeStateSource {
 public:
  virtual ~ProbeStateSource() = default;
  virtual std::vector<LogCursor> LogCursors(const ProbeKey& key) = 0;
  // Persisted counters whose labels carry component=key.component and probe=key.probe.
  virtual std::vector<CounterValue> Counters(const ProbeKey& key) = 0;
  // The newest stored sample of the series named `name` whose labels include every pair of
  // `match` (the newest across such series); nullopt when there is none. (Not pure so that
  // sources with nothing to say need not implement it.)
  virtual std::optional<Sample> LatestSample(const std::string& name, const Labels& match) {
    return std::nullopt;
  }
};

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
