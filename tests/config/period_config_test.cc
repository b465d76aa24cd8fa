// Periods and maintenance windows declared in the config: parsed with their positions.
#include "config/period_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace obsmon {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z

TEST(PeriodConfigTest, DeclarationsFromConfig) {
  const std::string yaml = R"(
name: carbon
observation:
  start: 2025-10-14T00:00:00Z
  days: 7
  objective: 99.9
  latency_p95: 250ms
maintenance:
  - from: 2025-10-16T02:00:00Z
    to: 2025-10-16T03:00:00Z
    reason: DB upgrade
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(yaml), "obsmon.yml", &errors);
  node.String("name");
  Objective base;
  PeriodDeclarations d = ParsePeriodDeclarations(node, "carbon", base);
  node.CheckUnknownKeys();
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(d.periods.size(), 1u);
  EXPECT_EQ(d.periods[0].start_ms, kT0);
  EXPECT_EQ(d.periods[0].end_ms, kT0 + 7 * kDay);
  EXPECT_DOUBLE_EQ(d.periods[0].objective_percent, 99.9);
  EXPECT_DOUBLE_EQ(*d.periods[0].latency_p95_ms, 250);
  EXPECT_EQ(d.periods[0].source, "config");
  ASSERT_EQ(d.maintenance.size(), 1u);
  EXPECT_EQ(d.maintenance[0].start_ms, kT0 + 2 * kDay + 2 * kHour);
  EXPECT_EQ(d.maintenance[0].end_ms, kT0 + 2 * kDay + 3 * kHour);
  EXPECT_EQ(d.maintenance[0].reason, "DB upgrade");
}

TEST(PeriodConfigTest, BadDeclarationsNameFileLineAndKey) {
  const std::string yaml = R"(observation:
  - start: yesterday
    days: 0
    colour: red
maintenance:
  - from: 2025-10-16T03:00:00Z
    to: 2025-10-16T02:00:00Z
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(yaml), "obsmon.yml", &errors);
  PeriodDeclarations d = ParsePeriodDeclarations(node, "carbon", Objective{});
  EXPECT_TRUE(d.periods.empty());
  EXPECT_TRUE(d.maintenance.empty());
  const std::string text = errors.ToString();
  EXPECT_NE(text.find("obsmon.yml:2:12: bad timestamp 'yesterday'"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon.yml:3:11: days must be between 1 and 366"), std::string::npos)
      << text;
  EXPECT_NE(text.find("colour"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon.yml:7:9: maintenance `to` must be after `from`"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace obsmon
