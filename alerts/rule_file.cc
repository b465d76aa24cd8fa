#include "alerts/rule_file.h"

#include <set>
#include <sstream>

#include "alerts/promql_parser.h"
#include "core/bounded_read.h"

namespace obsmon::alerts {

namespace {

// Bounds on what `rule_files` may name: a glob such as `/**/**/**/*` or `/dev/zero` must be a
// clear error at once.
constexpr size_t kMaxRuleFilesPerGlob = 1000;
// A rule file's YAML tree costs about 190 times the file in memory while it is parsed, and each
// rule several KB after (issue 13, fresh eyes F3: 200,000 rules in 8 MB took 1.5 GB and 13 s).
// 2 MiB holds tens of thousands of rules; kube-prometheus's largest generated files are under
// 1 MiB. docs/alerts.md lists both limits.
constexpr size_t kMaxRuleFileBytes = 2u << 20;
constexpr size_t kMaxRulesPerFile = 10'000;

// Maps a byte offset inside a YAML scalar to a file position, as well as can be done from the
// scalar's mark: exact for single-line plain or quoted scalars (without escapes) and for block
// scalars (`|`), approximate for folded multi-line ones.
void PositionInScalar(const YAML::Node& node, const std::vector<std::string>& lines, size_t offset,
                      const std::string& value, int* line, int* column) {
  const YAML::Mark m = node.Mark();
  *line = m.line + 1;
  *column = m.column + 1;
  if (m.line < 0) return;
  char first = 0;
  if (static_cast<size_t>(m.line) < lines.size() &&
      static_cast<size_t>(m.column) < lines[m.line].size()) {
    first = lines[m.line][m.column];
  }
  const bool block = first == '|' || first == '>';
  const bool quoted = first == '"' || first == '\'';
  size_t nl_before = 0, line_start = 0;
  for (size_t i = 0; i < offset && i < value.size(); ++i) {
    if (value[i] == '\n') {
      ++nl_before;
      line_start = i + 1;
    }
  }
  if (!block && nl_before == 0) {
    *column = m.column + 1 + static_cast<int>(offset) + (quoted ? 1 : 0);
    return;
  }
  *line = m.line + 1 + static_cast<int>(nl_before) + (block ? 1 : 0);
  // A block scalar's lines share the indentation of its first content line, which YAML strips.
  int indent = 0;
  const size_t first_content = static_cast<size_t>(m.line) + (block ? 1 : 0);
  if (first_content < lines.size()) {
    const std::string& l = lines[first_content];
    while (indent < static_cast<int>(l.size()) && l[indent] == ' ') ++indent;
  }
  *column = indent + 1 + static_cast<int>(offset - line_start);
}

void ParseItems(ConfigNode& rule, const std::string& key, bool label_names,
                std::vector<RuleSpec::Item>* out) {
  auto map = rule.Map(key);
  if (!map) {
    if (rule.Has(key)) rule.ErrorAt(key, "'" + key + "' must be a mapping");
    return;
  }
  for (const auto& kv : map->raw()) {
    std::string name = kv.first.Scalar();
    if (label_names && (!promql::IsValidLabelName(name) || name == "__name__")) {
      rule.errors()->Add(rule.file(), kv.first.Mark(), "invalid label name '" + name + "'");
      continue;
    }
    if (!kv.second.IsScalar() && !kv.second.IsNull()) {
      rule.errors()->Add(rule.file(), kv.second.Mark(), "'" + name + "' must be a string");
      continue;
    }
    std::string text = kv.second.IsNull() ? "" : kv.second.Scalar();
    auto t = Template::Parse(text);
    if (!t.ok()) {
      rule.errors()->Add(rule.file(), kv.second.Mark(),
                         "template of " + key.substr(0, key.size() - 1) + " '" + name +
                             "': " + t.status().message());
      continue;
    }
    out->push_back({name, text, std::move(t).value()});
  }
}

std::optional<RuleSpec> ParseRule(ConfigNode& node, const std::vector<std::string>& lines) {
  RuleSpec r;
  r.line = node.mark().line + 1;
  auto alert = node.String("alert");
  auto record = node.String("record");
  auto expr = node.String("expr");
  auto for_ms = node.DurationMs("for");
  auto keep = node.DurationMs("keep_firing_for");
  bool ok = true;
  if (alert && record) {
    node.Error("only one of 'record' and 'alert' must be set");
    ok = false;
  } else if (!alert && !record) {
    node.Error("one of 'record' or 'alert' must be set");
    ok = false;
  }
  if (record) {
    r.kind = RuleSpec::Kind::kRecord;
    r.name = *record;
    if (!promql::IsValidMetricName(*record)) {
      node.ErrorAt("record", "invalid recording rule name: '" + *record + "'");
      ok = false;
    }
    if (node.Has("annotations"))
      node.ErrorAt("annotations", "invalid field 'annotations' in recording rule");
    if (for_ms) node.ErrorAt("for", "invalid field 'for' in recording rule");
    if (keep) node.ErrorAt("keep_firing_for", "invalid field 'keep_firing_for' in recording rule");
  } else if (alert) {
    r.kind = RuleSpec::Kind::kAlert;
    r.name = *alert;
    if (alert->empty()) {
      node.ErrorAt("alert", "alert name must not be empty");
      ok = false;
    }
  }
  if (!expr) {
    node.Error("field 'expr' must be set in rule");
    ok = false;
  } else {
    r.expr_text = *expr;
    promql::ParseError perr;
    promql::ExprPtr e = promql::Parse(*expr, &perr);
    if (!e) {
      int line = 0, col = 0;
      PositionInScalar(node.raw()["expr"], lines, perr.pos, *expr, &line, &col);
      node.errors()->Add({node.file(), line, col, "could not parse expression: " + perr.message});
      ok = false;
    } else if (e->type != promql::ValueType::kVector && e->type != promql::ValueType::kScalar) {
      node.ErrorAt("expr",
                   std::string("expression must evaluate to an instant vector or scalar, got ") +
                       promql::ValueTypeName(e->type));
      ok = false;
    } else {
      r.expr = std::shared_ptr<const promql::Expr>(std::move(e));
    }
  }
  r.for_ms = for_ms.value_or(0);
  r.keep_firing_for_ms = keep.value_or(0);
  ParseItems(node, "labels", true, &r.labels);
  if (r.kind == RuleSpec::Kind::kAlert) ParseItems(node, "annotations", false, &r.annotations);
  node.CheckUnknownKeys();
  if (!ok) return std::nullopt;
  return r;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

}  // namespace

std::vector<RuleGroupSpec> ParseRuleFileText(const std::string& text, const std::string& file,
                                             ConfigErrors* errors) {
  std::vector<RuleGroupSpec> groups;
  auto loaded = LoadYamlText(text, file, errors);
  if (!loaded) return groups;
  const YAML::Node root = *loaded;
  if (root.IsNull()) return groups;  // an empty file has no groups, as in Prometheus
  if (!root.IsMap()) {
    errors->Add(file, root.Mark(), "rule file must be a mapping with 'groups'");
    return groups;
  }
  const std::vector<std::string> lines = SplitLines(text);
  ConfigNode top(root, file, errors);
  auto gl = top.MapList("groups");
  top.CheckUnknownKeys();
  if (!gl) return groups;
  std::set<std::string> names;
  size_t rule_count = 0;
  for (auto& g : *gl) {
    RuleGroupSpec spec;
    spec.file = file;
    auto name = g.String("name", true);
    if (name) {
      spec.name = *name;
      if (name->empty()) g.ErrorAt("name", "group name must not be empty");
      if (!names.insert(*name).second)
        g.ErrorAt("name", "groupname: \"" + *name + "\" is repeated in the same file");
    }
    spec.interval_ms = g.DurationMs("interval").value_or(0);
    spec.limit = g.Int("limit").value_or(0);
    if (spec.limit < 0) g.ErrorAt("limit", "limit must not be negative");
    auto rules = g.MapList("rules");
    if (!rules && g.Has("rules")) g.ErrorAt("rules", "'rules' must be a list of mappings");
    g.CheckUnknownKeys();
    if (rules) {
      for (auto& rn : *rules) {
        if (++rule_count > kMaxRulesPerFile) {
          errors->Add(file, rn.raw().Mark(),
                      "more than " + std::to_string(kMaxRulesPerFile) +
                          " rules in one file; obsmon evaluates at most that many per file");
          return groups;
        }
        auto r = ParseRule(rn, lines);
        if (r) spec.rules.push_back(std::move(*r));
      }
    }
    groups.push_back(std::move(spec));
  }
  return groups;
}

Result<std::vector<RuleGroupSpec>> LoadRuleFiles(const std::vector<std::string>& globs,
                                                 ConfigErrors* errors) {
  std::vector<RuleGroupSpec> all;
  size_t total_rules = 0;
  const size_t before = errors->errors().size();
  for (const auto& pattern : globs) {
    auto files = ExpandGlobBounded(pattern, kMaxRuleFilesPerGlob);
    if (!files.ok()) {
      errors->Add({pattern, 0, 0, "rule_files: " + files.status().message()});
      continue;
    }
    for (const auto& f : *files) {
      auto text = ReadRegularFile(f, kMaxRuleFileBytes);
      if (!text.ok()) {
        errors->Add({f, 0, 0, "cannot read rule file: " + text.status().message()});
        continue;
      }
      auto groups = ParseRuleFileText(*text, f, errors);
      for (auto& g : groups) {
        total_rules += g.rules.size();
        all.push_back(std::move(g));
      }
      // The per-file bound, over every file too: 30 files of 10,000 rules were 300,000 rules
      // (fresh eyes, issue 13, second pass).
      if (total_rules > kMaxRulesPerFile) {
        errors->Add({f, 0, 0,
                     "rule_files hold " + std::to_string(total_rules) + " rules with this file; "
                     "obsmon evaluates at most " + std::to_string(kMaxRulesPerFile) + " in all"});
        return Status::InvalidArgument("invalid rule files:\n" + errors->ToString());
      }
    }
  }
  if (errors->errors().size() != before) {
    return Status::InvalidArgument("invalid rule files:\n" + errors->ToString());
  }
  return all;
}

}  // namespace obsmon::alerts
