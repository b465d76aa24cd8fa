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
  static const std::vector<ProbeKind> kinds = {
      {"http", ProbeRole::kHealth, probes::MakeHttpProbe},
      {"tcp", ProbeRole::kHealth, probes::MakeTcpProbe},
      {"exec", ProbeRole::kHealth, probes::MakeExecProbe},
      {"log", ProbeRole::kNone, MakeLogProbe},
      {"scrape", ProbeRole::kNone, MakeScrapeProbe},
      {"codecarbon", ProbeRole::kNone, MakeCodecarbonProbe},
      {"process", ProbeRole::kNone, MakeProcessProbe},
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
