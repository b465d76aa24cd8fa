#include "alerts/template.h"

#include <gtest/gtest.h>

#include <cmath>

namespace obsmon::alerts {
namespace {

std::string Expand(const std::string& t, double value, const Labels& l = {}) {
  auto tmpl = Template::Parse(t);
  EXPECT_TRUE(tmpl.ok()) << tmpl.status().message();
  TemplateData d;
  d.labels = &l;
  d.value = value;
  return tmpl.ok() ? tmpl->Expand(d) : "";
}

TEST(TemplateTest, GoFloatFormatting) {
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(123456), "123456");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(0.00001234), "1.234e-05");
  EXPECT_EQ(FormatGoFloat(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatGoFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatGoFloat(NAN), "NaN");
  EXPECT_EQ(FormatGoFloat(-INFINITY), "-Inf");
}

TEST(TemplateTest, HumanizeFunctions) {
  EXPECT_EQ(Humanize(1234), "1.234k");
  EXPECT_EQ(Humanize(0.25), "250m");
  EXPECT_EQ(Humanize(0), "0");
  EXPECT_EQ(Humanize1024(1024 * 1024), "1Mi");
  EXPECT_EQ(HumanizePercentage(0.1234), "12.34%");
  EXPECT_EQ(HumanizeDuration(90061), "1d 1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(61), "1m 1s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(0.25), "250ms");
  EXPECT_EQ(HumanizeDuration(0), "0s");
}

// Found by fuzz_template: a value beyond int64 was converted with undefined behaviour. Go's
// conversion on amd64 gives the minimum int64, and promtool prints what follows from it (found by
// the alert differential test; before, obsmon printed "1e+300s").
TEST(TemplateTest, HumanizeDurationOfAHugeValueAsGoOnAmd64) {
  EXPECT_EQ(HumanizeDuration(1e300), "-106751991167300d -15h -30m -8s");
  EXPECT_EQ(HumanizeDuration(-1e300), "--106751991167300d -15h -30m -8s");
  EXPECT_EQ(HumanizeDuration(9223372036854775808.0), "-106751991167300d -15h -30m -8s");
}

TEST(TemplateTest, GoExecutionErrorsAndTitle) {
  Labels l{{"instance", "db_1:5432"}, {"port", "9100"}};
  EXPECT_EQ(Expand("{{ $labels.instance | title }}", 1, l), "Db_1:5432");
  EXPECT_EQ(Expand("{{ $labels.port | humanize }}", 1, l), "9.1k");
  // The name is empty here (TemplateData.name); the alerting rule sets "__alert_<name>".
  EXPECT_EQ(Expand("{{ humanize $labels.instance }}", 1, l),
            "<error expanding template: error executing template : template: :1:115: executing "
            "\"\" at <humanize $labels.instance>: error calling humanize: strconv.ParseFloat: "
            "parsing \"db_1:5432\": invalid syntax>");
  EXPECT_EQ(Expand("{{ $value | toLower }}", 1, l),
            "<error expanding template: error executing template : template: :1:124: executing "
            "\"\" at <toLower>: wrong type for value; expected string; got float64>");
  EXPECT_EQ(Expand("{{ $value | humanize | toUpper }}", 2e6, l), "2M");
}

TEST(TemplateTest, LabelsValuePipesAndTrim) {
  Labels l{{"instance", "db:1"}};
  EXPECT_EQ(Expand("{{ $labels.instance }} is {{ $value }}", 3, l), "db:1 is 3");
  EXPECT_EQ(Expand("{{ .Labels.instance }}/{{ .Value }}", 0.5, l), "db:1/0.5");
  EXPECT_EQ(Expand("{{ $labels.missing }}", 0, l), "");
  EXPECT_EQ(Expand("{{ $value | humanizePercentage }}", 0.5), "50%");
  EXPECT_EQ(Expand("{{ humanize $value }}", 2e6), "2M");
  EXPECT_EQ(Expand("a  {{- $value -}}  b", 1), "a1b");
  EXPECT_EQ(Expand("{{ \"x\" | toUpper }}", 0), "X");
  EXPECT_EQ(Expand("plain", 0), "plain");
}

TEST(TemplateTest, RefusesWhatIsNotSupported) {
  EXPECT_FALSE(Template::Parse("{{ if $value }}x{{ end }}").ok());
  EXPECT_FALSE(Template::Parse("{{ printf \"%.2f\" $value }}").ok());
  EXPECT_FALSE(Template::Parse("{{ $value").ok());
  EXPECT_FALSE(Template::Parse("{{ $x := 1 }}").ok());
  EXPECT_FALSE(Template::Parse("{{ query \"up\" }}").ok());
}

}  // namespace
}  // namespace obsmon::alerts
