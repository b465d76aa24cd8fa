#include "core/config_node.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <utility>

#include "core/bounded_read.h"
#include "core/duration.h"
#include "core/text_escape.h"

namespace obsmon {

std::string ConfigError::ToString() const {
  // A message quotes keys and values from the file: NUL, control bytes and invalid UTF-8 in them
  // are escaped so that a terminal, a log line or a JSON encoder never receives them raw.
  std::ostringstream out;
  out << EscapeControlAndInvalidUtf8(file);
  if (line > 0) out << ':' << line << ':' << column;
  out << ": " << EscapeControlAndInvalidUtf8(message);
  return out.str();
}

void ConfigErrors::Add(const std::string& file, const YAML::Mark& mark, std::string message) {
  ConfigError e;
  e.file = file;
  // yaml-cpp marks are 0-based; an unset mark is -1.
  e.line = mark.line >= 0 ? mark.line + 1 : 0;
  e.column = mark.column >= 0 ? mark.column + 1 : 0;
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

std::string ConfigErrors::ToString() const {
  std::string out;
  for (const auto& e : errors_) {
    if (!out.empty()) out += '\n';
    out += e.ToString();
  }
  return out;
}

ConfigNode::ConfigNode(YAML::Node node, std::string file, ConfigErrors* errors)
    : node_(std::move(node)), file_(std::move(file)), errors_(errors) {}

bool ConfigNode::Has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

std::optional<std::string> ConfigNode::PeekScalar(const std::string& key) const {
  // A const lookup of a missing key yields an invalid node whose Type() throws: ask IsDefined()
  // (which does not) first.
  if (!node_.IsMap()) return std::nullopt;
  const YAML::Node value = node_[key];
  if (!value.IsDefined() || !value.IsScalar()) return std::nullopt;
  return value.Scalar();
}

std::optional<YAML::Node> ConfigNode::Get(const std::string& key, bool required) {
  used_.push_back(key);
  if (!node_.IsMap()) {
    if (required) Error("expected a mapping with key '" + key + "'");
    return std::nullopt;
  }
  // Looked up through a const node: yaml-cpp's non-const operator[] adds every key it does not
  // find to the document (two nodes each), and the loader asks for every optional key of every
  // probe: 1,000 probes made 210,000 nodes, 12 MB freed after loading in holes between the
  // config's long-lived objects, where they stayed resident (docs/benchmarks.md, "Memory").
  YAML::Node value = std::as_const(node_)[key];
  if (!value.IsDefined() || value.IsNull()) {
    if (required) Error("missing required key '" + key + "'");
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> ConfigNode::String(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->IsScalar()) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a string");
    return std::nullopt;
  }
  return v->Scalar();
}

std::optional<double> ConfigNode::Number(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  double out = 0;
  if (!v->IsScalar() || !YAML::convert<double>::decode(*v, out)) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a number");
    return std::nullopt;
  }
  // `.nan` and `.inf` decode as numbers, but every range check is false for NaN: refuse them
  // here, once, for every numeric setting.
  if (!std::isfinite(out)) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a finite number, got '" + v->Scalar() + "'");
    return std::nullopt;
  }
  return out;
}

std::optional<int64_t> ConfigNode::Int(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  long long out = 0;
  if (!v->IsScalar() || !YAML::convert<long long>::decode(*v, out)) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be an integer");
    return std::nullopt;
  }
  return out;
}

std::optional<bool> ConfigNode::Bool(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  bool out = false;
  if (!v->IsScalar() || !YAML::convert<bool>::decode(*v, out)) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be true or false");
    return std::nullopt;
  }
  return out;
}

std::optional<int64_t> ConfigNode::DurationMs(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  std::optional<int64_t> ms;
  if (v->IsScalar()) ms = ParseDurationMs(v->Scalar());
  if (!ms) {
    // A list or a map has no text to quote: say what it is (fresh eyes, stop 37).
    const std::string got = v->IsScalar()     ? "'" + v->Scalar() + "'"
                            : v->IsSequence() ? "a list"
                            : v->IsMap()      ? "a map"
                                              : "no value";
    errors_->Add(file_, v->Mark(),
                 "bad duration for '" + key + "': " + got +
                     " (use a Prometheus duration such as 500ms, 15s, 2m, 1h30m, 7d; at most 292y)");
  }
  return ms;
}

std::optional<int64_t> ConfigNode::DurationInRange(const std::string& key, int64_t min_ms,
                                                   int64_t max_ms) {
  auto ms = DurationMs(key);
  if (ms && (*ms < min_ms || *ms > max_ms)) {
    ErrorAt(key, "'" + key + "' must be between " + FormatDurationMs(min_ms) + " and " +
                     FormatDurationMs(max_ms) + " (got " + FormatDurationMs(*ms) + ")");
    return std::nullopt;
  }
  return ms;
}

std::optional<std::vector<std::string>> ConfigNode::StringList(const std::string& key,
                                                              bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  if (v->IsScalar()) return std::vector<std::string>{v->Scalar()};
  if (!v->IsSequence()) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *v) {
    if (!item.IsScalar()) {
      errors_->Add(file_, item.Mark(), "'" + key + "' items must be strings");
      return std::nullopt;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ConfigNode::StringMap(const std::string& key,
                                                                       bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->IsMap()) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a mapping of names to strings");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (const auto& kv : *v) {
    if (!kv.second.IsScalar()) {
      errors_->Add(file_, kv.second.Mark(),
                   "'" + key + "." + kv.first.as<std::string>("") + "' must be a string");
      continue;
    }
    out[kv.first.as<std::string>("")] = kv.second.Scalar();
  }
  return out;
}

std::optional<ConfigNode> ConfigNode::Map(const std::string& key, bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->IsMap()) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a mapping");
    return std::nullopt;
  }
  return ConfigNode(*v, file_, errors_);
}

std::optional<std::vector<ConfigNode>> ConfigNode::MapList(const std::string& key,
                                                           bool required) {
  auto v = Get(key, required);
  if (!v) return std::nullopt;
  if (!v->IsSequence()) {
    errors_->Add(file_, v->Mark(), "'" + key + "' must be a list");
    return std::nullopt;
  }
  std::vector<ConfigNode> out;
  for (const auto& item : *v) {
    if (!item.IsMap()) {
      errors_->Add(file_, item.Mark(), "items of '" + key + "' must be mappings");
      continue;
    }
    out.emplace_back(item, file_, errors_);
  }
  return out;
}

void ConfigNode::Error(const std::string& message) { errors_->Add(file_, node_.Mark(), message); }

void ConfigNode::ErrorAt(const std::string& key, const std::string& message) {
  if (node_.IsMap() && std::as_const(node_)[key].IsDefined()) {
    errors_->Add(file_, std::as_const(node_)[key].Mark(), message);
  } else {
    Error(message);
  }
}

void ConfigNode::CheckUnknownKeys() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    std::string key = kv.first.as<std::string>("");
    if (std::find(used_.begin(), used_.end(), key) == used_.end()) {
      errors_->Add(file_, kv.first.Mark(), "unknown key '" + key + "'");
    }
  }
}

namespace {

// Walks every mapping once (anchors and aliases share nodes: a node is identified by its position
// in the text, so an alias bomb costs no more than its text) and reports duplicate and merge keys.
class KeyChecker {
 public:
  KeyChecker(const std::string& file, ConfigErrors* errors) : file_(file), errors_(errors) {}

  void Walk(const YAML::Node& node, int depth) {
    if (!node.IsMap() && !node.IsSequence()) return;
    if (depth > kMaxDepth) {
      errors_->Add(file_, node.Mark(),
                   "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    }
    if (!visited_.insert(node.Mark().pos).second) return;
    if (node.IsSequence()) {
      for (const auto& item : node) Walk(item, depth + 1);
      return;
    }
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const std::string& key = kv.first.Scalar();
        const YAML::Mark mark = kv.first.Mark();
        if (key == "<<" && kv.first.Tag() == "?") {  // plain, not a quoted "<<"
          errors_->Add(file_, mark,
                       "merge keys ('<<') are not supported: write the keys out");
        }
        auto [it, inserted] = seen.emplace(key, mark);
        if (!inserted) {
          errors_->Add(file_, mark,
                       "duplicate key '" + key + "' (first at line " +
                           std::to_string(it->second.line + 1) + ", column " +
                           std::to_string(it->second.column + 1) + ")");
        }
      } else {
        errors_->Add(file_, kv.first.Mark(), "keys must be plain strings");
      }
      Walk(kv.second, depth + 1);
    }
  }

 private:
  static constexpr int kMaxDepth = 64;
  const std::string& file_;
  ConfigErrors* errors_;
  std::set<int> visited_;
};

}  // namespace

bool CheckYamlKeys(const YAML::Node& root, const std::string& file, ConfigErrors* errors) {
  const size_t before = errors->errors().size();
  KeyChecker(file, errors).Walk(root, 0);
  return errors->errors().size() == before;
}

std::optional<YAML::Node> LoadYamlText(const std::string& text, const std::string& file,
                                       ConfigErrors* errors) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors->Add(file, e.mark, e.msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    // yaml-cpp throws more than YAML::Exception for some malformed input; never let it escape.
    errors->Add(ConfigError{file, 0, 0, std::string("cannot parse YAML: ") + e.what()});
    return std::nullopt;
  }
  if (!CheckYamlKeys(root, file, errors)) return std::nullopt;
  return root;
}

std::optional<YAML::Node> LoadYamlFile(const std::string& path, ConfigErrors* errors) {
  auto text = ReadRegularFile(path, kMaxConfigFileBytes);
  if (!text.ok()) {
    errors->Add(ConfigError{path, 0, 0, text.status().IsNotFound() ? "cannot open file"
                                                                 : text.status().message()});
    return std::nullopt;
  }
  return LoadYamlText(*text, path, errors);
}

}  // namespace obsmon
