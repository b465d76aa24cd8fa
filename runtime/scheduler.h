// Runs every probe on its interval.
//
// - First runs are spread over the interval by a hash of the probe's identity, so 100 probes with
//   a 15s interval do not all fire at once (as Prometheus spreads scrapes). The hash gives each
//   probe a place in its interval counted from the scheduler's first probes, not from the
//   moment it was (re)configured, as Prometheus places a target's scrapes: a probe that every
//   reload changes runs at that place whatever the reloads' rhythm, and never twice for one
//   due time. (Counted from each reload, a 30 s probe reloaded every
//   8 s never ran, or ran 0.5 s after each reload: fresh eyes, stop 70.)
// - A probe never has two runs at once: a run that comes due while the previous one is still
//   busy starts as soon as that one ends, as in Prometheus's scrape loop (a run timed out at a
//   timeout equal to its interval ends a moment after the next due time); if that one has not
//   ended by the next due time, the waiting run is skipped and counted
//   (obsmon_scheduler_skipped_runs_total).
// - Runs execute on a worker pool; each probe honours its own deadline, so a hanging target only
//   holds one worker for at most its timeout and never delays another probe's run while another
//   worker is free.
// - Due times advance by whole intervals from the first due time (no drift); after a stall longer
//   than an interval (suspend, overload) the missed runs are counted as skipped, not run in a burst.
//
// The workers keep the time themselves: each idle worker claims the earliest due run nobody has
// claimed, waits on the clock until it is due and runs it, so a run costs one wake-up of one
// thread. (A dispatcher thread that woke for each due run and handed it to a worker cost two, and
// on this project's virtual machine a wake-up costs more than the HTTP probe itself:
// docs/benchmarks.md, "Probing".) A worker that starts a run while a run is unclaimed and a
// worker is idle without a claim wakes that worker, so that time is kept while it runs. When
// every worker is busy, nobody waits for the next due time: the first worker to be free takes it
// then, late (and runs it if it is less than an interval late; the runs missed entirely are
// counted as skipped), as the dispatcher's queue used to hold it until a worker was free.
//
// Batches (Batching below, `batch_window` in the config): a worker that takes a due run of a
// Startable() probe (probe.h) also takes the other Startable runs due within the window after
// now, and drives them all on its one thread (BatchRunFn): on this project's virtual machine
// one wake-up per run costs ~300 µs of CPU whatever the run does, several runs per wake-up
// ~100 µs each (docs/benchmarks.md, "Probing"). A run taken early keeps its probe's nominal
// schedule (the next due time is the taken one plus the interval, as if it had started on
// time), so a probe's runs start at most `window` before their due time and never drift. A
// worker waiting for a Startable run covers the window after it: the other idle workers claim
// runs past it, so that the runs inside it are one worker's batch, not a wake-up each. Each run
// of a batch has its own deadline and ends on its own (`finished`), so a hanging target holds
// only its own run and its own probe; the worker is busy until the batch's last run ends. The
// batch reads the answers it expects together too (ProbeRunner::RunBatch).
//
// Extra worker threads (a silent target holds its run's worker up to its timeout, a slow exec
// command for as long as it runs): when every worker thread is busy and a run has waited
// kLateAfter, a timekeeper thread starts another worker thread for it, kMaxExtraWorkers at most
// beyond `workers`; a thread beyond `workers` ends when it finishes a run while no run waits and
// no thread was started for kExtraWorkerLinger. Without them, a few silent targets spread over
// many batches held every worker for their timeout, and the other probes' runs started late by
// up to that timeout, or were skipped (docs/configuration.md, `workers`). The timekeeper sleeps
// while any worker thread is idle, and looks every kPollWhileBusy at most while none is.
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
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "probes/probe.h"

namespace obsmon {

// What every run of one probe labels alike (ProbeRunner::Finish).
struct ProbeRunLabels;

struct ScheduledProbe {
  ProbeSpec spec;
  std::shared_ptr<Probe> probe;
  std::string fingerprint;  // equal fingerprints on SetProbes keep the schedule
  // Made by the probe's first run from `spec` and `probe`, which never change in a
  // ScheduledProbe, and read by its later runs: the scheduler runs a probe once at a time.
  mutable std::shared_ptr<const ProbeRunLabels> run_labels;
};

struct SchedulerStats {
  uint64_t dispatched = 0;      // runs handed to workers, total
  uint64_t skipped = 0;         // runs not started because the previous one was still busy
  double last_lag_seconds = 0;  // how late the last run started after its due time
  double lag_seconds_sum = 0;
  uint64_t lag_count = 0;
  uint64_t queue_depth = 0;     // runs due and not started yet, now
  uint64_t busy_workers = 0;
  uint64_t worker_threads = 0;         // now: `workers`, plus the extra ones
  uint64_t extra_workers_started = 0;  // threads started beyond `workers`, total
};

class Scheduler {
 public:
  // Called on a worker thread for each run; `due_wall_ms` is the wall time the run was due.
  // Must be thread-safe across probes (never called twice at once for the same probe).
  using RunFn = std::function<void(const ScheduledProbe& probe, TimestampMs due_wall_ms)>;

  // One run of a batch: the probe and the wall time it was due (later than now for a run
  // taken early).
  struct BatchItem {
    const ScheduledProbe* probe;
    TimestampMs due_wall_ms;
  };
  // Runs the items (two or more, each of a Startable() probe) on the calling worker thread and
  // calls finished(i) as soon as item i has ended (once per item; those it never calls end when
  // it returns). Same thread-safety as RunFn.
  using BatchRunFn = std::function<void(const std::vector<BatchItem>& items,
                                        const std::function<void(size_t)>& finished)>;
  struct Batching {
    std::chrono::milliseconds window{0};  // 0: one run per wake-up
    size_t max_runs = 64;                 // at most this many runs in one batch
    BatchRunFn run;                       // required when window > 0
  };

  // `workers` == 0 runs probes inline inside DispatchDue() (for tests; no batches). `clock`
  // outlives this.
  Scheduler(const Clock& clock, int workers, RunFn run);
  Scheduler(const Clock& clock, int workers, RunFn run, Batching batching);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the set of probes. A probe whose key and fingerprint are unchanged keeps its next
  // due time; new or changed probes start at their place in the interval (PlaceInInterval),
  // within one interval from now, after the old instance's last due time. A changed probe's new
  // instance does not start while the old instance's run is still queued or running (a probe
  // never runs twice at once, across a reload too).
  void SetProbes(std::vector<ScheduledProbe> probes);

  // Dispatches every run due at or before now; returns the steady time of the next due run
  // (or now + 1s when there are no probes).
  SteadyTime DispatchDue();

  // Starts the workers (with zero workers, one thread that dispatches and runs probes inline).
  // They wait on the injected clock (with a FakeClock they run when the test advances time past
  // a due run). Stop() waits for running probes to end.
  void Start();
  void Stop();

  SchedulerStats Stats() const;

  // A run due this long with every worker thread busy gets a thread of its own (a healthy run
  // lasts a millisecond or so, and a thread costs ~100 µs to start).
  static constexpr std::chrono::milliseconds kLateAfter{10};
  // While every thread is busy, the timekeeper looks at least this often.
  static constexpr std::chrono::milliseconds kPollWhileBusy{100};
  // At most this many worker threads beyond `workers`: each costs a stack (fresh eyes: RSS
  // 19-22 MB with 72 threads), and past them a run waits for a thread and starts late
  // (obsmon_scheduler_lag_seconds, the deploy/ rules' late and skipped alerts).
  static constexpr int kMaxExtraWorkers = 256;
  // An extra thread ends only when none was started for this long.
  static constexpr std::chrono::seconds kExtraWorkerLinger{60};

  // The offset of a probe's first run within its interval (exposed for tests).
  static int64_t SpreadOffsetMs(const ProbeKey& key, int64_t interval_ms);
  // The first instant at or after `from` that is the probe's spread offset after `anchor`
  // modulo its interval.
  static SteadyTime PlaceInInterval(SteadyTime from, SteadyTime anchor, const ProbeKey& key,
                                    int64_t interval_ms);

 private:
  struct Entry;
  using DueIndex = std::multimap<SteadyTime, std::shared_ptr<Entry>>;
  struct Entry {
    ScheduledProbe probe;
    SteadyTime next_due;
    bool startable = false;  // probe->Startable(), read once
    bool busy = false;   // queued or running
    // entries_ holds this one under its key (a reload has not replaced or removed it): a run's
    // end then needs no lookup by key (a std::map of strings, 1 % of the workers' CPU).
    bool current = false;
    // A run that came due while busy: it starts when the running one ends (RunEnded), or is
    // skipped when that is at or after the next due time.
    std::optional<SteadyTime> waiting_due;
    int claimant = -1;   // the worker waiting for next_due to take it; -1: nobody
    // The entry this one replaced (same key, other settings) while it was busy: this one waits
    // until it is idle. Cleared once it is.
    std::shared_ptr<Entry> predecessor;
  };
  struct Task {
    std::shared_ptr<Entry> entry;
    SteadyTime due;
  };

  void WorkerLoop(int worker);
  void Execute(const Task& task);
  // Runs a batch (two or more tasks) through batching_.run.
  void ExecuteBatch(std::vector<Task>& batch);
  // Adds to `batch` (whose first task is a Startable run just taken) the unclaimed Startable
  // runs due within the window after now that can start.
  void GatherBatch(std::vector<Task>& batch) REQUIRES(mu_);
  // The entry's due time has come (`now`): counts the runs missed entirely, moves next_due on by
  // whole intervals and files the entry under it again (`at` is its place in by_due_). Returns
  // the run to start, or nullopt when the previous run (or the instance it replaced) is still
  // busy: that run is skipped.
  std::optional<Task> TakeDue(DueIndex::iterator at, SteadyTime now) REQUIRES(mu_);
  // Waits (worker `worker`) for the due time of `claim`, the earliest unclaimed entry, and takes
  // it. nullopt when there is nothing to run: skipped, or the claim was voided or became moot
  // meanwhile (the worker looks again).
  std::optional<Task> WaitForClaim(int worker, std::shared_ptr<Entry> claim, MutexLock& lock)
      REQUIRES(mu_);
  // Before a worker starts a run: makes sure the earliest unclaimed due time has an idle worker
  // waiting for it. Nothing to do when the idle workers already hold the earliest claims (as
  // many probes as workers or more on one interval), which keeps a run at one wake-up; else it
  // wakes a worker without a claim, or voids one idle worker's later claim so that it looks
  // again (probes of different intervals).
  void KeepTime() REQUIRES(mu_);
  // Ends the claim on `entry` (if any) and wakes the worker that held it.
  void Unclaim(Entry& entry) REQUIRES(mu_);
  // `worker` holds `entry` / holds it no more (claimant and claimed_ kept together).
  void Claim(Entry& entry, int worker) REQUIRES(mu_);
  void DropClaim(Entry& entry) REQUIRES(mu_);
  // Whether `entry` comes before `place` in by_due_ (end(): every entry does).
  bool FiledBefore(const Entry& entry, DueIndex::iterator place) REQUIRES(mu_);
  // Where `entry` is filed in by_due_.
  DueIndex::iterator FindFiled(const Entry& entry) REQUIRES(mu_);
  // The earliest entry no worker has claimed and no claim's batch window covers, or
  // by_due_.end().
  DueIndex::iterator FirstUnclaimed() REQUIRES(mu_);
  // Wakes every worker, claim or none (probes changed, a task queued, stopping), and the
  // timekeeper.
  void WakeAllWorkers() REQUIRES(mu_);
  // Starts one more worker thread (in the place of one that ended, if any).
  void StartWorker() REQUIRES(mu_);
  // Queues the run of `entry` that came due while it (or the instance it replaced) was busy,
  // unless its next due time has come meanwhile (skipped).
  void StartWaiting(const std::shared_ptr<Entry>& entry) REQUIRES(mu_);
  // The run of `entry` has ended: it is free, and the run that came due meanwhile is queued.
  void RunEnded(const std::shared_ptr<Entry>& entry) REQUIRES(mu_);
  // The due time of the earliest run that could start now and waits for a thread (queued, or
  // due and not busy), if any.
  std::optional<SteadyTime> EarliestWaiting(SteadyTime now) const REQUIRES(mu_);
  // While every worker thread is busy: starts another for a run left waiting kLateAfter.
  void TimekeeperLoop();

  const Clock& clock_;
  const int workers_;
  RunFn run_;
  const Batching batching_;

  mutable Mutex mu_;
  std::condition_variable wake_dispatcher_;  // probes changed or stopping (zero workers)
  // One per worker, waited on while it holds a claim: claim voided, task queued, stopping.
  // Per worker so that voiding one claim wakes one thread.
  std::vector<std::unique_ptr<std::condition_variable>> worker_wake_ GUARDED_BY(mu_);
  // Workers idle without a claim: a run to claim, a task queued, probes changed, or stopping.
  std::condition_variable wake_idle_;
  std::map<ProbeKey, std::shared_ptr<Entry>> entries_ GUARDED_BY(mu_);
  // The entries of entries_ by next due time (ties in key order), so that a dispatch touches
  // only the runs it starts: walking every entry on each wake-up cost 13 % of the daemon's CPU
  // at 1,000 probes (docs/benchmarks.md, "Probing"). An entry is taken out before its next_due
  // changes and put back after.
  DueIndex by_due_ GUARDED_BY(mu_);
  std::deque<Task> queue_ GUARDED_BY(mu_);
  SchedulerStats stats_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool probes_changed_ GUARDED_BY(mu_) = false;  // since the dispatcher last looked
  int idle_unclaimed_workers_ GUARDED_BY(mu_) = 0;  // workers waiting with nothing claimed
  // The entries claimed now (one per worker waiting for its claim's due time at most), and the
  // due times of the entries that are not Startable: what FirstUnclaimed needs to jump over
  // the runs claims cover instead of walking them (runtime/due_walk.h).
  std::vector<Entry*> claimed_ GUARDED_BY(mu_);
  std::multiset<SteadyTime> unstartable_due_ GUARDED_BY(mu_);
  bool started_ GUARDED_BY(mu_) = false;
  std::vector<int> ended_workers_ GUARDED_BY(mu_);  // indexes of extra threads that ended
  int alive_workers_ GUARDED_BY(mu_) = 0;
  SteadyTime last_worker_started_ GUARDED_BY(mu_);  // an extra one
  // The first SetProbes' time: each probe's place in its interval is its spread offset from
  // it, so the first runs come at their offsets from the start and a reload keeps the places.
  std::optional<SteadyTime> anchor_ GUARDED_BY(mu_);
  int busy_threads_ GUARDED_BY(mu_) = 0;
  bool timekeeper_recheck_ GUARDED_BY(mu_) = false;  // probes changed or stopping
  std::condition_variable wake_timekeeper_;
  std::thread timekeeper_;

  std::thread dispatcher_;
  // By worker index; grown (StartWorker) only under mu_ by the timekeeper, which Stop() joins
  // before these.
  std::vector<std::thread> threads_;
};

}  // namespace obsmon
