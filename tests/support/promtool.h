// Test support: Prometheus's promtool as an oracle (`promtool test rules`), and where each test
// area keeps its data files. Header-only.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::testing {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

// tests/<area>/testdata/<name> in the source tree.
inline std::string TestDataPath(const std::string& area, const std::string& name) {
  return std::string(OBSMON_SOURCE_DIR) + "/tests/" + area + "/testdata/" + name;
}

struct PromtoolRun {
  int exit_code = -1;  // as RunCommand's: 127 not started, 128 + N killed by signal N
  std::string output;  // stdout and stderr together, as a user sees them
};

// `promtool test rules FILE...`, 5 minutes at most (exit_code -1 after that).
inline PromtoolRun RunPromtoolTestRules(const std::vector<std::string>& files) {
  std::vector<std::string> argv = {kPromtool, "test", "rules"};
  argv.insert(argv.end(), files.begin(), files.end());
  ScratchDir out;
  auto [code, output] =
      RunCommand(argv, {.output_path = out.File("promtool.out")}, std::chrono::minutes(5));
  return {code, std::move(output)};
}

}  // namespace obsmon::testing
