// Where a component's observation-period digest goes (docs/digest.md): a plain record the config
// declares (config/digest_config.h), alerts/digest_notifier.h delivers to and cmd/obsmon's digest
// poster fills.
#pragma once

#include <cstdint>
#include <string>

namespace obsmon {

struct DigestDestination {
  enum class Kind { kGithub, kSlack, kTeams, kWebhook };
  Kind kind = Kind::kWebhook;
  // Unique per component and stable across restarts: part of the exactly-once key
  // ("github:owner/name#42", "slack[1]", ...); also the outbox receiver "digest:<component>:<id>".
  std::string id;
  // github: the API's base (default https://api.github.com), `repo` "owner/name", `issue` number
  // and the token's file (read at each delivery, at most 4 KB, never logged).
  std::string api_url = "https://api.github.com";
  std::string repo;
  int64_t issue = 0;
  std::string token_file;
  // slack, teams, webhook: the incoming-webhook URL.
  std::string url;
  // webhook: the body, with {{text}}, {{title}}, {{component}} and {{item}} replaced by their
  // JSON-escaped values (without quotes); default {"text": "{{text}}"}.
  std::string body_template;
  int64_t timeout_ms = 10'000;
};

const char* DigestKindName(DigestDestination::Kind kind);

inline const char* DigestKindName(DigestDestination::Kind kind) {
  switch (kind) {
    case DigestDestination::Kind::kGithub:
      return "github";
    case DigestDestination::Kind::kSlack:
      return "slack";
    case DigestDestination::Kind::kTeams:
      return "teams";
    case DigestDestination::Kind::kWebhook:
      return "webhook";
  }
  return "webhook";
}

}  // namespace obsmon
