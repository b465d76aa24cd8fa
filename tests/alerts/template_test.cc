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

// Found by fuzz_template: a value beyond int64 was converted with undefined behaviour.
TEST(TemplateTest, HumanizeDurationOfAHugeValueIsInSeconds) {
  EXPECT_EQ(HumanizeDuration(1e300), "1e+300s");
  EXPECT_EQ(HumanizeDuration(-1e300), "-1e+300s");
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
