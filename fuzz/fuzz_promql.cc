// PromQL expressions: parse; what parses prints and parses again to the same text.
// Seeds: the `expr:` lines of tests/alerts/testdata and deploy/prometheus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "alerts/promql_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon::alerts::promql;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseError error;
  ExprPtr e = Parse(text, &error);
  if (!e) return 0;
  const std::string printed = ToString(*e);
  ParseError again_error;
  ExprPtr again = Parse(printed, &again_error);
  // The canonical text of a parsed expression must parse to the same canonical text. Its
  // parentheses may nest deeper than the input's unary chain did: that refusal is expected.
  if (!again) {
    if (again_error.message.find("nested too deeply") != std::string::npos) return 0;
    std::abort();
  }
  if (ToString(*again) != printed) std::abort();
  return 0;
}
