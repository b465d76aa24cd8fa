// An NTP step of the wall clock (FakeClock::StepWall) must not stall or burst the scheduler,
// produce a negative probe duration, or show up as downtime: schedules and durations use the
// steady clock; a gap in wall time is unknown time, never down.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/clock.h"
#include "runtime/probe_runner.h"
#include "runtime/scheduler.h"
#include "report/uptime.h"

namespace obsmon {
namespace {

// Records the steady time of each run; optionally steps the wall clock while it "runs".
class SteppingProbe final : public Probe {
 public:
  explicit SteppingProbe(FakeClock& clock) : clock_(clock) {}
  ProbeResult Run(const Deadline&) override {
    steady_runs.push_back(clock_.SteadyNow());
    if (step_wall_during_run_ms != 0) {
      clock_.StepWall(step_wall_during_run_ms);
      clock_.Advance(run_takes_ms);
    }
    return ProbeResult::Up();
  }
  std::string Instance() const override { return "stepping"; }
  std::vector<SteadyTime> steady_runs;
  int64_t step_wall_during_run_ms = 0;
  int64_t run_takes_ms = 0;

 private:
  FakeClock& clock_;
};

ScheduledProbe Make(std::shared_ptr<Probe> probe, int64_t interval_ms) {
  ScheduledProbe p;
  p.spec.key = {"web", "health"};
  p.spec.role = ProbeRole::kHealth;
  p.spec.interval_ms = interval_ms;
  p.spec.timeout_ms = interval_ms;
  p.probe = std::move(probe);
  p.fingerprint = "health";
  return p;
}

int64_t SteadyMs(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TEST(ClockStepTest, SchedulerNeitherStallsNorBurstsWhenWallClockSteps) {
  FakeClock clock;
  auto probe = std::make_shared<SteppingProbe>(clock);
  Scheduler s(clock, 0, [](const ScheduledProbe& p, TimestampMs) { p.probe->Run({}); });
  s.SetProbes({Make(probe, 10'000)});
  // 2 minutes, a step back of one hour, 2 minutes, a step forward of two hours, 2 minutes.
  for (int phase = 0; phase < 3; ++phase) {
    if (phase == 1) clock.StepWall(-3'600'000);
    if (phase == 2) clock.StepWall(+7'200'000);
    for (int i = 0; i < 120; ++i) {
      s.DispatchDue();
      clock.Advance(1000);
    }
  }
  // 6 steady minutes at one run per 10 s: 36 runs, evenly spaced, whatever the wall clock did.
  ASSERT_EQ(probe->steady_runs.size(), 36u);
  for (size_t i = 1; i < probe->steady_runs.size(); ++i) {
    EXPECT_EQ(SteadyMs(probe->steady_runs[i]) - SteadyMs(probe->steady_runs[i - 1]), 10'000)
        << "run " << i;
  }
  EXPECT_EQ(s.Stats().skipped, 0u);
}

TEST(ClockStepTest, DurationIsMeasuredOnSteadyClockAcrossABackwardStep) {
  FakeClock clock;
  auto probe = std::make_shared<SteppingProbe>(clock);
  probe->step_wall_during_run_ms = -3'600'000;  // NTP steps back one hour mid-run
  probe->run_takes_ms = 40;
  ProbeRunner runner(clock, 1.5, {});
  const TimestampMs started = clock.NowMs();
  ProbeResult storage;
  RunOutcome out = runner.Execute(Make(probe, 10'000), &storage);
  EXPECT_DOUBLE_EQ(out.run.duration_seconds, 0.040);
  EXPECT_EQ(out.run.ts_ms, started) << "a run is stamped with the wall time it started";
  for (const Sample& sample : out.samples) {
    if (sample.name == "probe_duration_seconds") EXPECT_DOUBLE_EQ(sample.value, 0.040);
  }
}

ProbeRun HealthRun(TimestampMs ts, bool success) {
  ProbeRun r;
  r.key = {"web", "health"};
  r.role = ProbeRole::kHealth;
  r.ts_ms = ts;
  r.success = success;
  r.valid_for_ms = 15'000;  // 10 s interval x 1.5
  return r;
}

TEST(ClockStepTest, ForwardStepIsUnknownTimeNotDowntime) {
  // Successful runs every 10 s of steady time; after 5 minutes the wall clock jumps 1 h ahead.
  const TimestampMs t0 = 1'760'400'000'000;
  std::vector<ProbeRun> runs;
  for (int i = 0; i < 30; ++i) runs.push_back(HealthRun(t0 + i * 10'000, true));
  const TimestampMs jumped = t0 + 300'000 + 3'600'000;
  for (int i = 0; i < 30; ++i) runs.push_back(HealthRun(jumped + i * 10'000, true));
  UptimeOptions o;
  o.from_ms = t0;
  o.to_ms = jumped + 300'000;
  o.now_ms = o.to_ms;
  const UptimeResult r = ComputeUptime(runs, o);
  EXPECT_EQ(r.totals.down_ms, 0) << "a clock step must not become phantom downtime";
  EXPECT_TRUE(r.incidents.empty());
  // Independently: each run covers 10 s until the next one, the last of each stretch 15 s
  // (valid_for), the second stretch's last one clipped at the window's end; the rest of the
  // jumped hour is unknown.
  const int64_t up =
      (29 * 10'000 + 15'000) + (std::min(jumped + 29 * 10'000 + 15'000, o.to_ms) - jumped);
  EXPECT_EQ(r.totals.up_ms, up);
  EXPECT_EQ(r.totals.unknown_ms, o.to_ms - o.from_ms - up);
  EXPECT_EQ(r.totals.window_ms, o.to_ms - o.from_ms);
}

TEST(ClockStepTest, BackwardStepNeverYieldsNegativeOrDoubleCountedTime) {
  // After 5 minutes the wall clock steps back 2 minutes: the next runs are stamped earlier than
  // runs already recorded (overlapping evidence, all of it up).
  const TimestampMs t0 = 1'760'400'000'000;
  std::vector<ProbeRun> runs;
  for (int i = 0; i < 30; ++i) runs.push_back(HealthRun(t0 + i * 10'000, true));
  const TimestampMs stepped = t0 + 300'000 - 120'000;
  for (int i = 0; i < 30; ++i) runs.push_back(HealthRun(stepped + i * 10'000, true));
  std::stable_sort(runs.begin(), runs.end(),
                   [](const ProbeRun& a, const ProbeRun& b) { return a.ts_ms < b.ts_ms; });
  UptimeOptions o;
  o.from_ms = t0;
  o.to_ms = stepped + 300'000;
  o.now_ms = o.to_ms;
  const UptimeResult r = ComputeUptime(runs, o);
  EXPECT_EQ(r.totals.down_ms, 0);
  EXPECT_GE(r.totals.up_ms, 0);
  EXPECT_GE(r.totals.unknown_ms, 0);
  // Time is counted once: up + down + unknown is exactly the window.
  EXPECT_EQ(r.totals.up_ms + r.totals.down_ms + r.totals.unknown_ms + r.totals.excluded_ms,
            r.totals.window_ms);
  // The runs cover [t0, min(last run + 15 s, window end)) without a gap.
  EXPECT_EQ(r.totals.up_ms, std::min(stepped + 29 * 10'000 + 15'000, o.to_ms) - t0);
}

}  // namespace
}  // namespace obsmon
