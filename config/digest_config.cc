#include "config/digest_config.h"

#include <fmt/format.h>

#include <set>

#include <re2/re2.h>

namespace obsmon {
namespace {

bool IsHttpUrl(const std::string& url) {
  return (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) && url.size() <= 2048;
}

// The URL under `key` (required), checked to be http(s).
std::string Url(ConfigNode& node, const std::string& key, bool required) {
  auto url = node.String(key, required);
  if (!url) return "";
  if (!IsHttpUrl(*url)) node.ErrorAt(key, "'" + *url + "' is not an http:// or https:// URL");
  return *url;
}

void ParseGithub(ConfigNode& node, DigestDestination& d) {
  d.kind = DigestDestination::Kind::kGithub;
  if (auto repo = node.String("repo", true)) {
    static const RE2 kRepo("[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}");
    if (!RE2::FullMatch(*repo, kRepo)) node.ErrorAt("repo", "'" + *repo + "' is not owner/name");
    d.repo = *repo;
  }
  if (auto issue = node.Int("issue", true)) {
    if (*issue < 1) node.ErrorAt("issue", "issue must be a positive issue number");
    d.issue = *issue;
  }
  if (auto token = node.String("token_file", true)) d.token_file = *token;
  if (node.Has("api_url")) d.api_url = Url(node, "api_url", true);
  d.id = fmt::format("github:{}#{}", d.repo, d.issue);
}

// A short, stable name of a URL-addressed destination (FNV-1a 64 of its URL and template, 12 hex
// digits): the same destination keeps its id whatever its place in the list or the others around
// it (its digests' exactly-once keys hang on it), and a Slack or Teams URL, a secret, is not
// spelt out in the key and in metric labels.
std::string UrlDestinationId(const std::string& kind, const std::string& url,
                             const std::string& body_template) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : url + '\n' + body_template) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return fmt::format("{}:{:012x}", kind, h >> 16);
}

// One destination; an unknown kind is an error at `kind`.
void ParseOne(ConfigNode& node, DigestDestination& d) {
  const std::string kind = node.String("kind", true).value_or("");
  if (kind == "github") {
    ParseGithub(node, d);
  } else if (kind == "slack" || kind == "teams" || kind == "webhook") {
    d.kind = kind == "slack"   ? DigestDestination::Kind::kSlack
             : kind == "teams" ? DigestDestination::Kind::kTeams
                               : DigestDestination::Kind::kWebhook;
    d.url = Url(node, "url", true);
    if (kind == "webhook") {
      if (auto t = node.String("body_template")) {
        if (t->size() > 64 * 1024) node.ErrorAt("body_template", "longer than 64 KiB");
        d.body_template = *t;
      }
    }
    d.id = UrlDestinationId(kind, d.url, d.body_template);
  } else if (!kind.empty()) {
    node.ErrorAt("kind", "unknown digest kind '" + kind + "' (github, slack, teams, webhook)");
  }
  if (auto t = node.DurationInRange("timeout", 1, 120'000)) d.timeout_ms = *t;
  node.CheckUnknownKeys();
}

}  // namespace

std::vector<DigestDestination> ParseDigestDestinations(ConfigNode& component) {
  std::vector<DigestDestination> out;
  if (!component.Has("digest")) return out;
  auto list = component.MapList("digest");
  if (!list) return out;
  std::set<std::string> ids;
  for (size_t i = 0; i < list->size(); ++i) {
    DigestDestination d;
    ParseOne((*list)[i], d);
    if (!d.id.empty() && !ids.insert(d.id).second) {
      (*list)[i].Error("the same digest destination twice (" + d.id + "): it would post twice");
      continue;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace obsmon
