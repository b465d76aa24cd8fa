// The main YAML config, as `obsmon check` reads it: never a crash, an abort or a hang; errors
// are located. Seeds: examples/*.yml, tests/config/testdata/*.yml.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static obsmon::FakeClock clock;
  obsmon::ConfigErrors errors;
  (void)obsmon::LoadConfigFromString(std::string(reinterpret_cast<const char*>(data), size),
                                     "fuzz.yml", clock, &errors);
  for (const auto& e : errors.errors()) (void)e.ToString();
  return 0;
}
