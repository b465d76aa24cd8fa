// The Probe seam: one small interface, one final class per kind (probes/<kind>_probe.{h,cc}),
// chosen from the table in probe_registry.cc by the config's `kind`.
//
// A probe never throws for a failed check: a down target is a ProbeResult with a reason a human
// understands ("timeout after 2s", "connection refused", "status 503", "body did not match",
// "exit 1: <last line>"). Timing, the probe_success / probe_duration_seconds samples, timestamps
// and outcome counters are done once by the caller (runtime/probe_runner), not by each probe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/probe_records.h"
#include "core/probe_state_source.h"
#include "core/records.h"

namespace obsmon {

// A run one thread drives with poll() beside others (the scheduler's batches, runtime/
// scheduler.h): started by Probe::Start(), it waits on one socket at a time. Its caller owns
// the deadline: it calls OnDeadline() when the deadline passes, and the run ends at once.
// Not thread-safe: one thread drives a run. It may refer to its probe, which outlives it.
class PendingRun {
 public:
  virtual ~PendingRun() = default;
  // The socket to wait on and the poll() events that move the run on; -1 once done.
  virtual int fd() const = 0;
  virtual short events() const = 0;
  // poll() reported `revents` on fd(): goes on as far as it can without waiting.
  virtual void OnReady(short revents) = 0;
  // The deadline passed: the run ends, timed out.
  virtual void OnDeadline() = 0;
  virtual bool done() const = 0;
  // The run's result, once done(); called once.
  virtual ProbeResult TakeResult() = 0;
  // How long after its start the run's answer is expected, when reading the answer later than
  // it arrives changes none of the run's figures (the kernel times its arrival, and it is small
  // enough to wait whole in the socket's buffer without holding up the sender). The caller may
  // then leave the socket alone until then and read the answers of a batch in one wake-up.
  // nullopt: read it as soon as it is readable. It may turn nullopt while the run goes on (the
  // caller asks again before each wait), never the other way.
  virtual std::optional<std::chrono::nanoseconds> ExpectedAnswer() const { return std::nullopt; }
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

  // True when Start() gives a PendingRun: the probe's runs can share a thread with others
  // (constant for the probe's life).
  virtual bool Startable() const { return false; }
  // Starts a run driven by the caller (Startable() probes only; others return nullptr). Same
  // promises as Run(): never two runs of one probe at once, a failed check is the result.
  virtual std::unique_ptr<PendingRun> Start() { return nullptr; }
  // The server a started run talks to ("address:port"), so that a batch keeps only a few of
  // its requests to one server in flight at once (ProbeRunner::RunBatch); empty: unknown, no
  // limit. Constant for the probe's life.
  virtual std::string_view Server() const { return {}; }

  // Called before the first Run() with what storage remembers of this probe, and again whenever
  // storage lost a batch carrying its state (log lines, cursors, counters) after accepting it,
  // or it threw: the probe must then hold what storage remembers and nothing it read since, as
  // after a start, so that what it reads again counts once.
  virtual void Restore(ProbeStateSource& state) {}
};

}  // namespace obsmon
