// A probe's history compressed without losing anything uptime needs: consecutive runs with the
// same verdict whose coverage leaves no hole form one span. A probe checked every second for a
// week is 604,800 runs but, if it failed twice a day, about 30 spans; reports read spans.
//
// The rule (ExtendsSpan) is the one storage applies when it writes runs and the one the report
// applies to runs held in memory, so both give the same spans for the same runs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/records.h"

namespace obsmon {

struct RunSpan {
  ProbeKey key;
  ProbeRole role = ProbeRole::kHealth;
  TimestampMs start_ms = 0;     // ts_ms of the span's first run
  TimestampMs last_run_ms = 0;  // ts_ms of its last run
  // last_run_ms + the last run's valid_for_ms. The span's verdict stands over
  // [start_ms, min(end_ms, start of the probe's next span)); after end_ms it is unknown.
  TimestampMs end_ms = 0;
  bool success = false;
  uint64_t runs = 0;
  std::string reason;  // the first run's reason (empty on success)

  friend bool operator==(const RunSpan&, const RunSpan&) = default;
};

// Whether `run`, the next run of span's probe (run.ts_ms > span.last_run_ms), continues `span`:
// same verdict and it started before the span's coverage ran out.
inline bool ExtendsSpan(const RunSpan& span, const ProbeRun& run) {
  return run.success == span.success && run.ts_ms > span.last_run_ms && run.ts_ms <= span.end_ms;
}

// A span holding `run` alone.
RunSpan SpanOfRun(const ProbeRun& run);

// Adds `run` to `span` (ExtendsSpan(span, run) must hold).
void ExtendSpan(RunSpan& span, const ProbeRun& run);

// `runs` as storage keeps them: ordered by probe then time, and of two runs of one probe with
// the same ts_ms only the first given (storage ignores the second). Linear when `runs` are
// already in that order (as a Reader returns them), a sort otherwise.
std::vector<const ProbeRun*> RunsInStorageOrder(std::span<const ProbeRun> runs);

// The spans of `runs` (any order; RunsInStorageOrder here), ordered by probe then start.
std::vector<RunSpan> CompressRuns(std::span<const ProbeRun> runs);
// The same for runs already in storage order (RunsInStorageOrder's result).
std::vector<RunSpan> CompressOrderedRuns(std::span<const ProbeRun* const> ordered);

// The span as one run that covers exactly what the span covers: ts_ms = start_ms,
// valid_for_ms = end_ms - start_ms, the first run's reason. Uptime computed over these equals
// uptime computed over the runs themselves.
ProbeRun SpanAsRun(const RunSpan& span);

}  // namespace obsmon
