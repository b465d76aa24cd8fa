// Runs one probe once and hands the stamped, labelled outcome to every sink. The shared work of
// every probe kind happens here once: timing, deadline, the probe_success / probe_duration_seconds
// / up samples, and turning an unexpected exception into a failed run with a reason.
#pragma once

#include <vector>

#include "core/clock.h"
#include "monitor/result_sink.h"
#include "monitor/scheduler.h"

namespace obsmon {

class ProbeRunner {
 public:
  // `sinks` are not owned and must outlive the runner. `coverage_tolerance` scales the interval
  // into each run's valid_for_ms.
  ProbeRunner(const Clock& clock, double coverage_tolerance, std::vector<ResultSink*> sinks)
      : clock_(clock), tolerance_(coverage_tolerance), sinks_(std::move(sinks)) {}

  // Thread-safe (the sinks are). `due_wall_ms` is unused for stamping: a run is stamped with the
  // wall time it actually started, so lag never shifts evidence in time.
  void Run(const ScheduledProbe& probe, TimestampMs due_wall_ms);

  // The outcome of one run without delivering it (tests, `obsmon probe`).
  RunOutcome Execute(const ScheduledProbe& probe, ProbeResult* result_storage);

 private:
  const Clock& clock_;
  const double tolerance_;
  std::vector<ResultSink*> sinks_;
};

// The labels every sample of a probe carries: the spec's labels plus component, probe, instance.
Labels ProbeLabels(const ProbeSpec& spec, const std::string& instance);

}  // namespace obsmon
