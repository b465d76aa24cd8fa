// Prometheus's metric_relabel_configs, for the scrape probe: keep, drop, replace, labeldrop and
// labelkeep, with RE2 regexes fully anchored as Prometheus anchors them ("^(?:regex)$").
//
// A rule sees the sample's name as the label __name__. Rules are compiled once at load and are
// immutable afterwards, so a RelabelRules may be shared between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/labels.h"
#include "core/status.h"

namespace re2 {
class RE2;
}

namespace obsmon::probes {

enum class Action { kReplace, kKeep, kDrop, kLabelDrop, kLabelKeep };

struct RuleSpec {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  Action action = Action::kReplace;
  std::string target_label;
  std::string replacement = "$1";
};

class Rule {
 public:
  // Compiles `spec`; InvalidArgument when the regex does not compile, a required field is
  // missing (replace needs target_label) or replace's target_label is neither a label name nor
  // one built from group references ($1, ${name}), as Prometheus's relabel.Config.Validate.
  static Result<std::unique_ptr<Rule>> Compile(const RuleSpec& spec);
  ~Rule();

  // Applies the rule to `labels` (which include __name__). Returns false when the sample is
  // dropped.
  bool Apply(Labels* labels) const;

 private:
  Rule(RuleSpec spec, std::unique_ptr<re2::RE2> re);
  std::string Expand(const std::string& templ, const std::vector<std::string>& groups) const;

  RuleSpec spec_;
  std::unique_ptr<re2::RE2> re_;
};

class RelabelRules {
 public:
  RelabelRules() = default;
  RelabelRules(RelabelRules&&) = default;
  RelabelRules& operator=(RelabelRules&&) = default;

  // Reads a `metric_relabel` list from `parent` (each item: source_labels, separator, regex,
  // action, target_label, replacement). Errors go to the config's error list (an invalid
  // target_label at its value's file:line:column); returns nullopt then.
  static std::optional<RelabelRules> FromConfig(ConfigNode& parent, const std::string& key);

  void Add(std::unique_ptr<Rule> rule) { rules_.push_back(std::move(rule)); }
  bool empty() const { return rules_.empty(); }

  // Applies every rule in order. Returns false when a rule drops the sample; `labels` then holds
  // the state at the drop. A sample whose __name__ the rules removed is kept nameless: Prometheus
  // fails such a scrape ("missing metric name"), which the scrape probe does (it was dropped in
  // silence before stop 67).
  bool Apply(Labels* labels) const;

 private:
  std::vector<std::unique_ptr<Rule>> rules_;
};

}  // namespace obsmon::probes
