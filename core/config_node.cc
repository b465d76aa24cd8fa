#include "core/config_node.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/duration.h"

namespace obsmon {

std::string ConfigError::ToString() const {
  std::ostringstream out;
  out << file;
  if (line > 0) out << ':' << line << ':' << column;
  out << ": " << message;
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

std::optional<YAML::Node> ConfigNode::Get(const std::string& key, bool required) {
  used_.push_back(key);
  if (!node_.IsMap()) {
    if (required) Error("expected a mapping with key '" + key + "'");
    return std::nullopt;
  }
  YAML::Node value = node_[key];
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
    errors_->Add(file_, v->Mark(),
                 "bad duration for '" + key + "': '" + (v->IsScalar() ? v->Scalar() : "") +
                     "' (use a Prometheus duration such as 500ms, 15s, 2m, 1h30m, 7d; at most 292y)");
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
  if (node_.IsMap() && node_[key].IsDefined()) {
    errors_->Add(file_, node_[key].Mark(), message);
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

std::optional<YAML::Node> LoadYamlFile(const std::string& path, ConfigErrors* errors) {
  std::ifstream in(path);
  if (!in) {
    errors->Add(ConfigError{path, 0, 0, "cannot open file"});
    return std::nullopt;
  }
  try {
    return YAML::Load(in);
  } catch (const YAML::Exception& e) {
    errors->Add(path, e.mark, e.msg);
    return std::nullopt;
  }
}

}  // namespace obsmon
