// Log file content: the scanner (both its literal prefilter and regex paths), line
// classification and the cleaning of a matched line for storage.
// Seeds: lines from tests/probes/log_*_test.cc and examples/demo_component's log.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "probes/log_scanner.h"
#include "probes/log_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon::probes;
  static auto scanner = std::move(LogScanner::Create(DefaultSeverities(), false)).value();
  static auto sensitive = std::move(LogScanner::Create(DefaultSeverities(), true)).value();
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text.back() != '\n') text += '\n';  // Scan takes complete lines
  std::vector<LineMatch> matches;
  for (const LogScanner* s : {scanner.get(), sensitive.get()}) {
    matches.clear();
    (void)s->Scan(text, &matches);
    for (const auto& m : matches) {
      if (m.offset + m.length > text.size()) __builtin_trap();
      (void)CleanLine(std::string_view(text).substr(m.offset, m.length), 256);
    }
    (void)s->Classify(text);
  }
  return 0;
}
