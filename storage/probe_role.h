// ProbeRole <-> the text stored in the `probes.role` column ("health", "integration", "none").
// The text form is part of the documented schema (docs/storage.md), so it never changes.
#pragma once

#include <optional>
#include <string_view>

#include "core/records.h"

namespace obsmon::storage {

// "health", "integration" or "none".
std::string_view ProbeRoleName(ProbeRole role);

// The inverse of ProbeRoleName; nullopt for any other text (case-sensitive).
std::optional<ProbeRole> ParseProbeRole(std::string_view text);

}  // namespace obsmon::storage
