// The subset of Go text/template that Prometheus rule labels and annotations use:
//   {{ $labels.name }}  {{ $value }}  {{ $externalLabels.name }}  {{ $externalURL }}
//   {{ .Labels.name }}  {{ .Value }}  {{ .ExternalLabels.name }}   "string literals"
//   functions, as `f x` or `x | f`: humanize, humanize1024, humanizePercentage,
//   humanizeDuration, toUpper, toLower, title
//   and whitespace trimming with {{- and -}}.
// Everything else (if/range/printf/query/...) is refused at parse time, naming it. Values print as
// Go's %v does ($value 1e+06, 0.5). A missing label prints "" (Prometheus's missingkey=zero).
// What fails at execution in Go fails here with Go's text, and the whole expansion is then
// "<error expanding template: ...>", as Prometheus's: a humanize* function given a string that
// strconv.ParseFloat refuses (a label that is not a number, or missing), and toUpper, toLower or
// title given $value (a float64, not a string).
// Parsed templates are immutable and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/labels.h"
#include "core/status.h"

namespace obsmon::alerts {

struct TemplateData {
  const Labels* labels = nullptr;  // the alert's sample labels (without __name__)
  double value = 0;
  const Labels* external_labels = nullptr;  // may be null
  std::string external_url;
  // The template's name in error messages: Prometheus names an alert's templates
  // "__alert_<alertname>".
  std::string name;
};

class Template {
 public:
  // Parses `text`; fails with a message naming the unsupported construct and its offset.
  static Result<Template> Parse(std::string_view text);
  std::string Expand(const TemplateData& data) const;
  bool IsConstant() const;  // no actions: Expand returns the text unchanged

  struct Piece;  // opaque; defined in template.cc

 private:
  std::shared_ptr<const std::vector<Piece>> pieces_;
};

// Go's %v of a float64 ("1e+06", "0.1", "NaN", "+Inf").
std::string FormatGoFloat(double v);
// Go's strconv.FormatFloat(v, 'E', -1, 64): the shortest digits that round-trip, in E notation
// with a two-digit exponent at least ("2.2E+00", "1.0000000000000001E+90", "NaN", "+Inf").
std::string FormatGoFloatE(double v);
// Go's %q of a string: double quotes, with \", \\ and non-printable bytes escaped.
std::string GoQuote(const std::string& s);
// Prometheus's template functions, exposed for tests.
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizePercentage(double v);
std::string HumanizeDuration(double v);

}  // namespace obsmon::alerts
