// Honest uptime: what a component's health probes say about every millisecond of a window.
//
// Semantics (docs/uptime.md has them in full):
// - Only runs with role kHealth decide. A run's verdict stands from its ts_ms until the next run of
//   the same probe, but never longer than its valid_for_ms; time no run covers is UNKNOWN.
// - A health probe takes part from its first run on (before it existed it cannot be unknown).
// - At an instant the component is EXCLUDED inside an excluded interval (maintenance), else DOWN
//   if any taking-part probe's covering run failed, else UNKNOWN if any taking-part probe has no
//   covering run (or none takes part yet), else UP.
// - Only [from_ms, min(to_ms, now_ms)) is evaluated: the future is neither up nor unknown.
// - Incidents are maximal contiguous DOWN spans; UNKNOWN or EXCLUDED time splits them.
//
// Everything here is a pure function of its arguments: thread-safe, no clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/records.h"
#include "core/run_span.h"

namespace obsmon {

// A half-open span of wall time [start_ms, end_ms).
struct TimeInterval {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  int64_t length_ms() const { return end_ms > start_ms ? end_ms - start_ms : 0; }
  friend bool operator==(const TimeInterval&, const TimeInterval&) = default;
};

// Sorts, merges overlapping or touching intervals and clips them to [from_ms, to_ms); empty ones
// are dropped.
std::vector<TimeInterval> NormalizeIntervals(std::vector<TimeInterval> intervals,
                                             TimestampMs from_ms, TimestampMs to_ms);
// Milliseconds of [from_ms, to_ms) inside `normalized` (the output of NormalizeIntervals).
int64_t OverlapMs(std::span<const TimeInterval> normalized, TimestampMs from_ms, TimestampMs to_ms);
// Whether `t` lies in one of `normalized`.
bool ContainsInstant(std::span<const TimeInterval> normalized, TimestampMs t);

enum class HealthState { kUp, kDown, kUnknown, kExcluded };
// "up", "down", "unknown", "excluded".
const char* HealthStateName(HealthState state);

// A span of one combined state. Adjacent spans of a timeline always differ in state.
struct StateSpan {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  HealthState state = HealthState::kUnknown;
};

// A maximal contiguous DOWN span, clipped to the evaluated window.
struct Incident {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  // Still down at now_ms (the span reaches the evaluated end and that end is now_ms).
  bool ongoing = false;
  // Already down at from_ms by a run that started before the window: the start is clipped.
  bool began_before_window = false;
  // Every health probe that said down at some point of the incident, sorted by name.
  std::vector<std::string> probes;
  // The failing run that opened the incident: among the probes down at start_ms, the one whose
  // run started first (ties: probe name). Its reason may be empty if the probe gave none.
  std::string first_probe;
  std::string first_reason;
  TimestampMs first_failure_ms = 0;  // ts_ms of that run (may precede start_ms)
  // 1-based, in the window's order of incidents: set on a report's incidents (BuildReport,
  // ComputeReport), which may list only some of them (ReportOptions::max_listed); 0 elsewhere.
  uint64_t number = 0;

  int64_t duration_ms() const { return end_ms - start_ms; }
};

struct UptimeOptions {
  TimestampMs from_ms = 0;
  TimestampMs to_ms = 0;
  TimestampMs now_ms = 0;  // evaluation stops at min(to_ms, now_ms)
  // Excluded intervals (maintenance windows), any order, may overlap or leave the window.
  std::vector<TimeInterval> excluded;
  // When non-empty, only health runs of these probe names count (e.g. the configured ones, so
  // that a probe removed from the config stops making time unknown). Empty: every health probe
  // in the input.
  std::vector<std::string> health_probes;
  // Each incident's probes, first probe and reason. Without them an incident is its bounds
  // alone: what the daemon's live figures count (the overview shows a count, not a list).
  bool incident_details = true;
};

// Milliseconds of each state over the evaluated window; they sum to window_ms exactly.
struct UptimeTotals {
  int64_t window_ms = 0;  // evaluated length: min(to, now) - from, or 0
  int64_t up_ms = 0;
  int64_t down_ms = 0;
  int64_t unknown_ms = 0;
  int64_t excluded_ms = 0;

  // up / (up + down); nullopt when up + down == 0.
  std::optional<double> uptime() const;
  // (up + down) / (window - excluded); nullopt when window == excluded.
  std::optional<double> coverage() const;
  // up / (window - excluded); nullopt when window == excluded.
  std::optional<double> conservative() const;
};

struct UptimeResult {
  TimestampMs evaluated_to_ms = 0;  // max(from, min(to, now))
  UptimeTotals totals;
  // The combined state over [from, evaluated_to), in order, adjacent spans of different states.
  std::vector<StateSpan> timeline;
  std::vector<Incident> incidents;  // oldest first
  // Health probes that took part, sorted by name.
  std::vector<std::string> health_probes;
};

// Adds `len` milliseconds of `state` to `totals`.
void AddToTotals(UptimeTotals& totals, HealthState state, int64_t len);

// Computes the combined health of one component. `runs` are the component's runs as
// storage::Reader::ProbeRuns returns them (any probe order; runs of one probe are sorted by ts_ms
// here if they are not already), including the last run of each probe before the window. Runs of
// other roles are ignored. Linear in runs.size() for sorted input and a few probes.
UptimeResult ComputeUptime(std::span<const ProbeRun> runs, const UptimeOptions& options);
// The same over spans (core/run_span.h) as storage::Reader::RunSpans returns them, each read as
// SpanAsRun would make it a run, without the copy: what a report of a week's spans computes from.
UptimeResult ComputeUptime(std::span<const RunSpan> spans, const UptimeOptions& options);

// Appends `next`, the uptime of the stretch that follows `into`'s evaluated window
// ([into.evaluated_to_ms, next.evaluated_to_ms), computed over the spans RunSpans gives for it,
// with the same options), to `into`: the result equals the uptime of both computed as one. An
// incident across the seam is one incident (its start, first probe and reason `into`'s), the
// timeline's spans across it one span. So a window's uptime is computed a chunk of its spans at
// a time (storage::Reader::StreamRunSpans).
void AppendUptime(UptimeResult& into, UptimeResult next);

}  // namespace obsmon
