#include "alerts/template.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>

#include "core/text_escape.h"

namespace obsmon::alerts {

namespace {

// %.4g as Go prints it (C's %.4g matches Go's for finite values).
std::string G4(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::string FormatGoFloatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, ec == std::errc() ? end : buf);
  for (char& ch : s) {
    if (ch == 'e') ch = 'E';
  }
  return s;
}

std::string GoQuote(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto hex_byte = [&](std::string& out, const char* prefix, unsigned char c) {
    out += prefix;
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // As Go's strconv.Quote: a byte that starts no valid UTF-8 sequence as \xNN, a C1
      // control as \u00NN, other runes as they are (promtool prints label values so).
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        hex_byte(out, "\\x", c);
        ++i;
      } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
        hex_byte(out, "\\u00", static_cast<unsigned char>(s[i + 1]));
        i += 2;
      } else {
        out.append(s, i, n);
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          hex_byte(out, "\\x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatGoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  std::string s(sci, r.ptr);
  int exp = std::atoi(s.c_str() + s.find('e') + 1);
  // Go's %v is strconv 'g' with the shortest precision, which switches to the exponent form
  // when exp < -4 || exp >= 6 (so 1e+06 but 100000).
  if (exp < -4 || exp >= 6) return s;
  char fix[400];
  auto f = std::to_chars(fix, fix + sizeof fix, v, std::chars_format::fixed);
  return std::string(fix, f.ptr);
}

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return G4(v);
  if (std::fabs(v) >= 1) {
    static const char* kUp[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
    int i = 0;
    while (std::fabs(v) >= 1000 && i < 8) {
      v /= 1000;
      ++i;
    }
    return G4(v) + kUp[i];
  }
  static const char* kDown[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
  int i = 0;
  while (std::fabs(v) < 1 && i < 8) {
    v *= 1000;
    ++i;
  }
  return G4(v) + kDown[i];
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return G4(v);
  static const char* kUp[] = {"", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  int i = 0;
  while (std::fabs(v) >= 1024 && i < 8) {
    v /= 1024;
    ++i;
  }
  return G4(v) + kUp[i];
}

std::string HumanizePercentage(double v) { return G4(v * 100) + "%"; }

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return G4(v);
  if (v == 0) return G4(v) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    // Converting a double beyond int64 is undefined behaviour in C++ (found by fuzz_template
    // with $value = 1e300); Go's int64(v) on amd64 (CVTTSD2SQ) gives the minimum int64, and
    // promtool prints what follows from it: "-106751991167300d -15h -30m -8s".
    const int64_t d = v >= 9223372036854775808.0 ? std::numeric_limits<int64_t>::min()
                                                 : static_cast<int64_t>(v);
    int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24, days = d / 86400;
    char buf[128];
    if (days != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldd %lldh %lldm %llds", sign.c_str(), (long long)days,
                    (long long)hours, (long long)minutes, (long long)seconds);
    } else if (hours != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldh %lldm %llds", sign.c_str(), (long long)hours,
                    (long long)minutes, (long long)seconds);
    } else if (minutes != 0) {
      std::snprintf(buf, sizeof buf, "%s%lldm %llds", sign.c_str(), (long long)minutes,
                    (long long)seconds);
    } else {
      return sign + G4(v) + "s";
    }
    return buf;
  }
  static const char* kDown[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kDown) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return G4(v) + prefix + "s";
}

// One piece of a template: literal text, or an action (a source term and functions applied).
struct Template::Piece {
  enum class Source { kText, kLabel, kValue, kExternalLabel, kExternalUrl, kString };
  Source source = Source::kText;
  std::string text;                // literal text, label name or string literal
  std::vector<std::string> funcs;  // applied left to right
  // For Go's execution errors: where each function and the term stand in the text Prometheus
  // executes ("line:column", counted as Go's ErrorContext does), the term as written, and
  // whether the first function was written `f x` (the error then names "f x").
  std::vector<std::string> func_at;
  std::string term_at;
  std::string term;
  bool command_form = false;
};

namespace {

bool IsFunc(std::string_view f) {
  return f == "humanize" || f == "humanize1024" || f == "humanizePercentage" ||
         f == "humanizeDuration" || f == "toUpper" || f == "toLower" || f == "title";
}

std::vector<std::string> Words(std::string_view s, std::vector<size_t>* offsets) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    if (s[i] == '"') {
      ++j;
      while (j < s.size() && s[j] != '"') j += (s[j] == '\\') ? 2 : 1;
      j = std::min(j + 1, s.size());
    } else if (s[i] == '|') {
      j = i + 1;
    } else {
      while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '|') ++j;
    }
    out.emplace_back(s.substr(i, j - i));
    offsets->push_back(i);
    i = j;
  }
  return out;
}

Status ParseTerm(const std::string& w, Template::Piece* p) {
  auto field = [&](std::string_view prefix) -> std::optional<std::string> {
    if (w.size() > prefix.size() && w.compare(0, prefix.size(), prefix) == 0) {
      return w.substr(prefix.size());
    }
    return std::nullopt;
  };
  using S = Template::Piece::Source;
  if (w == "$value" || w == ".Value") {
    p->source = S::kValue;
  } else if (w == "$externalURL" || w == ".ExternalURL") {
    p->source = S::kExternalUrl;
  } else if (auto l = field("$labels."); l) {
    p->source = S::kLabel, p->text = *l;
  } else if (auto l2 = field(".Labels."); l2) {
    p->source = S::kLabel, p->text = *l2;
  } else if (auto e = field("$externalLabels."); e) {
    p->source = S::kExternalLabel, p->text = *e;
  } else if (auto e2 = field(".ExternalLabels."); e2) {
    p->source = S::kExternalLabel, p->text = *e2;
  } else if (w.size() >= 2 && w.front() == '"' && w.back() == '"') {
    p->source = S::kString;
    for (size_t i = 1; i + 1 < w.size(); ++i) {
      if (w[i] == '\\' && i + 2 < w.size()) ++i;
      p->text += w[i];
    }
  } else {
    return Status::InvalidArgument("template term '" + w + "' is not supported by obsmon");
  }
  return Status::Ok();
}

// `at(offset)` gives Go's "line:column" of a byte offset of the action's body.
Status ParseAction(std::string_view body, const std::function<std::string(size_t)>& at,
                   Template::Piece* p) {
  std::vector<size_t> offsets;
  std::vector<std::string> w = Words(body, &offsets);
  if (w.empty()) return Status::InvalidArgument("empty template action");
  // Split into pipeline stages on '|'.
  std::vector<std::vector<std::string>> stages(1);
  std::vector<std::vector<size_t>> stage_at(1);
  for (size_t k = 0; k < w.size(); ++k) {
    if (w[k] == "|") {
      stages.emplace_back();
      stage_at.emplace_back();
    } else {
      stages.back().push_back(w[k]);
      stage_at.back().push_back(offsets[k]);
    }
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    auto& st = stages[i];
    if (st.empty()) return Status::InvalidArgument("missing command in template pipeline");
    if (i == 0) {
      if (st.size() == 1) {
        if (IsFunc(st[0]))
          return Status::InvalidArgument("function '" + st[0] + "' needs an argument");
        Status s = ParseTerm(st[0], p);
        if (!s.ok()) return s;
        p->term = st[0];
        p->term_at = at(stage_at[i][0]);
      } else if (st.size() == 2 && IsFunc(st[0])) {
        Status s = ParseTerm(st[1], p);
        if (!s.ok()) return s;
        p->funcs.push_back(st[0]);
        p->func_at.push_back(at(stage_at[i][0]));
        p->term = st[1];
        p->term_at = at(stage_at[i][1]);
        p->command_form = true;
      } else {
        return Status::InvalidArgument("template action '" + std::string(st[0]) +
                                       "' is not supported by obsmon");
      }
    } else {
      if (st.size() != 1 || !IsFunc(st[0])) {
        return Status::InvalidArgument("template function '" + st[0] +
                                       "' is not supported by obsmon");
      }
      p->funcs.push_back(st[0]);
      p->func_at.push_back(at(stage_at[i][0]));
    }
  }
  return Status::Ok();
}

bool IsNumericFunc(std::string_view f) {
  return f == "humanize" || f == "humanize1024" || f == "humanizePercentage" ||
         f == "humanizeDuration";
}

// `f` on a valid argument (`v` for the numeric functions, `in` for the others).
std::string ApplyChecked(const std::string& f, const std::string& in, double v) {
  if (f == "humanize") return Humanize(v);
  if (f == "humanize1024") return Humanize1024(v);
  if (f == "humanizePercentage") return HumanizePercentage(v);
  if (f == "humanizeDuration") return HumanizeDuration(v);
  std::string out = in;
  if (f == "toUpper")
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (f == "toLower")
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (f == "title") {
    // Go's strings.Title: a rune after a separator is upper-cased; ASCII letters, digits and
    // '_' are not separators, so "a_b" is "A_b" (before, obsmon made it "A_B").
    bool start = true;
    for (auto& c : out) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (start) c = static_cast<char>(std::toupper(u));
      start = u < 0x80 && !std::isalnum(u) && u != '_';
    }
  }
  return out;
}

// Go's strconv.ParseFloat(s, 64): decimal and hexadecimal (with a p exponent) floats, and
// "inf", "infinity", "nan" in any case (the first two signed). InvalidArgument with Go's reason
// ("invalid syntax", "value out of range") when it refuses `s`.
Result<double> GoParseFloat(const std::string& s) {
  auto lower = [](std::string_view x) {
    std::string l(x);
    for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return l;
  };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  const std::string rest = lower(std::string_view(s).substr(i));
  if (rest == "inf" || rest == "infinity") {
    return neg ? -HUGE_VAL : HUGE_VAL;
  }
  if (i == 0 && rest == "nan") {
    return std::nan("");
  }
  const bool hex = rest.size() >= 2 && rest[0] == '0' && rest[1] == 'x';
  size_t j = hex ? 2 : 0, digits = 0;
  auto is_digit = [&](char c) {
    return hex ? std::isxdigit(static_cast<unsigned char>(c)) != 0
               : std::isdigit(static_cast<unsigned char>(c)) != 0;
  };
  while (j < rest.size() && is_digit(rest[j])) ++j, ++digits;
  if (j < rest.size() && rest[j] == '.') {
    ++j;
    while (j < rest.size() && is_digit(rest[j])) ++j, ++digits;
  }
  if (digits == 0) return Status::InvalidArgument("invalid syntax");
  if (j < rest.size() && rest[j] == (hex ? 'p' : 'e')) {
    ++j;
    if (j < rest.size() && (rest[j] == '+' || rest[j] == '-')) ++j;
    size_t exp_digits = 0;
    while (j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j]))) ++j, ++exp_digits;
    if (exp_digits == 0) return Status::InvalidArgument("invalid syntax");
  } else if (hex) {
    return Status::InvalidArgument("invalid syntax");  // Go requires the p exponent of a hexadecimal float
  }
  if (j != rest.size()) return Status::InvalidArgument("invalid syntax");
  const double out = std::strtod(s.c_str(), nullptr);
  if (std::isinf(out)) return Status::InvalidArgument("value out of range");
  return out;
}

// Applies `f` to `in`; InvalidArgument with Go's error (what follows "executing ... at <...>: ")
// when Go's call fails.
Result<std::string> Apply(const std::string& f, const std::string& in, bool numeric, double num) {
  double v = num;
  if (IsNumericFunc(f) && !numeric) {
    Result<double> parsed = GoParseFloat(in);
    if (!parsed.ok()) {
      return Status::InvalidArgument("error calling " + f + ": strconv.ParseFloat: parsing " +
                                     GoQuote(in) + ": " + parsed.status().message());
    }
    v = *parsed;
  } else if (!IsNumericFunc(f) && numeric) {
    return Status::InvalidArgument("wrong type for value; expected string; got float64");
  }
  return ApplyChecked(f, in, v);
}

// "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}
// {{$value := .Value}}" (one line), which Prometheus puts before every alert template.
constexpr size_t kGoDefsLength = 22 + 38 + 32 + 20;
}  // namespace

Result<Template> Template::Parse(std::string_view text) {
  auto pieces = std::make_shared<std::vector<Piece>>();
  size_t i = 0;
  std::string lit;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      lit += text.substr(i);
      break;
    }
    lit += text.substr(i, open - i);
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unclosed action at offset " + std::to_string(open));
    }
    std::string_view body = text.substr(open + 2, close - open - 2);
    bool trim_left = body.size() >= 2 && body[0] == '-' &&
                     (body[1] == ' ' || body[1] == '\t' || body[1] == '\n');
    bool trim_right = body.size() >= 2 && body.back() == '-' &&
                      (body[body.size() - 2] == ' ' || body[body.size() - 2] == '\t' ||
                       body[body.size() - 2] == '\n');
    if (trim_left) body.remove_prefix(1);
    if (trim_right) body.remove_suffix(1);
    if (trim_left) {
      while (!lit.empty() && std::isspace(static_cast<unsigned char>(lit.back()))) lit.pop_back();
    }
    if (!lit.empty()) {
      Piece t;
      t.text = std::move(lit);
      pieces->push_back(std::move(t));
      lit.clear();
    }
    // Strip the `$labels := .Labels`-style definitions Prometheus itself prepends: accepted as
    // no-ops.
    std::string b(body);
    if (b.find(":=") != std::string::npos) {
      return Status::InvalidArgument(
          "template variable definitions are not supported by obsmon (offset " +
          std::to_string(open) + ")");
    }
    if (b.find_first_not_of(" \t\n") != std::string::npos &&
        b.substr(b.find_first_not_of(" \t\n"), 2) == "/*") {
      // a comment
    } else {
      Piece a;
      // Go's ErrorContext over the text Prometheus executes: its four variable definitions
      // (112 bytes, no newline) and then this template. `body` starts at body_start.
      const size_t body_start = static_cast<size_t>(body.data() - text.data());
      auto at = [&](size_t off) {
        const size_t pos = body_start + off;
        const size_t nl = text.substr(0, pos).rfind('\n');
        size_t line = 1;
        for (size_t k = 0; k < pos; ++k) line += text[k] == '\n';
        const size_t col = nl == std::string_view::npos ? kGoDefsLength + pos : pos - (nl + 1);
        return std::to_string(line) + ":" + std::to_string(col);
      };
      Status s = ParseAction(b, at, &a);
      if (!s.ok()) {
        return Status::InvalidArgument(s.message() + " (at offset " + std::to_string(open) + ")");
      }
      pieces->push_back(std::move(a));
    }
    i = close + 2;
    if (trim_right) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    }
  }
  if (!lit.empty()) {
    Piece t;
    t.text = std::move(lit);
    pieces->push_back(std::move(t));
  }
  Template out;
  out.pieces_ = std::move(pieces);
  return out;
}

bool Template::IsConstant() const {
  for (const auto& p : *pieces_) {
    if (p.source != Piece::Source::kText) return false;
  }
  return true;
}

std::string Template::Expand(const TemplateData& d) const {
  std::string out;
  for (const auto& p : *pieces_) {
    std::string s;
    bool numeric = false;
    switch (p.source) {
      case Piece::Source::kText:
        out += p.text;
        continue;
      case Piece::Source::kLabel:
        s = d.labels ? d.labels->Get(p.text) : "";
        break;
      case Piece::Source::kExternalLabel:
        s = d.external_labels ? d.external_labels->Get(p.text) : "";
        break;
      case Piece::Source::kExternalUrl:
        s = d.external_url;
        break;
      case Piece::Source::kString:
        s = p.text;
        break;
      case Piece::Source::kValue:
        s = FormatGoFloat(d.value);
        numeric = true;
        break;
    }
    for (size_t k = 0; k < p.funcs.size(); ++k) {
      Result<std::string> applied = Apply(p.funcs[k], s, numeric, d.value);
      if (!applied.ok()) {
        const std::string& err = applied.status().message();
        // As Go's text/template: the node is the command (`f x` as written, or `f` in a
        // pipeline), except a wrong-typed argument of `f x`, where it is the argument.
        std::string node = p.funcs[k], at = p.func_at[k];
        if (k == 0 && p.command_form) {
          if (numeric) {
            node = p.term, at = p.term_at;
          } else {
            node = p.funcs[k] + " " + p.term;
          }
        }
        return "<error expanding template: error executing template " + d.name +
               ": template: " + d.name + ":" + at + ": executing " + GoQuote(d.name) + " at <" +
               node + ">: " + err + ">";
      }
      s = *std::move(applied);
      numeric = false;
    }
    out += s;
  }
  return out;
}

}  // namespace obsmon::alerts
