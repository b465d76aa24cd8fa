// Log file content: the scanner (its plain-literal, literal-prefilter and regex paths), line
// classification and the cleaning of a matched line for storage.
// The plain-literal and literal-prefilter paths are checked against RE2 itself, line by line,
// on the input and on the input repeated past the vector pass's 16 KiB segments: a difference
// traps.
// Seeds: lines from tests/probes/log_*_test.cc and examples/demo_component's log.
#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "probes/log_scanner.h"
#include "probes/log_text.h"

namespace {

using obsmon::probes::LineMatch;
using obsmon::probes::LogScanner;
using obsmon::probes::SeverityPattern;

// Severity sets that take the plain-literal path (every pattern a literal alternation).
const std::vector<std::vector<SeverityPattern>>& PlainSets() {
  static const std::vector<std::vector<SeverityPattern>> sets = {
      {{"critical", R"(\bCRITICAL\b|\bFATAL\b)"}, {"error", R"(\bERROR\b)"}},
      {{"critical", R"(\[crit\]|\[alert\]|\[emerg\])"}, {"error", R"(\[error\])"}},
      {{"critical", R"("level":"critical")"}, {"error", R"("level":"error")"}},
      {{"error", "ERROR"}, {"critical", "CRITICAL"}, {"x", R"(\b_\b|-\b)"}},
  };
  return sets;
}

// The severity RE2 gives `line` (first listed wins), as the scanner defines it.
int Reference(const std::vector<std::unique_ptr<RE2>>& res, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  for (size_t i = 0; i < res.size(); ++i) {
    if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *res[i])) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace obsmon::probes;
  static auto scanner = std::move(LogScanner::Create(DefaultSeverities(), false)).value();
  static auto sensitive = std::move(LogScanner::Create(DefaultSeverities(), true)).value();
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text.back() != '\n') text += '\n';  // Scan takes complete lines
  std::vector<LineMatch> matches;
  for (const LogScanner* s : {scanner.get(), sensitive.get()}) {
    matches.clear();
    (void)s->Scan(text, &matches);
    for (const auto& m : matches) {
      if (m.offset + m.length > text.size()) __builtin_trap();
      (void)CleanLine(std::string_view(text).substr(m.offset, m.length), 256);
    }
    (void)s->Classify(text);
  }

  // Each scanner with its patterns as RE2 compiles them: the plain-literal sets, and sets that
  // take the literal-prefilter path (case folded; a pattern RE2 must decide).
  struct Checked {
    std::unique_ptr<LogScanner> scanner;
    std::vector<std::unique_ptr<RE2>> res;
  };
  static const auto checked = [] {
    std::vector<Checked> out;
    const auto add = [&](const std::vector<SeverityPattern>& set, bool case_insensitive) {
      RE2::Options options;
      options.set_case_sensitive(!case_insensitive);
      std::vector<std::unique_ptr<RE2>> res;
      for (const auto& s : set) res.push_back(std::make_unique<RE2>(s.pattern, options));
      out.push_back({std::move(LogScanner::Create(set, case_insensitive)).value(), std::move(res)});
    };
    for (const auto& set : PlainSets()) add(set, false);
    add(DefaultSeverities(), true);
    add({{"critical", R"(\[crit\]|\[alert\])"}, {"error", R"(ERR(OR)?\s+\d+)"}}, false);
    // No literal (the combined RE2 over the buffer): `$` before "\r\n", the text's anchors.
    add({{"empty", "^$"}, {"short", "^.?$"}, {"whole", R"(\A\d+\z)"}}, false);
    // Unicode folds (`s` is also U+017F, `k` U+212A), inline and by option.
    add({{"task", "(?i)task"}}, false);
    add({{"disk", "disk|kiosk"}}, true);
    return out;
  }();
  // The input itself, and repeated past 40 KiB: the vector pass works in 16 KiB segments, and a
  // line's bounds may come from an earlier segment or past the current one.
  std::string repeated;
  if (size > 0 && size < 40 * 1024) {
    while (repeated.size() < 40 * 1024) repeated += text;
  }
  for (const std::string* t : {&text, &repeated}) {
    if (t->empty()) continue;
    for (const auto& [s, res] : checked) {
      matches.clear();
      const uint64_t lines = s->Scan(*t, &matches);
      // Every line's RE2 verdict, in order, must be exactly the scanner's matches.
      size_t next = 0;
      uint64_t seen = 0;
      size_t start = 0;
      while (start < t->size()) {
        const size_t nl = t->find('\n', start);
        const size_t end = nl == std::string::npos ? t->size() : nl;
        const int want = Reference(res, std::string_view(*t).substr(start, end - start));
        if (want >= 0) {
          if (next >= matches.size() || matches[next].offset != start ||
              matches[next].length != end - start || matches[next].severity != want) {
            __builtin_trap();
          }
          ++next;
        }
        ++seen;
        start = end + 1;
      }
      if (next != matches.size() || seen != lines) __builtin_trap();
    }
  }
  return 0;
}
