// A child that crashes fails the test that started it, whether the test waited for it or not:
// this is how a sanitizer report in obsmon (abort_on_error=1, scripts/test-sanitized.sh) fails
// an integration test that only looks at obsmon's HTTP answers.
#include "tests/support/subprocess.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace obsmon::testing
