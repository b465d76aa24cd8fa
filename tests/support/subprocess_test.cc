// A child that crashes fails the test that started it, whether the test waited for it or not:
// this is how a sanitizer report in obsmon (abort_on_error=1, scripts/test-sanitized.sh) fails
// an integration test that only looks at obsmon's HTTP answers. And what the other helpers of
// subprocess.h promise: separate stderr, RunCommand's timeout, ForkedChild's exit code.
#include "tests/support/subprocess.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

TEST(SubprocessTest, ACrashSeenByWaitFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      {
        Subprocess p({"/bin/sh", "-c", "echo about to abort; kill -ABRT $$"});
        EXPECT_EQ(p.Wait(10s), 128 + SIGABRT);
      },
      "crashed");
}

TEST(SubprocessTest, ACrashBeforeTheKillFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      {
        Subprocess p({"/bin/sh", "-c", "kill -SEGV $$"});
        // Not waited for: it has crashed by the time the object dies.
        const std::string stat = "/proc/" + std::to_string(p.pid()) + "/stat";
        WaitUntil([&] { return ReadWholeFile(stat).find(") Z ") != std::string::npos; }, 10s);
      },
      "crashed");
}

TEST(SubprocessTest, SignalsTheTestSentAndTheFinalKillAreNoCrash) {
  Subprocess sent({"/bin/sleep", "60"});
  sent.Signal(SIGABRT);
  EXPECT_EQ(sent.Wait(10s), 128 + SIGABRT);
  Subprocess killed({"/bin/sleep", "60"});
  killed.Kill();
  Subprocess exited({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(exited.Wait(10s), 3);
}

TEST(SubprocessTest, StderrApartFromStdoutWhenAsked) {
  ScratchDir dir;
  auto [code, out] = RunCommand({"/bin/sh", "-c", "echo data; echo noise >&2; exit 4"},
                                {.output_path = dir.File("out"), .stderr_path = dir.File("err")});
  EXPECT_EQ(code, 4);
  EXPECT_EQ(out, "data\n");
  EXPECT_EQ(ReadWholeFile(dir.File("err")), "noise\n");
  auto [together_code, together] =
      RunCommand({"/bin/sh", "-c", "echo data; echo noise >&2"}, dir.File("both"));
  EXPECT_EQ(together_code, 0);
  EXPECT_EQ(together, "data\nnoise\n");
}

TEST(SubprocessTest, RunCommandKillsWhatOutlivesItsTimeoutAndNamesWhatCannotStart) {
  ScratchDir dir;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunCommand({"/bin/sleep", "60"}, {.output_path = dir.File("out")}, 200ms).first, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  auto [code, out] = RunCommand({dir.File("no-such-program")}, dir.File("out"));
  EXPECT_EQ(code, 127);
  EXPECT_NE(out.find("no-such-program"), std::string::npos) << out;
}

TEST(ForkedChildTest, ExitsWithWhatTheFunctionReturns) {
  int seen_in_child = 7;  // the child has its own copy of the test's memory
  ForkedChild child([&] {
    seen_in_child = 8;
    return seen_in_child + 3;
  });
  ASSERT_TRUE(child.started());
  EXPECT_EQ(child.Wait(10s), 11);
  EXPECT_EQ(seen_in_child, 7);
}

TEST(ForkedChildTest, ACrashOrAnEscapedExceptionFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      {
        ForkedChild child([]() -> int {
          ::signal(SIGSEGV, SIG_DFL);  // not ASan's handler, which would turn it into an exit
          ::raise(SIGSEGV);
          return 0;
        });
        EXPECT_EQ(child.Wait(10s), 128 + SIGSEGV);
      },
      "forked child");
  EXPECT_NONFATAL_FAILURE(
      {
        ForkedChild child([]() -> int { throw std::runtime_error("escaped"); });
        EXPECT_EQ(child.Wait(10s), 128 + SIGABRT);
      },
      "crashed");
}

TEST(ForkedChildTest, AKillTheTestSentIsNoCrash) {
  ForkedChild child([]() -> int {
    for (;;) ::pause();
  });
  ASSERT_TRUE(child.Signal(SIGKILL));
  EXPECT_EQ(child.Wait(10s), 128 + SIGKILL);
  EXPECT_FALSE(child.Signal(SIGKILL)) << "reaped: nothing left to signal";
}

}  // namespace
}  // namespace obsmon::testing
