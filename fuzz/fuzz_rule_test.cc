// promtool rule-test files (`obsmon test rules`). The input is written to a file, as the runner
// reads files. Seeds: tests/alerts/testdata/*_test.yml.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "alerts/rule_test_runner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/obsmon-fuzz-rule-test-" + std::to_string(::getpid()) + ".yml";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  std::ostringstream out;
  (void)obsmon::alerts::RunRuleTests({path}, out);
  return 0;
}
