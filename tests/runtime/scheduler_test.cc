#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace obsmon {
namespace {

// A probe that records when it ran, by fake wall time.
class RecordingProbe final : public Probe {
 public:
  explicit RecordingProbe(const FakeClock& clock) : clock_(clock) {}
  ProbeResult Run(const Deadline&) override {
    runs.push_back(clock_.NowMs());
    return ProbeResult::Up();
  }
  std::string Instance() const override { return "test"; }
  std::vector<TimestampMs> runs;

 private:
  const FakeClock& clock_;
};

ScheduledProbe Make(const std::string& name, int64_t interval_ms, std::shared_ptr<Probe> probe) {
  ScheduledProbe p;
  p.spec.key = {"comp", name};
  p.spec.interval_ms = interval_ms;
  p.probe = std::move(probe);
  p.fingerprint = name + std::to_string(interval_ms);
  return p;
}

TEST(SchedulerTest, RunsEveryProbeOnItsIntervalWithoutDrift) {
  FakeClock clock;
  auto a = std::make_shared<RecordingProbe>(clock);
  auto b = std::make_shared<RecordingProbe>(clock);
  Scheduler s(clock, 0, [](const ScheduledProbe& p, TimestampMs) { p.probe->Run({}); });
  s.SetProbes({Make("a", 10'000, a), Make("b", 60'000, b)});
  const TimestampMs start = clock.NowMs();
  // One simulated hour, in steps of 1 s.
  for (int i = 0; i < 3600; ++i) {
    s.DispatchDue();
    clock.Advance(1000);
  }
  EXPECT_EQ(a->runs.size(), 360u);
  EXPECT_EQ(b->runs.size(), 60u);
  // The first run sits at the spread offset; every later one exactly one interval after it.
  const int64_t offset_a = Scheduler::SpreadOffsetMs({"comp", "a"}, 10'000);
  EXPECT_LT(a->runs[0] - start, offset_a + 1000);
  EXPECT_GE(a->runs[0] - start, offset_a);
  for (size_t i = 1; i < a->runs.size(); ++i) EXPECT_EQ(a->runs[i] - a->runs[i - 1], 10'000);
  EXPECT_EQ(s.Stats().skipped, 0u);
  EXPECT_EQ(s.Stats().dispatched, 420u);
}

TEST(SchedulerTest, SpreadsStartOffsetsAcrossTheInterval) {
  std::set<int64_t> seconds;
  for (int i = 0; i < 100; ++i) {
    int64_t off = Scheduler::SpreadOffsetMs({"comp", "probe-" + std::to_string(i)}, 15'000);
    ASSERT_GE(off, 0);
    ASSERT_LT(off, 15'000);
    seconds.insert(off / 1000);
  }
  // 100 probes over 15 one-second slots: a stable hash fills nearly all of them.
  EXPECT_GE(seconds.size(), 13u);
  // Stable: the same identity always gets the same offset.
  EXPECT_EQ(Scheduler::SpreadOffsetMs({"c", "p"}, 15'000), Scheduler::SpreadOffsetMs({"c", "p"}, 15'000));
}

TEST(SchedulerTest, NeverRunsOneProbeTwiceAtOnceAndCountsSkips) {
  FakeClock clock;
  auto a = std::make_shared<RecordingProbe>(clock);
  // Workers = 1 but the run function blocks until released, simulating a hanging target.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int running = 0, max_running = 0, total = 0;
  Scheduler s(clock, 1, [&](const ScheduledProbe&, TimestampMs) {
    std::unique_lock<std::mutex> lock(mu);
    ++running;
    ++total;
    max_running = std::max(max_running, running);
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    --running;
  });
  s.SetProbes({Make("a", 1'000, a)});
  // Start() also has the worker wait on the FakeClock for the run it claimed: it sees the same
  // due times we dispatch here, and the busy flag is what is under test.
  s.Start();
  clock.Advance(1'000);
  s.DispatchDue();
  {
    // Wait (for the worker thread, not for time) until the first run is under way.
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == 1; }));
  }
  for (int i = 0; i < 10; ++i) {
    clock.Advance(1'000);
    s.DispatchDue();
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
    // The run due last (less than an interval ago) waited for the first and starts as it ends,
    // as in Prometheus's scrape loop; the nine due before it were skipped, each when the next
    // came due.
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return total == 2; }));
  }
  s.Stop();
  EXPECT_EQ(max_running, 1);
  EXPECT_EQ(total, 2);
  EXPECT_EQ(s.Stats().skipped, 9u);
}

// A reload that changes a probe's settings while its old instance is mid-run: the new instance
// must not start until the old run ends (two instances reading one log file at once would count
// its lines twice). The reload happens inside the old run (workers = 0 runs inline).
TEST(SchedulerTest, AChangedProbeWaitsForItsOldInstanceToFinish) {
  FakeClock clock;
  auto old_probe = std::make_shared<RecordingProbe>(clock);
  auto new_probe = std::make_shared<RecordingProbe>(clock);
  Scheduler* self = nullptr;
  std::vector<std::string> order;  // which instance ran, and what happened meanwhile
  bool reloaded = false;
  Scheduler s(clock, 0, [&](const ScheduledProbe& p, TimestampMs) {
    if (p.probe == old_probe && !reloaded) {
      order.push_back("old begins");
      reloaded = true;
      ScheduledProbe changed = Make("a", 1'000, new_probe);
      changed.fingerprint = "changed";
      self->SetProbes({changed});
      // Far past the new instance's first due time, while the old run is still under way.
      clock.Advance(5'000);
      self->DispatchDue();
      order.push_back("old ends");
      return;
    }
    order.push_back(p.probe == new_probe ? "new" : "old again");
  });
  self = &s;
  s.SetProbes({Make("a", 1'000, old_probe)});
  clock.Advance(1'000);
  s.DispatchDue();
  ASSERT_EQ(order, (std::vector<std::string>{"old begins", "old ends"}));
  EXPECT_GE(s.Stats().skipped, 1u);  // the new instance's due run, refused while the old ran
  clock.Advance(1'000);
  s.DispatchDue();
  EXPECT_EQ(order, (std::vector<std::string>{"old begins", "old ends", "new"}));
}

TEST(SchedulerTest, StallLongerThanIntervalSkipsMissedRunsInsteadOfBursting) {
  FakeClock clock;
  auto a = std::make_shared<RecordingProbe>(clock);
  Scheduler s(clock, 0, [](const ScheduledProbe& p, TimestampMs) { p.probe->Run({}); });
  s.SetProbes({Make("a", 10'000, a)});
  for (int i = 0; i < 20; ++i) {
    s.DispatchDue();
    clock.Advance(1000);
  }
  const size_t before = a->runs.size();
  clock.Advance(95'000);  // a stall of 9.5 intervals
  s.DispatchDue();
  EXPECT_EQ(a->runs.size(), before + 1);  // one run now, not a burst of nine
  EXPECT_EQ(s.Stats().skipped, 9u);
}

TEST(SchedulerTest, UnchangedProbesKeepTheirScheduleOnSetProbes) {
  FakeClock clock;
  auto a = std::make_shared<RecordingProbe>(clock);
  auto b = std::make_shared<RecordingProbe>(clock);
  Scheduler s(clock, 0, [](const ScheduledProbe& p, TimestampMs) { p.probe->Run({}); });
  s.SetProbes({Make("a", 10'000, a)});
  for (int i = 0; i < 25; ++i) {
    s.DispatchDue();
    clock.Advance(1000);
  }
  const TimestampMs last = a->runs.back();
  s.SetProbes({Make("a", 10'000, a), Make("b", 10'000, b)});  // "a" unchanged
  for (int i = 0; i < 25; ++i) {
    s.DispatchDue();
    clock.Advance(1000);
  }
  ASSERT_GT(a->runs.size(), 3u);
  auto it = std::find(a->runs.begin(), a->runs.end(), last);
  ASSERT_NE(it, a->runs.end());
  ASSERT_NE(it + 1, a->runs.end());
  EXPECT_EQ(*(it + 1) - last, 10'000);  // no reset: the next run came one interval later
  EXPECT_FALSE(b->runs.empty());
}

// A probe that every reload changes (a config tool rewriting a value of it and reloading every
// 8 s) runs at its place in its 30 s interval, whatever the reloads' rhythm: counted from each
// reload, the probes placed more than 8 s in never ran, those placed near 0 ran at every
// reload (fresh eyes, stop 70). Truth: the places computed from SpreadOffsetMs, counted from
// the first SetProbes.
TEST(SchedulerTest, AProbeChangedByEveryReloadRunsAtItsPlaceInTheInterval) {
  FakeClock clock;
  Scheduler s(clock, 0, [](const ScheduledProbe& p, TimestampMs) { p.probe->Run({}); });
  clock.Advance(12'345);  // the reloads' rhythm is not the interval's
  const TimestampMs anchor = clock.NowMs();
  std::vector<std::shared_ptr<RecordingProbe>> probes;
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) {
    probes.push_back(std::make_shared<RecordingProbe>(clock));
    names.push_back("m" + std::to_string(i));
  }
  for (int reload = 0; reload < 30; ++reload) {  // 240 s of reloads, 8 s apart
    std::vector<ScheduledProbe> config;
    for (size_t i = 0; i < probes.size(); ++i) {
      ScheduledProbe p = Make(names[i], 30'000, probes[i]);
      p.fingerprint += reload % 2 == 0 ? "timeout 5s" : "timeout 6s";  // changed every time
      config.push_back(std::move(p));
    }
    s.SetProbes(std::move(config));
    s.DispatchDue();
    for (int step = 0; step < 80; ++step) {  // the last dispatch is at the next reload's time
      clock.Advance(100);
      s.DispatchDue();
    }
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    const int64_t place = Scheduler::SpreadOffsetMs({"comp", names[i]}, 30'000);
    // Every 30 s at its place: 8 runs in the 240 s (7 when its place came before the first
    // reload's moment within its interval, or after the last's).
    EXPECT_GE(probes[i]->runs.size(), 7u) << names[i] << " at " << place;
    EXPECT_LE(probes[i]->runs.size(), 9u) << names[i] << " at " << place;
    for (TimestampMs t : probes[i]->runs) {
      // At the first 100 ms step at or after its place.
      const int64_t after_place = ((t - anchor) % 30'000 - place + 30'000) % 30'000;
      EXPECT_LT(after_place, 100) << names[i] << " ran off its place " << place;
    }
  }
}

// What a started scheduler's runs record, for the tests of the workers keeping the time.
struct RunLog {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<std::string, TimestampMs>> runs;  // probe, due wall time

  void Add(const ScheduledProbe& p, TimestampMs due) {
    std::lock_guard<std::mutex> lock(mu);
    runs.emplace_back(p.spec.key.probe, due);
    changed.notify_all();
  }
  // Waits (for threads, not for time) until `n` runs are logged.
  bool WaitForRuns(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return runs.size() >= n; });
  }
};

// Waits (for threads, not for time) until the scheduler's stats satisfy `done`.
bool WaitForStats(const Scheduler& s, const std::function<bool(const SchedulerStats&)>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done(s.Stats())) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

// Waits (for threads, not for time) until no worker runs a probe.
bool WaitUntilIdle(const Scheduler& s) {
  return WaitForStats(s, [](const SchedulerStats& stats) { return stats.busy_workers == 0; });
}

// With as many probes as workers or more, every idle worker waits on the clock for a run of its
// own, the earliest ones: no dispatcher thread wakes up to hand runs over. The clock's next
// deadline is therefore always the earliest due run, and each run is at its due time.
TEST(SchedulerTest, IdleWorkersWaitOnTheClockForTheEarliestRunsThemselves) {
  FakeClock clock;
  RunLog log;
  Scheduler s(clock, 2, [&](const ScheduledProbe& p, TimestampMs due) { log.Add(p, due); });
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  std::vector<ScheduledProbe> probes;
  // Due times computed independently of the scheduler: offset + k * interval, in order.
  std::vector<std::pair<int64_t, std::string>> expected;
  for (const auto& name : names) {
    probes.push_back(Make(name, 10'000, std::make_shared<RecordingProbe>(clock)));
    const int64_t offset = Scheduler::SpreadOffsetMs({"comp", name}, 10'000);
    for (int64_t k = 0; k < 4; ++k) expected.emplace_back(offset + k * 10'000, name);
  }
  std::sort(expected.begin(), expected.end());
  s.SetProbes(std::move(probes));
  const TimestampMs start_wall = clock.NowMs();
  const SteadyTime start = clock.SteadyNow();
  s.Start();
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(clock.WaitForWaiters(2)) << "both workers wait on the clock, before run " << i;
    ASSERT_EQ(clock.NextDeadline(), start + std::chrono::milliseconds(expected[i].first));
    ASSERT_TRUE(clock.AdvanceToNextDeadline());
    ASSERT_TRUE(log.WaitForRuns(i + 1));
    ASSERT_TRUE(WaitUntilIdle(s));
  }
  s.Stop();
  ASSERT_EQ(log.runs.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(log.runs[i].first, expected[i].second) << i;
    EXPECT_EQ(log.runs[i].second, start_wall + expected[i].first) << i;
  }
  EXPECT_EQ(s.Stats().dispatched, expected.size());
  EXPECT_EQ(s.Stats().skipped, 0u);
}

// A run that hangs holds its worker only: the other worker keeps the time, so the hanging
// probe's due runs are counted as skipped as they come (each but the last, which waits for the
// hanging one and starts when it ends), and another probe, whose claim was later than the
// hanging probe's next due time, still runs on time.
TEST(SchedulerTest, WhileOneWorkerHangsTheOtherKeepsTheTime) {
  FakeClock clock;
  RunLog log;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  Scheduler s(clock, 2, [&](const ScheduledProbe& p, TimestampMs due) {
    log.Add(p, due);
    if (p.spec.key.probe != "hang") return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  s.SetProbes({Make("hang", 1'000, std::make_shared<RecordingProbe>(clock)),
               Make("slow", 60'000, std::make_shared<RecordingProbe>(clock))});
  const TimestampMs start_wall = clock.NowMs();
  const int64_t hang_offset = Scheduler::SpreadOffsetMs({"comp", "hang"}, 1'000);
  const int64_t slow_offset = Scheduler::SpreadOffsetMs({"comp", "slow"}, 60'000);
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(2));
  // To the hanging probe's first due time: its run starts and hangs.
  clock.Advance(hang_offset);
  ASSERT_TRUE(log.WaitForRuns(1));
  // Every second after that, one more due run of the hanging probe: it waits, and the one that
  // waited before is skipped and counted at once by the other worker (it gave up its claim on
  // "slow", due later).
  for (uint64_t k = 1; k <= 5; ++k) {
    clock.Advance(1'000);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (s.Stats().skipped < k - 1 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    ASSERT_EQ(s.Stats().skipped, k - 1);
  }
  const int64_t elapsed = hang_offset + 5'000;
  ASSERT_LT(elapsed, slow_offset + 60'000);  // "slow" has run at most once so far
  // On to "slow"'s next due time, still with "hang" hanging: it runs, on time.
  const int64_t slow_due = elapsed <= slow_offset ? slow_offset : slow_offset + 60'000;
  clock.Advance(slow_due - elapsed);
  const size_t before_release = elapsed <= slow_offset ? 2 : 3;
  ASSERT_TRUE(log.WaitForRuns(before_release));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // The hanging probe's run due last (less than its interval before now) starts as it ends.
  ASSERT_TRUE(log.WaitForRuns(before_release + 1));
  s.Stop();
  ASSERT_EQ(log.runs.size(), before_release + 1);
  EXPECT_EQ(log.runs.front(), std::make_pair(std::string("hang"), start_wall + hang_offset));
  EXPECT_EQ(log.runs[before_release - 1],
            std::make_pair(std::string("slow"), start_wall + slow_due));
  const int64_t last_hang_due = hang_offset + (slow_due - hang_offset) / 1'000 * 1'000;
  EXPECT_EQ(log.runs.back(), std::make_pair(std::string("hang"), start_wall + last_hang_due));
}

// A reload changes a probe while its run hangs: the new instance's run that comes due meanwhile
// starts as soon as the old run ends, as an unchanged probe's waiting run does. It was skipped:
// one run lost per such reload (fresh eyes, stop 70).
TEST(SchedulerTest, AChangedProbesRunDueWhileTheOldInstanceRunsStartsWhenItEnds) {
  FakeClock clock;
  RunLog log;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  auto old_probe = std::make_shared<RecordingProbe>(clock);
  Scheduler s(clock, 2, [&](const ScheduledProbe& p, TimestampMs due) {
    log.Add(p, due);
    if (p.probe != old_probe) return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  s.SetProbes({Make("hang", 1'000, old_probe)});
  const TimestampMs start_wall = clock.NowMs();
  const SteadyTime start = clock.SteadyNow();
  const int64_t offset = Scheduler::SpreadOffsetMs({"comp", "hang"}, 1'000);
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));  // one worker claims its first run, one idles
  clock.Advance(offset);
  ASSERT_TRUE(log.WaitForRuns(1));  // the old instance's run, hanging
  ScheduledProbe changed = Make("hang", 1'000, std::make_shared<RecordingProbe>(clock));
  changed.fingerprint = "changed";
  s.SetProbes({changed});
  // Past the new instance's first due time (its place, an interval after the old run's), with
  // the old run still on: the free worker takes that due time and waits for the next one.
  clock.Advance(1'300);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (clock.NextDeadline() != start + std::chrono::milliseconds(offset + 2'000) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  ASSERT_EQ(clock.NextDeadline(), start + std::chrono::milliseconds(offset + 2'000));
  ASSERT_EQ(log.runs.size(), 1u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(log.WaitForRuns(2));
  s.Stop();
  EXPECT_EQ(log.runs[1], std::make_pair(std::string("hang"), start_wall + offset + 1'000));
  EXPECT_EQ(s.Stats().skipped, 0u);
}

// Two of the names p0, p1, ... whose spread offsets on `interval_ms` lie between `least_ms` and
// `most_ms` apart: the first due, then the second.
std::pair<std::string, std::string> TwoProbesApart(int64_t least_ms, int64_t most_ms,
                                                   int64_t interval_ms) {
  std::vector<std::pair<int64_t, std::string>> offsets;
  for (int i = 0; i < 400; ++i) {
    const std::string name = "p" + std::to_string(i);
    offsets.emplace_back(Scheduler::SpreadOffsetMs({"comp", name}, interval_ms), name);
  }
  std::sort(offsets.begin(), offsets.end());
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    for (size_t j = i + 1; j < offsets.size(); ++j) {
      const int64_t apart = offsets[j].first - offsets[i].first;
      if (apart >= least_ms && apart <= most_ms) return {offsets[i].second, offsets[j].second};
    }
  }
  return {};
}

// Waits (for threads, not for time) until the scheduler has `n` worker threads.
bool WaitForWorkerThreads(const Scheduler& s, uint64_t n) {
  return WaitForStats(s, [n](const SchedulerStats& stats) { return stats.worker_threads == n; });
}

// A run that hangs holds its worker; with every worker busy, a probe due later used to wait for
// it (a few silent targets spread over many batches held every worker for their timeout). The
// timekeeper starts one more worker thread once the run has waited Scheduler::kLateAfter, and
// the extra thread ends once no run waits and none was started for kExtraWorkerLinger.
TEST(SchedulerTest, ARunLeftWaitingByBusyWorkersGetsAnExtraThread) {
  FakeClock clock;
  RunLog log;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  const auto [hang, other] = TwoProbesApart(1'000, 5'000, 10'000);
  ASSERT_FALSE(hang.empty());
  Scheduler s(clock, 1, [&, hang = hang](const ScheduledProbe& p, TimestampMs due) {
    log.Add(p, due);
    if (p.spec.key.probe != hang) return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  s.SetProbes({Make(hang, 10'000, std::make_shared<RecordingProbe>(clock)),
               Make(other, 10'000, std::make_shared<RecordingProbe>(clock))});
  const int64_t hang_offset = Scheduler::SpreadOffsetMs({"comp", hang}, 10'000);
  const int64_t other_offset = Scheduler::SpreadOffsetMs({"comp", other}, 10'000);
  const TimestampMs start_wall = clock.NowMs();
  const SteadyTime start = clock.SteadyNow();
  const SteadyTime other_late = start + std::chrono::milliseconds(other_offset) +
                                Scheduler::kLateAfter;
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the one worker, for the hanging probe's due time
  clock.Advance(hang_offset);
  ASSERT_TRUE(log.WaitForRuns(1));
  EXPECT_EQ(s.Stats().worker_threads, 1u);
  // The only worker is busy: the timekeeper waits on the clock, looking again every
  // kPollWhileBusy at most, and when the other probe's run has waited kLateAfter.
  std::vector<SteadyTime> looks;
  while (looks.empty() || looks.back() < other_late) {
    ASSERT_TRUE(clock.WaitForWaiters(1));
    looks.push_back(*clock.NextDeadline());
    ASSERT_LE(looks.back() - clock.SteadyNow(), Scheduler::kPollWhileBusy);
    ASSERT_TRUE(clock.AdvanceToNextDeadline());
  }
  EXPECT_EQ(looks.back(), other_late);
  ASSERT_TRUE(log.WaitForRuns(2)) << "the other probe ran while the first still hangs";
  {
    std::lock_guard<std::mutex> lock(log.mu);
    EXPECT_EQ(log.runs[1], std::make_pair(other, start_wall + other_offset));
  }
  EXPECT_EQ(s.Stats().worker_threads, 2u);
  EXPECT_EQ(s.Stats().extra_workers_started, 1u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(WaitUntilIdle(s));
  // The next runs of both probes, interval after interval, each at its due time (one due at a
  // time: nothing waits): the extra thread stays for kExtraWorkerLinger after it started at
  // other_late, and ends with the first run that ends after that, the hanging probe's 7th.
  ASSERT_EQ(Scheduler::kExtraWorkerLinger, std::chrono::seconds(60));
  size_t runs = 2;
  for (int k = 1; k <= 8; ++k) {
    for (const int64_t offset : {hang_offset, other_offset}) {
      const SteadyTime due = start + std::chrono::milliseconds(offset + 10'000 * k);
      clock.Advance(
          std::chrono::duration_cast<std::chrono::milliseconds>(due - clock.SteadyNow()).count());
      ASSERT_TRUE(log.WaitForRuns(++runs)) << k;
      ASSERT_TRUE(WaitUntilIdle(s));
      if (due < other_late + Scheduler::kExtraWorkerLinger) {
        EXPECT_EQ(s.Stats().worker_threads, 2u) << k;
      } else {
        EXPECT_TRUE(WaitForWorkerThreads(s, 1)) << k;
      }
    }
  }
  EXPECT_EQ(s.Stats().extra_workers_started, 1u);
  EXPECT_TRUE(WaitForWorkerThreads(s, 1)) << "back to `workers`";
  s.Stop();
  EXPECT_EQ(s.Stats().skipped, 0u);
}

// A run due while the only worker is busy waits kLateAfter for it; a worker free by then takes
// it, and no thread is started (with `workers: 1` every run keeps the only worker busy, and a
// thread started for each would cost more than the run).
TEST(SchedulerTest, ABriefWaitForABusyWorkerStartsNoThread) {
  FakeClock clock;
  RunLog log;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  const auto [first, second] = TwoProbesApart(10, 60, 10'000);
  ASSERT_FALSE(first.empty());
  Scheduler s(clock, 1, [&, first = first](const ScheduledProbe& p, TimestampMs due) {
    log.Add(p, due);
    if (p.spec.key.probe != first) return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  s.SetProbes({Make(first, 10'000, std::make_shared<RecordingProbe>(clock)),
               Make(second, 10'000, std::make_shared<RecordingProbe>(clock))});
  const int64_t first_offset = Scheduler::SpreadOffsetMs({"comp", first}, 10'000);
  const int64_t second_offset = Scheduler::SpreadOffsetMs({"comp", second}, 10'000);
  const TimestampMs start_wall = clock.NowMs();
  const SteadyTime start = clock.SteadyNow();
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  clock.Advance(first_offset);
  ASSERT_TRUE(log.WaitForRuns(1));
  // The timekeeper looks when the second run will have waited kLateAfter.
  ASSERT_TRUE(clock.WaitForWaiters(1));
  EXPECT_EQ(clock.NextDeadline(),
            start + std::chrono::milliseconds(second_offset) + Scheduler::kLateAfter);
  // The second run comes due; the first ends before it has waited kLateAfter.
  clock.Advance(second_offset - first_offset);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(log.WaitForRuns(2));
  ASSERT_TRUE(WaitUntilIdle(s));
  s.Stop();
  EXPECT_EQ(log.runs[1], std::make_pair(second, start_wall + second_offset));
  EXPECT_EQ(s.Stats().extra_workers_started, 0u);
}

// A probe whose runs the scheduler may batch (it never runs: the tests' run functions log).
class StartableProbe final : public Probe {
 public:
  ProbeResult Run(const Deadline&) override { return ProbeResult::Up(); }
  std::string Instance() const override { return "test"; }
  bool Startable() const override { return true; }
};

// What a batching scheduler ran: each run's probe, its nominal due wall time, the fake time it
// started at and the wake-up (batch) it belonged to.
struct BatchLog {
  struct Run {
    std::string probe;
    TimestampMs due;
    TimestampMs at;
    int batch;
  };
  std::mutex mu;
  std::condition_variable changed;
  std::vector<Run> runs;
  int batches = 0;

  void Add(const std::vector<const ScheduledProbe*>& probes, const std::vector<TimestampMs>& dues,
           TimestampMs at) {
    std::lock_guard<std::mutex> lock(mu);
    ++batches;
    for (size_t i = 0; i < probes.size(); ++i) {
      runs.push_back({probes[i]->spec.key.probe, dues[i], at, batches});
    }
    changed.notify_all();
  }
  bool WaitForRuns(size_t n, std::chrono::milliseconds most = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, most, [&] { return runs.size() >= n; });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return runs.size();
  }
};

Scheduler::Batching LoggedBatches(const FakeClock& clock, BatchLog& log,
                                  std::chrono::milliseconds window) {
  Scheduler::Batching b;
  b.window = window;
  b.run = [&clock, &log](const std::vector<Scheduler::BatchItem>& items,
                         const std::function<void(size_t)>& finished) {
    std::vector<const ScheduledProbe*> probes;
    std::vector<TimestampMs> dues;
    for (const auto& item : items) {
      probes.push_back(item.probe);
      dues.push_back(item.due_wall_ms);
    }
    log.Add(probes, dues, clock.NowMs());
    for (size_t i = 0; i < items.size(); ++i) finished(i);
  };
  return b;
}

// Runs due within the window after a wake-up are taken with it, started together, early by at
// most the window; every probe keeps its nominal schedule (no drift), nothing is skipped, and
// the wake-ups are the ones an independent greedy grouping of the due times predicts.
TEST(SchedulerTest, BatchWindowTakesTheRunsDueWithinItAndKeepsEverySchedule) {
  FakeClock clock;
  BatchLog log;
  constexpr int64_t kInterval = 1'000;
  constexpr int64_t kWindow = 100;
  Scheduler s(
      clock, 2,
      [&](const ScheduledProbe& p, TimestampMs due) { log.Add({&p}, {due}, clock.NowMs()); },
      LoggedBatches(clock, log, std::chrono::milliseconds(kWindow)));
  std::vector<ScheduledProbe> probes;
  std::vector<std::pair<int64_t, std::string>> due;  // offset from start, probe
  for (int i = 0; i < 30; ++i) {
    const std::string name = "p" + std::to_string(i);
    probes.push_back(Make(name, kInterval, std::make_shared<StartableProbe>()));
    const int64_t offset = Scheduler::SpreadOffsetMs({"comp", name}, kInterval);
    for (int64_t k = 0; k < 5; ++k) due.emplace_back(offset + k * kInterval, name);
  }
  std::sort(due.begin(), due.end());
  // The grouping: a wake-up at the earliest due run left takes every run due within the window;
  // the wake-ups of the first three intervals.
  std::vector<std::vector<std::pair<int64_t, std::string>>> expected;
  size_t expected_runs = 0;
  for (size_t i = 0; i < due.size() && due[i].first < 3 * kInterval;) {
    expected.emplace_back();
    const int64_t wake = due[i].first;
    while (i < due.size() && due[i].first <= wake + kWindow) expected.back().push_back(due[i++]);
    expected_runs += expected.back().size();
  }
  ASSERT_LT(expected.size(), expected_runs / 2) << "30 probes a second, 100 ms windows: batches";
  s.SetProbes(std::move(probes));
  const TimestampMs start = clock.NowMs();
  s.Start();
  size_t runs = 0;
  for (size_t b = 0; b < expected.size(); ++b) {
    ASSERT_TRUE(clock.WaitForWaiters(1));
    ASSERT_TRUE(clock.AdvanceToNextDeadline());
    runs += expected[b].size();
    ASSERT_TRUE(log.WaitForRuns(runs)) << "wake-up " << b;
    ASSERT_TRUE(WaitUntilIdle(s));
  }
  s.Stop();
  ASSERT_EQ(log.runs.size(), expected_runs);
  std::map<std::string, std::vector<TimestampMs>> at_by_probe;
  size_t r = 0;
  for (size_t b = 0; b < expected.size(); ++b) {
    std::set<std::string> want, got;
    for (const auto& [offset, name] : expected[b]) want.insert(name);
    const int batch = log.runs[r].batch;
    for (size_t k = 0; k < expected[b].size(); ++k, ++r) {
      const auto& run = log.runs[r];
      EXPECT_EQ(run.batch, batch) << "wake-up " << b;
      EXPECT_EQ(run.at, start + expected[b].front().first) << "started at the wake-up";
      EXPECT_LE(run.at, run.due);
      EXPECT_GE(run.at, run.due - kWindow);
      got.insert(run.probe);
      at_by_probe[run.probe].push_back(run.due);
    }
    EXPECT_EQ(got, want) << "wake-up " << b;
  }
  ASSERT_EQ(at_by_probe.size(), 30u);
  for (const auto& [name, dues] : at_by_probe) {
    ASSERT_GE(dues.size(), 3u) << name;
    const int64_t offset = Scheduler::SpreadOffsetMs({"comp", name}, kInterval);
    for (size_t k = 0; k < dues.size(); ++k) {
      EXPECT_EQ(dues[k], start + offset + static_cast<int64_t>(k) * kInterval) << name;
    }
  }
  EXPECT_EQ(s.Stats().skipped, 0u);
  EXPECT_EQ(s.Stats().dispatched, expected_runs);
}

// A batch's run that hangs holds only its own probe: the others of its batch end (finished())
// and run again on their next due times, on the other worker, while the hanging probe's due
// runs are skipped.
TEST(SchedulerTest, AHangingRunInABatchHoldsOnlyItsOwnProbe) {
  FakeClock clock;
  BatchLog log;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::string hang_name;  // set before the scheduler starts
  Scheduler::Batching b;
  b.window = std::chrono::milliseconds(1'000);
  b.run = [&](const std::vector<Scheduler::BatchItem>& items,
              const std::function<void(size_t)>& finished) {
    std::vector<const ScheduledProbe*> probes;
    std::vector<TimestampMs> dues;
    size_t hang = items.size();
    for (size_t i = 0; i < items.size(); ++i) {
      probes.push_back(items[i].probe);
      dues.push_back(items[i].due_wall_ms);
      if (items[i].probe->spec.key.probe == hang_name) hang = i;
    }
    log.Add(probes, dues, clock.NowMs());
    for (size_t i = 0; i < items.size(); ++i) {
      if (i != hang) finished(i);
    }
    if (hang == items.size()) return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  };
  Scheduler s(
      clock, 2,
      [&](const ScheduledProbe& p, TimestampMs due) { log.Add({&p}, {due}, clock.NowMs()); },
      std::move(b));
  // Three probes on a 10 s interval whose spread offsets lie within 800 ms: a 1 s window (half
  // their interval is 5 s) takes them all in the first wake-up. "hang" is the first of them.
  std::vector<std::pair<int64_t, std::string>> offsets;
  for (int i = 0; i < 300; ++i) {
    const std::string name = "p" + std::to_string(i);
    offsets.emplace_back(Scheduler::SpreadOffsetMs({"comp", name}, 10'000), name);
  }
  std::sort(offsets.begin(), offsets.end());
  size_t at = 0;
  while (at + 2 < offsets.size() && offsets[at + 2].first - offsets[at].first > 800) ++at;
  ASSERT_LT(at + 2, offsets.size());
  hang_name = offsets[at].second;
  std::vector<ScheduledProbe> probes;
  for (size_t k = at; k < at + 3; ++k) {
    probes.push_back(Make(offsets[k].second, 10'000, std::make_shared<StartableProbe>()));
  }
  s.SetProbes(std::move(probes));
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  ASSERT_TRUE(clock.AdvanceToNextDeadline());
  ASSERT_TRUE(log.WaitForRuns(3));
  // Next interval: the two others run again (the other worker); the hanging one's run waits
  // for the one that hangs.
  for (int k = 0; k < 20 && log.size() < 5; ++k) {
    ASSERT_TRUE(clock.WaitForWaiters(1));
    ASSERT_TRUE(clock.AdvanceToNextDeadline());
    // For the woken worker's thread (not for time): a skipped run logs nothing.
    log.WaitForRuns(log.size() + 1, std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(log.WaitForRuns(5));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // It starts as the hanging one ends, less than an interval after its due time.
  ASSERT_TRUE(log.WaitForRuns(6));
  s.Stop();
  ASSERT_EQ(log.runs.size(), 6u);
  std::map<std::string, int> count;
  for (const auto& run : log.runs) ++count[run.probe];
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [name, n] : count) EXPECT_EQ(n, 2) << name;
  EXPECT_EQ(log.runs.front().batch, log.runs[2].batch) << "the first three runs were one batch";
  EXPECT_EQ(log.runs.back().probe, hang_name);
  EXPECT_EQ(log.runs.back().due, log.runs.front().due + 10'000) << "its nominal due time";
  EXPECT_EQ(s.Stats().skipped, 0u);
}

// A batch takes a run up to its window early; a reload that changes that probe before the
// run's nominal due time must not run it again for the same due time (fresh eyes, stop 70: a
// probe changed every 0.3 s ran 1.4-1.7 times an interval). The truth: the due times the batch
// function is handed, one per interval and probe, none twice.
TEST(SchedulerTest, ARunABatchTookEarlyIsNotRunAgainByTheInstanceAReloadPutInItsPlace) {
  FakeClock clock;
  BatchLog log;
  constexpr int64_t kInterval = 1'000;
  Scheduler s(
      clock, 2,
      [&](const ScheduledProbe& p, TimestampMs due) { log.Add({&p}, {due}, clock.NowMs()); },
      LoggedBatches(clock, log, std::chrono::milliseconds(300)));
  // "early" comes due 100-250 ms after "first": the batch that wakes for "first" takes it.
  std::vector<std::pair<int64_t, std::string>> offsets;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "p" + std::to_string(i);
    offsets.emplace_back(Scheduler::SpreadOffsetMs({"comp", name}, kInterval), name);
  }
  std::sort(offsets.begin(), offsets.end());
  std::string first, early;
  for (size_t i = 0; i + 1 < offsets.size() && early.empty(); ++i) {
    for (size_t j = i + 1; j < offsets.size() && early.empty(); ++j) {
      const int64_t gap = offsets[j].first - offsets[i].first;
      if (gap >= 100 && gap <= 250 && offsets[i].first > 0) {
        first = offsets[i].second;
        early = offsets[j].second;
      }
    }
  }
  ASSERT_FALSE(early.empty());
  const auto config = [&](int version) {
    std::vector<ScheduledProbe> probes;
    probes.push_back(Make(first, kInterval, std::make_shared<StartableProbe>()));
    ScheduledProbe changed = Make(early, kInterval, std::make_shared<StartableProbe>());
    changed.fingerprint += " version " + std::to_string(version);
    probes.push_back(std::move(changed));
    return probes;
  };
  s.SetProbes(config(0));
  const TimestampMs start = clock.NowMs();
  s.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  ASSERT_TRUE(clock.AdvanceToNextDeadline());
  ASSERT_TRUE(log.WaitForRuns(2));
  ASSERT_TRUE(WaitUntilIdle(s));
  ASSERT_EQ(log.runs[0].batch, log.runs[1].batch) << "the two runs were one batch";
  ASSERT_LT(log.runs[1].at, log.runs[1].due) << "the batch took the second run early";
  // Reloaded before that run's due time, with the probe changed; then a few intervals.
  s.SetProbes(config(1));
  for (int k = 0; k < 40 && clock.NowMs() < start + 5 * kInterval; ++k) {
    ASSERT_TRUE(clock.WaitForWaiters(1));
    ASSERT_TRUE(clock.AdvanceToNextDeadline());
    log.WaitForRuns(log.size() + 1, std::chrono::milliseconds(200));  // for the threads
    ASSERT_TRUE(WaitUntilIdle(s));
  }
  s.Stop();
  std::map<std::string, std::vector<TimestampMs>> dues;
  for (const auto& run : log.runs) dues[run.probe].push_back(run.due);
  ASSERT_EQ(dues.size(), 2u);
  for (const auto& [name, times] : dues) {
    ASSERT_GE(times.size(), 4u) << name;
    const int64_t offset = Scheduler::SpreadOffsetMs({"comp", name}, kInterval);
    for (size_t k = 0; k < times.size(); ++k) {
      EXPECT_EQ(times[k], start + offset + static_cast<int64_t>(k) * kInterval)
          << name << ": its " << k << "th run";
    }
  }
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// Started (dispatcher and workers on threads), the scheduler runs on the FakeClock: each run
// comes when the test advances time past it, and in between its threads are blocked on the
// clock. Issue 12: the dispatcher used to wait on a fake steady time in the real past and spun
// at 0.45 CPU-s per second.
TEST(SchedulerTest, StartedUnderAFakeClockRunsWhenAdvancedAndIdlesWithoutCpu) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable ran;
  std::vector<TimestampMs> dues;  // GUARDED_BY(mu)
  Scheduler s(clock, 2, [&](const ScheduledProbe&, TimestampMs due) {
    std::lock_guard<std::mutex> lock(mu);
    dues.push_back(due);
    ran.notify_all();
  });
  s.SetProbes({Make("a", 10'000, std::make_shared<RecordingProbe>(clock))});
  s.Start();
  const TimestampMs start = clock.NowMs();
  const int64_t offset = Scheduler::SpreadOffsetMs({"comp", "a"}, 10'000);
  ASSERT_GT(offset, 0);
  ASSERT_TRUE(clock.WaitForWaiters(1));  // the dispatcher is blocked on the clock
  for (size_t i = 1; i <= 10; ++i) {     // 100 simulated seconds
    clock.Advance(10'000);
    ASSERT_TRUE(clock.WaitForWaiters(1));  // dispatched, and blocked again
    // The run itself is on a worker: wait for that thread (not for time), so the next due run
    // does not find this one still busy.
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(ran.wait_for(lock, std::chrono::seconds(10), [&] { return dues.size() == i; }))
        << dues.size() << " runs after " << i << " advances; offset " << offset;
    lock.unlock();
    // The worker marks the probe idle just after the run returns.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (s.Stats().busy_workers > 0 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < dues.size(); ++i) {
      EXPECT_EQ(dues[i], start + offset + 10'000 * static_cast<int64_t>(i));
    }
  }
  EXPECT_EQ(s.Stats().skipped, 0u);
  // Idle: half a second of real time (what is measured is that nothing runs meanwhile).
  const double cpu_before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double idle_cpu = ProcessCpuSeconds() - cpu_before;
  std::printf("scheduler idle under FakeClock: %.4f CPU-s in 0.5 s\n", idle_cpu);
  EXPECT_LT(idle_cpu, 0.02);
  s.Stop();
}

}  // namespace
}  // namespace obsmon
