#include "probes/log_scanner.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace obsmon::probes {

namespace {

// Atoms shorter than this are not worth a prefilter (too many candidates).
constexpr int kMinAtomLength = 3;

RE2::Options PatternOptions(bool case_insensitive) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!case_insensitive);
  return options;
}

// The literals of which every match of every pattern contains at least one, or an empty list
// when some pattern has no such literal. FilteredRE2's atoms form an AND/OR formula per pattern;
// the union of all atoms is a valid (if looser) OR-prefilter for all of them.
std::vector<std::string> RequiredLiterals(const std::vector<SeverityPattern>& severities,
                                          const RE2::Options& options) {
  re2::FilteredRE2 filter(kMinAtomLength);
  for (const auto& s : severities) {
    int id = 0;
    if (filter.Add(s.pattern, options, &id) != RE2::NoError) return {};
  }
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  // Patterns that pass with no atom at all have no required literal.
  std::vector<int> unfiltered;
  filter.AllPotentials({}, &unfiltered);
  if (!unfiltered.empty() || atoms.empty()) return {};
  for (const auto& atom : atoms) {
    for (unsigned char c : atom) {
      if (c >= 0x80) return {};  // the prefilter folds ASCII case only
    }
  }
  return atoms;
}

// FilteredRE2's atoms are lowercased. For case-sensitive patterns whose every atom appears in
// the pattern text in exactly one spelling (as "ERROR" in `\bERROR\b`), searching that spelling
// exactly is both valid and much more selective (logs say "error_rate=0" all the time). Returns
// false, leaving *literals alone, when that cannot be shown.
bool ExactCaseLiterals(const std::vector<SeverityPattern>& severities,
                       std::vector<std::string>* literals) {
  std::vector<std::string> exact;
  for (const auto& atom : *literals) {
    std::string spelling;
    for (const auto& s : severities) {
      const std::string& p = s.pattern;
      if (p.find("(?") != std::string::npos || p.find("\\Q") != std::string::npos) return false;
      for (size_t i = 0; i + atom.size() <= p.size(); ++i) {
        bool same = true;
        for (size_t j = 0; j < atom.size() && same; ++j) {
          same = std::tolower(static_cast<unsigned char>(p[i + j])) ==
                 static_cast<unsigned char>(atom[j]);
        }
        if (!same) continue;
        if (i > 0 && p[i - 1] == '\\') return false;  // an escape, not plain text
        const std::string found = p.substr(i, atom.size());
        if (!spelling.empty() && spelling != found) return false;
        spelling = found;
      }
    }
    if (spelling.empty()) return false;
    exact.push_back(spelling);
  }
  *literals = std::move(exact);
  return true;
}

// RE2 folds case by Unicode's rules: `s` also matches U+017F (LATIN SMALL LETTER LONG S) and
// `k` U+212A (KELVIN SIGN), the only non-ASCII letters folding to ASCII ones. A prefilter that
// folds ASCII only must not look for an s or a k (fresh eyes, stop 41: `(?i)task` missed
// "ta\u017fk"): each literal is cut to its longest piece without them. Every match still holds
// that piece, in ASCII. False when a piece is too short to be worth a prefilter.
bool WithoutFoldPartners(std::vector<std::string>* literals) {
  std::vector<std::string> out;
  for (const auto& lit : *literals) {
    std::string best, piece;
    for (size_t i = 0; i <= lit.size(); ++i) {
      const bool cut = i == lit.size() || lit[i] == 's' || lit[i] == 'k';
      if (!cut) {
        piece += lit[i];
        continue;
      }
      if (piece.size() > best.size()) best = piece;
      piece.clear();
    }
    if (best.size() < static_cast<size_t>(kMinAtomLength)) return false;
    if (std::find(out.begin(), out.end(), best) == out.end()) out.push_back(std::move(best));
  }
  *literals = std::move(out);
  return true;
}

// Whether a pattern anchors the whole text (`\A`, `\z`, or a flag group that may turn `m`
// off, so that `^` and `$` are the text's ends): over a buffer of many lines these match at
// its ends only, over one line at the line's. Textual, so conservative (an escaped `\\A` counts).
bool AnchorsTheText(const std::string& p) {
  if (p.find("\\A") != std::string::npos || p.find("\\z") != std::string::npos) return true;
  for (size_t at = p.find("(?"); at != std::string::npos; at = p.find("(?", at + 2)) {
    const size_t end = p.find_first_of(":)", at + 2);
    if (end != std::string::npos && p.find('-', at + 2) < end) return true;
  }
  return false;
}

}  // namespace

LogScanner::~LogScanner() = default;

std::vector<SeverityPattern> DefaultSeverities() {
  return {{"critical", R"(\bCRITICAL\b|\bFATAL\b)"}, {"error", R"(\bERROR\b)"}};
}

Result<std::unique_ptr<LogScanner>> LogScanner::Create(std::vector<SeverityPattern> severities,
                                                       bool case_insensitive) {
  if (severities.empty()) return Status::InvalidArgument("no severities configured");
  std::unique_ptr<LogScanner> scanner(new LogScanner());
  const RE2::Options options = PatternOptions(case_insensitive);
  std::string combined = "(?m)";
  for (size_t i = 0; i < severities.size(); ++i) {
    auto re = std::make_unique<RE2>(severities[i].pattern, options);
    if (!re->ok()) {
      return Status::InvalidArgument("severity '" + severities[i].name +
                                     "': bad pattern: " + re->error());
    }
    scanner->patterns_.push_back(std::move(re));
    if (i > 0) combined += '|';
    combined += "(?:" + severities[i].pattern + ")";
  }
  scanner->combined_ = std::make_unique<RE2>(combined, options);
  if (!scanner->combined_->ok()) {
    return Status::InvalidArgument("severities do not combine: " + scanner->combined_->error());
  }
  // Plain-literal severities are matched without RE2 (case-sensitive only: RE2 folds case by
  // Unicode rules). When all are, their literals are exactly the prefilter and each hit is
  // classified where it is found (ScanPlain).
  std::vector<PlainLiteral> plain;
  bool all_plain = !case_insensitive;
  for (size_t i = 0; i < severities.size(); ++i) {
    std::optional<LiteralPattern> lp;
    if (!case_insensitive) lp = LiteralPattern::Parse(severities[i].pattern);
    if (lp) {
      for (const auto& alt : lp->alternatives()) {
        plain.push_back({alt.text, alt.boundary_before, alt.boundary_after, static_cast<int>(i)});
      }
    } else {
      all_plain = false;
    }
    scanner->literal_patterns_.push_back(std::move(lp));
  }
  std::vector<std::string> literals;
  bool exact = false;
  if (all_plain && plain.size() <= LiteralSet::kMaxLiterals) {
    for (const auto& p : plain) literals.push_back(p.text);
    exact = true;
  } else {
    plain.clear();
    literals = RequiredLiterals(severities, options);
    exact = !case_insensitive && ExactCaseLiterals(severities, &literals);
    if (!exact && !literals.empty() && !WithoutFoldPartners(&literals)) literals.clear();
  }
  for (const auto& s : severities) {
    if (AnchorsTheText(s.pattern)) {
      scanner->regex_reach_ = RegexReach::kEveryLine;
      break;
    }
    if (s.pattern.find('$') != std::string::npos) scanner->regex_reach_ = RegexReach::kCrLfLines;
  }
  if (!scanner->literals_.Assign(literals, exact)) plain.clear();
  scanner->plain_ = std::move(plain);
  scanner->severities_ = std::move(severities);
  return scanner;
}

int LogScanner::Classify(std::string_view line) const {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
  const re2::StringPiece piece(line.data(), line.size());
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const bool hit = literal_patterns_[i] ? literal_patterns_[i]->Matches(line)
                                          : RE2::PartialMatch(piece, *patterns_[i]);
    if (hit) return static_cast<int>(i);
  }
  return -1;
}

uint64_t LogScanner::Scan(std::string_view text, std::vector<LineMatch>* matches,
                          bool* has_nul) const {
  if (!plain_.empty()) return ScanPlain(text, matches, has_nul);
  if (!literals_.empty()) return ScanWithLiterals(text, matches, has_nul);
  if (regex_reach_ == RegexReach::kEveryLine) {
    ScanEveryLine(text, matches);
  } else if (regex_reach_ == RegexReach::kCrLfLines &&
             std::memchr(text.data(), '\r', text.size()) != nullptr) {
    std::vector<LineMatch> found;  // merged with the CRLF lines before it joins *matches
    ScanWithRegex(text, &found);
    AddCrLfLines(text, &found);
    matches->insert(matches->end(), found.begin(), found.end());
  } else {
    ScanWithRegex(text, matches);
  }
  return CountNewlines(text, has_nul);
}

namespace {

// The line around position `pos` of `text`: [start, end) where end is at the '\n' or text end.
inline void LineAround(std::string_view text, size_t pos, size_t* start, size_t* end) {
  const char* base = text.data();
  const void* nl_before = memrchr(base, '\n', pos);
  *start = nl_before == nullptr
               ? 0
               : static_cast<size_t>(static_cast<const char*>(nl_before) - base) + 1;
  const void* nl_after = std::memchr(base + pos, '\n', text.size() - pos);
  *end = nl_after == nullptr ? text.size()
                             : static_cast<size_t>(static_cast<const char*>(nl_after) - base);
}

}  // namespace

uint64_t LogScanner::ScanWithLiterals(std::string_view text, std::vector<LineMatch>* matches,
                                      bool* has_nul) const {
  // One pass: each prefilter hit's line is classified whole; the rest of it cannot add a match.
  return literals_.ScanText(
      text,
      [&](size_t, LiteralSet::Line line) {
        const int severity = Classify(text.substr(line.start, line.end - line.start));
        if (severity >= 0) matches->push_back({line.start, line.end - line.start, severity});
        return line.end + 1;
      },
      has_nul);
}

int LogScanner::SeverityAt(std::string_view text, size_t start, size_t end, size_t pos,
                           uint32_t which) const {
  // plain_ is in the order of the severities (and literals_ in plain_'s), so the first literal
  // whose boundaries hold is of the first-listed severity found here. The bytes were compared
  // by the prefilter's verification already: only the boundaries are left to check.
  const std::string_view line = text.substr(start, end - start);
  for (; which != 0; which &= which - 1) {
    const PlainLiteral& p = plain_[static_cast<size_t>(__builtin_ctz(which))];
    if ((!p.boundary_before && !p.boundary_after) ||
        LiteralPattern::BoundariesHold(p.text, p.boundary_before, p.boundary_after, line,
                                       pos - start)) {
      return p.severity;
    }
  }
  return -1;
}

uint64_t LogScanner::ScanPlain(std::string_view text, std::vector<LineMatch>* matches,
                               bool* has_nul) const {
  // One pass of the prefilter over the buffer: every hit is a literal; a line's severity is the
  // first-listed one among its hits (boundaries checked within the line, as RE2 sees it; a
  // trailing '\r' is not a word byte, so it reads as the line's end does). The line being
  // decided is [start, end); once its severity is the first one, the rest of it is skipped.
  size_t start = 0, end = 0;
  int best = -1;
  bool in_line = false;
  const auto finish_line = [&] {
    if (in_line && best >= 0) matches->push_back({start, end - start, best});
  };
  const uint64_t lines = literals_.ScanText(
      text,
      [&](size_t hit, LiteralSet::Line line, uint32_t which) {
        if (!in_line || hit >= end) {
          finish_line();
          start = line.start;
          end = line.end;
          best = -1;
          in_line = true;
        }
        const int s = SeverityAt(text, start, end, hit, which);
        if (s >= 0 && (best < 0 || s < best)) best = s;
        return best == 0 ? end + 1 : hit + 1;
      },
      has_nul);
  finish_line();
  return lines;
}

void LogScanner::ScanWithRegex(std::string_view text, std::vector<LineMatch>* matches) const {
  size_t from = 0;
  while (from < text.size()) {
    re2::StringPiece found;
    // UNANCHORED search over the rest of the buffer; begin-of-text sees the previous '\n'.
    if (!combined_->Match(re2::StringPiece(text.data(), text.size()), from, text.size(),
                          RE2::UNANCHORED, &found, 1)) {
      return;
    }
    const size_t at = static_cast<size_t>(found.data() - text.data());
    if (at >= text.size()) return;  // an empty match after the last newline is no line
    size_t start = 0, end = 0;
    LineAround(text, at, &start, &end);
    // A match may span a newline (\s matches it); the line alone decides.
    const int severity = Classify(text.substr(start, end - start));
    if (severity >= 0) matches->push_back({start, end - start, severity});
    from = end + 1;
  }
}

void LogScanner::ScanEveryLine(std::string_view text, std::vector<LineMatch>* matches) const {
  for (size_t start = 0; start < text.size();) {
    const void* nl = std::memchr(text.data() + start, '\n', text.size() - start);
    const size_t end =
        nl == nullptr ? text.size() : static_cast<size_t>(static_cast<const char*>(nl) - text.data());
    const int severity = Classify(text.substr(start, end - start));
    if (severity >= 0) matches->push_back({start, end - start, severity});
    start = end + 1;
  }
}

void LogScanner::AddCrLfLines(std::string_view text, std::vector<LineMatch>* matches) const {
  std::vector<LineMatch> merged;
  merged.reserve(matches->size());
  size_t next = 0;  // the first of *matches not yet merged
  for (size_t cr = text.find("\r\n"); cr != std::string_view::npos;
       cr = text.find("\r\n", cr + 2)) {
    const size_t start = cr == 0 ? 0 : text.rfind('\n', cr - 1) + 1;  // npos + 1 == 0
    while (next < matches->size() && (*matches)[next].offset < start) {
      merged.push_back((*matches)[next++]);
    }
    if (next < matches->size() && (*matches)[next].offset == start) continue;  // already there
    const int severity = Classify(text.substr(start, cr + 1 - start));
    if (severity >= 0) merged.push_back({start, cr + 1 - start, severity});
  }
  while (next < matches->size()) merged.push_back((*matches)[next++]);
  *matches = std::move(merged);
}

}  // namespace obsmon::probes
