// ProbeRunner. A probe that throws is obsmon's bug. The run reaches no sink (so neither storage
// nor the current state records a *down* verdict, and the time stays unknown) and the hook hears
// of it, with the exception's message. At shutdown (Cancel) the runs in flight end at once and none
// reaches a sink either.
#include "runtime/probe_runner.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include <iterator>

#include "probes/probe_helpers.h"

namespace obsmon {
namespace {

class ThrowingProbe final : public Probe {
 public:
  ProbeResult Run(const Deadline&) override { throw std::runtime_error("bad_alloc in parser"); }
  std::string Instance() const override { return "t"; }
};

class UpProbe final : public Probe {
 public:
  ProbeResult Run(const Deadline&) override { return ProbeResult::Up(); }
  std::string Instance() const override { return "u"; }
};

class CollectingSink final : public ResultSink {
 public:
  void OnRun(const RunOutcome& o) override { outcomes.push_back(o); }
  std::vector<RunOutcome> outcomes;
};

ScheduledProbe Make(std::shared_ptr<Probe> probe) {
  ScheduledProbe p;
  p.spec.key = {"carbon", "health"};
  p.spec.interval_ms = 1000;
  p.probe = std::move(probe);
  return p;
}

// Takes the outcome when it is the last sink, as the storage sink does.
class TakingSink final : public ResultSink {
 public:
  void OnRun(const RunOutcome& o) override { outcomes.push_back(o); }
  void TakeRun(RunOutcome& o) override {
    ++taken;
    samples.insert(samples.end(), std::make_move_iterator(o.samples.begin()),
                   std::make_move_iterator(o.samples.end()));
    o.samples.clear();
  }
  std::vector<RunOutcome> outcomes;
  std::vector<Sample> samples;
  int taken = 0;
};

// Every sink but the last reads the whole outcome; the last takes it (TakeRun), after them.
// The probe's own labels, made by its first run, are the same on its later runs.
TEST(ProbeRunnerTest, TheLastSinkTakesTheOutcomeAfterTheOthersReadIt) {
  FakeClock clock;
  CollectingSink first;
  TakingSink second, last;
  ProbeRunner runner(clock, 1.5, {&first, &second, &last});
  const ScheduledProbe probe = Make(std::make_shared<UpProbe>());
  runner.Run(probe, clock.NowMs(), 1);
  runner.Run(probe, clock.NowMs(), 2);
  ASSERT_EQ(first.outcomes.size(), 2u);
  ASSERT_EQ(second.outcomes.size(), 2u);
  EXPECT_EQ(second.taken, 0);
  EXPECT_EQ(last.taken, 2);
  EXPECT_TRUE(last.outcomes.empty());
  for (const auto* seen : {&first.outcomes, &second.outcomes}) {
    for (const RunOutcome& o : *seen) {
      ASSERT_EQ(o.samples.size(), 3u);  // probe_success, probe_duration_seconds, up
      EXPECT_EQ(o.instance, "u");
    }
  }
  ASSERT_EQ(last.samples.size(), 6u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(last.samples[i].name, first.outcomes[0].samples[i].name);
    EXPECT_EQ(last.samples[i].labels, first.outcomes[0].samples[i].labels);
    EXPECT_EQ(last.samples[i + 3].labels, last.samples[i].labels);
  }
  EXPECT_EQ(last.samples[0].labels.Get("instance"), "u");
  EXPECT_EQ(last.samples[0].labels.Get("probe"), "health");
  EXPECT_EQ(last.samples[2].name, "up");
}

TEST(ProbeRunnerTest, AThrowingProbeIsUnknownNotDown) {
  FakeClock clock;
  CollectingSink sink;
  std::vector<std::pair<ProbeKey, std::string>> errors;
  ProbeRunner runner(clock, 1.5, {&sink}, [&](const ProbeKey& key, const std::string& what) {
    errors.emplace_back(key, what);
  });
  runner.Run(Make(std::make_shared<ThrowingProbe>()), clock.NowMs(), 7);
  EXPECT_TRUE(sink.outcomes.empty());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, (ProbeKey{"carbon", "health"}));
  EXPECT_EQ(errors[0].second, "bad_alloc in parser");
}

TEST(ProbeRunnerTest, ARunCarriesItsStateEpochToTheSinks) {
  FakeClock clock;
  CollectingSink sink;
  int errors = 0;
  ProbeRunner runner(clock, 1.5, {&sink}, [&](const ProbeKey&, const std::string&) { ++errors; });
  runner.Run(Make(std::make_shared<UpProbe>()), clock.NowMs(), 42);
  ASSERT_EQ(sink.outcomes.size(), 1u);
  EXPECT_EQ(sink.outcomes[0].state_epoch, 42u);
  EXPECT_TRUE(sink.outcomes[0].run.success);
  EXPECT_EQ(errors, 0);
}

// A scrape already reports `up{job,instance}` (Prometheus's own series); as a health probe it
// must not get a second `up` with a `probe` label, or `up == 0` fires twice per target.
TEST(ProbeRunnerTest, AHealthScrapeHasOneUpSeriesAndOtherHealthProbesGetTheirs) {
  class ScrapeLike final : public Probe {
   public:
    ProbeResult Run(const Deadline&) override {
      ProbeResult r = ProbeResult::Up();
      r.samples.push_back({"up", Labels{{"job", "carbon"}, {"instance", "h:1"}}, 0, 1});
      return r;
    }
    std::string Instance() const override { return "h:1"; }
  };
  FakeClock clock;
  CollectingSink sink;
  ProbeRunner runner(clock, 1.5, {&sink}, [](const ProbeKey&, const std::string&) {});
  auto count_up = [&] {
    int n = 0;
    for (const auto& s : sink.outcomes.back().samples) n += s.name == "up";
    return n;
  };
  ScheduledProbe scrape = Make(std::make_shared<ScrapeLike>());
  scrape.spec.kind = "scrape";
  scrape.spec.role = ProbeRole::kHealth;
  scrape.spec.labels = Labels{{"job", "carbon"}};
  runner.Run(scrape, clock.NowMs(), 1);
  EXPECT_EQ(count_up(), 1);
  ScheduledProbe http = Make(std::make_shared<UpProbe>());
  http.spec.kind = "http";
  http.spec.role = ProbeRole::kHealth;
  http.spec.labels = Labels{{"job", "carbon"}};
  runner.Run(http, clock.NowMs(), 1);
  EXPECT_EQ(count_up(), 1);
  EXPECT_EQ(sink.outcomes.back().samples.back().labels.Get("probe"), "health");
}

// Fresh eyes, issue 13, second pass: an exec probe printing `real\0nul` stored a raw NUL in
// probe_runs.reason (sqlite3 showed "exit 1: real"), and invalid UTF-8 went raw into reports.
// A reason is kept as log lines are: escaped, backslashes doubled, at most 4 KiB.
TEST(ProbeRunnerTest, AReasonIsStoredEscapedAndBounded) {
  class Garbled final : public Probe {
   public:
    explicit Garbled(std::string reason) : reason_(std::move(reason)) {}
    ProbeResult Run(const Deadline&) override { return ProbeResult::Down(reason_); }
    std::string Instance() const override { return "g"; }

   private:
    std::string reason_;
  };
  FakeClock clock;
  CollectingSink sink;
  ProbeRunner runner(clock, 1.5, {&sink}, [](const ProbeKey&, const std::string&) {});
  runner.Run(Make(std::make_shared<Garbled>(std::string("exit 1: real\0nul \xff\x1b \\x00", 24))),
             clock.NowMs(), 1);
  runner.Run(Make(std::make_shared<Garbled>(std::string(10'000, 'a'))), clock.NowMs(), 1);
  ASSERT_EQ(sink.outcomes.size(), 2u);
  EXPECT_EQ(sink.outcomes[0].run.reason, "exit 1: real\\x00nul \\xff\\x1b \\\\x00");
  EXPECT_EQ(sink.outcomes[1].run.reason.size(), 4096u);
  EXPECT_EQ(sink.outcomes[1].run.reason.substr(4093), "...");
}


// EarliestRunningStart (remote_write's bound for runs still going): a run's start, from before its
// probe runs until after its outcome reached every sink; nothing once it has ended, even when a
// sink threw. A probe that advances the FakeClock while it runs, and sinks that read the bound
// as they are handed the outcome.
class SlowProbe final : public Probe {
 public:
  SlowProbe(FakeClock& clock, ProbeRunner*& runner, TimestampMs* seen_while_running)
      : clock_(clock), runner_(runner), seen_(seen_while_running) {}
  ProbeResult Run(const Deadline&) override {
    *seen_ = runner_->EarliestRunningStart();
    clock_.Advance(4'000);  // a run longer than a 1 s settle delay
    return ProbeResult::Up();
  }
  std::string Instance() const override { return "slow"; }

 private:
  FakeClock& clock_;
  ProbeRunner*& runner_;
  TimestampMs* seen_;
};

class BoundReadingSink final : public ResultSink {
 public:
  explicit BoundReadingSink(ProbeRunner*& runner, bool throws = false)
      : runner_(runner), throws_(throws) {}
  void OnRun(const RunOutcome& o) override {
    seen.push_back({o.run.ts_ms, runner_->EarliestRunningStart()});
    if (throws_) throw std::runtime_error("sink failed");
  }
  std::vector<std::pair<TimestampMs, TimestampMs>> seen;  // the run's stamp, the bound then

 private:
  ProbeRunner*& runner_;
  bool throws_;
};

constexpr TimestampMs kNoRun = std::numeric_limits<TimestampMs>::max();

TEST(ProbeRunnerTest, ARunBoundsTheUnsentSamplesFromItsStartUntilItsOutcomeIsDelivered) {
  FakeClock clock;
  ProbeRunner* runner_ptr = nullptr;
  BoundReadingSink sink(runner_ptr);
  ProbeRunner runner(clock, 1.5, {&sink});
  runner_ptr = &runner;
  EXPECT_EQ(runner.EarliestRunningStart(), kNoRun);
  TimestampMs seen_inside = 0;
  const TimestampMs start = clock.NowMs();
  runner.Run(Make(std::make_shared<SlowProbe>(clock, runner_ptr, &seen_inside)), start);
  EXPECT_EQ(seen_inside, start);
  ASSERT_EQ(sink.seen.size(), 1u);
  EXPECT_EQ(sink.seen[0].first, start);   // the samples are stamped with the start...
  EXPECT_EQ(sink.seen[0].second, start);  // ...and the bound holds there while they are handed on
  EXPECT_EQ(clock.NowMs(), start + 4'000);
  EXPECT_EQ(runner.EarliestRunningStart(), kNoRun);
}

TEST(ProbeRunnerTest, ARunWhoseSinkThrowsLeavesNoBoundBehind) {
  FakeClock clock;
  ProbeRunner* runner_ptr = nullptr;
  BoundReadingSink sink(runner_ptr, /*throws=*/true);
  ProbeRunner runner(clock, 1.5, {&sink});
  runner_ptr = &runner;
  EXPECT_THROW(runner.Run(Make(std::make_shared<UpProbe>()), clock.NowMs()), std::runtime_error);
  ASSERT_EQ(sink.seen.size(), 1u);
  EXPECT_EQ(sink.seen[0].second, sink.seen[0].first);
  EXPECT_EQ(runner.EarliestRunningStart(), kNoRun);
}

// A batch: each run holds the bound at its own start until it is delivered. The runs' sockets
// are pipes that are readable at once, so the batch ends on the first poll.
// A run waiting for a pipe to be readable; `asked`, when given, counts the runner's looks at it.
class PipeRun final : public PendingRun {
 public:
  explicit PipeRun(int fd, std::atomic<int>* asked = nullptr) : fd_(fd), asked_(asked) {}
  int fd() const override {
    if (asked_ != nullptr) ++*asked_;
    return done_ ? -1 : fd_;
  }
  short events() const override { return POLLIN; }
  void OnReady(short) override { done_ = true; }
  void OnDeadline() override { done_ = true; }
  bool done() const override { return done_; }
  ProbeResult TakeResult() override { return ProbeResult::Up(); }

 private:
  int fd_;
  std::atomic<int>* asked_;
  bool done_ = false;
};

class ReadyProbe final : public Probe {
 public:
  ReadyProbe(FakeClock& clock, int fd) : clock_(clock), fd_(fd) {}
  ProbeResult Run(const Deadline&) override { return ProbeResult::Up(); }
  std::string Instance() const override { return "ready"; }
  bool Startable() const override { return true; }
  std::unique_ptr<PendingRun> Start() override {
    auto run = std::make_unique<PipeRun>(fd_);
    clock_.Advance(5);  // the next run of the batch starts 5 ms later
    return run;
  }

 private:
  FakeClock& clock_;
  int fd_;
};

TEST(ProbeRunnerTest, EachRunOfABatchBoundsTheUnsentSamplesUntilItIsDelivered) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  FakeClock clock;
  ProbeRunner* runner_ptr = nullptr;
  BoundReadingSink sink(runner_ptr);
  ProbeRunner runner(clock, 1.5, {&sink});
  runner_ptr = &runner;
  const ScheduledProbe a = Make(std::make_shared<ReadyProbe>(clock, fds[0]));
  const ScheduledProbe b = Make(std::make_shared<ReadyProbe>(clock, fds[0]));
  const TimestampMs start = clock.NowMs();
  std::vector<size_t> finished;
  runner.RunBatch({{&a, 0}, {&b, 0}}, [&](size_t i) { finished.push_back(i); });
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_EQ(finished, (std::vector<size_t>{0, 1}));
  ASSERT_EQ(sink.seen.size(), 2u);
  EXPECT_EQ(sink.seen[0].first, start);
  EXPECT_EQ(sink.seen[0].second, start);  // both running: the earlier start
  EXPECT_EQ(sink.seen[1].first, start + 5);
  EXPECT_EQ(sink.seen[1].second, start + 5);  // the first was delivered: only the second's
  EXPECT_EQ(runner.EarliestRunningStart(), kNoRun);
}

// A run's duration ends at its answer's arrival when the probe knows how long the answer waited
// unread (ProbeResult::answer_waited, the kernel's receive timestamp), never below zero.
class WaitedProbe final : public Probe {
 public:
  WaitedProbe(FakeClock& clock, int64_t run_ms, std::chrono::nanoseconds waited)
      : clock_(clock), run_ms_(run_ms), waited_(waited) {}
  ProbeResult Run(const Deadline&) override {
    clock_.Advance(run_ms_);
    ProbeResult r = ProbeResult::Up();
    r.answer_waited = waited_;
    return r;
  }
  std::string Instance() const override { return "w"; }

 private:
  FakeClock& clock_;
  int64_t run_ms_;
  std::chrono::nanoseconds waited_;
};

TEST(ProbeRunnerTest, ADurationEndsWhenTheAnswerArrivedNotWhenItWasRead) {
  FakeClock clock;
  CollectingSink sink;
  ProbeRunner runner(clock, 1.5, {&sink});
  runner.Run(Make(std::make_shared<WaitedProbe>(clock, 400, std::chrono::milliseconds(150))),
             clock.NowMs());
  runner.Run(Make(std::make_shared<WaitedProbe>(clock, 400, std::chrono::milliseconds(900))),
             clock.NowMs());
  runner.Run(Make(std::make_shared<WaitedProbe>(clock, 400, std::chrono::nanoseconds(0))),
             clock.NowMs());
  ASSERT_EQ(sink.outcomes.size(), 3u);
  EXPECT_DOUBLE_EQ(sink.outcomes[0].run.duration_seconds, 0.25);
  EXPECT_DOUBLE_EQ(sink.outcomes[1].run.duration_seconds, 0.0);  // more than the run: clamped
  EXPECT_DOUBLE_EQ(sink.outcomes[2].run.duration_seconds, 0.4);
  EXPECT_EQ(sink.outcomes[0].samples[1].name, "probe_duration_seconds");
  EXPECT_DOUBLE_EQ(sink.outcomes[0].samples[1].value, 0.25);
}

// Answers read together (RunBatch): a run whose answer is expected, and can be read late
// (PendingRun::ExpectedAnswer()), has its socket left alone until its answer is due (its
// expectation plus a quarter and 1 ms), and no later; the wake-up for one run's due time reads
// every held answer already there; a run without an expectation is read as soon as it is
// readable; the wait never passes 5 ms nor a deadline, and a run whose answer is there at its
// deadline is up, not timed out. The clock is the real one (the runner's waits are poll()'s),
// so the tests check order and lower bounds, which no delay of the machine can break.
class AnsweredRun : public PendingRun {
 public:
  // `answered_at`: when the answer arrived by `clock`, as the kernel's timestamp would tell.
  AnsweredRun(int fd, std::optional<std::chrono::nanoseconds> expected,
              std::optional<SteadyTime> answered_at = std::nullopt,
              const Clock& clock = SystemClock::Instance())
      : fd_(fd), expected_(expected), answered_at_(answered_at), clock_(clock) {}
  int fd() const override { return done_ ? -1 : fd_; }
  short events() const override { return POLLIN; }
  void OnReady(short) override { done_ = true; }
  void OnDeadline() override { done_ = timed_out_ = true; }
  bool done() const override { return done_; }
  ProbeResult TakeResult() override {
    if (timed_out_) return ProbeResult::Down("timeout");
    ProbeResult r = ProbeResult::Up();
    if (answered_at_) r.answer_waited = clock_.SteadyNow() - *answered_at_;
    return r;
  }
  std::optional<std::chrono::nanoseconds> ExpectedAnswer() const override { return expected_; }

 private:
  int fd_;
  std::optional<std::chrono::nanoseconds> expected_;
  std::optional<SteadyTime> answered_at_;
  const Clock& clock_;
  bool done_ = false;
  bool timed_out_ = false;
};

class AnsweredProbe final : public Probe {
 public:
  AnsweredProbe(int fd, std::optional<std::chrono::nanoseconds> expected,
                std::optional<SteadyTime> answered_at = std::nullopt,
                const Clock& clock = SystemClock::Instance())
      : fd_(fd), expected_(expected), answered_at_(answered_at), clock_(clock) {}
  ProbeResult Run(const Deadline&) override { return ProbeResult::Up(); }
  std::string Instance() const override { return "answered"; }
  bool Startable() const override { return true; }
  std::unique_ptr<PendingRun> Start() override {
    return std::make_unique<AnsweredRun>(fd_, expected_, answered_at_, clock_);
  }

 private:
  int fd_;
  std::optional<std::chrono::nanoseconds> expected_;
  std::optional<SteadyTime> answered_at_;
  const Clock& clock_;
};

class ProbeRunnerGatherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe(fds_), 0);
    ASSERT_EQ(::write(fds_[1], "x", 1), 1);  // every run's answer is there at once
    ASSERT_EQ(::pipe(quiet_), 0);             // but for Quiet()'s, which never comes
  }
  void TearDown() override {
    for (int fd : {fds_[0], fds_[1], quiet_[0], quiet_[1]}) ::close(fd);
  }
  ScheduledProbe Quiet(int64_t timeout_ms) {
    ScheduledProbe p = Make(std::make_shared<AnsweredProbe>(quiet_[0], std::nullopt));
    p.spec.timeout_ms = timeout_ms;
    return p;
  }
  ScheduledProbe Answered(std::optional<std::chrono::nanoseconds> expected,
                          int64_t timeout_ms = 5000) {
    ScheduledProbe p = Make(std::make_shared<AnsweredProbe>(fds_[0], expected));
    p.spec.timeout_ms = timeout_ms;
    return p;
  }
  // Runs the batch; returns when each run was finished, after the batch's start, in ms.
  std::vector<int64_t> RunTimed(const std::vector<ScheduledProbe>& probes) {
    std::vector<ProbeRunner::BatchRun> runs;
    for (const ScheduledProbe& p : probes) runs.push_back({&p, 0});
    std::vector<int64_t> at(probes.size(), -1);
    const auto start = std::chrono::steady_clock::now();
    runner_.RunBatch(runs, [&](size_t i) {
      at[i] = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
      order_.push_back(i);
    });
    return at;
  }

  int fds_[2] = {-1, -1};
  int quiet_[2] = {-1, -1};
  CollectingSink sink_;
  ProbeRunner runner_{SystemClock::Instance(), 1.5, {&sink_}};
  std::vector<size_t> order_;
};

TEST_F(ProbeRunnerGatherTest, ExpectedAnswersAreReadWhenTheFirstIsDueWithThoseAlreadyThere) {
  using std::chrono::milliseconds;
  // Due at 3 ms, at once, and at 5 ms (9 ms, held 5 ms at most); the quiet run times out at 4.
  const auto at = RunTimed({Answered(std::chrono::microseconds(1600)), Answered(std::nullopt),
                            Answered(milliseconds(6)), Quiet(4)});
  EXPECT_EQ(order_, (std::vector<size_t>{1, 0, 2, 3}))
      << "at once, then at 3 ms the first due with the one due at 5 ms whose answer is there, "
         "then the timeout at 4 ms";
  EXPECT_GE(at[0], 3) << "not before its own due time";
  EXPECT_GE(at[2], 3);
  ASSERT_EQ(sink_.outcomes.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(sink_.outcomes[i].run.success);
  EXPECT_EQ(sink_.outcomes[3].run.reason, "timeout");
}

// Each run is read by its own due time, not its batch-mates': a larger answer than its probe's
// last would otherwise stall its sender for the slowest batch-mate (fresh eyes: a 1 MiB answer
// sent at once stored as 62 ms beside a batch-mate due at 45 ms).
TEST_F(ProbeRunnerGatherTest, ARunIsReadByItsOwnDueTimeNotItsSlowestBatchMates) {
  using std::chrono::milliseconds;
  // Due at 2.25 ms; the other expects its answer in 10 s (held to 5 ms) and times out at 4 ms.
  ScheduledProbe slow = Make(std::make_shared<AnsweredProbe>(quiet_[0], milliseconds(10'000)));
  slow.spec.timeout_ms = 4;
  RunTimed({Answered(milliseconds(1)), slow});
  EXPECT_EQ(order_, (std::vector<size_t>{0, 1})) << "read at 2.25 ms, before the other's 4 ms";
}

TEST_F(ProbeRunnerGatherTest, TheWaitEndsAfterFiveMillisecondsOrAtTheFirstDeadline) {
  using std::chrono::milliseconds;
  const auto capped = RunTimed({Answered(milliseconds(10'000)), Answered(milliseconds(10'000))});
  EXPECT_GE(capped[0], 5);
  EXPECT_LT(capped[0], 4000) << "not the 10 s expected";
  order_.clear();
  const auto due = RunTimed({Answered(milliseconds(40), 3), Answered(milliseconds(40))});
  EXPECT_GE(due[0], 3);
  ASSERT_EQ(sink_.outcomes.size(), 4u);
  for (const RunOutcome& o : sink_.outcomes) {
    EXPECT_TRUE(o.run.success) << "its answer was there by its deadline: " << o.run.reason;
  }
}

// An answer the kernel timed after the run's deadline is a timeout, however soon it was read
// after it; one timed before the deadline is the run's, however late it was read.
TEST(ProbeRunnerTest, AnAnswerThatArrivedAfterTheDeadlineIsATimeout) {
  FakeClock clock;
  CollectingSink sink;
  ProbeRunner runner(clock, 1.5, {&sink});
  const auto Timed300 = [&](std::chrono::nanoseconds waited) {
    ScheduledProbe p = Make(std::make_shared<WaitedProbe>(clock, 400, waited));
    p.spec.timeout_ms = 300;
    return p;
  };
  runner.Run(Timed300(std::chrono::milliseconds(50)), clock.NowMs());   // arrived at 350 ms
  runner.Run(Timed300(std::chrono::milliseconds(150)), clock.NowMs());  // arrived at 250 ms
  ASSERT_EQ(sink.outcomes.size(), 2u);
  EXPECT_FALSE(sink.outcomes[0].run.success);
  EXPECT_EQ(sink.outcomes[0].run.reason, "timeout after 300ms");
  EXPECT_TRUE(sink.outcomes[1].run.success);
  EXPECT_DOUBLE_EQ(sink.outcomes[1].run.duration_seconds, 0.25);
}

// Shutdown (Cancel): a run waiting on a socket that never answers, with a minute of its timeout
// left, ends at once, and neither it nor any later run reaches a sink: the target did not fail,
// obsmon stopped. The pipes are never written, so only the cancellation can end these waits;
// the fake clock never moves, so no deadline can.
class SilentProbe final : public Probe {
 public:
  SilentProbe(int fd, std::atomic<int>* polled) : fd_(fd), polled_(polled) {}
  // The blocking way (exec, tcp and the like): polls until the deadline, as they do.
  ProbeResult Run(const Deadline& deadline) override {
    while (!deadline.Expired(clock_)) {
      pollfd p{fd_, POLLIN, 0};
      ++*polled_;
      if (probes::PollOrCancel(&p, 1, static_cast<int>(deadline.Remaining(clock_).count()),
                               deadline) > 0) {
        return ProbeResult::Up();
      }
    }
    return ProbeResult::Down("timeout");
  }
  std::string Instance() const override { return "silent"; }
  bool Startable() const override { return true; }
  std::unique_ptr<PendingRun> Start() override {
    return std::make_unique<PipeRun>(fd_, polled_);
  }

 private:
  FakeClock clock_;  // never advanced
  int fd_;
  std::atomic<int>* polled_;
};

ScheduledProbe MakeSilent(int fd, std::atomic<int>* polled) {
  ScheduledProbe p = Make(std::make_shared<SilentProbe>(fd, polled));
  p.spec.timeout_ms = 60'000;
  return p;
}

// A runner, and a pipe nobody writes to for its silent probes.
class ProbeRunnerCancelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::pipe(fds_), 0); }
  void TearDown() override {
    if (stopper_.joinable()) stopper_.join();
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  ScheduledProbe Silent() { return MakeSilent(fds_[0], &polled_); }
  // Cancels the runner from another thread once a silent run is at its poll.
  void CancelOncePolling() {
    stopper_ = std::thread([this] {
      while (polled_.load() == 0) std::this_thread::yield();
      runner_.Cancel();
    });
  }

  int fds_[2] = {-1, -1};
  FakeClock clock_;
  CollectingSink sink_;
  ProbeRunner runner_{clock_, 1.5, {&sink_}};
  std::atomic<int> polled_{0};
  std::thread stopper_;
};

TEST_F(ProbeRunnerCancelTest, ABatchWaitingOnSilentSocketsEndsAndDeliversNothing) {
  const ScheduledProbe a = Silent();
  const ScheduledProbe b = Silent();
  CancelOncePolling();
  std::vector<size_t> finished;
  runner_.RunBatch({{&a, 0}, {&b, 0}}, [&](size_t i) { finished.push_back(i); });
  EXPECT_EQ(finished, (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(sink_.outcomes.empty());
  EXPECT_EQ(runner_.AbandonedRuns(), 2u);
  EXPECT_EQ(runner_.EarliestRunningStart(), std::numeric_limits<TimestampMs>::max());
}

TEST_F(ProbeRunnerCancelTest, ABlockingRunEndsAndNeitherItNorALaterOneIsDelivered) {
  CancelOncePolling();
  runner_.Run(Silent(), clock_.NowMs());
  runner_.Run(Make(std::make_shared<UpProbe>()), clock_.NowMs());  // after the cancel
  EXPECT_TRUE(sink_.outcomes.empty());
  EXPECT_EQ(runner_.AbandonedRuns(), 2u);
}

// A run whose own deadline came before the stop began (its command in the kill grace) is a
// genuine timeout: delivered. One stopped `early_ms` before its deadline that then ends in the
// kill grace, past its deadline, was cut short: abandoned (fresh eyes: a SIGTERM 100 ms before
// a 1 s timeout was stored as a timeout).
class StoppedNearItsDeadline final : public Probe {
 public:
  StoppedNearItsDeadline(FakeClock& clock, ProbeRunner& runner, int64_t early_ms)
      : clock_(clock), runner_(runner), early_ms_(early_ms) {}
  ProbeResult Run(const Deadline& deadline) override {
    clock_.Advance(deadline.Remaining(clock_).count() - early_ms_);
    runner_.Cancel();
    clock_.Advance(early_ms_ + 200);  // the kill grace
    return ProbeResult::Down("timeout after 1m");
  }
  std::string Instance() const override { return "slow"; }

 private:
  FakeClock& clock_;
  ProbeRunner& runner_;
  int64_t early_ms_;
};

TEST_F(ProbeRunnerCancelTest, ARunStoppedJustBeforeItsDeadlineIsAbandonedEvenPastIt) {
  ScheduledProbe slow = Make(std::make_shared<StoppedNearItsDeadline>(clock_, runner_, 100));
  slow.spec.timeout_ms = 60'000;
  runner_.Run(slow, clock_.NowMs());
  EXPECT_TRUE(sink_.outcomes.empty());
  EXPECT_EQ(runner_.AbandonedRuns(), 1u);
}

TEST_F(ProbeRunnerCancelTest, ARunThatLastedItsTimeoutIsDeliveredWhileStopping) {
  ScheduledProbe slow = Make(std::make_shared<StoppedNearItsDeadline>(clock_, runner_, 0));
  slow.spec.timeout_ms = 60'000;
  runner_.Run(slow, clock_.NowMs());
  ASSERT_EQ(sink_.outcomes.size(), 1u);
  EXPECT_FALSE(sink_.outcomes[0].run.success);
  EXPECT_EQ(sink_.outcomes[0].run.reason, "timeout after 1m");
  EXPECT_EQ(runner_.AbandonedRuns(), 0u);
  runner_.Run(Silent(), clock_.NowMs());  // cancelled before it started: abandoned
  EXPECT_EQ(sink_.outcomes.size(), 1u);
  EXPECT_EQ(runner_.AbandonedRuns(), 1u);
}

class DownProbe final : public Probe {
 public:
  ProbeResult Run(const Deadline&) override { return ProbeResult::Down("killed by signal 15"); }
  std::string Instance() const override { return "d"; }
};

// A SIGTERM pending, not yet taken by the signal thread (SetStopPending): a run that fails then
// may have died of the same signal (a supervisor signalling every process) and is abandoned,
// and so is an exec run that succeeds (its command's trap may exit 0); another probe's success
// is a true verdict and is delivered.
TEST_F(ProbeRunnerCancelTest, WhileAStopIsPendingFailuresAndExecRunsAreAbandoned) {
  bool pending = false;
  runner_.SetStopPending([&] { return pending; });
  runner_.Run(Make(std::make_shared<DownProbe>()), clock_.NowMs());
  ASSERT_EQ(sink_.outcomes.size(), 1u);  // no stop pending: a down is a down
  pending = true;
  runner_.Run(Make(std::make_shared<DownProbe>()), clock_.NowMs());
  ScheduledProbe exec = Make(std::make_shared<UpProbe>());
  exec.spec.kind = "exec";
  runner_.Run(exec, clock_.NowMs());
  runner_.Run(Make(std::make_shared<UpProbe>()), clock_.NowMs());
  ASSERT_EQ(sink_.outcomes.size(), 2u);
  EXPECT_TRUE(sink_.outcomes[1].run.success);
  EXPECT_EQ(runner_.AbandonedRuns(), 2u);
}

// Stopping while a batch leaves an answer unread: the answer that had arrived before the stop
// (by its timestamp) is read and stored, as it would have been had it been read on arrival; the
// run still waiting for its answer is abandoned, as every run in flight at a stop is. On a fake
// clock that only the stopper moves (the answer 10 ms before the batch, the stop 1 ms into it),
// the answer is read only by the stop: on the system clock a loaded machine put the stop within
// microseconds of the batch's start, and the gap between reading the answer and finishing the
// run then made the answer look later than the stop (CI; 6 and 12 of 3,000 runs beside two
// busy loops).
TEST(ProbeRunnerGatherStopTest, AnAnswerThatArrivedBeforeTheStopIsStoredNotAbandoned) {
  int answered_pipe[2], silent_pipe[2];
  ASSERT_EQ(::pipe(answered_pipe), 0);
  ASSERT_EQ(::pipe(silent_pipe), 0);
  ASSERT_EQ(::write(answered_pipe[1], "x", 1), 1);
  FakeClock clock;
  CollectingSink sink;
  ProbeRunner runner(clock, 1.5, {&sink});
  std::atomic<int> polled{0};
  ScheduledProbe answered = Make(std::make_shared<AnsweredProbe>(
      answered_pipe[0], std::chrono::milliseconds(40),
      clock.SteadyNow() - std::chrono::milliseconds(10), clock));
  answered.spec.timeout_ms = 60'000;
  const ScheduledProbe silent = MakeSilent(silent_pipe[0], &polled);
  std::thread stopper([&] {
    while (polled.load() == 0) std::this_thread::yield();  // the batch is at its poll()
    clock.Advance(1);
    runner.Cancel();
  });
  std::vector<size_t> finished;
  runner.RunBatch({{&answered, 0}, {&silent, 0}}, [&](size_t i) { finished.push_back(i); });
  stopper.join();
  for (int fd : {answered_pipe[0], answered_pipe[1], silent_pipe[0], silent_pipe[1]}) ::close(fd);
  EXPECT_EQ(finished.size(), 2u);
  ASSERT_EQ(sink.outcomes.size(), 1u);
  EXPECT_TRUE(sink.outcomes[0].run.success);
  EXPECT_DOUBLE_EQ(sink.outcomes[0].run.duration_seconds, 0.0);  // answered as it began
  EXPECT_EQ(runner.AbandonedRuns(), 1u);
}

// A few requests to a server at once (RunBatch): at most batch_in_flight_per_server() runs of
// a batch to one server (Probe::Server()) are in flight; the others start in the batch's order
// as those end, or once they have waited kMaxBatchQueueing; other servers' runs, and runs of
// an unknown server, are not held back. Each run's socket is a pipe of its own.
// An AnsweredRun (above) without an expectation, counted among its server's runs in flight
// while it lives.
class ServerRun final : public AnsweredRun {
 public:
  ServerRun(int fd, std::map<std::string, int>& in_flight, std::string server)
      : AnsweredRun(fd, std::nullopt), in_flight_(in_flight), server_(std::move(server)) {
    ++in_flight_[server_];
  }
  ~ServerRun() override { --in_flight_[server_]; }

 private:
  std::map<std::string, int>& in_flight_;
  std::string server_;
};

// Records, at each start, how many runs of its server were in flight then (itself included),
// and when it started.
class ServerProbe final : public Probe {
 public:
  ServerProbe(int fd, std::string server, std::map<std::string, int>& in_flight,
              std::vector<std::pair<std::string, int>>& starts, std::atomic<int>& started,
              std::vector<SteadyTime>* at)
      : fd_(fd),
        server_(std::move(server)),
        in_flight_(in_flight),
        starts_(starts),
        started_(started),
        at_(at) {}
  ProbeResult Run(const Deadline&) override { return ProbeResult::Up(); }
  std::string Instance() const override { return server_; }
  bool Startable() const override { return true; }
  std::string_view Server() const override { return server_; }
  std::unique_ptr<PendingRun> Start() override {
    auto run = std::make_unique<ServerRun>(fd_, in_flight_, server_);
    starts_.push_back({server_, in_flight_[server_]});
    if (at_ != nullptr) at_->push_back(std::chrono::steady_clock::now());
    ++started_;
    return run;
  }

 private:
  int fd_;
  std::string server_;
  std::map<std::string, int>& in_flight_;
  std::vector<std::pair<std::string, int>>& starts_;
  std::atomic<int>& started_;  // read by another thread
  std::vector<SteadyTime>* at_;
};

class ProbeRunnerServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }
  // A probe of `server` whose answer is in its pipe when `answered`, never otherwise.
  ScheduledProbe Probe(const std::string& server, bool answered, int64_t timeout_ms = 5000,
                       std::vector<SteadyTime>* at = nullptr) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    if (answered) EXPECT_EQ(::write(p[1], "x", 1), 1);
    fds_.push_back(p[0]);
    fds_.push_back(p[1]);
    ScheduledProbe probe =
        Make(std::make_shared<ServerProbe>(p[0], server, in_flight_, starts_, started_, at));
    probe.spec.timeout_ms = timeout_ms;
    return probe;
  }
  std::vector<size_t> Run(ProbeRunner& runner, const std::vector<ScheduledProbe>& probes) {
    std::vector<ProbeRunner::BatchRun> runs;
    for (const ScheduledProbe& p : probes) runs.push_back({&p, 0});
    std::vector<size_t> finished;
    runner.RunBatch(runs, [&](size_t i) { finished.push_back(i); });
    return finished;
  }
  // The most runs of `server` in flight at any start.
  int MostInFlight(const std::string& server) const {
    int most = 0;
    for (const auto& [s, n] : starts_) {
      if (s == server) most = std::max(most, n);
    }
    return most;
  }

  std::vector<int> fds_;
  std::map<std::string, int> in_flight_;
  std::vector<std::pair<std::string, int>> starts_;
  std::atomic<int> started_{0};
  CollectingSink sink_;
};

TEST_F(ProbeRunnerServerTest, AtMostTheLimitOfRunsToOneServerAreInFlightOthersAreNotHeld) {
  ProbeRunner runner(SystemClock::Instance(), 1.5, {&sink_});
  runner.set_batch_in_flight_per_server(2);
  std::vector<ScheduledProbe> probes;
  for (int i = 0; i < 5; ++i) probes.push_back(Probe("10.0.0.1:80", true));
  for (int i = 0; i < 3; ++i) probes.push_back(Probe("10.0.0.2:80", true));
  for (int i = 0; i < 3; ++i) probes.push_back(Probe("", true));  // unknown: no limit
  const std::vector<size_t> finished = Run(runner, probes);
  EXPECT_EQ(finished.size(), probes.size());
  EXPECT_EQ(std::set<size_t>(finished.begin(), finished.end()).size(), probes.size());
  ASSERT_EQ(starts_.size(), probes.size());
  EXPECT_EQ(MostInFlight("10.0.0.1:80"), 2);
  EXPECT_EQ(MostInFlight("10.0.0.2:80"), 2);
  EXPECT_EQ(MostInFlight(""), 3) << "a run of an unknown server is never held back";
  // In the batch's order: the first two of each server at once, the others as places free.
  EXPECT_EQ(starts_[0].first, "10.0.0.1:80");
  EXPECT_EQ(starts_[1].first, "10.0.0.1:80");
  EXPECT_EQ(starts_[2].first, "10.0.0.2:80");
  ASSERT_EQ(sink_.outcomes.size(), probes.size());
  for (const RunOutcome& o : sink_.outcomes) EXPECT_TRUE(o.run.success);
}

TEST_F(ProbeRunnerServerTest, WithoutALimitEveryRunStartsAtOnce) {
  ProbeRunner runner(SystemClock::Instance(), 1.5, {&sink_});
  runner.set_batch_in_flight_per_server(0);
  std::vector<ScheduledProbe> probes;
  for (int i = 0; i < 6; ++i) probes.push_back(Probe("10.0.0.1:80", true));
  EXPECT_EQ(Run(runner, probes).size(), probes.size());
  EXPECT_EQ(MostInFlight("10.0.0.1:80"), 6);
}

// A server that does not answer holds its place until the run's deadline: the run waiting for
// it starts kMaxBatchQueueing after the batch's start, and is not held until that deadline.
TEST_F(ProbeRunnerServerTest, ARunWaitsForAPlaceNoLongerThanTheQueueingBound) {
  using std::chrono::milliseconds;
  ProbeRunner runner(SystemClock::Instance(), 1.5, {&sink_});
  runner.set_batch_in_flight_per_server(1);
  std::vector<SteadyTime> at;
  const std::vector<ScheduledProbe> probes = {Probe("10.0.0.1:80", false, 300, &at),
                                              Probe("10.0.0.1:80", true, 300, &at)};
  const auto begin = std::chrono::steady_clock::now();
  const std::vector<size_t> finished = Run(runner, probes);
  EXPECT_EQ(finished, (std::vector<size_t>{1, 0})) << "the answered run ends first";
  ASSERT_EQ(at.size(), 2u);
  EXPECT_GE(at[1] - begin, ProbeRunner::kMaxBatchQueueing);
  EXPECT_LT(at[1] - begin, milliseconds(300)) << "not held until the silent run's deadline";
  ASSERT_EQ(sink_.outcomes.size(), 2u);
  EXPECT_TRUE(sink_.outcomes[0].run.success);
  EXPECT_EQ(sink_.outcomes[1].run.reason, "timeout");
}

// Stopping while a run waits for its place: it never starts, and nothing of it is stored. The
// fake clock never moves, so the wait can only end by a place or the stop.
TEST_F(ProbeRunnerServerTest, ARunStillWaitingForAPlaceAtAStopNeverStarts) {
  FakeClock clock;
  ProbeRunner runner(clock, 1.5, {&sink_});
  runner.set_batch_in_flight_per_server(1);
  std::vector<ScheduledProbe> probes = {Probe("10.0.0.1:80", false, 60'000),
                                        Probe("10.0.0.1:80", true, 60'000)};
  std::thread stopper([&] {
    while (started_.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    runner.Cancel();
  });
  const std::vector<size_t> finished = Run(runner, probes);
  stopper.join();
  EXPECT_EQ(std::set<size_t>(finished.begin(), finished.end()), (std::set<size_t>{0, 1}));
  EXPECT_EQ(starts_.size(), 1u) << "the second run never started";
  EXPECT_TRUE(sink_.outcomes.empty());
  EXPECT_EQ(runner.EarliestRunningStart(), std::numeric_limits<TimestampMs>::max());
}

}  // namespace
}  // namespace obsmon
