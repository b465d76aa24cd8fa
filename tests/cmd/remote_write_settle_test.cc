// The default settle delay of remote_write (cmd/obsmon/remote_write_runtime.h): a window is read
// once every run stamped inside it can be committed, which is the longest probe timeout, then
// the writer's group commit, then a second for the transaction and the scheduler.
#include <gtest/gtest.h>

#include "cmd/obsmon/remote_write_runtime.h"
#include "config/config.h"

namespace obsmon {
namespace {

Config WithTimeouts(std::initializer_list<int64_t> timeouts_ms, int64_t commit_interval_ms) {
  Config config;
  config.storage.commit_interval_ms = commit_interval_ms;
  ComponentConfig component;
  for (int64_t t : timeouts_ms) {
    ProbeConfig probe;
    probe.spec.timeout_ms = t;
    component.probes.push_back(probe);
  }
  config.components.push_back(component);
  return config;
}

TEST(RemoteWriteSettleTest, DefaultCoversTheLongestTimeoutAndTheGroupCommit) {
  EXPECT_EQ(DefaultSettleMs(WithTimeouts({5'000, 30'000, 1'000}, 1'000)), 32'000);
  EXPECT_EQ(DefaultSettleMs(WithTimeouts({5'000}, 200)), 6'200);
  // A longer group commit waits longer: the runs of a commit's wait are not lost to a read.
  EXPECT_EQ(DefaultSettleMs(WithTimeouts({5'000}, 10'000)), 16'000);
  // At least 2 s, even for fast probes and commits.
  EXPECT_EQ(DefaultSettleMs(WithTimeouts({100}, 1)), 2'000);
}

}  // namespace
}  // namespace obsmon
