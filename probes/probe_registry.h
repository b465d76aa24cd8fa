// The table from a config `kind` to the code that builds that kind of probe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config_node.h"
#include "probes/probe.h"

namespace obsmon::probes {

// Builds a probe from its spec and its config mapping. The factory reads only its kind's own keys
// from `settings` (the loader has already read name, kind, role, interval, timeout, labels, and
// reports unknown keys after the factory returns). On bad settings it reports errors through
// `settings` (file:line:column) and returns nullptr. `clock` outlives the probe.
using ProbeFactory =
    std::function<std::unique_ptr<Probe>(const ProbeSpec& spec, ConfigNode& settings,
                                         const Clock& clock)>;

struct ProbeKind {
  std::string_view name;
  ProbeRole default_role;
  ProbeFactory factory;
};

// nullptr for an unknown kind.
const ProbeKind* FindProbeKind(std::string_view name);
// All kinds, for error messages ("unknown kind 'htp' (known: http, tcp, exec, ...)").
std::vector<std::string> ProbeKindNames();

}  // namespace obsmon::probes
