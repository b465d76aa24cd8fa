// Where a finished probe run goes: storage, the current-state view, /metrics, the rules' series
// store. cmd/obsmon/main wires the concrete sinks; the runner knows only this interface.
#pragma once

#include <vector>

#include "core/records.h"
#include "core/probe_records.h"

namespace obsmon {

// Everything one run produced, already stamped and labelled by the runner.
struct RunOutcome {
  const ProbeSpec* spec = nullptr;  // valid for the duration of OnRun
  std::string instance;
  ProbeRun run;
  // probe_success, probe_duration_seconds, up (health probes) and the probe's own samples.
  std::vector<Sample> samples;
  const ProbeResult* result = nullptr;  // the probe's raw result (log events, cursors, detail)
  // The epoch at which the probe's in-memory state was last read from storage (WriteBatch::
  // state_epoch); 0 when the caller does not fence.
  uint64_t state_epoch = 0;
  // Non-empty when the probe threw: obsmon's own bug, not a verdict on the component. Such a
  // run reaches no sink (its time stays *unknown*); ProbeRunner::Run reports it instead.
  std::string internal_error;
  // The run's deadline came before obsmon began to stop (or before it ended, when obsmon is not
  // stopping): its verdict stands even when it ended after the stop began (a genuine timeout in
  // its kill grace), where a run cut short by the stop does not (ProbeRunner::Cancel).
  bool lasted_its_timeout = false;
  // Its answer had arrived before obsmon began to stop, by the kernel's timestamp: the run was
  // over, only not read yet (a batch reads the answers it expects together), so its verdict
  // stands too.
  bool answered_before_stop = false;
  // obsmon had begun to stop when the run's result was taken (ProbeRunner::Finish read the stop
  // time). Read once, there: a stop that begins between the result and its delivery did not cut
  // the run short (CI: a batch's answer read at 5 ms, as another thread stopped, was dropped).
  bool ended_after_stop = false;
};

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // Called on a worker thread; must be thread-safe and must not block for long.
  virtual void OnRun(const RunOutcome& outcome) = 0;
  // Called instead of OnRun() on a runner's last sink, after every other sink has read the
  // outcome: it may move what it keeps out of `outcome` rather than copy it (the storage sink
  // takes the samples: copying their label sets was 3 % of a worker's CPU at 1,000 probes).
  virtual void TakeRun(RunOutcome& outcome) { OnRun(outcome); }
};

}  // namespace obsmon
