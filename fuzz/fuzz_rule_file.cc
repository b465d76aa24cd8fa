// Prometheus rule files. Seeds: tests/alerts/testdata/*rules*.yml, deploy/prometheus/*.yml.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alerts/rule_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  obsmon::ConfigErrors errors;
  (void)obsmon::alerts::ParseRuleFileText(std::string(reinterpret_cast<const char*>(data), size),
                                          "fuzz.yml", &errors);
  (void)errors.ToString();
  return 0;
}
