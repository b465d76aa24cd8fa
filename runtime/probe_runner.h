// Runs one probe once and hands the stamped, labelled outcome to every sink. The shared work of
// every probe kind happens here once: timing, deadline, the probe_success / probe_duration_seconds
// / up samples. An exception thrown by a probe is obsmon's bug, not the component's failure: the
// run is not recorded anywhere (that time stays *unknown*) and the `on_internal_error` hook hears
// of it (the daemon counts it, logs it and has the probe re-read its state).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/cancellation.h"
#include "core/clock.h"
#include "core/mutex.h"
#include "core/run_outcome.h"
#include "runtime/scheduler.h"

namespace obsmon {

// The instance and label sets of a probe's own series, made once per ScheduledProbe: building
// them on every run (an instance text, a copy of the probe's labels with three more set, the up
// series' labels) was about 3 % of a worker's CPU at 1,000 probes.
struct ProbeRunLabels {
  std::string instance;
  Labels labels;                   // of probe_success and probe_duration_seconds
  std::optional<Labels> up;        // of `up`, when the probe has one (never for a scrape)
};

class ProbeRunner {
 public:
  // `sinks` are not owned and must outlive the runner. `coverage_tolerance` scales the interval
  // into each run's valid_for_ms.
  using InternalErrorFn = std::function<void(const ProbeKey& key, const std::string& what)>;
  ProbeRunner(const Clock& clock, double coverage_tolerance, std::vector<ResultSink*> sinks,
              InternalErrorFn on_internal_error = nullptr)
      : clock_(clock),
        tolerance_(coverage_tolerance),
        sinks_(std::move(sinks)),
        on_internal_error_(std::move(on_internal_error)) {}

  // Thread-safe (the sinks are). `due_wall_ms` is unused for stamping: a run is stamped with the
  // wall time it actually started, so lag never shifts evidence in time. `state_epoch` goes into
  // the outcome (RunOutcome::state_epoch).
  void Run(const ScheduledProbe& probe, TimestampMs due_wall_ms, uint64_t state_epoch = 0);

  // The outcome of one run without delivering it (tests, `obsmon probe`).
  RunOutcome Execute(const ScheduledProbe& probe, ProbeResult* result_storage);

  // One run of a batch: a Startable() probe (probes/probe.h) and its state epoch.
  struct BatchRun {
    const ScheduledProbe* probe;
    uint64_t state_epoch = 0;
  };
  // Runs `runs` at once on the calling thread: starts each (its timing and deadline start
  // there, as Run()'s do at the probe's Run()), polls their sockets together, and delivers each
  // outcome to the sinks as soon as that run ends, then calls finished(i) for it. A run's
  // duration is its own, from its start to its end, not the batch's. The socket of a run that
  // expects its answer (PendingRun::ExpectedAnswer()) is left alone until that answer is due
  // (at most 5 ms from the batch's start, never past a deadline), and one wake-up reads every
  // answer already there. At most batch_in_flight_per_server() runs to one server
  // (Probe::Server()) are in flight at once: the others start, in the batch's order, as those
  // end, and each at the latest kMaxBatchQueueing after the batch's start. Thread-safe as Run().
  void RunBatch(const std::vector<BatchRun>& runs, const std::function<void(size_t)>& finished);

  // How many of a batch's runs to one server may be in flight at once; 0: no limit. Set before
  // the first batch (config `batch_in_flight_per_server`).
  void set_batch_in_flight_per_server(size_t n) { in_flight_per_server_ = n; }
  size_t batch_in_flight_per_server() const { return in_flight_per_server_; }
  // The longest a batch's run waits for a free place among its server's runs: a server that
  // answers slowly (or not at all) then gets the rest of the batch at once, as without a limit,
  // rather than holding runs back past their time.
  static constexpr std::chrono::milliseconds kMaxBatchQueueing{10};

  // The start (wall ms) of the earliest run that has not yet handed its outcome to the sinks;
  // max() when none runs. A run's samples are stamped with its start but reach the writer only
  // when it ends, so remote_write's senders end each window here at the latest: a run longer
  // than their settle delay (a slow target under a long timeout, an explicit short
  // `settle_delay`, a reload that shortened the timeouts) is sent when it ends instead of
  // falling behind the cursor. Read it before the writer's UncommittedSamplesFrom(): a run's
  // outcome reaches the writer before the run leaves this set, so none is missed between the two.
  TimestampMs EarliestRunningStart() const;

  // For shutdown: every run in flight is abandoned at once (each probe's Deadline expires and
  // the polls waiting for it wake: core/cancellation.h), and from now on no outcome reaches the
  // sinks, but for a run whose deadline came before the stop (a genuine timeout, ending in its
  // kill grace). An abandoned run is not a failure of its target: nothing is recorded, so
  // that time stays *unknown*, as for the time obsmon is not running. Without it a SIGTERM
  // waited for each run in flight to end by itself, up to its timeout. Irreversible;
  // thread-safe.
  void Cancel();
  // A stop on its way that Cancel() has not been told of yet: the daemon's SIGTERM, still
  // pending while the signal thread wakes (or finishes a reload). A run that ends meanwhile
  // short of its timeout is abandoned too: under a supervisor that signals the whole process
  // tree (systemd's default KillMode), an exec command dies of the same SIGTERM a moment before
  // obsmon stops, and was stored as a down (or as up, by a command whose trap exits 0). Asked
  // of failed runs and of exec runs only (it may be a system call; the http runs of a busy
  // daemon are not affected by a signal to its tree). Set before runs.
  void SetStopPending(std::function<bool()> pending) { stop_pending_ = std::move(pending); }
  // Runs that ended after Cancel() short of their timeouts, and were not delivered.
  uint64_t AbandonedRuns() const { return abandoned_runs_.load(std::memory_order_relaxed); }
  // Returns once every delivery to the sinks that began before the call has ended: a sink that
  // changes what it keeps (the rules' head selecting a new metric) and then reads the rest back
  // from storage needs each run that reached it before the change to have reached storage too
  // (the storage sink comes last). One caller at a time.
  void AwaitDeliveriesUnderWay();

 private:
  // A run started at `at` is running while its mark lives (EarliestRunningStart()); the mark
  // goes even when a sink throws, or it would hold remote_write's windows for good.
  class RunningMark {
   public:
    RunningMark(ProbeRunner& runner, TimestampMs at);
    ~RunningMark();
    RunningMark(const RunningMark&) = delete;
    RunningMark& operator=(const RunningMark&) = delete;

   private:
    ProbeRunner& runner_;
    const TimestampMs at_;
  };

  // The outcome of a run that started at `started_ms` / `start` and produced *result (or threw
  // `internal_error`, when not empty).
  RunOutcome Finish(const ScheduledProbe& probe, ProbeResult* result, TimestampMs started_ms,
                    SteadyTime start, std::string internal_error);
  // Hands an outcome to the sinks, or to on_internal_error_ when the probe threw.
  void Deliver(const ScheduledProbe& probe, RunOutcome& outcome, uint64_t state_epoch);

  const Clock& clock_;
  const double tolerance_;
  size_t in_flight_per_server_ = 4;
  std::vector<ResultSink*> sinks_;
  InternalErrorFn on_internal_error_;
  Cancellation cancellation_;
  std::function<bool()> stop_pending_;
  // Steady nanoseconds at Cancel(), or never: a run whose deadline came before it had lasted its
  // timeout before the stop (a genuine timeout), one whose deadline came after was cut short.
  static constexpr int64_t kNeverCancelled = std::numeric_limits<int64_t>::max();
  std::atomic<int64_t> cancelled_at_ns_{kNeverCancelled};
  std::atomic<uint64_t> abandoned_runs_{0};
  // Deliveries under way, counted by the parity of the generation they began in; the waiter
  // flips the generation and waits for the old one's count to reach 0.
  Mutex delivery_mu_;
  std::condition_variable delivery_done_;
  uint64_t delivery_generation_ GUARDED_BY(delivery_mu_) = 0;
  size_t deliveries_[2] GUARDED_BY(delivery_mu_) = {0, 0};
  Mutex await_mu_;  // one AwaitDeliveriesUnderWay at a time
  mutable Mutex running_mu_;
  // One entry per running run (a few per worker at most: a batch's runs).
  std::vector<TimestampMs> running_starts_ GUARDED_BY(running_mu_);
};

// The labels every sample of a probe carries: the spec's labels plus component, probe, instance.
Labels ProbeLabels(const ProbeSpec& spec, const std::string& instance);

}  // namespace obsmon
