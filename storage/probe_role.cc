#include "storage/probe_role.h"

namespace obsmon::storage {

std::string_view ProbeRoleName(ProbeRole role) {
  switch (role) {
    case ProbeRole::kHealth:
      return "health";
    case ProbeRole::kIntegration:
      return "integration";
    case ProbeRole::kNone:
      return "none";
  }
  return "none";
}

std::optional<ProbeRole> ParseProbeRole(std::string_view text) {
  if (text == "health") return ProbeRole::kHealth;
  if (text == "integration") return ProbeRole::kIntegration;
  if (text == "none") return ProbeRole::kNone;
  return std::nullopt;
}

}  // namespace obsmon::storage
