#include "core/config_node.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(ConfigNodeTest, ReportsUnknownKeyWithPosition) {
  ConfigErrors errors;
  ConfigNode node(YAML::Load("name: a\ninterval: 15s\nbogus: 1\n"), "c.yml", &errors);
  EXPECT_EQ(node.String("name"), "a");
  EXPECT_EQ(node.DurationMs("interval"), 15'000);
  node.CheckUnknownKeys();
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_EQ(errors.errors()[0].ToString(), "c.yml:3:1: unknown key 'bogus'");
}

TEST(ConfigNodeTest, ReportsBadDurationAtValue) {
  ConfigErrors errors;
  ConfigNode node(YAML::Load("interval: 15 seconds\n"), "c.yml", &errors);
  EXPECT_FALSE(node.DurationMs("interval").has_value());
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_EQ(errors.errors()[0].line, 1);
  EXPECT_EQ(errors.errors()[0].column, 11);
  EXPECT_NE(errors.errors()[0].message.find("bad duration"), std::string::npos);
}

TEST(ConfigNodeTest, ReportsWrongTypeAndMissingKey) {
  ConfigErrors errors;
  ConfigNode node(YAML::Load("timeout: [1, 2]\n"), "c.yml", &errors);
  EXPECT_FALSE(node.Number("timeout").has_value());
  EXPECT_FALSE(node.String("url", /*required=*/true).has_value());
  ASSERT_EQ(errors.errors().size(), 2u);
  EXPECT_NE(errors.errors()[0].message.find("must be a number"), std::string::npos);
  EXPECT_NE(errors.errors()[1].message.find("missing required key 'url'"), std::string::npos);
}

// Issue 13: yaml-cpp accepts a repeated key and keeps one value silently.
TEST(ConfigNodeTest, DuplicateKeyIsRefusedAtTheSecondKey) {
  ConfigErrors errors;
  EXPECT_FALSE(LoadYamlText("a: 1\nb:\n  x: 1\n  x: 2\n", "c.yml", &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].ToString(),
            "c.yml:4:3: duplicate key 'x' (first at line 3, column 3)");
}

// Issue 13: yaml-cpp 0.7 takes `<<` as a plain key, so the merged keys would be lost silently.
TEST(ConfigNodeTest, MergeKeyIsRefusedWithPosition) {
  ConfigErrors errors;
  EXPECT_FALSE(
      LoadYamlText("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "c.yml", &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_EQ(errors.errors()[0].line, 3);
  EXPECT_EQ(errors.errors()[0].column, 3);
  EXPECT_NE(errors.errors()[0].message.find("merge keys"), std::string::npos);
}

TEST(ConfigNodeTest, QuotedMergeLookalikeIsAPlainKey) {
  ConfigErrors errors;
  EXPECT_TRUE(LoadYamlText("\"<<\": 1\n", "c.yml", &errors).has_value()) << errors.ToString();
}

// Issue 13: an alias bomb must cost no more than its text when keys are checked.
TEST(ConfigNodeTest, AliasBombIsWalkedOnce) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 40; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + "]\n";
  }
  ConfigErrors errors;
  EXPECT_TRUE(LoadYamlText(yaml, "bomb.yml", &errors).has_value()) << errors.ToString();
}

TEST(ConfigNodeTest, SyntaxErrorIsLocatedNotThrown) {
  ConfigErrors errors;
  EXPECT_FALSE(LoadYamlText("a: [1, 2\nb: {", "c.yml", &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_GT(errors.errors()[0].line, 0);
}

// Issue 13: every range check is false for NaN, so `.nan` passed as any percentage.
TEST(ConfigNodeTest, NanAndInfinityAreNotNumbers) {
  for (const char* text : {"v: .nan\n", "v: .inf\n", "v: -.Inf\n"}) {
    ConfigErrors errors;
    ConfigNode node(YAML::Load(text), "c.yml", &errors);
    EXPECT_FALSE(node.Number("v").has_value()) << text;
    ASSERT_EQ(errors.errors().size(), 1u) << text;
    EXPECT_EQ(errors.errors()[0].line, 1);
    EXPECT_EQ(errors.errors()[0].column, 4);
    EXPECT_NE(errors.errors()[0].message.find("finite number"), std::string::npos);
  }
}

// Issue 13: an error quoting a key with NUL or invalid UTF-8 must not print them raw.
TEST(ConfigNodeTest, ErrorsEscapeNulAndInvalidUtf8) {
  ConfigErrors errors;
  ConfigNode node(YAML::Load(std::string("\"a\\0b\xff\": 1\n")), "c.yml", &errors);
  node.CheckUnknownKeys();
  ASSERT_EQ(errors.errors().size(), 1u);
  const std::string text = errors.ToString();
  EXPECT_EQ(text.find('\0'), std::string::npos);
  EXPECT_NE(text.find("unknown key 'a\\x00b\\xff'"), std::string::npos) << text;
}

TEST(ConfigNodeTest, NonRegularConfigFileIsRefused) {
  ConfigErrors errors;
  EXPECT_FALSE(LoadYamlFile("/dev/zero", &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_NE(errors.ToString().find("not a regular file"), std::string::npos) << errors.ToString();
}

}  // namespace
}  // namespace obsmon
