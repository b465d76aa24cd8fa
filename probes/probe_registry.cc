#include "probes/probe_registry.h"

#include <array>

// Each kind adds its header and one row to kKinds below.

namespace obsmon {

namespace {

const std::vector<ProbeKind>& Kinds() {
  static const std::vector<ProbeKind> kinds = {
      // {"http", ProbeRole::kHealth, MakeHttpProbe},
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

}  // namespace obsmon
