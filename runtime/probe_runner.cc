#include "runtime/probe_runner.h"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <optional>

#include "core/up_series.h"
#include "probes/log_text.h"
#include "probes/probe_helpers.h"

namespace obsmon {

namespace {
constexpr size_t kMaxReasonBytes = 4096;
// The longest after a batch's start that it leaves an answer unread to read it with others. An
// answer larger than its probe's last one stalls its sender while unread (its last bytes wait
// for the reader), so this bounds how much too long such a run can be stored: at 50 ms, fresh
// eyes found 1 MiB answers stored 15-20 ms too long at the median (31.2 ms against 11.3 without
// batches), and runs made timeouts. The answers of a batch to a nearby target come within a
// few milliseconds.
constexpr auto kMaxGather = std::chrono::milliseconds(5);

// What a probe threw, in words; "" when `fn` returned.
template <typename Fn>
std::string Guarded(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    // Probes must not throw; if one does, it is obsmon's bug: not a crash, and not a down run
    // charged to the component's uptime either.
    std::string what = e.what();
    return what.empty() ? "exception without a message" : what;
  } catch (...) {
    return "unknown exception";
  }
  return "";
}

}  // namespace

Labels ProbeLabels(const ProbeSpec& spec, const std::string& instance) {
  Labels labels = spec.labels;
  labels.Set("component", spec.key.component);
  labels.Set("probe", spec.key.probe);
  labels.Set("instance", instance);
  return labels;
}

RunOutcome ProbeRunner::Execute(const ScheduledProbe& probe, ProbeResult* result) {
  const TimestampMs started_ms = clock_.NowMs();
  const SteadyTime start = clock_.SteadyNow();
  const Deadline deadline{start + std::chrono::milliseconds(probe.spec.timeout_ms),
                         &cancellation_};
  std::string error = Guarded([&] { *result = probe.probe->Run(deadline); });
  return Finish(probe, result, started_ms, start, std::move(error));
}

RunOutcome ProbeRunner::Finish(const ScheduledProbe& probe, ProbeResult* result,
                               TimestampMs started_ms, SteadyTime start,
                               std::string internal_error) {
  const ProbeSpec& spec = probe.spec;
  if (!probe.run_labels) {
    auto made = std::make_shared<ProbeRunLabels>();
    made->instance = probe.probe->Instance();
    made->labels = ProbeLabels(spec, made->instance);
    // A scrape reports its own `up{job,instance}` among its samples, as Prometheus's does: a
    // second one here would make every `up == 0` alert fire twice per target (issue 14, item 5).
    if (spec.kind != "scrape") made->up = UpSeriesLabels(spec, made->instance);
    probe.run_labels = std::move(made);
  }
  const ProbeRunLabels& own = *probe.run_labels;
  RunOutcome out;
  out.spec = &spec;
  out.instance = own.instance;
  out.internal_error = std::move(internal_error);
  if (!out.internal_error.empty()) {
    *result = ProbeResult::Down("internal error: " + out.internal_error);
  }
  // A reason may quote what a target sent (an exec probe's output, a tcp banner): stored and
  // shown as log lines are, NUL and invalid UTF-8 as \xNN and backslashes doubled, at most
  // 4 KiB, or sqlite3 cut it at a NUL and reports printed raw bytes (fresh eyes, issue 13).
  if (!result->reason.empty()) result->reason = probes::CleanLine(result->reason, kMaxReasonBytes);
  // Up to the answer's arrival when the kernel timed it (a reader that woke late does not
  // lengthen the latency), never below 0.
  const auto elapsed = clock_.SteadyNow() - start;
  const auto waited = std::clamp<SteadyTime::duration>(
      std::chrono::duration_cast<SteadyTime::duration>(result->answer_waited),
      SteadyTime::duration::zero(), elapsed);
  const double seconds = std::chrono::duration<double>(elapsed - waited).count();
  const auto timeout = std::chrono::milliseconds(spec.timeout_ms);
  // An answer that arrived after the deadline, by the kernel's timestamp, is a timeout, as it
  // is for a run that sees its deadline pass first: a batch's thread busy reading other runs'
  // answers may read it later (fresh eyes: 14 of 150 runs stored up in 60.3-70.9 ms under a
  // 60 ms timeout).
  if (waited > SteadyTime::duration::zero() && elapsed - waited > timeout &&
      out.internal_error.empty()) {
    *result = ProbeResult::Down(probes::TimeoutReason(spec.timeout_ms));
  }
  // Its deadline came before obsmon began to stop (or before now, when it has not): a stop
  // during the run's last moments makes it end in its kill grace, past its deadline, yet it
  // was cut short (fresh eyes: a SIGTERM 100 ms before a 1 s timeout was stored as a timeout).
  const int64_t cancelled_at = cancelled_at_ns_.load();
  const SteadyTime stop(std::chrono::duration_cast<SteadyTime::duration>(
      std::chrono::nanoseconds(cancelled_at)));
  out.lasted_its_timeout =
      cancelled_at == kNeverCancelled ? elapsed >= timeout : start + timeout <= stop;
  out.ended_after_stop = cancelled_at != kNeverCancelled;
  out.answered_before_stop = out.ended_after_stop &&
                             waited > SteadyTime::duration::zero() &&
                             start + (elapsed - waited) <= stop;

  out.result = result;
  out.run.key = spec.key;
  out.run.role = spec.role;
  out.run.ts_ms = started_ms;
  out.run.success = result->success;
  out.run.duration_seconds = seconds;
  out.run.valid_for_ms = static_cast<int64_t>(std::llround(spec.interval_ms * tolerance_));
  out.run.reason = result->success ? "" : result->reason;
  if (!result->success && out.run.reason.empty()) out.run.reason = "failed (no reason given)";

  out.samples.reserve(result->samples.size() + 3);
  out.samples.push_back({"probe_success", own.labels, started_ms, result->success ? 1.0 : 0.0});
  out.samples.push_back({"probe_duration_seconds", own.labels, started_ms, seconds});
  if (own.up) out.samples.push_back({"up", *own.up, started_ms, result->success ? 1.0 : 0.0});
  // Moved, not copied: a scrape may bring tens of thousands of samples, and the sinks read
  // them from the outcome only.
  for (Sample& s : result->samples) {
    out.samples.push_back(std::move(s));
    if (out.samples.back().ts_ms == 0) out.samples.back().ts_ms = started_ms;
  }
  result->samples.clear();
  return out;
}

void ProbeRunner::Cancel() {
  // The time first: a run that sees the cancellation must find it when it finishes.
  int64_t never = kNeverCancelled;
  cancelled_at_ns_.compare_exchange_strong(
      never, std::chrono::duration_cast<std::chrono::nanoseconds>(
                 clock_.SteadyNow().time_since_epoch())
                 .count());
  cancellation_.Cancel();
}

void ProbeRunner::Deliver(const ScheduledProbe& probe, RunOutcome& outcome,
                          uint64_t state_epoch) {
  const bool stopping =
      outcome.ended_after_stop ||
      ((!outcome.run.success || outcome.spec->kind == "exec") && stop_pending_ != nullptr &&
       stop_pending_());
  if (stopping && !outcome.lasted_its_timeout && !outcome.answered_before_stop) {
    abandoned_runs_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!outcome.internal_error.empty()) {
    if (on_internal_error_) on_internal_error_(probe.spec.key, outcome.internal_error);
    return;
  }
  outcome.state_epoch = state_epoch;
  if (sinks_.empty()) return;
  size_t parity = 0;
  {
    MutexLock lock(delivery_mu_);
    parity = delivery_generation_ & 1;
    ++deliveries_[parity];
  }
  // Ended however the sinks return (one may throw).
  struct Ended {
    ProbeRunner& runner;
    size_t parity;
    ~Ended() {
      MutexLock lock(runner.delivery_mu_);
      if (--runner.deliveries_[parity] == 0) runner.delivery_done_.notify_all();
    }
  } ended{*this, parity};
  for (size_t i = 0; i + 1 < sinks_.size(); ++i) sinks_[i]->OnRun(outcome);
  sinks_.back()->TakeRun(outcome);  // last: it may take what it keeps from the outcome
}

void ProbeRunner::AwaitDeliveriesUnderWay() {
  MutexLock one(await_mu_);
  MutexLock lock(delivery_mu_);
  const size_t old = delivery_generation_ & 1;
  ++delivery_generation_;
  delivery_done_.wait(lock.native(), [&] {
    delivery_mu_.AssertHeld();  // the predicate runs with the lock held
    return deliveries_[old] == 0;
  });
}

ProbeRunner::RunningMark::RunningMark(ProbeRunner& runner, TimestampMs at)
    : runner_(runner), at_(at) {
  MutexLock lock(runner_.running_mu_);
  runner_.running_starts_.push_back(at_);
}

ProbeRunner::RunningMark::~RunningMark() {
  MutexLock lock(runner_.running_mu_);
  auto& starts = runner_.running_starts_;
  const auto at = std::find(starts.begin(), starts.end(), at_);
  if (at == starts.end()) return;
  *at = starts.back();
  starts.pop_back();
}

TimestampMs ProbeRunner::EarliestRunningStart() const {
  MutexLock lock(running_mu_);
  if (running_starts_.empty()) return std::numeric_limits<TimestampMs>::max();
  return *std::min_element(running_starts_.begin(), running_starts_.end());
}

void ProbeRunner::Run(const ScheduledProbe& probe, TimestampMs /*due_wall_ms*/,
                      uint64_t state_epoch) {
  // Marked before Execute() reads its own start, so the mark is never later than the samples.
  const RunningMark running(*this, clock_.NowMs());
  ProbeResult result;
  RunOutcome outcome = Execute(probe, &result);
  Deliver(probe, outcome, state_epoch);
}

void ProbeRunner::RunBatch(const std::vector<BatchRun>& runs,
                           const std::function<void(size_t)>& finished) {
  struct Live {
    std::unique_ptr<PendingRun> run;
    TimestampMs started_ms = 0;
    SteadyTime start;
    SteadyTime deadline;
    bool started = false;
    bool ended = false;
    size_t server = 0;  // in `servers` below
    // When its socket is first looked at: when its answer is due (below), or its start.
    SteadyTime read_at;
    std::optional<RunningMark> running;  // from its start until its outcome is delivered
  };
  const SteadyTime batch_start = clock_.SteadyNow();
  std::vector<Live> live(runs.size());
  size_t open = runs.size();
  // The batch's runs by server (Probe::Server()): a batch's requests to one server all sent at
  // once queue there, and each run's duration then holds the others' service time: against one
  // four-thread server, 64 runs at once were stored at 1.27 ms on average where the same
  // requests a few at a time took 0.15 ms (docs/benchmarks.md, "A few requests to a server at
  // once"). A run waits for a place among its server's runs in flight, kMaxBatchQueueing at most.
  struct Server {
    std::string_view name;  // empty: unknown, not limited
    size_t in_flight = 0;
    size_t waiting = 0;  // runs of the batch not started yet
  };
  std::vector<Server> servers;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string_view name = runs[i].probe->probe->Server();
    size_t k = 0;
    while (k < servers.size() && (name.empty() || servers[k].name != name)) ++k;
    if (k == servers.size()) servers.push_back({name});
    live[i].server = k;
    ++servers[k].waiting;
  }
  const SteadyTime queue_until = batch_start + kMaxBatchQueueing;
  const auto HasPlace = [&](size_t i) {
    const Server& s = servers[live[i].server];
    return in_flight_per_server_ == 0 || s.name.empty() || s.in_flight < in_flight_per_server_;
  };
  // Ends run i: its outcome to the sinks, then the scheduler hears it is free.
  const auto End = [&](size_t i, ProbeResult* result, std::string error) {
    RunOutcome outcome =
        Finish(*runs[i].probe, result, live[i].started_ms, live[i].start, std::move(error));
    Deliver(*runs[i].probe, outcome, runs[i].state_epoch);
    live[i].running.reset();
    live[i].run.reset();  // closes its socket
    live[i].ended = true;
    --servers[live[i].server].in_flight;
    --open;
    finished(i);
  };
  const auto TakeIfDone = [&](size_t i) {
    if (live[i].ended || !live[i].run || !live[i].run->done()) return;
    ProbeResult result;
    std::string error = Guarded([&] { result = live[i].run->TakeResult(); });
    End(i, &result, std::move(error));
  };
  // poll() reported `revents` on run i's socket: the run goes on, and ends if it is done.
  const auto Ready = [&](size_t i, short revents) {
    std::string error = Guarded([&] { live[i].run->OnReady(revents); });
    if (!error.empty()) {
      ProbeResult result;
      End(i, &result, std::move(error));
      return;
    }
    TakeIfDone(i);
  };
  // Looks at run i's socket once without waiting, and reads an answer already there; true when
  // that ended the run.
  const auto LookOnce = [&](size_t i) {
    const int fd = live[i].run->fd();
    if (fd < 0) return false;
    pollfd p{fd, live[i].run->events(), 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    Ready(i, p.revents);
    return live[i].ended;
  };
  // Answers read together: a run whose answer can be read late without changing its figures
  // (PendingRun::ExpectedAnswer()) has its socket left alone until its answer is due: when it
  // is expected, plus a quarter and 1 ms. The wake-up for one run's due time also reads every
  // held answer already there, so a batch whose answers come close together wakes once or
  // twice, not once per answer (on this project's virtual machine a wake-up costs more than a
  // run's own work: docs/benchmarks.md, "Answers read together"). A run is read at most 1 ms
  // after its own due time (below), never past kMaxGather from the batch's start nor past its
  // deadline (fresh eyes: read with a batch-mate due 45 ms later, a 1 MiB answer sent at once
  // was stored as 62 ms). An answer later than due is read as soon as it comes, and so is the
  // answer of a run whose server has runs of the batch waiting for its place.
  const auto SetReadAt = [&](Live& l) {
    l.read_at = l.start;
    const Server& s = servers[l.server];
    const bool others_need_its_place = in_flight_per_server_ > 0 && !s.name.empty() &&
                                       s.in_flight + s.waiting > in_flight_per_server_;
    if (l.ended || others_need_its_place) return;
    if (const auto expected = l.run->ExpectedAnswer()) {
      const auto due = l.start + std::chrono::duration_cast<SteadyTime::duration>(
                                     *expected + *expected / 4 + std::chrono::milliseconds(1));
      l.read_at = std::min({due, batch_start + kMaxGather, l.deadline});
    }
  };
  const auto Start = [&](size_t i) {
    const ScheduledProbe& probe = *runs[i].probe;
    live[i].started = true;
    --servers[live[i].server].waiting;
    ++servers[live[i].server].in_flight;
    live[i].started_ms = clock_.NowMs();
    live[i].running.emplace(*this, live[i].started_ms);
    live[i].start = clock_.SteadyNow();
    live[i].deadline = live[i].start + std::chrono::milliseconds(probe.spec.timeout_ms);
    std::string error = Guarded([&] { live[i].run = probe.probe->Start(); });
    if (!error.empty() || !live[i].run) {
      // Not startable after all (a bug): run it the ordinary way rather than lose the run.
      ProbeResult result;
      if (error.empty()) {
        error = Guarded(
            [&] { result = probe.probe->Run(Deadline{live[i].deadline, &cancellation_}); });
      }
      End(i, &result, std::move(error));
      return;
    }
    TakeIfDone(i);  // refused at once, say
    SetReadAt(live[i]);
  };
  // Starts, in the batch's order, each run not started yet whose server has a place for it, or
  // whose wait is over.
  const auto StartWaiting = [&](SteadyTime now) {
    const auto none_waits = [](const Server& s) { return s.waiting == 0; };
    if (std::all_of(servers.begin(), servers.end(), none_waits)) return;
    for (size_t i = 0; i < live.size(); ++i) {
      if (!live[i].started && (now >= queue_until || HasPlace(i))) Start(i);
    }
  };
  StartWaiting(batch_start);
  std::vector<size_t> held;  // runs left out of this round's poll()
  std::vector<pollfd> held_fds;
  held.reserve(runs.size());
  held_fds.reserve(runs.size());
  // Reads, without waiting, every held run whose answer is there.
  const auto ReadHeldAnswers = [&] {
    held_fds.clear();
    for (size_t i : held) {
      if (!live[i].ended) held_fds.push_back({live[i].run->fd(), POLLIN, 0});
    }
    if (::poll(held_fds.data(), held_fds.size(), 0) <= 0) return;
    size_t k = 0;
    for (size_t i : held) {
      if (live[i].ended) continue;
      const short revents = held_fds[k++].revents;
      if (revents != 0) Ready(i, revents);
    }
  };
  std::vector<pollfd> fds;
  std::vector<size_t> index;
  fds.reserve(runs.size() + 1);
  index.reserve(runs.size());
  while (open > 0) {
    if (cancellation_.cancelled()) {
      // Stopping: each run still open ends now, as at its deadline; Deliver() drops its outcome
      // unless that deadline had come before the stop (a genuine timeout, told as the probe
      // tells it). An answer already in its socket is read first: one that had arrived before
      // the stop is the run's (Finish(), answered_before_stop). A run not started yet does not
      // run: nothing of it is stored, as for a run due after the stop.
      for (size_t i = 0; i < live.size(); ++i) {
        if (!live[i].started) {
          live[i].started = live[i].ended = true;
          --open;
          finished(i);
          continue;
        }
        if (live[i].ended || LookOnce(i)) continue;
        live[i].run->OnDeadline();
        TakeIfDone(i);
        if (!live[i].ended) {
          ProbeResult result = ProbeResult::Down("deadline passed");
          End(i, &result, "");
        }
      }
      break;
    }
    StartWaiting(clock_.SteadyNow());
    fds.clear();
    index.clear();
    held.clear();
    SteadyTime next_deadline = SteadyTime::max();
    SteadyTime next_read = SteadyTime::max();
    bool waiting = false;
    const SteadyTime look = clock_.SteadyNow();
    for (size_t i = 0; i < live.size(); ++i) {
      if (live[i].ended) continue;
      if (!live[i].started) {
        waiting = true;
        continue;
      }
      next_deadline = std::min(next_deadline, live[i].deadline);
      if (live[i].run->fd() < 0) continue;
      // Asked again each round: a run whose kept connection was found closed goes on afresh,
      // and is read as its answer comes from then on (PendingRun::ExpectedAnswer()).
      if (look < live[i].read_at && live[i].run->events() == POLLIN &&
          live[i].run->ExpectedAnswer()) {
        held.push_back(i);
        next_read = std::min(next_read, live[i].read_at);
        continue;
      }
      fds.push_back({live[i].run->fd(), live[i].run->events(), 0});
      index.push_back(i);
    }
    // The runs due within 1 ms after the first are read with it, when the last of them is due.
    if (!held.empty()) {
      const SteadyTime near = next_read + std::chrono::milliseconds(1);
      for (size_t i : held) {
        if (live[i].read_at <= near) next_read = std::max(next_read, live[i].read_at);
      }
    }
    // Last, past `index`: readable once Cancel() was called.
    if (cancellation_.fd() >= 0) fds.push_back({cancellation_.fd(), POLLIN, 0});
    SteadyTime wake = std::min(next_deadline, next_read);
    if (waiting) wake = std::min(wake, queue_until);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - clock_.SteadyNow());
    const int rc = ::poll(fds.data(), fds.size(),
                          static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000)));
    if (rc > 0) {
      for (size_t k = 0; k < index.size(); ++k) {
        if (fds[k].revents != 0) Ready(index[k], fds[k].revents);
      }
    }
    const SteadyTime now = clock_.SteadyNow();
    if (!held.empty() && now >= next_read) ReadHeldAnswers();
    for (size_t i = 0; i < live.size(); ++i) {
      if (live[i].ended || !live[i].started || now < live[i].deadline) continue;
      // Looked at once more first: a socket left out of this round's poll(), or whose answer
      // came while others were read, may hold an answer that came by the deadline.
      if (LookOnce(i)) continue;
      live[i].run->OnDeadline();  // each run by its own deadline
      TakeIfDone(i);
      if (!live[i].ended) {  // a run that ignores its deadline is ended here
        ProbeResult result = ProbeResult::Down("deadline passed");
        End(i, &result, "");
      }
    }
  }
}

}  // namespace obsmon
