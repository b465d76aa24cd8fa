#include "probes/exposition_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/ascii_case.h"
#include "core/status.h"

namespace obsmon::probes {

namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::optional<MetricType> TypeFromName(std::string_view s, Format format) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (format == Format::kPrometheusText) {
    if (s == "untyped") return MetricType::kUntyped;
    return std::nullopt;
  }
  if (s == "gaugehistogram") return MetricType::kGaugeHistogram;
  if (s == "info") return MetricType::kInfo;
  if (s == "stateset") return MetricType::kStateSet;
  if (s == "unknown") return MetricType::kUnknown;
  return std::nullopt;
}

// Cursor over one line. All Read* methods leave pos_ after what they consumed.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : s_(line) {}

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  size_t pos() const { return pos_; }
  std::string_view Rest() const { return s_.substr(pos_); }
  void Advance(size_t n = 1) { pos_ += n; }
  // Skips spaces and tabs; returns how many were skipped.
  size_t SkipBlanks() {
    size_t start = pos_;
    while (!AtEnd() && IsBlank(s_[pos_])) ++pos_;
    return pos_ - start;
  }
  std::string_view ReadName() {
    size_t start = pos_;
    if (AtEnd() || !IsNameStart(s_[pos_])) return {};
    while (!AtEnd() && IsNameChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A non-blank token (value, timestamp).
  std::string_view ReadToken() {
    size_t start = pos_;
    while (!AtEnd() && !IsBlank(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A quoted label value after its opening quote; unescapes \\, \" and \n. InvalidArgument for
  // an unterminated string or an unknown escape.
  Result<std::string> ReadQuoted() {
    std::string out;
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd()) break;
        char e = s_[pos_++];
        switch (e) {
          case '\\':
            out.push_back('\\');
            break;
          case '"':
            out.push_back('"');
            break;
          case 'n':
            out.push_back('\n');
            break;
          default:
            return Status::InvalidArgument(std::string("invalid escape \\") + e + " in label value");
        }
      } else {
        out.push_back(c);
      }
    }
    return Status::InvalidArgument("unterminated label value");
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// HELP text unescaping: \\ and \n (and \" in OpenMetrics).
std::string UnescapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char e = text[i + 1];
      if (e == '\\' || e == 'n' || e == '"') {
        out.push_back(e == 'n' ? '\n' : e);
        ++i;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// Suffixes under which a family's samples appear.
constexpr std::string_view kSuffixes[] = {"_bucket",  "_sum",    "_count", "_total",
                                          "_created", "_gcount", "_gsum",  "_info"};

class Parser {
 public:
  Parser(std::string_view body, const ParseOptions& options) : body_(body), opt_(options) {}

  ParseOutput Run() {
    if (body_.size() > opt_.max_body_bytes) {
      out_.fatal = "body size limit exceeded (" + std::to_string(body_.size()) + " > " +
                   std::to_string(opt_.max_body_bytes) + " bytes)";
      return std::move(out_);
    }
    const bool om = opt_.format == Format::kOpenMetrics;
    size_t pos = 0;
    int line_no = 0;
    size_t checked_at = 0;  // body offset of the last deadline check
    bool saw_eof = false;
    while (pos < body_.size()) {
      size_t nl = body_.find('\n', pos);
      bool terminated = nl != std::string_view::npos;
      std::string_view line = body_.substr(pos, terminated ? nl - pos : std::string_view::npos);
      pos = terminated ? nl + 1 : body_.size();
      ++line_no;
      // The deadline is asked every 256 lines or 256 KiB, whichever comes first: often enough
      // for a timely stop on a loaded machine (every 4096 lines, eight heavy scrapes on two
      // cores overran a 1 s timeout by up to 1.3 s), rarely enough to cost nothing (a clock
      // read per 256 lines).
      if (((line_no & 255) == 0 || pos - checked_at >= (256u << 10)) && opt_.expired) {
        checked_at = pos;
        if (opt_.expired()) {
          out_.fatal =
              "deadline exceeded while parsing (at line " + std::to_string(line_no) + ")";
          return std::move(out_);
        }
      }
      if (opt_.max_line_bytes > 0 && line.size() > opt_.max_line_bytes) {
        out_.fatal = "line length limit exceeded (line " + std::to_string(line_no) + " has " +
                     std::to_string(line.size()) + " > " + std::to_string(opt_.max_line_bytes) +
                     " bytes)";
        return std::move(out_);
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (saw_eof) {
        Error(line_no, "content after # EOF");
        break;
      }
      if (om && line == "# EOF") {
        saw_eof = true;
        continue;
      }
      ParseLine(line, line_no);
      if (!out_.fatal.empty()) return std::move(out_);
    }
    if (om && !saw_eof) out_.fatal = "missing # EOF";
    return std::move(out_);
  }

 private:
  void Error(int line, std::string message) {
    ++out_.error_count;
    if (out_.errors.size() < opt_.max_errors) out_.errors.push_back({line, std::move(message)});
  }

  void ParseLine(std::string_view line, int line_no) {
    LineReader r(line);
    if (opt_.format == Format::kPrometheusText) r.SkipBlanks();
    if (r.AtEnd()) {
      if (opt_.format == Format::kOpenMetrics) Error(line_no, "empty line");
      return;
    }
    if (r.Peek() == '#') {
      ParseComment(r, line_no);
      return;
    }
    ParseSample(r, line_no);
  }

  void ParseComment(LineReader& r, int line_no) {
    const bool om = opt_.format == Format::kOpenMetrics;
    r.Advance();  // '#'
    if (r.SkipBlanks() == 0) {
      if (om) Error(line_no, "comment must start with '# '");
      return;  // 0.0.4: any other comment is ignored
    }
    std::string_view keyword = r.ReadToken();
    bool is_help = keyword == "HELP", is_type = keyword == "TYPE", is_unit = keyword == "UNIT";
    if (!is_help && !is_type && !(is_unit && om)) {
      if (om) Error(line_no, "unknown comment '" + std::string(keyword) + "'");
      return;
    }
    if (r.SkipBlanks() == 0) {
      Error(line_no, std::string(keyword) + " without a metric name");
      return;
    }
    std::string_view name = r.ReadName();
    if (name.empty()) {
      Error(line_no, "invalid metric name in " + std::string(keyword));
      return;
    }
    std::string_view rest;
    if (!r.AtEnd()) {
      if (!IsBlank(r.Peek())) {
        Error(line_no, "invalid metric name in " + std::string(keyword));
        return;
      }
      r.Advance();  // exactly one separator; HELP text may start with blanks
      rest = r.Rest();
    }
    MetricFamily& fam = Family(name);
    if (is_help) {
      if (seen_help_.count(fam.name)) {
        Error(line_no, "second HELP line for " + fam.name);
        return;
      }
      seen_help_.insert(fam.name);
      fam.help = UnescapeHelp(rest);
    } else if (is_type) {
      while (!rest.empty() && IsBlank(rest.back())) rest.remove_suffix(1);
      auto type = TypeFromName(rest, opt_.format);
      if (!type) {
        Error(line_no, "invalid metric type '" + std::string(rest) + "'");
        return;
      }
      if (seen_type_.count(fam.name)) {
        Error(line_no, "second TYPE line for " + fam.name);
        return;
      }
      if (family_has_samples_[family_index_.at(fam.name)]) {
        Error(line_no, "TYPE line for " + fam.name + " after its samples");
        return;
      }
      seen_type_.insert(fam.name);
      fam.type = *type;
    } else {
      fam.unit = std::string(rest);
    }
  }

  MetricFamily& Family(std::string_view name) {
    auto it = family_index_.find(std::string(name));
    if (it != family_index_.end()) return out_.families[it->second];
    family_index_.emplace(std::string(name), out_.families.size());
    out_.families.push_back({std::string(name), MetricType::kUnknown, "", ""});
    family_has_samples_.push_back(false);
    last_sample_name_.clear();  // a new family may claim names looked up before
    return out_.families.back();
  }

  // The index of the family a sample name belongs to: itself, or its name without a known
  // suffix when that family has been declared; -1 for none.
  int FamilyOf(std::string_view name) const {
    auto it = family_index_.find(std::string(name));
    if (it != family_index_.end()) return static_cast<int>(it->second);
    for (std::string_view suffix : kSuffixes) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        auto jt = family_index_.find(std::string(name.substr(0, name.size() - suffix.size())));
        if (jt != family_index_.end()) return static_cast<int>(jt->second);
      }
    }
    return -1;
  }

  void ParseSample(LineReader& r, int line_no) {
    const bool om = opt_.format == Format::kOpenMetrics;
    ParsedSample s;
    s.line = line_no;
    std::string_view name = r.ReadName();
    if (name.empty()) {
      Error(line_no, "invalid metric name");
      return;
    }
    s.name = std::string(name);
    std::vector<Labels::Pair> pairs;
    size_t blanks = om ? 0 : r.SkipBlanks();
    if (r.Peek() == '{') {
      r.Advance();
      if (!ParseLabels(r, line_no, &pairs)) return;
      // The name before the braces is the series' __name__: one inside them names it twice, and
      // Prometheus fails the scrape ("label name \"__name__\" is not unique"). Kept, it was
      // stored and re-exported as a label no exposition may carry (fresh eyes, stop 67).
      if (std::any_of(pairs.begin(), pairs.end(),
                      [](const Labels::Pair& p) { return p.first == "__name__"; })) {
        Error(line_no, "duplicate label name __name__ (the metric's name, before the braces)");
        return;
      }
      blanks = r.SkipBlanks();
    } else if (blanks == 0) {
      blanks = r.SkipBlanks();
    }
    if (blanks == 0) {
      Error(line_no, r.AtEnd() ? "missing value" : "expected a blank before the value");
      return;
    }
    std::string_view value_text = r.ReadToken();
    auto value = ParseValue(value_text);
    if (!value) {
      Error(line_no, "invalid value '" + std::string(value_text.substr(0, 40)) + "'");
      return;
    }
    s.value = *value;
    r.SkipBlanks();
    if (!r.AtEnd() && r.Peek() != '#') {
      std::string_view ts_text = r.ReadToken();
      auto ts = ParseTimestamp(ts_text);
      if (!ts) {
        Error(line_no, "invalid timestamp '" + std::string(ts_text.substr(0, 40)) + "'");
        return;
      }
      s.timestamp_ms = *ts;
      r.SkipBlanks();
    }
    if (!r.AtEnd()) {
      // Only an OpenMetrics exemplar may follow: " # {labels} value [timestamp]". It is checked
      // for shape and skipped.
      if (!om || r.Peek() != '#') {
        Error(line_no, "unexpected text after the sample");
        return;
      }
      r.Advance();
      if (r.SkipBlanks() == 0 || r.Peek() != '{') {
        Error(line_no, "invalid exemplar");
        return;
      }
      r.Advance();
      std::vector<Labels::Pair> ex;
      if (!ParseLabels(r, line_no, &ex)) return;
      r.SkipBlanks();
      if (!ParseValue(r.ReadToken())) {
        Error(line_no, "invalid exemplar value");
        return;
      }
    }
    s.labels = Labels(std::move(pairs));
    // Consecutive samples mostly share a family: remember the last lookup.
    if (s.name != last_sample_name_) {
      last_sample_name_ = s.name;
      last_family_ = FamilyOf(s.name);
    }
    const int family = last_family_;
    const MetricFamily* fam = family >= 0 ? &out_.families[family] : nullptr;
    if (fam) {
      if (!family_has_samples_[family]) family_has_samples_[family] = true;
      if ((fam->type == MetricType::kHistogram || fam->type == MetricType::kGaugeHistogram) &&
          s.name == fam->name + "_bucket" && !s.labels.Has("le")) {
        Error(line_no, "histogram bucket without le label");
        return;
      }
      if (fam->type == MetricType::kSummary && s.name == fam->name && !s.labels.Has("quantile")) {
        Error(line_no, "summary quantile without quantile label");
        return;
      }
    }
    // Duplicate detection by a 64-bit hash of the series, confirmed by an exact comparison with
    // the earlier sample (so a hash collision never drops a sample).
    const uint64_t h = SeriesHash(s);
    auto range = seen_series_.equal_range(h);
    for (auto it = range.first; it != range.second; ++it) {
      const ParsedSample& other = out_.samples[it->second];
      if (other.name == s.name && other.labels == s.labels &&
          other.timestamp_ms == s.timestamp_ms) {
        ++out_.duplicate_count;
        Error(line_no, "duplicate series " + s.name + s.labels.ToString());
        return;
      }
    }
    if (out_.samples.size() >= opt_.max_samples) {
      out_.fatal =
          "sample limit exceeded (more than " + std::to_string(opt_.max_samples) + " samples)";
      return;
    }
    seen_series_.emplace(h, static_cast<uint32_t>(out_.samples.size()));
    out_.samples.push_back(std::move(s));
  }

  static uint64_t SeriesHash(const ParsedSample& s) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a over name, pairs and timestamp
    auto mix = [&h](std::string_view text) {
      for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
      }
      h ^= 0xff;  // field separator; collisions are settled by the exact comparison
      h *= 1099511628211ULL;
    };
    mix(s.name);
    for (const auto& [name, value] : s.labels.pairs()) {
      mix(name);
      mix(value);
    }
    if (s.timestamp_ms) mix(std::to_string(*s.timestamp_ms));
    return h;
  }

  // Sorts the pairs from `first` on by name (Labels keeps them sorted anyway) and reports a name
  // given twice: O(n log n), where comparing each new name with all before it was O(n^2).
  bool CheckUniqueNames(int line_no, std::vector<Labels::Pair>* pairs, size_t first) {
    auto begin = pairs->begin() + static_cast<std::ptrdiff_t>(first);
    std::stable_sort(begin, pairs->end(),
                     [](const Labels::Pair& a, const Labels::Pair& b) { return a.first < b.first; });
    auto dup = std::adjacent_find(
        begin, pairs->end(),
        [](const Labels::Pair& a, const Labels::Pair& b) { return a.first == b.first; });
    if (dup != pairs->end()) {
      Error(line_no, "duplicate label name " + dup->first);
      return false;
    }
    return true;
  }

  // After '{': label pairs up to and including '}'. Reports and returns false on error.
  bool ParseLabels(LineReader& r, int line_no, std::vector<Labels::Pair>* pairs) {
    const bool om = opt_.format == Format::kOpenMetrics;
    const size_t first = pairs->size();
    while (true) {
      if (!om) r.SkipBlanks();
      if (r.Peek() == '}') {
        r.Advance();
        return CheckUniqueNames(line_no, pairs, first);
      }
      std::string_view lname = r.ReadName();
      if (lname.empty() || lname.find(':') != std::string_view::npos) {
        Error(line_no, "invalid label name");
        return false;
      }
      if (!om) r.SkipBlanks();
      if (r.Peek() != '=') {
        Error(line_no, "expected '=' after label name " + std::string(lname));
        return false;
      }
      r.Advance();
      if (!om) r.SkipBlanks();
      if (r.Peek() != '"') {
        Error(line_no, "expected '\"' to start the value of label " + std::string(lname));
        return false;
      }
      r.Advance();
      Result<std::string> quoted = r.ReadQuoted();
      if (!quoted.ok()) {
        Error(line_no, quoted.status().message());
        return false;
      }
      std::string value = *std::move(quoted);
      if (opt_.max_labels > 0 && pairs->size() - first >= opt_.max_labels) {
        out_.fatal = "label limit exceeded (line " + std::to_string(line_no) + " has more than " +
                     std::to_string(opt_.max_labels) + " labels)";
        return false;
      }
      pairs->emplace_back(std::string(lname), std::move(value));
      if (!om) r.SkipBlanks();
      if (r.Peek() == ',') {
        r.Advance();
        continue;
      }
      if (r.Peek() == '}') {
        r.Advance();
        return CheckUniqueNames(line_no, pairs, first);
      }
      Error(line_no, "expected ',' or '}' after the value of label " + std::string(lname));
      return false;
    }
  }

  std::optional<int64_t> ParseTimestamp(std::string_view text) const {
    if (opt_.format == Format::kPrometheusText) {
      int64_t ms = 0;
      const char* end = text.data() + text.size();
      auto [p, ec] = std::from_chars(text.data(), end, ms);
      if (ec != std::errc() || p != end) return std::nullopt;
      return ms;
    }
    auto seconds = ParseValue(text);
    if (!seconds || !std::isfinite(*seconds) || std::fabs(*seconds) > 9.2e15) return std::nullopt;
    return static_cast<int64_t>(std::llround(*seconds * 1000.0));
  }

  std::string_view body_;
  ParseOptions opt_;
  ParseOutput out_;
  std::unordered_map<std::string, size_t> family_index_;
  std::unordered_set<std::string> seen_help_, seen_type_;
  std::vector<bool> family_has_samples_;  // by family index
  std::string last_sample_name_;
  int last_family_ = -1;
  std::unordered_multimap<uint64_t, uint32_t> seen_series_;  // series hash -> sample index
};

}  // namespace

Format FormatFromContentType(std::string_view content_type) {
  return content_type.find("application/openmetrics-text") != std::string_view::npos
             ? Format::kOpenMetrics
             : Format::kPrometheusText;
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateSet:
      return "stateset";
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kUnknown:
      break;
  }
  return "unknown";
}

std::string ParseError::ToString() const {
  return line > 0 ? "line " + std::to_string(line) + ": " + message : message;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || name[0] == ':') return false;
  for (char c : name) {
    if (!IsNameChar(c) || c == ':') return false;
  }
  return true;
}

std::optional<double> ParseValue(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  std::string_view t = text;
  if (t[0] == '+' || t[0] == '-') {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty()) return std::nullopt;
  if (EqualsIgnoreAsciiCase(t, "inf") || EqualsIgnoreAsciiCase(t, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (EqualsIgnoreAsciiCase(t, "nan")) return std::numeric_limits<double>::quiet_NaN();
  // from_chars would also take "inf"/"nan" spellings handled above; reject a second sign.
  if (t[0] == '+' || t[0] == '-') return std::nullopt;
  double v = 0;
  const char* end = t.data() + t.size();
  auto [p, ec] = std::from_chars(t.data(), end, v, std::chars_format::general);
  if (p != end) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Go's ParseFloat returns ±Inf or 0 with an error that Prometheus rejects; so do we.
    return std::nullopt;
  }
  if (ec != std::errc()) return std::nullopt;
  return negative ? -v : v;
}

ParseOutput Parse(std::string_view body, const ParseOptions& options) {
  return Parser(body, options).Run();
}

}  // namespace obsmon::probes
