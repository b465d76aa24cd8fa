#include "alerts/digest_notifier.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/bounded_read.h"
#include "core/header_secret.h"

namespace obsmon::alerts {
namespace {

using nlohmann::json;

constexpr const char* kGithubApiVersion = "2022-11-28";

// JSON string contents of `s`, without the quotes.
std::string JsonEscaped(const std::string& s) {
  const std::string quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Splits "https://host:port/base/path" into ("https://host:port", "/base/path").
void SplitUrl(const std::string& url, std::string* origin, std::string* path) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  *origin = slash == std::string::npos ? url : url.substr(0, slash);
  *path = slash == std::string::npos ? "/" : url.substr(slash);
}

}  // namespace

DigestNotifier::DigestNotifier(std::string name, DigestDestination destination)
    : name_(std::move(name)), d_(std::move(destination)) {}

std::string DigestNotifier::Url() const {
  if (d_.kind != DigestDestination::Kind::kGithub) return d_.url;
  std::string base = d_.api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/repos/" + d_.repo + "/issues/" + std::to_string(d_.issue) + "/comments";
}

std::string DigestNotifier::Body(const DigestMessage& m) const {
  const auto dump = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  switch (d_.kind) {
    case DigestDestination::Kind::kGithub:
      return dump({{"body", m.markdown}});
    case DigestDestination::Kind::kSlack:
      return dump({{"text", m.markdown}});
    case DigestDestination::Kind::kTeams: {
      json block = {{"type", "TextBlock"}, {"text", m.markdown}, {"wrap", true}};
      json card = {{"type", "AdaptiveCard"},
                   {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                   {"version", "1.4"},
                   {"body", json::array({block})}};
      return dump({{"type", "message"},
                   {"attachments", json::array({{{"contentType",
                                                  "application/vnd.microsoft.card.adaptive"},
                                                 {"content", card}}})}});
    }
    case DigestDestination::Kind::kWebhook: {
      std::string body = d_.body_template.empty() ? R"({"text": "{{text}}"})" : d_.body_template;
      body = ReplaceAll(std::move(body), "{{text}}", JsonEscaped(m.markdown));
      body = ReplaceAll(std::move(body), "{{title}}", JsonEscaped(m.title));
      body = ReplaceAll(std::move(body), "{{component}}", JsonEscaped(m.component));
      return ReplaceAll(std::move(body), "{{item}}", JsonEscaped(m.item));
    }
  }
  return "";
}

Status DigestNotifier::Deliver(const std::string& body) {
  std::string origin, path;
  SplitUrl(Url(), &origin, &path);
  httplib::Client cli(origin);
  if (!cli.is_valid()) return Status::Unavailable(name_ + ": invalid url");
  const auto timeout = std::chrono::milliseconds(d_.timeout_ms);
  cli.set_connection_timeout(timeout);
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  httplib::Headers headers;
  if (d_.kind == DigestDestination::Kind::kGithub) {
    // Read at each delivery (a rotated token is used at once); refused, and the row retried, when
    // it could not be one header: a newline inside would send headers of the file's choosing.
    auto token = ReadHeaderSecretFile(d_.token_file);
    if (!token.ok()) return Status::Unavailable(name_ + ": token file: " + token.status().message());
    headers.emplace("Authorization", "Bearer " + *token);
    headers.emplace("Accept", "application/vnd.github+json");
    headers.emplace("X-GitHub-Api-Version", kGithubApiVersion);
  }
  headers.emplace("User-Agent", "obsmon-digest");
  auto res = cli.Post(path, headers, body, "application/json");
  if (!res) return Status::Unavailable(name_ + ": " + httplib::to_string(res.error()));
  if (res->status >= 200 && res->status < 300) return Status::Ok();
  // Every failure is retried (see the header); the body may echo the request: keep its start.
  return Status::Unavailable(name_ + ": status " + std::to_string(res->status) + ": " +
                             res->body.substr(0, 200));
}

}  // namespace obsmon::alerts
