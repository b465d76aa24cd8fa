// Plain records that flow from probes to storage, exporters and alerts. They carry no behaviour so
// that probes/ need not know storage/ and storage/ need not know probes/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"

namespace obsmon {

// One value of one series at one time, as in Prometheus. `name` is the metric name.
struct Sample {
  std::string name;
  Labels labels;
  TimestampMs ts_ms = 0;
  double value = 0;
};

// What a probe is for. Health probes decide whether a component is up; integration checks must
// pass 100 % of the time; the rest only measure.
enum class ProbeRole { kHealth, kIntegration, kNone };

// Names a probe: unique within its component.
struct ProbeKey {
  std::string component;
  std::string probe;
  friend bool operator==(const ProbeKey&, const ProbeKey&) = default;
  friend auto operator<=>(const ProbeKey&, const ProbeKey&) = default;
};

// For the per-run lookups by key (one a run in each of several sinks): a hash table finds a key
// among 1,000 probes without the ten string comparisons of a std::map.
struct ProbeKeyHash {
  size_t operator()(const ProbeKey& key) const noexcept {
    const size_t h = std::hash<std::string>{}(key.component);
    return h ^ (std::hash<std::string>{}(key.probe) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

// One run of one probe, as stored for uptime and reports.
struct ProbeRun {
  ProbeKey key;
  ProbeRole role = ProbeRole::kHealth;
  TimestampMs ts_ms = 0;        // when the run started (wall clock)
  bool success = false;
  double duration_seconds = 0;  // wall time the run took (monotonic clock)
  // How long this run's verdict stands for: interval x tolerance. Time after ts_ms + valid_for_ms
  // that no later run covers is *unknown*, never silently up.
  int64_t valid_for_ms = 0;
  std::string reason;           // empty on success; why it failed otherwise
};

// A matched log line kept as evidence.
struct LogEvent {
  ProbeKey key;
  TimestampMs ts_ms = 0;   // when obsmon saw the line
  std::string file;        // path of the file the line was read from
  std::string severity;    // "error", "critical", ... as configured
  std::string line;        // the line, cut to a bounded length, without its newline
};

// Where a log probe has read up to in one file. Stored in the same transaction as the events and
// counter deltas the read produced, so that a crash neither loses nor double-counts a line.
struct LogCursor {
  ProbeKey key;
  std::string path;         // the path the probe follows (after glob expansion, before symlinks)
  uint64_t dev = 0;
  uint64_t inode = 0;
  std::string fingerprint;  // hex digest of the file's first bytes (empty until there are any)
  int64_t offset = 0;       // bytes consumed: always at a line boundary
  TimestampMs updated_ms = 0;
  // The path and every rotation of it are gone (a glob's match deleted): storage forgets the
  // cursor instead of writing it, so that its state does not outlive the file.
  bool retired = false;
  // The file's birth time (statx's btime, ns) when the cursor was set on it; 0 when unknown.
  // Tells a file deleted and made again on the same inode number from the one read.
  int64_t birth_ns = 0;
};

// An increment of a counter that must survive restarts (log matches, lines read, codecarbon
// rows). Storage adds `delta` to the stored total in the same transaction as the batch.
struct CounterDelta {
  std::string name;
  Labels labels;
  double delta = 0;
  // Storage forgets the stored total instead of adding to it: its source is gone (a retired
  // log file). The samples written before keep its history.
  bool forget = false;
};

// A persisted counter's running total.
struct CounterValue {
  std::string name;
  Labels labels;
  double value = 0;
};

// Everything one probe run produced: written to storage in ONE transaction.
struct WriteBatch {
  std::vector<ProbeRun> runs;
  std::vector<Sample> samples;
  std::vector<LogEvent> log_events;
  std::vector<LogCursor> log_cursors;
  std::vector<CounterDelta> counters;
  // Fencing of a probe's state (log_events, log_cursors, counters), for exactly-once counting
  // when a batch is lost after it was accepted or a probe is rebuilt by a reload: the probe's
  // in-memory state was last read from storage at `state_epoch`. Once storage has been told
  // that `state_key` re-read its state at a newer epoch (Writer::Fence), the state part of an
  // older batch is dropped (its lines are read again by the newer instance); the runs and
  // samples are still written. 0: not fenced.
  ProbeKey state_key;
  uint64_t state_epoch = 0;
  bool has_state() const {
    return !log_events.empty() || !log_cursors.empty() || !counters.empty();
  }
  bool empty() const {
    return runs.empty() && samples.empty() && log_events.empty() && log_cursors.empty() &&
           counters.empty();
  }
};

}  // namespace obsmon
