#include "examples/demo_component/check_command.h"

#include <cstdio>

#include "probes/http_probe.h"
#include "probes/url.h"

namespace obsmon::demo {

int RunCheck(const std::string& url, int64_t timeout_ms) {
  // The same HTTP probe obsmon runs, so the reasons read the same ("status 503", "timeout after
  // 2s").
  Result<probes::HttpUrl> parsed = probes::ParseHttpUrl(url);
  if (!parsed.ok()) {
    std::printf("FAIL: %s\n", parsed.status().message().c_str());
    return 2;
  }
  ProbeSpec spec;
  spec.key = {"carbon", "check"};
  spec.kind = "http";
  spec.timeout_ms = timeout_ms;
  probes::HttpProbeOptions options;
  options.url = std::move(parsed.value());
  const Clock& clock = SystemClock::Instance();
  probes::HttpProbe probe(spec, std::move(options), clock);
  ProbeResult result =
      probe.Run(Deadline{clock.SteadyNow() + std::chrono::milliseconds(timeout_ms)});
  if (result.success) {
    std::printf("OK: Carbon component healthy (%s)\n", url.c_str());
    return 0;
  }
  std::printf("FAIL: Carbon component unhealthy: %s\n", result.reason.c_str());
  return 1;
}

}  // namespace obsmon::demo
