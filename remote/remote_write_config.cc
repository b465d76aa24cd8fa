#include "remote/remote_write_config.h"

#include <cctype>
#include <cstdio>
#include <optional>
#include <set>

#include "core/bounded_read.h"
#include "core/header_secret.h"
#include "core/text_escape.h"
#include "probes/url.h"
#include "remote/pem_certificates.h"

namespace obsmon::remote {
namespace {

// Relative paths in a config are relative to the config file's folder, as everywhere in obsmon.
std::string ResolvePathBeside(const std::string& config_file, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const size_t slash = config_file.rfind('/');
  if (slash == std::string::npos) return path;
  return config_file.substr(0, slash + 1) + path;
}

// The secret files are read again at each request (so rotation works), but one that is missing,
// unreadable or unusable in a header when the config is loaded is a mistake there: `obsmon check`,
// the start and a reload name it at its place, instead of every request waiting for it.
void CheckSecretFile(ConfigNode& node, const std::string& key, const std::string& path) {
  if (auto secret = ReadHeaderSecretFile(path); !secret.ok()) {
    node.ErrorAt(key, key + ": " + secret.status().message());
  }
}

// A CA bundle is read when each request's TLS context is made; an unreadable one would fail
// every handshake (retried for ever), one without a certificate every verification.
void CheckCaFile(ConfigNode& node, const std::string& path) {
  constexpr size_t kMaxCaBytes = 4u << 20;  // the system bundle is ~200 KiB
  auto pem = ReadRegularFile(path, kMaxCaBytes);
  if (!pem.ok()) {
    node.ErrorAt("ca_file", "ca_file: " + pem.status().message());
  } else if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    node.ErrorAt("ca_file", "ca_file: '" + path + "' holds no PEM certificate "
                            "(-----BEGIN CERTIFICATE-----)");
  } else if (Status s = CheckPemCertificates(*pem); !s.ok()) {
    node.ErrorAt("ca_file", "ca_file: '" + path + "': " + s.message());
  }
}

// An environment variable's name as a shell can set it: one that cannot be set would leave the
// secret unreadable for ever (retried, never sent).
bool IsEnvName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_') return false;
  }
  return true;
}

// A secret file's key: a path, never empty (an empty one would send requests without it).
std::optional<std::string> SecretFileKey(ConfigNode& node, const std::string& key) {
  auto v = node.String(key);
  if (!v) return std::nullopt;
  if (v->empty()) {
    node.ErrorAt(key, key + " must not be empty");
    return std::nullopt;
  }
  const std::string path = ResolvePathBeside(node.file(), *v);
  CheckSecretFile(node, key, path);
  return path;
}

std::optional<std::string> EnvKey(ConfigNode& node, const std::string& key) {
  auto v = node.String(key);
  if (v && !IsEnvName(*v)) {
    node.ErrorAt(key, key + " '" + EscapeControlAndInvalidUtf8(*v) +
                          "' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    return std::nullopt;
  }
  return v;
}

// Headers the sender sets itself (the protocol's, and auth from its own keys), as Prometheus
// refuses them in `headers:`.
bool IsReservedHeader(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kReserved = {
      "content-encoding", "content-type", "content-length", "x-prometheus-remote-write-version",
      "user-agent", "authorization", "host", "connection", "transfer-encoding"};
  return kReserved.count(name) > 0;
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

void ReadHeaders(ConfigNode& node, RemoteWriteConfig* rc) {
  auto headers = node.StringMap("headers");
  if (!headers) return;
  std::set<std::string> seen;  // lower case: HTTP header names are case-insensitive
  for (const auto& [name, value] : *headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(lower).second) {
      node.ErrorAt("headers", "header '" + name + "' is given twice (names are case-insensitive)");
      continue;
    }
    bool token = !name.empty();
    for (unsigned char c : name) token = token && IsTokenChar(c);
    bool clean = true;
    for (unsigned char c : value) clean = clean && (c >= 0x20 || c == '\t') && c != 0x7f;
    if (!token) {
      node.ErrorAt("headers", "header name '" + name + "' is not a valid HTTP header name");
    } else if (IsReservedHeader(name)) {
      node.ErrorAt("headers", "header '" + name + "' is set by obsmon and may not be configured");
    } else if (!clean) {
      node.ErrorAt("headers", "header '" + name + "' has a control character in its value");
    } else {
      rc->headers[name] = value;
    }
  }
}

void ReadAuth(ConfigNode& node, RemoteWriteConfig* rc) {
  if (auto v = SecretFileKey(node, "bearer_token_file")) rc->bearer_token_file = *v;
  if (auto v = EnvKey(node, "bearer_token_env")) rc->bearer_token_env = *v;
  if (auto b = node.Map("basic_auth")) {
    if (auto v = b->String("username", /*required=*/true)) rc->basic_username = *v;
    if (auto v = SecretFileKey(*b, "password_file")) rc->basic_password_file = *v;
    if (auto v = EnvKey(*b, "password_env")) rc->basic_password_env = *v;
    if (rc->basic_password_file.empty() == rc->basic_password_env.empty()) {
      b->Error("basic_auth needs exactly one of password_file and password_env");
    }
    b->CheckUnknownKeys();
  }
  const bool bearer = !rc->bearer_token_file.empty() || !rc->bearer_token_env.empty();
  if (!rc->bearer_token_file.empty() && !rc->bearer_token_env.empty()) {
    node.ErrorAt("bearer_token_env", "give bearer_token_file or bearer_token_env, not both");
  }
  if (bearer && !rc->basic_username.empty()) {
    node.ErrorAt("basic_auth", "give a bearer token or basic_auth, not both");
  }
}

void ReadTls(ConfigNode& node, RemoteWriteConfig* rc) {
  auto t = node.Map("tls_config");
  if (!t) return;
  if (auto v = t->String("ca_file")) {
    rc->tls.ca_file = ResolvePathBeside(node.file(), *v);
    CheckCaFile(*t, rc->tls.ca_file);
  }
  // The bounded client (probes/bounded_http_client.h) presents no client certificate.
  for (const char* key : {"cert_file", "key_file"}) {
    if (t->Has(key)) {
      (void)t->String(key);
      t->ErrorAt(key, std::string(key) + ": client certificates are not supported by remote_write");
    }
  }
  if (auto v = t->Bool("insecure_skip_verify")) rc->tls.insecure_skip_verify = *v;
  t->CheckUnknownKeys();
}

void ReadQueue(ConfigNode& node, QueueConfig* q) {
  auto m = node.Map("queue_config");
  if (!m) return;
  auto int_in = [&](const char* key, int64_t lo, int64_t hi) -> std::optional<int64_t> {
    auto v = m->Int(key);
    if (!v) return std::nullopt;
    if (*v < lo || *v > hi) {
      m->ErrorAt(key, std::string(key) + " must be between " + std::to_string(lo) + " and " +
                          std::to_string(hi));
      return std::nullopt;
    }
    return v;
  };
  if (auto v = int_in("max_samples_per_send", 1, 100'000)) q->max_samples_per_send = *v;
  if (auto v = int_in("shards", 1, 32)) q->shards = static_cast<int>(*v);
  if (auto v = int_in("retry_cap", 1, 1'000'000)) q->retry_cap = static_cast<int>(*v);
  if (auto v = m->DurationInRange("batch_send_deadline", 10, 3'600'000)) {
    q->batch_send_deadline_ms = *v;
  }
  if (auto v = m->DurationInRange("min_backoff", 1, 3'600'000)) q->min_backoff_ms = *v;
  if (auto v = m->DurationInRange("max_backoff", 1, 3'600'000)) q->max_backoff_ms = *v;
  if (auto v = m->DurationInRange("sample_age_limit", 0, 3650LL * 86'400'000)) {
    q->sample_age_limit_ms = *v;
  }
  if (auto v = m->DurationInRange("settle_delay", 0, 3'600'000)) q->settle_delay_ms = *v;
  if (auto v = m->Bool("retry_on_http_429")) q->retry_on_http_429 = *v;
  if (q->max_backoff_ms < q->min_backoff_ms) {
    m->ErrorAt("max_backoff", "max_backoff must not be shorter than min_backoff");
  }
  m->CheckUnknownKeys();
}

}  // namespace

std::string DefaultRemoteName(const std::string& url) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a: stable across builds and restarts
  for (unsigned char c : url) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06llx", static_cast<unsigned long long>(h & 0xffffff));
  return std::string("url-") + buf;
}

std::vector<RemoteWriteConfig> ParseRemoteWriteConfigs(const YAML::Node& node,
                                                       const std::string& file,
                                                       ConfigErrors* errors) {
  std::vector<RemoteWriteConfig> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  // A list that is not one, or an entry that is not a mapping, is reported by the config loader
  // (ConfigNode::MapList), so not twice here.
  if (!node.IsSequence()) return out;
  std::set<std::string> names;
  for (const auto& item : node) {
    if (!item.IsMap()) continue;
    ConfigNode n(item, file, errors);
    const size_t before = errors->errors().size();
    RemoteWriteConfig rc;
    if (auto url = n.String("url", /*required=*/true)) {
      auto parsed = probes::ParseHttpUrl(*url);
      if (!parsed.ok()) {
        n.ErrorAt("url", parsed.status().message());
      } else {
        rc.url = *url;
      }
    }
    rc.name = DefaultRemoteName(rc.url);
    if (auto v = n.String("name")) {
      // It is a label value on /metrics and the start of log lines: printable, and short.
      if (v->empty() || v->size() > 128 || NeedsEscaping(*v)) {
        n.ErrorAt("name", "name '" + EscapeControlAndInvalidUtf8(v->substr(0, 128)) +
                              "' must be 1 to 128 bytes of printable UTF-8");
      } else {
        rc.name = *v;
      }
    }
    if (!names.insert(rc.name).second) {
      n.ErrorAt(n.Has("name") ? "name" : "url",
                "duplicate remote_write name '" + rc.name + "'" +
                    (n.Has("name") ? "" : " (two entries with one url need names)"));
    }
    if (auto v = n.DurationInRange("remote_timeout", 100, 600'000)) rc.remote_timeout_ms = *v;
    ReadHeaders(n, &rc);
    ReadAuth(n, &rc);
    ReadTls(n, &rc);
    auto relabel = probes::RelabelRules::FromConfig(n, "write_relabel_configs");
    if (relabel) rc.relabel = std::make_shared<const probes::RelabelRules>(std::move(*relabel));
    ReadQueue(n, &rc.queue);
    n.CheckUnknownKeys();
    if (errors->errors().size() == before) out.push_back(std::move(rc));
  }
  return out;
}

}  // namespace obsmon::remote
