#include "storage/labels_text.h"

#include <gtest/gtest.h>

namespace obsmon::storage {
namespace {

TEST(LabelsTextTest, RoundTripsCanonicalForm) {
  Labels cases[] = {
      Labels(),
      Labels{{"job", "carbon"}},
      Labels{{"a", "x\"y"}, {"b", "back\\slash"}, {"c", "two\nlines"}, {"d", "comma,and}brace"}},
      Labels{{"e", "={\"},"}},
  };
  for (const Labels& l : cases) {
    auto parsed = ParseLabelsText(l.ToString());
    ASSERT_TRUE(parsed.has_value()) << l.ToString();
    EXPECT_EQ(*parsed, l) << l.ToString();
  }
}

TEST(LabelsTextTest, RefusesMalformedText) {
  for (const char* bad : {"{", "{a}", "{a=1}", "{a=\"1\"", "{a=\"1\",}", "{=\"1\"}", "{a=\"\\x\"}",
                          "a=\"1\"", "{a=\"1\"b=\"2\"}"}) {
    EXPECT_FALSE(ParseLabelsText(bad).has_value()) << bad;
  }
}

TEST(LabelsTextTest, IncludeMatchesSubsets) {
  Labels l{{"component", "carbon"}, {"probe", "logs"}, {"severity", "error"}};
  EXPECT_TRUE(LabelsInclude(l, Labels()));
  EXPECT_TRUE(LabelsInclude(l, Labels{{"probe", "logs"}, {"component", "carbon"}}));
  EXPECT_FALSE(LabelsInclude(l, Labels{{"probe", "http"}}));
  EXPECT_FALSE(LabelsInclude(l, Labels{{"instance", "x"}}));
}

}  // namespace
}  // namespace obsmon::storage
