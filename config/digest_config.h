// The `digest:` list of a component: where its observation periods' Day N comments and final
// assessments are posted (docs/digest.md). Parsing only; errors go to the node's ConfigErrors with
// their file:line:column. Not thread-safe (config loading).
//
//   digest:
//     - {kind: github, repo: owner/name, issue: 42, token_file: /etc/obsmon/github-token}
//       # api_url: https://api.github.com (default; GitHub Enterprise: https://HOST/api/v3)
//     - {kind: slack, url: "https://hooks.slack.com/services/..."}
//     - {kind: teams, url: "https://....webhook.office.com/..."}
//     - {kind: webhook, url: "https://example.com/hook", body_template: '{"msg": "{{text}}"}'}
//     # every kind: timeout (default 10s)
#pragma once

#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/digest_records.h"

namespace obsmon {

// Reads the `digest` key of a component mapping (marking it used). Each destination gets its id
// ("github:owner/name#42", "slack", "teams", "webhook"; "[i]" appended where two would be alike).
std::vector<DigestDestination> ParseDigestDestinations(ConfigNode& component);

}  // namespace obsmon
