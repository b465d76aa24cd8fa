// Prometheus rule files: `groups:` of `name`, `interval`, `limit`, `rules:` of `alert` (with
// `expr`, `for`, `keep_firing_for`, `labels`, `annotations`) or `record` (with `expr`,
// `labels`). Loaded and validated at once: YAML problems, unknown keys, PromQL errors (mapped
// from their offset in the expression to the file's line and column) and template errors are all
// reported as file:line:column in a ConfigErrors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "alerts/promql_ast.h"
#include "alerts/template.h"
#include "core/config_node.h"
#include "core/status.h"

namespace obsmon::alerts {

struct RuleSpec {
  enum class Kind { kAlert, kRecord };
  Kind kind = Kind::kAlert;
  std::string name;       // the alert name or the recorded metric name
  std::string expr_text;  // as written
  std::shared_ptr<const promql::Expr> expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  // Label and annotation templates, in file order (name, template text, parsed template).
  struct Item {
    std::string name;
    std::string text;
    Template tmpl;
  };
  std::vector<Item> labels;
  std::vector<Item> annotations;
  int line = 0;  // where the rule starts in its file (1-based)
};

struct RuleGroupSpec {
  std::string file;
  std::string name;
  int64_t interval_ms = 0;  // 0: the global evaluation interval
  int64_t limit = 0;        // 0: no limit on alerts / series per rule
  std::vector<RuleSpec> rules;
  // "file;name": identifies the group across restarts (as Prometheus's group key).
  std::string Key() const { return file + ";" + name; }
};

// Expands `globs` (a path without glob characters must exist; a glob may match nothing) and
// loads every file. Returns the groups of all files; on any error returns InvalidArgument and
// leaves every problem in `errors` (which must not be null).
Result<std::vector<RuleGroupSpec>> LoadRuleFiles(const std::vector<std::string>& globs,
                                                 ConfigErrors* errors);

// Loads one file's text (the fuzz tests use it directly). `file` names the errors.
std::vector<RuleGroupSpec> ParseRuleFileText(const std::string& text, const std::string& file,
                                             ConfigErrors* errors);

}  // namespace obsmon::alerts
