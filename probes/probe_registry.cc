#include "probes/probe_registry.h"

#include <array>

#include "probes/codecarbon_probe.h"
#include "probes/exec_probe.h"
#include "probes/http_probe.h"
#include "probes/log_probe.h"
#include "probes/process_probe.h"
#include "probes/scrape_probe.h"
#include "probes/tcp_probe.h"

// Each kind adds its header and one row to kKinds below.

namespace obsmon::probes {

namespace {

const std::vector<ProbeKind>& Kinds() {
  // Kinds that need only the clock take it from the context.
  const auto with_clock = [](auto make) {
    return [make](const ProbeSpec& spec, ConfigNode& settings, const ProbeContext& context) {
      return make(spec, settings, context.clock);
    };
  };
  static const std::vector<ProbeKind> kinds = {
      {"http", ProbeRole::kHealth,
       [](const ProbeSpec& spec, ConfigNode& settings, const ProbeContext& context) {
         return MakeHttpProbe(spec, settings, context.clock, context.watchdog);
       }},
      {"tcp", ProbeRole::kHealth, with_clock(MakeTcpProbe)},
      {"exec", ProbeRole::kHealth, with_clock(MakeExecProbe)},
      {"log", ProbeRole::kNone, with_clock(MakeLogProbe)},
      {"scrape", ProbeRole::kNone, with_clock(MakeScrapeProbe)},
      {"codecarbon", ProbeRole::kNone, with_clock(MakeCodecarbonProbe)},
      {"process", ProbeRole::kNone, with_clock(MakeProcessProbe)},
  };
  return kinds;
}

}  // namespace

const ProbeKind* FindProbeKind(std::string_view name) {
  for (const auto& kind : Kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

std::vector<std::string> ProbeKindNames() {
  std::vector<std::string> out;
  for (const auto& kind : Kinds()) out.emplace_back(kind.name);
  return out;
}

}  // namespace obsmon::probes
