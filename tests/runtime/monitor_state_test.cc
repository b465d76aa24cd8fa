// runtime/monitor_state: what it records per run (last run, instance, run counters, exec detail),
// the component verdict it derives at read time (down / unknown / up, the first failing health
// probe's reason), what a reload keeps and removes, and seeding from storage.
#include "runtime/monitor_state.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

constexpr TimestampMs kStart = 1'760'400'000'000;

ProbeConfig ProbeOfKind(const std::string& component, const std::string& name,
                  ProbeRole role = ProbeRole::kHealth) {
  ProbeConfig p;
  p.spec.key = {component, name};
  p.spec.role = role;
  p.spec.labels = Labels{{"job", component}};
  return p;
}

Config TwoComponents() {
  Config config;
  ComponentConfig api;
  api.name = "api";
  api.labels = Labels{{"job", "api"}};
  api.probes = {ProbeOfKind("api", "http"), ProbeOfKind("api", "tcp"),
                ProbeOfKind("api", "logs", ProbeRole::kNone)};
  ComponentConfig db;
  db.name = "db";
  db.labels = Labels{{"job", "db"}};
  db.probes = {ProbeOfKind("db", "tcp")};
  config.components = {api, db};
  return config;
}

RunOutcome Outcome(const ProbeKey& key, bool success, TimestampMs ts, std::string reason = "",
               const ProbeResult* result = nullptr) {
  RunOutcome o;
  o.instance = key.probe + "-target";
  o.run.key = key;
  o.run.ts_ms = ts;
  o.run.success = success;
  o.run.duration_seconds = 0.5;
  o.run.valid_for_ms = 10'000;
  o.run.reason = std::move(reason);
  o.result = result;
  return o;
}

const ProbeState& ProbeOf(const ComponentState& c, const std::string& probe) {
  for (const auto& p : c.probes) {
    if (p.spec.key.probe == probe) return p;
  }
  ADD_FAILURE() << "no probe " << probe;
  static ProbeState none;
  return none;
}

TEST(MonitorStateTest, ConfiguredProbesStartUnknownWithoutRuns) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  const auto snap = state.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].name, "api");  // configuration order
  EXPECT_EQ(snap[1].name, "db");
  EXPECT_EQ(snap[0].health, ComponentHealth::kUnknown);
  ASSERT_EQ(snap[0].probes.size(), 3u);
  for (const auto& p : snap[0].probes) {
    EXPECT_FALSE(p.last_run.has_value());
    EXPECT_EQ(p.runs_success + p.runs_failure, 0u);
  }
}

TEST(MonitorStateTest, RecordsLastRunInstanceCountersAndDetailPerProbe) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  ProbeResult exec;
  exec.detail = "last lines of output";
  state.OnRun(Outcome({"api", "http"}, true, kStart - 2000));
  state.OnRun(Outcome({"api", "http"}, false, kStart - 1000, "HTTP 503", &exec));
  state.OnRun(Outcome({"api", "http"}, true, kStart));
  const auto api = state.Component("api");
  ASSERT_TRUE(api.has_value());
  const ProbeState& http = ProbeOf(*api, "http");
  ASSERT_TRUE(http.last_run.has_value());
  EXPECT_EQ(http.last_run->ts_ms, kStart);
  EXPECT_TRUE(http.last_run->success);
  EXPECT_EQ(http.instance, "http-target");
  EXPECT_EQ(http.runs_success, 2u);
  EXPECT_EQ(http.runs_failure, 1u);
  EXPECT_EQ(http.detail, "last lines of output");  // kept from the last run that had a result
  // The other probes saw nothing.
  EXPECT_EQ(ProbeOf(*api, "tcp").runs_success, 0u);
  EXPECT_EQ(ProbeOf(*state.Component("db"), "tcp").runs_failure, 0u);
}

TEST(MonitorStateTest, RunsOfUnknownProbesAreIgnored) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"api", "gone"}, false, kStart));
  state.OnRun(Outcome({"nope", "http"}, false, kStart));
  for (const auto& c : state.Snapshot()) {
    for (const auto& p : c.probes) EXPECT_FALSE(p.last_run.has_value()) << p.spec.key.probe;
  }
  EXPECT_FALSE(state.Component("nope").has_value());
}

TEST(MonitorStateTest, DownWithTheFirstFailingHealthProbesReason) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"api", "http"}, false, kStart, "HTTP 503"));
  state.OnRun(Outcome({"api", "tcp"}, false, kStart, "connection refused"));
  const auto api = state.Component("api");
  EXPECT_EQ(api->health, ComponentHealth::kDown);
  EXPECT_EQ(api->reason, "http: HTTP 503");  // configuration order decides "first"
}

TEST(MonitorStateTest, UpOnlyWhenEveryHealthProbeHasAValidSuccess) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"api", "http"}, true, kStart));
  EXPECT_EQ(state.Component("api")->health, ComponentHealth::kUnknown);  // tcp has no run
  state.OnRun(Outcome({"api", "tcp"}, true, kStart));
  // A failing non-health probe does not count.
  state.OnRun(Outcome({"api", "logs"}, false, kStart, "errors"));
  EXPECT_EQ(state.Component("api")->health, ComponentHealth::kUp);
  EXPECT_EQ(state.Component("api")->reason, "");
}

TEST(MonitorStateTest, ARunStandsForItsValidityOnlyThenTheStateIsUnknown) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"db", "tcp"}, false, kStart, "refused"));  // valid for 10 s
  clock.Advance(9'999);
  EXPECT_EQ(state.Component("db")->health, ComponentHealth::kDown);
  clock.Advance(1);  // ts + valid_for: no longer valid
  EXPECT_EQ(state.Component("db")->health, ComponentHealth::kUnknown);
  EXPECT_EQ(state.Component("db")->reason, "");
}

TEST(MonitorStateTest, AComponentWithoutHealthProbesIsUnknown) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  Config config;
  ComponentConfig c;
  c.name = "batch";
  c.probes = {ProbeOfKind("batch", "logs", ProbeRole::kNone)};
  config.components = {c};
  state.SetConfig(config);
  state.OnRun(Outcome({"batch", "logs"}, true, kStart));
  EXPECT_EQ(state.Component("batch")->health, ComponentHealth::kUnknown);
}

TEST(MonitorStateTest, AReloadKeepsSurvivingProbesAndRemovesTheOthers) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"api", "http"}, true, kStart));
  state.OnRun(Outcome({"api", "tcp"}, false, kStart, "refused"));
  state.OnRun(Outcome({"db", "tcp"}, true, kStart));
  Config smaller = TwoComponents();
  smaller.components[0].probes.erase(smaller.components[0].probes.begin() + 1);  // api/tcp
  smaller.components.pop_back();                                               // db
  state.SetConfig(smaller);
  const auto snap = state.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_FALSE(state.Component("db").has_value());
  ASSERT_EQ(snap[0].probes.size(), 2u);
  const ProbeState& http = ProbeOf(snap[0], "http");
  EXPECT_EQ(http.runs_success, 1u);
  ASSERT_TRUE(http.last_run.has_value());
  EXPECT_EQ(snap[0].health, ComponentHealth::kUp);  // the failing tcp probe is gone
  // A probe that comes back after a reload starts afresh.
  state.SetConfig(TwoComponents());
  EXPECT_FALSE(ProbeOf(*state.Component("api"), "tcp").last_run.has_value());
  EXPECT_EQ(ProbeOf(*state.Component("api"), "tcp").runs_failure, 0u);
}

TEST(MonitorStateTest, SeedKeepsTheNewestRunAndDoesNotCount) {
  FakeClock clock(kStart);
  MonitorState state(clock);
  state.SetConfig(TwoComponents());
  state.OnRun(Outcome({"api", "http"}, true, kStart));
  ProbeRun older = Outcome({"api", "http"}, false, kStart - 5000).run;
  ProbeRun stored = Outcome({"db", "tcp"}, false, kStart - 1000, "refused").run;
  ProbeRun unknown = Outcome({"gone", "x"}, false, kStart).run;
  state.Seed({older, stored, unknown});
  EXPECT_TRUE(ProbeOf(*state.Component("api"), "http").last_run->success);  // newer kept
  const ProbeState db = ProbeOf(*state.Component("db"), "tcp");  // a copy: the component is a temporary
  ASSERT_TRUE(db.last_run.has_value());
  EXPECT_EQ(db.last_run->ts_ms, kStart - 1000);
  EXPECT_EQ(db.runs_failure, 0u);  // seeding is not a run
  EXPECT_EQ(state.Component("db")->health, ComponentHealth::kDown);
}

TEST(MonitorStateTest, HealthNamesAreStable) {
  EXPECT_STREQ(ToString(ComponentHealth::kUp), "up");
  EXPECT_STREQ(ToString(ComponentHealth::kDown), "down");
  EXPECT_STREQ(ToString(ComponentHealth::kUnknown), "unknown");
}

}  // namespace
}  // namespace obsmon
