// Loads and fully validates an obsmon YAML config. Every problem is collected with its
// file:line:column so that `obsmon check` lists them all at once; obsmon does not start with any.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config_node.h"
#include "config/config.h"
#include "probes/probe_registry.h"

namespace obsmon {

// Returns the config, or nullopt with `errors` filled. Probes are built (and so validated) with
// `probe_context` (a bare Clock converts to one), whose clock must outlive them. Relative storage
// and rule-file paths are resolved against the config file's directory, as Prometheus does for
// rule_files.
std::optional<Config> LoadConfig(const std::string& path,
                                 const probes::ProbeContext& probe_context, ConfigErrors* errors);

// Same, from YAML text; `file_name` is used in error messages and for resolving relative paths.
std::optional<Config> LoadConfigFromString(const std::string& yaml, const std::string& file_name,
                                           const probes::ProbeContext& probe_context,
                                           ConfigErrors* errors);

}  // namespace obsmon
