// The table from a config `kind` to the code that builds that kind of probe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/config_node.h"
#include "probes/deadline_watchdog.h"
#include "probes/probe.h"

namespace obsmon::probes {

// What the process lends to the probes it builds. `clock` outlives them; `watchdog` is shared
// with them (null: a probe that needs one makes its own, as in unit tests). Built implicitly
// from a bare Clock, which is all a unit test or `obsmon check` needs.
struct ProbeContext {
  ProbeContext(const Clock& clock,  // NOLINT(google-explicit-constructor): see above
               std::shared_ptr<DeadlineWatchdog> watchdog = nullptr)
      : clock(clock), watchdog(std::move(watchdog)) {}
  const Clock& clock;
  // Stops calls that cannot watch a deadline themselves (http); the daemon owns one.
  std::shared_ptr<DeadlineWatchdog> watchdog;
};

// Builds a probe from its spec and its config mapping. The factory reads only its kind's own keys
// from `settings` (the loader has already read name, kind, role, interval, timeout, labels, and
// reports unknown keys after the factory returns). On bad settings it reports errors through
// `settings` (file:line:column) and returns nullptr.
using ProbeFactory =
    std::function<std::unique_ptr<Probe>(const ProbeSpec& spec, ConfigNode& settings,
                                         const ProbeContext& context)>;

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
