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

}  // namespace
}  // namespace obsmon
