// core/label_selector: the matcher lists PromQL accepts pass as written; what a store would
// answer with a 400 (or read as something else) is refused, saying what is wrong.
#include "core/label_selector.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(LabelSelectorTest, ValidListsAreReturnedAsWrittenInsideTheBraces) {
  EXPECT_EQ(*SelectorMatchers(R"( {job="a", instance=~"h.*"} )"), R"(job="a", instance=~"h.*")");
  EXPECT_EQ(*SelectorMatchers(R"(job="{x}")"), R"(job="{x}")");
  EXPECT_EQ(*SelectorMatchers(R"({job!='a\'b', env!~`prod|stag\d`,})"),
            R"(job!='a\'b', env!~`prod|stag\d`,)");
  EXPECT_EQ(*SelectorMatchers(R"({path="C:\\x\n"})"), R"(path="C:\\x\n")");
  EXPECT_EQ(*SelectorMatchers(R"({host=~"a\\.example"})"), R"(host=~"a\\.example")");
}

TEST(LabelSelectorTest, RegexNestedDeeperThanGoAllowsIsRefused) {
  const auto nested = [](int depth) {
    return "{job=~\"" + std::string(depth, '(') + "a" + std::string(depth, ')') + "\"}";
  };
  EXPECT_TRUE(SelectorMatchers(nested(1000)).ok());
  auto deep = SelectorMatchers(nested(1001));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested deeper than 1,000"), std::string::npos);
  // A bracketed class is not a group: "[(]" nests nothing.
  EXPECT_TRUE(SelectorMatchers("{job=~\"" + std::string(1001, '(') + "a" +
                               std::string(1001, ')') + "[(]\"}")
                  .ok() == false);
  EXPECT_TRUE(SelectorMatchers(R"({job=~"[(((]a"})").ok());
}

TEST(LabelSelectorTest, InvalidListsSayWhatIsWrong) {
  struct Case {
    const char* selector;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({job="a")", "opens a brace it does not close"},
           Case{"{", "opens a brace it does not close"},
           Case{R"({a="b"}[5m])", "opens a brace it does not close"},
           Case{R"(up{job="a"})", "expected =, !=, =~ or !~ after 'up' at character 3"},
           Case{"{job=blackbox}", "expected a quoted value at character 5"},
           Case{R"({job="a})", "unterminated quoted string"},
           Case{"{job=\"a\nb\"}", "unterminated quoted string"},
           Case{R"({__name__="up"})", "(__name__) at character 1"},
           Case{R"({job="a" instance="b"})", "expected ',' between matchers at character 9"},
           Case{R"({1job="a"})", "expected a label name at character 1"},
           Case{R"({job=="a"})", "expected a quoted value"},
           Case{R"({job=~"(unclosed"})", "bad regex for 'job': missing )"},
           Case{R"({job="\q"})", "unknown escape sequence '\\q' in string at character 6"},
           Case{R"({job="\'"})", "unknown escape sequence '\\''"},
           Case{R"({job="\uD800"})", "escape sequence is an invalid Unicode code point"},
           Case{"{}", "selects nothing: give at least one matcher"},
           // RE2 takes these, Go's regexp (a Prometheus-compatible store) does not.
           Case{R"({job=~"\\C"})", "bad regex for 'job': \\C is not in Go's regexp syntax"},
           Case{"  ", "selects nothing"},
           Case{"{a=\"b\",,}", "expected a label name at character 7"},
       }) {
    auto m = SelectorMatchers(c.selector);
    ASSERT_FALSE(m.ok()) << c.selector;
    EXPECT_TRUE(m.status().IsInvalidArgument());
    EXPECT_NE(m.status().message().find(std::string("selector '") + c.selector + "'"),
              std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find(c.message), std::string::npos)
        << c.selector << ": " << m.status().message();
  }
}

}  // namespace
}  // namespace obsmon
