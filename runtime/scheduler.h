// Runs every probe on its interval.
//
// - First runs are spread over the interval by a hash of the probe's identity, so 100 probes with
//   a 15s interval do not all fire at once (as Prometheus spreads scrapes).
// - A probe never has two runs at once: a run that comes due while the previous one is still
//   queued or running is skipped and counted (obsmon_probe_skipped_runs_total).
// - Runs execute on a worker pool; each probe honours its own deadline, so a hanging target only
//   holds one worker for at most its timeout and never delays another probe's dispatch.
// - Due times advance by whole intervals from the first due time (no drift); after a stall longer
//   than an interval (suspend, overload) the missed runs are counted as skipped, not run in a burst.
//
// Thread-safe. Time and waiting come from the injected Clock: tests call DispatchDue() with a
// FakeClock and zero workers, which runs probes inline, or Start() and advance the FakeClock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "probes/probe.h"

namespace obsmon {

struct ScheduledProbe {
  ProbeSpec spec;
  std::shared_ptr<Probe> probe;
  std::string fingerprint;  // equal fingerprints on SetProbes keep the schedule
};

struct SchedulerStats {
  uint64_t dispatched = 0;      // runs handed to workers, total
  uint64_t skipped = 0;         // runs not started because the previous one was still busy
  double last_lag_seconds = 0;  // how late the last run started after its due time
  double lag_seconds_sum = 0;
  uint64_t lag_count = 0;
  uint64_t queue_depth = 0;     // runs waiting for a worker now
  uint64_t busy_workers = 0;
};

class Scheduler {
 public:
  // Called on a worker thread for each run; `due_wall_ms` is the wall time the run was due.
  // Must be thread-safe across probes (never called twice at once for the same probe).
  using RunFn = std::function<void(const ScheduledProbe& probe, TimestampMs due_wall_ms)>;

  // `workers` == 0 runs probes inline inside DispatchDue() (for tests). `clock` outlives this.
  Scheduler(const Clock& clock, int workers, RunFn run);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the set of probes. A probe whose key and fingerprint are unchanged keeps its next
  // due time; new or changed probes start at their spread offset from now. A changed probe's new
  // instance does not start while the old instance's run is still queued or running (a probe
  // never runs twice at once, across a reload too).
  void SetProbes(std::vector<ScheduledProbe> probes);

  // Dispatches every run due at or before now; returns the steady time of the next due run
  // (or now + 1s when there are no probes).
  SteadyTime DispatchDue();

  // Starts the dispatch thread and workers. The dispatcher waits on the injected clock (with a
  // FakeClock it runs when the test advances time past a due run). Stop() waits for running
  // probes to end.
  void Start();
  void Stop();

  SchedulerStats Stats() const;

  // The offset of a probe's first run within its interval (exposed for tests).
  static int64_t SpreadOffsetMs(const ProbeKey& key, int64_t interval_ms);

 private:
  struct Entry {
    ScheduledProbe probe;
    SteadyTime next_due;
    bool busy = false;  // queued or running
    // The entry this one replaced (same key, other settings) while it was busy: this one waits
    // until it is idle. Cleared once it is.
    std::shared_ptr<Entry> predecessor;
  };
  struct Task {
    std::shared_ptr<Entry> entry;
    SteadyTime due;
  };

  void WorkerLoop();
  void Execute(const Task& task);

  const Clock& clock_;
  const int workers_;
  RunFn run_;

  mutable Mutex mu_;
  std::condition_variable wake_dispatcher_;  // probes changed or stopping
  std::condition_variable wake_workers_;     // tasks queued or stopping
  std::map<ProbeKey, std::shared_ptr<Entry>> entries_ GUARDED_BY(mu_);
  std::deque<Task> queue_ GUARDED_BY(mu_);
  SchedulerStats stats_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool probes_changed_ GUARDED_BY(mu_) = false;  // since the dispatcher last looked

  std::thread dispatcher_;
  std::vector<std::thread> threads_;
};

}  // namespace obsmon
