// Reading YAML configuration with errors that name file:line:column.
//
// A ConfigNode wraps one YAML mapping (or scalar) and records every problem in a shared
// ConfigErrors instead of stopping at the first, so `obsmon check` lists them all. Keys that are
// read are remembered; CheckUnknownKeys() then reports every other key as unknown, naming it.
// Not thread-safe; used only while loading.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace obsmon {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string ToString() const;  // "file:line:column: message"
};

class ConfigErrors {
 public:
  void Add(const std::string& file, const YAML::Mark& mark, std::string message);
  void Add(ConfigError error) { errors_.push_back(std::move(error)); }
  bool empty() const { return errors_.empty(); }
  const std::vector<ConfigError>& errors() const { return errors_; }
  std::string ToString() const;  // one error per line

 private:
  std::vector<ConfigError> errors_;
};

// Thrown by loaders at start-up once all errors are collected (bad configuration is the one
// expected failure that stops obsmon from starting).
class ConfigException : public std::runtime_error {
 public:
  explicit ConfigException(ConfigErrors errors)
      : std::runtime_error(errors.ToString()), errors_(std::move(errors)) {}
  const ConfigErrors& errors() const { return errors_; }

 private:
  ConfigErrors errors_;
};

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string file, ConfigErrors* errors);

  bool IsMap() const { return node_.IsMap(); }
  bool Has(const std::string& key) const;
  const YAML::Node& raw() const { return node_; }
  const std::string& file() const { return file_; }
  YAML::Mark mark() const { return node_.Mark(); }

  // Typed accessors. Each returns nullopt when the key is absent (reporting "missing required
  // key" when `required`) or when the value has the wrong type (reporting it at the value).
  std::optional<std::string> String(const std::string& key, bool required = false);
  std::optional<double> Number(const std::string& key, bool required = false);
  std::optional<int64_t> Int(const std::string& key, bool required = false);
  std::optional<bool> Bool(const std::string& key, bool required = false);
  // A Prometheus duration ("15s", "2m", "7d"); reports "bad duration" otherwise.
  std::optional<int64_t> DurationMs(const std::string& key, bool required = false);
  // A duration that must lie in [min_ms, max_ms]; outside it reports "'key' must be between
  // <min> and <max>" at the value and returns nullopt (so the default stays).
  std::optional<int64_t> DurationInRange(const std::string& key, int64_t min_ms, int64_t max_ms);
  // A sequence of strings; a single scalar is accepted as a one-element list.
  std::optional<std::vector<std::string>> StringList(const std::string& key, bool required = false);
  // A mapping of string to string (labels, headers).
  std::optional<std::map<std::string, std::string>> StringMap(const std::string& key,
                                                              bool required = false);
  // A nested mapping. Returns nullopt when absent or not a mapping.
  std::optional<ConfigNode> Map(const std::string& key, bool required = false);
  // A sequence of mappings.
  std::optional<std::vector<ConfigNode>> MapList(const std::string& key, bool required = false);

  // The value of `key` when it is a scalar, without marking it used or reporting anything (for
  // cross-checks such as duplicate names). Never throws, whatever the node holds.
  std::optional<std::string> PeekScalar(const std::string& key) const;

  // Reports an error at this node, or at the value of `key` when it exists.
  void Error(const std::string& message);
  void ErrorAt(const std::string& key, const std::string& message);

  // Reports every key of this mapping that no accessor asked for.
  void CheckUnknownKeys();

  ConfigErrors* errors() const { return errors_; }

 private:
  // The value node for `key`, marking it as used; reports a missing required key.
  std::optional<YAML::Node> Get(const std::string& key, bool required);

  YAML::Node node_;
  std::string file_;
  ConfigErrors* errors_;  // not owned; outlives this node
  std::vector<std::string> used_;
};

// Configuration files (main config, rule tests) larger than this are refused. yaml-cpp's tree
// costs about 200 times the text while it is parsed: a 7 MB config sent to a running daemon by
// SIGHUP took it to 1.6 GB (fresh eyes, issue 13, second pass). 1 MiB holds thousands of probes.
// Rule files have their own limit (alerts/rule_file.cc).
inline constexpr size_t kMaxConfigFileBytes = 1u << 20;

// Loads a YAML file: a regular file of at most kMaxConfigFileBytes (bounded_read.h). Syntax
// errors, duplicate keys and merge keys are reported with their position; returns nullopt then.
std::optional<YAML::Node> LoadYamlFile(const std::string& path, ConfigErrors* errors);
// The same for text already in memory; `file` names it in errors. Never throws.
std::optional<YAML::Node> LoadYamlText(const std::string& text, const std::string& file,
                                       ConfigErrors* errors);
// Reports every duplicate key ("duplicate key 'x' (first at line 3, column 5)", at the second),
// every merge key '<<' (yaml-cpp 0.7 would take it as a plain key and the merged keys would be
// silently lost) and every non-string key. False when it reported something.
bool CheckYamlKeys(const YAML::Node& root, const std::string& file, ConfigErrors* errors);

}  // namespace obsmon
