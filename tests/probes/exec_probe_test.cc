#include "probes/exec_probe.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/cancellation.h"
#include "core/config_node.h"
#include "tests/probes/run_probe.h"
#include "tests/support/descriptor_limit.h"
#include "tests/support/subprocess.h"

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<Probe> Make(const std::string& yaml, ConfigErrors* errors,
                            int64_t timeout_ms = 5000) {
  ProbeSpec spec;
  spec.key = {"carbon", "health_check"};
  spec.kind = "exec";
  spec.timeout_ms = timeout_ms;
  spec.labels = Labels{{"job", "carbon"}};
  ConfigNode node(YAML::Load(yaml), "probes.yml", errors);
  return MakeExecProbe(spec, node, SystemClock::Instance());
}

// True while `pid` exists and is not a zombie (a zombie may linger when PID 1 does not reap).
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

TEST(ExecProbeTest, ExitZeroIsUp) {
  ConfigErrors errors;
  auto probe = Make("command: [sh, -c, 'echo Carbon component: OK']\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  EXPECT_EQ(probe->Instance(), "health_check");
  ProbeResult r = RunProbe(*probe, 5000);
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.detail, "Carbon component: OK\n");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].name, "probe_exec_exit_code");
  EXPECT_EQ(r.samples[0].value, 0);
  EXPECT_EQ(r.samples[0].labels.Get("instance"), "health_check");
}

// No descriptor left for the command's pipe (obsmon at its RLIMIT_NOFILE) is obsmon's failure:
// the run throws, which the runner counts as an internal error (unknown), never the command's
// down run "cannot create pipe" (fresh eyes, stop 55).
TEST(ExecProbeTest, NoDescriptorLeftIsObsmonsFailureNotADownRun) {
  if (testing::kSanitizerNeedsDescriptors) {
    GTEST_SKIP() << "the sanitizer's vptr check needs a descriptor (see descriptor_limit.h)";
  }
  ConfigErrors errors;
  auto probe = Make("command: [/bin/true]\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  testing::NoDescriptorLeft starved;
  ASSERT_TRUE(starved.limited());
  std::string thrown;
  std::optional<ProbeResult> result;
  try {
    result = RunProbe(*probe, 5000);
  } catch (const std::runtime_error& e) {
    thrown = e.what();
  }
  ASSERT_TRUE(starved.Restore());
  EXPECT_FALSE(result.has_value()) << result->reason;
  EXPECT_NE(thrown.find("out of resources"), std::string::npos) << thrown;
  EXPECT_TRUE(RunProbe(*probe, 5000).success) << "with its descriptors back";
}

TEST(ExecProbeTest, NonZeroExitQuotesLastNonEmptyLine) {
  ConfigErrors errors;
  auto probe = Make(
      "command: [sh, -c, 'echo starting; echo \"output dir not writable\" >&2; echo; echo \"  \"; "
      "exit 3']\n",
      &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunProbe(*probe, 5000);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "exit 3: output dir not writable");
  EXPECT_NE(r.detail.find("starting\n"), std::string::npos);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].value, 3);
}

TEST(ExecProbeTest, ReasonLineIsCutTo200Chars) {
  ConfigErrors errors;
  auto probe = Make("command: [sh, -c, 'printf \"%0300d\\n\" 0; exit 1']\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunProbe(*probe, 5000);
  EXPECT_EQ(r.reason, "exit 1: " + std::string(200, '0') + "...");
}

TEST(ExecProbeTest, TimeoutKillsWholeProcessGroupIncludingGrandchild) {
  testing::ScratchDir dir;
  const std::string pidfile = dir.File("grandchild.pid");
  ConfigErrors errors;
  auto probe =
      Make("command: [sh, -c, 'sleep 100 & echo $! > " + pidfile + "; echo waiting; sleep 100']\n",
           &errors, 500);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  milliseconds elapsed;
  ProbeResult r = RunProbe(*probe, 500, &elapsed);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "timeout after 500ms");
  EXPECT_EQ(r.detail, "waiting\n");
  EXPECT_GE(elapsed.count(), 450);
  EXPECT_LT(elapsed.count(), 1500);  // deadline + 200 ms grace + slack
  std::ifstream in(pidfile);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  // SIGKILL is delivered at once, but give the kernel a moment to tear the process down.
  EXPECT_TRUE(testing::WaitUntil([&] { return !Alive(grandchild); }, milliseconds(1000)))
      << "grandchild " << grandchild << " outlived the probe's timeout";
}

// The daemon stopping (a Cancellation on the run's Deadline) ends a run with most of its timeout
// left: the command and what it started are killed, as at the timeout. Nothing here waits for
// time to pass: without the cancellation the run would last its whole minute.
TEST(ExecProbeTest, ACancelledRunKillsTheCommandsGroupAtOnce) {
  testing::ScratchDir dir;
  const std::string pidfile = dir.File("grandchild.pid");
  ConfigErrors errors;
  auto probe = Make("command: [sh, -c, 'sleep 100 & echo $! > " + pidfile + ".tmp; mv " +
                        pidfile + ".tmp " + pidfile + "; sleep 100']\n",
                    &errors, 60'000);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  Cancellation stop;
  std::thread stopper([&] {
    testing::WaitUntil([&] { return std::ifstream(pidfile).good(); }, milliseconds(30'000));
    stop.Cancel();
  });
  const Deadline deadline{SystemClock::Instance().SteadyNow() + milliseconds(60'000), &stop};
  const auto start = std::chrono::steady_clock::now();
  ProbeResult r = probe->Run(deadline);
  const auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  EXPECT_FALSE(r.success);
  EXPECT_LT(took, std::chrono::seconds(30)) << "the run waited for its timeout";
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(testing::WaitUntil([&] { return !Alive(grandchild); }, milliseconds(1000)))
      << "grandchild " << grandchild << " outlived the cancelled run";
}

TEST(ExecProbeTest, ChildIgnoringSigtermIsKilledAfterGrace) {
  ConfigErrors errors;
  // An ignored SIGTERM is inherited by sleep too, so only SIGKILL ends the group.
  auto probe = Make("command: [sh, -c, 'trap \"\" TERM; sleep 100']\n", &errors, 300);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  milliseconds elapsed;
  ProbeResult r = RunProbe(*probe, 300, &elapsed);
  EXPECT_EQ(r.reason, "timeout after 300ms");
  EXPECT_GE(elapsed.count(), 300 + 150);  // waited (most of) the 200 ms grace
  EXPECT_LT(elapsed.count(), 1300);
}

TEST(ExecProbeTest, GrandchildHoldingPipeDoesNotHangProbe) {
  testing::ScratchDir dir;
  const std::string pidfile = dir.File("bg.pid");
  ConfigErrors errors;
  auto probe =
      Make("command: [sh, -c, 'sleep 100 & echo $! > " + pidfile + "; echo ready']\n", &errors);
  ASSERT_NE(probe, nullptr);
  milliseconds elapsed;
  ProbeResult r = RunProbe(*probe, 5000, &elapsed);
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.detail, "ready\n");
  EXPECT_LT(elapsed.count(), 2000);
  std::ifstream in(pidfile);
  pid_t bg = 0;
  in >> bg;
  ASSERT_GT(bg, 0);
  EXPECT_TRUE(testing::WaitUntil([&] { return !Alive(bg); }, milliseconds(1000)))
      << "background child " << bg << " outlived the probe's run";
}

TEST(ExecProbeTest, OutputTailIsCapped) {
  ConfigErrors errors;
  auto probe = Make(
      "command: [sh, -c, 'i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; "
      "exit 2']\n",
      &errors);
  ASSERT_NE(probe, nullptr);
  ProbeResult r = RunProbe(*probe, 10000);
  EXPECT_EQ(r.reason, "exit 2: line2999");
  EXPECT_LE(r.detail.size(), 4096u + 3u);
  EXPECT_GE(r.detail.size(), 4000u);
  EXPECT_EQ(r.detail.rfind("...", 0), 0u);
  EXPECT_EQ(r.detail.substr(r.detail.size() - 18), "line2998\nline2999\n");
}

TEST(ExecProbeTest, MissingBinaryIsReported) {
  ConfigErrors errors;
  auto absolute = Make("command: [/nonexistent/check, --fast]\n", &errors);
  auto in_path = Make("command: obsmon-no-such-command-xyz\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  EXPECT_EQ(RunProbe(*absolute, 2000).reason,
            "cannot execute /nonexistent/check: No such file or directory");
  EXPECT_EQ(RunProbe(*in_path, 2000).reason,
            "cannot execute obsmon-no-such-command-xyz: No such file or directory");
}

TEST(ExecProbeTest, KilledBySignalIsReported) {
  ConfigErrors errors;
  auto probe = Make("command: [sh, -c, 'kill -9 $$']\n", &errors);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(RunProbe(*probe, 2000).reason, "killed by signal 9");
}

TEST(ExecProbeTest, EnvAndWorkdirAreApplied) {
  testing::ScratchDir dir;
  ConfigErrors errors;
  auto probe = Make(
      "command: [sh, -c, 'echo \"$CARBON_ENV\"; pwd; exit 1']\nenv: {CARBON_ENV: "
      "staging}\nworkdir: " +
          dir.path() + "\n",
      &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  ProbeResult r = RunProbe(*probe, 2000);
  std::string real_dir = std::filesystem::canonical(dir.path()).string();
  EXPECT_EQ(r.reason, "exit 1: " + real_dir);
  EXPECT_EQ(r.detail, "staging\n" + real_dir + "\n");
}

TEST(ExecProbeTest, ArgumentsAreNotInterpretedByAShell) {
  ConfigErrors errors;
  // printf receives the text verbatim: no expansion of $HOME, no globbing, no command split.
  auto probe = Make("command: [printf, '%s|', '$HOME', '*', 'a; exit 1']\n", &errors);
  ASSERT_NE(probe, nullptr);
  ProbeResult r = RunProbe(*probe, 2000);
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_EQ(r.detail, "$HOME|*|a; exit 1|");
}

TEST(ExecProbeTest, BadConfigReportsFileLineColumn) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"env: {A: b}\n", "probes.yml:1:1: missing required key 'command'"},
      {"command: python3 check.py\n", "probes.yml:1:10: command must be a list of arguments"},
      {"command: []\n", "probes.yml:1:10: command must name a program"},
      {"command: [x]\nenv: [a]\n", "probes.yml:2:6: 'env' must be a mapping"},
      {"command: [x]\nworkdir: ''\n", "probes.yml:2:10: workdir must not be empty"},
  };
  for (const Case& c : cases) {
    ConfigErrors errors;
    EXPECT_EQ(Make(c.yaml, &errors), nullptr) << c.yaml;
    ASSERT_FALSE(errors.empty()) << c.yaml;
    EXPECT_EQ(errors.errors()[0].ToString().rfind(c.expected, 0), 0u)
        << "got: " << errors.errors()[0].ToString();
  }
}

}  // namespace
}  // namespace obsmon::probes
