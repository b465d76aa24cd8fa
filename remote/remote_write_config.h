// The `remote_write:` section of obsmon's configuration, a list as in Prometheus
// (docs/remote-write.md has every key with its default):
//
//   external_labels: {site: lab, obsmon_instance: staging-1}   # top level; added to every series
//   remote_write:
//     - url: http://mimir.example:9009/api/v1/push
//       name: mimir                      # default: a hash of the url
//       remote_timeout: 30s
//       headers: {X-Scope-OrgID: staging}
//       bearer_token_file: /etc/obsmon/rw.token      # or bearer_token_env, or basic_auth
//       basic_auth: {username: obsmon, password_file: /etc/obsmon/rw.pw}   # or password_env
//       tls_config: {ca_file: ..., insecure_skip_verify: false}   # no client certificates
//       write_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]
//       queue_config:
//         max_samples_per_send: 2000
//         batch_send_deadline: 5s      # how often new samples are looked for
//         min_backoff: 30ms
//         max_backoff: 5s
//         shards: 1
//         retry_cap: 10                # answered 5xx/429 attempts before a request is dropped
//         retry_on_http_429: true
//         sample_age_limit: 0s         # 0: off
//         settle_delay: 0s             # 0: the longest probe timeout + 1 s (at least 2 s)
//
// Secrets are read from their file or variable at each request, so rotation works; they are
// never logged. The files named (secrets, ca_file) are also checked when the section is read: one
// that is missing, unreadable or unusable (a secret no header can carry, a CA file without a PEM
// certificate) is an error at its place. Variables are not: the daemon's environment is not the
// shell's that runs `obsmon check`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config_node.h"
#include "probes/metric_relabel.h"

namespace obsmon::remote {

struct QueueConfig {
  size_t max_samples_per_send = 2000;
  int64_t batch_send_deadline_ms = 5'000;
  int64_t min_backoff_ms = 30;
  int64_t max_backoff_ms = 5'000;
  int shards = 1;
  int retry_cap = 10;
  bool retry_on_http_429 = true;
  int64_t sample_age_limit_ms = 0;
  int64_t settle_delay_ms = 0;  // 0: chosen from the probes' timeouts by the caller
};

struct TlsConfig {
  std::string ca_file;
  bool insecure_skip_verify = false;
};

struct RemoteWriteConfig {
  std::string name;  // `name:`, or "url-" + 6 hex digits of a hash of the url
  std::string url;
  int64_t remote_timeout_ms = 30'000;
  std::map<std::string, std::string> headers;
  std::string bearer_token_file;
  std::string bearer_token_env;
  std::string basic_username;
  std::string basic_password_file;
  std::string basic_password_env;
  TlsConfig tls;
  // Immutable once parsed, so shared between a config and the sender built from it.
  std::shared_ptr<const probes::RelabelRules> relabel;
  QueueConfig queue;
};

// Reads the `remote_write:` list (`node` as written; undefined or null means none) and checks the
// files it names. Every problem of an entry goes to `errors` with file:line:column; the remotes that parsed are
// returned. A `node` that is not a list, and entries that are not mappings, are skipped: the
// config loader reports those.
std::vector<RemoteWriteConfig> ParseRemoteWriteConfigs(const YAML::Node& node,
                                                       const std::string& file,
                                                       ConfigErrors* errors);

// The name Prometheus-style tools see for an unnamed remote: "url-" + 6 hex digits.
std::string DefaultRemoteName(const std::string& url);

}  // namespace obsmon::remote
