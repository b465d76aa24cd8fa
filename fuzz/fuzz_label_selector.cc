// libFuzzer target: a store selector's matchers (core/label_selector, the `source:` selector and
// --selector), and PromQL's string literals under them (core/promql_string). Whatever the
// input: no crash, no hang; an accepted list is a part of the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/label_selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto matchers = obsmon::SelectorMatchers(text);
  if (matchers.ok() && text.find(*matchers) == std::string::npos) __builtin_trap();
  return 0;
}
