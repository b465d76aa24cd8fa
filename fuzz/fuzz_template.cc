// Alert label and annotation templates: parse, then expand with a few labels.
// Seeds: the annotations of tests/alerts/testdata and deploy/prometheus.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "alerts/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon;
  auto t = alerts::Template::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!t.ok()) return 0;
  static const Labels labels{{"instance", "127.0.0.1:8080"}, {"job", "carbon"}};
  static const Labels external{{"env", "staging"}};
  for (double v : {0.0, -1.5, 1e300, 0.0 / 0.0}) {
    alerts::TemplateData d{&labels, v, &external, "http://obsmon", "__alert_Fuzz"};
    (void)t->Expand(d);
  }
  return 0;
}
