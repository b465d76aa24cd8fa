// ProbeRunner: a probe that throws is obsmon's bug. The run reaches no sink (so neither storage
// nor the current state records a *down* verdict, and the time stays unknown) and the hook hears
// of it, with the exception's message.
#include "runtime/probe_runner.h"

#include <gtest/gtest.h>

#include <stdexcept>

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

}  // namespace
}  // namespace obsmon
