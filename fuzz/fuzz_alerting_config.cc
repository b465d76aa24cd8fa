// The `alerting:` section of the config (alerts/alerting_config.h), as a reload reads it: never
// a crash, an abort or a hang; every error located. Seeds: alerting sections with every key,
// the head's limits included (stop 68).
#include <cstddef>
#include <cstdint>
#include <string>

#include "alerts/alerting_config.h"
#include "core/config_node.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  obsmon::ConfigErrors errors;
  auto yaml = obsmon::LoadYamlText(std::string(reinterpret_cast<const char*>(data), size),
                                   "fuzz.yml", &errors);
  if (yaml && yaml->IsMap()) {
    obsmon::ConfigNode node(*yaml, "fuzz.yml", &errors);
    (void)obsmon::alerts::ParseAlertingConfig(node);
  }
  for (const auto& e : errors.errors()) (void)e.ToString();
  return 0;
}
