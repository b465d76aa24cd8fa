// Probe runs rebuilt from the series a Prometheus-compatible store holds: `probe_success` (1 up,
// 0 down) and `probe_duration_seconds`, one sample of each per run at the run's start. obsmon
// writes them with labels component, probe, instance (and the probe's configured labels); a
// blackbox_exporter scraped by Prometheus gives job and instance. Which label names the probe,
// and what the store cannot know (a run's validity, its role, why it failed), is the mapping's.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/records.h"
#include "source/query_answer.h"

namespace obsmon::source {

// What the config says of one probe (obsmon report -c): its role and its interval.
struct KnownProbe {
  ProbeRole role = ProbeRole::kHealth;
  int64_t interval_ms = 0;
};

struct SeriesMapping {
  std::string component;
  // The label whose value is the probe's name: "probe" for obsmon's own series, "instance" (or
  // "job") for a blackbox_exporter's. A series without it is ignored (and counted).
  std::string probe_label = "probe";
  // Probes the config names. Others (or all, without a config) are health probes whose
  // interval is inferred: the median spacing of their samples.
  std::map<std::string, KnownProbe> known;
  // A run's verdict stands for interval x tolerance (config's coverage_tolerance).
  double tolerance = 1.5;
  // The interval of a probe with fewer than two samples and no config.
  int64_t default_interval_ms = 15'000;
};

// What the mapping could not take as it is, for the report's notes.
struct MappingNotes {
  size_t series_without_probe_label = 0;
  size_t runs_without_duration = 0;     // success sample without a duration sample at its time
  size_t duplicate_samples = 0;         // a second success sample of one probe at one time
  std::map<std::string, int64_t> inferred_interval_ms;  // probe -> interval (no config)
  size_t non_finite_samples = 0;  // NaN / Inf values left out (set by the reader)
};

// The notes as sentences for the user ("probe 'x': interval 30s inferred ..."), none when
// everything was taken as it is.
std::vector<std::string> DescribeNotes(const MappingNotes& notes, const std::string& probe_label);

// The reason every failed run gets: the store has no failure reasons.
inline constexpr char kStoreFailureReason[] = "probe_success 0 (the store keeps no reason)";

// The runs of `success` and `durations` (each the series of one metric, possibly several per
// probe: instances, chunks), ordered by probe then time, one per (probe, time). A success sample
// is a run (value > 0: up); its duration is the duration sample of the same probe and time, NaN
// when there is none (SuccessDurations leaves such runs out). Failed runs' reason is
// kStoreFailureReason.
std::vector<ProbeRun> RunsFromSeries(const std::vector<StoreSeries>& success,
                                     const std::vector<StoreSeries>& durations,
                                     const SeriesMapping& mapping, MappingNotes* notes);

}  // namespace obsmon::source
