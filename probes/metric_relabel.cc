#include "probes/metric_relabel.h"

#include <re2/re2.h>

#include "probes/exposition_parser.h"

namespace obsmon::probes {

namespace {

std::optional<Action> ActionFromName(const std::string& name) {
  if (name == "replace") return Action::kReplace;
  if (name == "keep") return Action::kKeep;
  if (name == "drop") return Action::kDrop;
  if (name == "labeldrop") return Action::kLabelDrop;
  if (name == "labelkeep") return Action::kLabelKeep;
  return std::nullopt;
}

// Prometheus's relabel.Config.Validate for replace: a target_label without '$' must be a label
// name; one with '$' must be name characters and group references ($1, ${1}, $name), so that
// only its expansion can be checked per sample (Apply skips an expansion that is no label name).
std::optional<std::string> TargetLabelProblem(const RuleSpec& spec) {
  if (spec.action != Action::kReplace || spec.target_label.empty()) return std::nullopt;
  static const re2::RE2 kTemplate(R"((?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+)");
  const bool templated = spec.target_label.find('$') != std::string::npos;
  if (templated ? re2::RE2::FullMatch(spec.target_label, kTemplate)
                : IsValidLabelName(spec.target_label)) {
    return std::nullopt;
  }
  return "'" + spec.target_label + "' is not a valid target_label for action replace (a label " +
         "name, [a-zA-Z_][a-zA-Z0-9_]*, or one made of such characters and $1, ${1}, $name)";
}

}  // namespace

Rule::Rule(RuleSpec spec, std::unique_ptr<re2::RE2> re)
    : spec_(std::move(spec)), re_(std::move(re)) {}
Rule::~Rule() = default;

Result<std::unique_ptr<Rule>> Rule::Compile(const RuleSpec& spec) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>("^(?:" + spec.regex + ")$", options);
  if (!re->ok()) {
    return Status::InvalidArgument("bad regex '" + spec.regex + "': " + re->error());
  }
  if (spec.action == Action::kReplace && spec.target_label.empty()) {
    return Status::InvalidArgument("action replace needs target_label");
  }
  if (auto problem = TargetLabelProblem(spec)) return Status::InvalidArgument(*problem);
  return std::unique_ptr<Rule>(new Rule(spec, std::move(re)));
}

// Go's Regexp.Expand as Prometheus uses it: $1, ${1}, $name, ${name}; $$ is a literal $. A
// reference to a missing group expands to "".
std::string Rule::Expand(const std::string& templ, const std::vector<std::string>& groups) const {
  std::string out;
  const auto& named = re_->NamedCapturingGroups();
  for (size_t i = 0; i < templ.size(); ++i) {
    char c = templ[i];
    if (c != '$' || i + 1 >= templ.size()) {
      out += c;
      continue;
    }
    if (templ[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string ref;
    size_t j = i + 1;
    if (templ[j] == '{') {
      size_t close = templ.find('}', j);
      if (close == std::string::npos) {
        out += c;
        continue;
      }
      ref = templ.substr(j + 1, close - j - 1);
      j = close + 1;
    } else {
      while (j < templ.size() &&
             (isalnum(static_cast<unsigned char>(templ[j])) || templ[j] == '_')) {
        ref += templ[j++];
      }
    }
    if (ref.empty()) {
      out += c;
      continue;
    }
    bool numeric = ref.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) {
      size_t n = std::stoul(ref.size() > 6 ? "999999" : ref);
      if (n < groups.size()) out += groups[n];
    } else if (auto it = named.find(ref); it != named.end()) {
      if (static_cast<size_t>(it->second) < groups.size()) out += groups[it->second];
    }
    i = j - 1;
  }
  return out;
}

bool Rule::Apply(Labels* labels) const {
  switch (spec_.action) {
    case Action::kLabelDrop:
    case Action::kLabelKeep: {
      std::vector<std::string> remove;
      for (const auto& [name, value] : labels->pairs()) {
        bool match = re2::RE2::FullMatch(name, *re_);
        if ((spec_.action == Action::kLabelDrop) == match) remove.push_back(name);
      }
      for (const auto& name : remove) labels->Remove(name);
      return true;
    }
    default:
      break;
  }
  std::string value;
  for (size_t i = 0; i < spec_.source_labels.size(); ++i) {
    if (i > 0) value += spec_.separator;
    value += labels->Get(spec_.source_labels[i]);
  }
  if (spec_.action == Action::kKeep) return re2::RE2::FullMatch(value, *re_);
  if (spec_.action == Action::kDrop) return !re2::RE2::FullMatch(value, *re_);
  // replace
  const int n = re_->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> pieces(n);
  if (!re_->Match(value, 0, value.size(), re2::RE2::ANCHOR_BOTH, pieces.data(), n)) return true;
  std::vector<std::string> groups(n);
  for (int i = 0; i < n; ++i) groups[i] = std::string(pieces[i].data(), pieces[i].size());
  std::string target = Expand(spec_.target_label, groups);
  if (!IsValidLabelName(target)) return true;  // as Prometheus: skip silently
  std::string result = Expand(spec_.replacement, groups);
  labels->Set(target, result);  // empty removes the label
  return true;
}

bool RelabelRules::Apply(Labels* labels) const {
  for (const auto& rule : rules_) {
    if (!rule->Apply(labels)) return false;
  }
  return true;
}

// What Prometheus's relabel config refuses besides the target label (relabel.Config.Validate and
// its YAML types): a source label that is not a label name, and labeldrop/labelkeep with any
// field but regex. Said at the key; true when something was.
static bool FieldsProblem(ConfigNode& item, const RuleSpec& spec) {
  bool problem = false;
  for (const std::string& name : spec.source_labels) {
    if (!IsValidLabelName(name)) {
      item.ErrorAt("source_labels", "source label '" + name + "' is not a label name");
      problem = true;
    }
  }
  if (spec.action == Action::kLabelDrop || spec.action == Action::kLabelKeep) {
    for (const char* key : {"source_labels", "target_label", "separator", "replacement"}) {
      if (item.Has(key)) {
        item.ErrorAt(key, std::string(spec.action == Action::kLabelDrop ? "labeldrop" : "labelkeep") +
                              " takes only regex, not " + key);
        problem = true;
      }
    }
  }
  return problem;
}

std::optional<RelabelRules> RelabelRules::FromConfig(ConfigNode& parent, const std::string& key) {
  RelabelRules rules;
  if (!parent.Has(key)) return rules;
  auto items = parent.MapList(key);
  if (!items) return std::nullopt;
  bool ok = true;
  for (auto& item : *items) {
    RuleSpec spec;
    if (auto v = item.StringList("source_labels")) spec.source_labels = *v;
    if (auto v = item.String("separator")) spec.separator = *v;
    if (auto v = item.String("regex")) spec.regex = *v;
    if (auto v = item.String("target_label")) spec.target_label = *v;
    if (auto v = item.String("replacement")) spec.replacement = *v;
    if (auto v = item.String("action")) {
      auto action = ActionFromName(*v);
      if (!action) {
        item.ErrorAt("action", "unknown action '" + *v +
                                   "' (known: replace, keep, drop, labeldrop, labelkeep)");
        ok = false;
        continue;
      }
      spec.action = *action;
    }
    item.CheckUnknownKeys();
    if (FieldsProblem(item, spec)) {
      ok = false;
      continue;
    }
    if (auto problem = TargetLabelProblem(spec)) {
      item.ErrorAt("target_label", *problem);  // at the value, not the rule's first line
      ok = false;
      continue;
    }
    auto rule = Rule::Compile(spec);
    if (!rule.ok()) {
      item.Error(rule.status().message());
      ok = false;
      continue;
    }
    rules.Add(*std::move(rule));
  }
  if (!ok) return std::nullopt;
  return rules;
}

}  // namespace obsmon::probes
