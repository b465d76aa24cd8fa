// Test support: Prometheus's promtool as an oracle (`promtool test rules`), and where each test
// area keeps its data files. Header-only.
#pragma once

#include <stdio.h>
#include <sys/wait.h>

#include <string>
#include <vector>

namespace obsmon::testing {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

// tests/<area>/testdata/<name> in the source tree.
inline std::string TestDataPath(const std::string& area, const std::string& name) {
  return std::string(OBSMON_SOURCE_DIR) + "/tests/" + area + "/testdata/" + name;
}

struct PromtoolRun {
  int exit_code = -1;  // -1: not run or killed
  std::string output;  // stdout and stderr together, as a user sees them
};

// `promtool test rules FILE...`. File names are single-quoted for the shell.
inline PromtoolRun RunPromtoolTestRules(const std::vector<std::string>& files) {
  std::string cmd = std::string(kPromtool) + " test rules";
  for (const auto& f : files) {
    std::string quoted = "'";
    for (char c : f) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + quoted + "'";
  }
  cmd += " 2>&1";
  PromtoolRun run;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return run;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) run.output.append(buf, n);
  const int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace obsmon::testing
