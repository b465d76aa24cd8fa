// Reads the `web:` section of obsmon's config: TLS files, authentication and which endpoints it
// protects. Secrets are accepted only from files or environment variables, never inline, and are
// never quoted in an error.
#pragma once

#include "core/config_node.h"
#include "config/config.h"

namespace obsmon {

// Fills `web` from `node` (the `web:` mapping), reporting problems through the node with their
// file:line:column. Relative file paths are resolved against `config_file`'s directory.
void ReadWebConfig(ConfigNode& node, const std::string& config_file, WebConfig* web);

}  // namespace obsmon
