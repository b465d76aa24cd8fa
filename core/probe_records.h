// What a probe is configured with and what one run of it returns: plain records that probes,
// the runtime and the sinks (storage, /metrics, rules) share (probes/probe.h has the Probe seam).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // How long the answer's last bytes waited in the socket before the probe read them, by the
  // kernel's receive timestamp (0 when unknown): the runner takes it off the run's duration, so
  // that a reader that wakes late (a busy machine, other runs of its batch ended first) does
  // not lengthen the latency it reports.
  std::chrono::nanoseconds answer_waited{0};

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

}  // namespace obsmon
