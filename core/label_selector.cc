#include "core/label_selector.h"

#include <re2/re2.h>

#include <algorithm>

#include "core/promql_string.h"

namespace obsmon {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

std::string Trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsBlank(s[b])) ++b;
  while (e > b && IsBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// What RE2 accepts but a Prometheus-compatible store (Go's regexp) refuses: \C (any byte) and
// groups nested deeper than Go's limit of 1,000.
std::string GoRegexProblem(const std::string& re) {
  int depth = 0, deepest = 0;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      if (re[++i] == 'C') return "\\C is not in Go's regexp syntax";
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ')') {
      --depth;
    }
  }
  if (deepest > 1000) return "groups nested deeper than 1,000 (Go's regexp limit)";
  return "";
}

// Reads the matcher list of `text` from `pos`; an empty string when it is valid, else what is
// wrong (with the 1-based offset into `text`).
class MatcherListReader {
 public:
  explicit MatcherListReader(const std::string& text) : s_(text) {}

  std::string Check() {
    size_t matchers = 0;
    for (;;) {
      SkipBlanks();
      if (pos_ == s_.size()) break;
      if (std::string problem = ReadMatcher(); !problem.empty()) return problem;
      ++matchers;
      SkipBlanks();
      if (pos_ == s_.size()) break;
      if (s_[pos_] != ',') return At("expected ',' between matchers");
      ++pos_;
    }
    if (matchers == 0) return "selects nothing: give at least one matcher";
    return "";
  }

 private:
  void SkipBlanks() {
    while (pos_ < s_.size() && IsBlank(s_[pos_])) ++pos_;
  }

  std::string At(const std::string& what) const {
    return what + " at character " + std::to_string(pos_ + 1) + " of the matchers";
  }

  std::string ReadMatcher() {
    const size_t name_start = pos_;
    if (!IsNameStart(s_[pos_])) return At("expected a label name");
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    const std::string name = s_.substr(name_start, pos_ - name_start);
    if (name == "__name__") {
      pos_ = name_start;  // obsmon names the metrics it reads; a second name is a 400
      return At("the metric is not the selector's to choose (__name__)");
    }
    SkipBlanks();
    std::string op;
    for (const char* candidate : {"=~", "!~", "!=", "="}) {
      if (s_.compare(pos_, std::char_traits<char>::length(candidate), candidate) == 0) {
        op = candidate;
        break;
      }
    }
    if (op.empty()) return At("expected =, !=, =~ or !~ after '" + name + "'");
    pos_ += op.size();
    SkipBlanks();
    std::string value;
    if (std::string problem = ReadString(&value); !problem.empty()) return problem;
    if (op == "=~" || op == "!~") {
      if (std::string problem = GoRegexProblem(value); !problem.empty()) {
        return "bad regex for '" + name + "': " + problem;
      }
      RE2::Options options;
      options.set_log_errors(false);
      RE2 re("^(?:" + value + ")$", options);
      if (!re.ok()) return "bad regex for '" + name + "': " + re.error();
    }
    return "";
  }

  // A PromQL string, read as the PromQL parser reads it (core/promql_string.h).
  std::string ReadString(std::string* value) {
    if (pos_ == s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'' && s_[pos_] != '`')) {
      return At("expected a quoted value");
    }
    PromqlStringError error;
    if (!ReadPromqlString(s_, &pos_, value, &error)) {
      pos_ = error.pos;
      return At(error.message);
    }
    return "";
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> SelectorMatchers(const std::string& selector) {
  std::string s = Trimmed(selector);
  if (!s.empty() && s.front() == '{') {
    if (s.size() < 2 || s.back() != '}') {
      return Status::InvalidArgument("selector '" + selector + "' opens a brace it does not close");
    }
    s = Trimmed(s.substr(1, s.size() - 2));
  }
  if (std::string problem = MatcherListReader(s).Check(); !problem.empty()) {
    return Status::InvalidArgument("selector '" + selector + "' " +
                                   (problem.rfind("selects", 0) == 0 ? "" : "is not a list of "
                                    "label matchers such as {job=\"blackbox\"}: ") +
                                   problem);
  }
  return s;
}

}  // namespace obsmon
