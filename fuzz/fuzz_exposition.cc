// Scraped /metrics bodies: the first byte picks the format (text 0.0.4 or OpenMetrics).
// Seeds: bodies from tests/probes/exposition_parser_test.cc and a real obsmon /metrics.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/exposition_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon::probes;
  if (size == 0) return 0;
  ParseOptions opt;
  opt.format = (data[0] & 1) ? Format::kOpenMetrics : Format::kPrometheusText;
  auto out = Parse(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), opt);
  for (const auto& e : out.errors) (void)e.ToString();
  return 0;
}
