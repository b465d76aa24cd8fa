// promtool rule-test files (`obsmon test rules`). The input is written as test.yml into a private
// directory that also holds the rule files of tests/alerts/testdata, copied at start, so that the
// seeds' `rule_files: [promql_rules.yml]` load and their rules are evaluated. (Written beside
// nothing in /tmp, as before, every seed stopped at "rule file not found", and what a relative
// glob matched depended on what else lay in /tmp.)
// Seeds: tests/alerts/testdata/*_test.yml.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "alerts/rule_test_runner.h"

namespace {

// The directory, with the rule files in it; aborts when they cannot be copied (a run without them
// would quietly fuzz much less).
std::string MakeDir() {
  namespace fs = std::filesystem;
  static const fs::path dir = "/tmp/obsmon-fuzz-rule-test-" + std::to_string(::getpid());
  fs::create_directories(dir);
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  const fs::path testdata = fs::path(OBSMON_SOURCE_DIR) / "tests/alerts/testdata";
  int copied = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(testdata, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yml" || name.ends_with("_test.yml")) continue;
    fs::copy_file(entry.path(), dir / name, fs::copy_options::overwrite_existing, ec);
    if (!ec) ++copied;
  }
  if (copied == 0) {
    std::fprintf(stderr, "fuzz_rule_test: no rule files copied from %s\n", testdata.c_str());
    std::abort();
  }
  return (dir / "test.yml").string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = MakeDir();
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  std::ostringstream out;
  (void)obsmon::alerts::RunRuleTests({path}, out);
  return 0;
}
