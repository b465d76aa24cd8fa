#include "storage/probe_role.h"

#include <gtest/gtest.h>

namespace obsmon::storage {
namespace {

TEST(ProbeRoleTest, NamesAreTheDocumentedColumnValues) {
  EXPECT_EQ(ProbeRoleName(ProbeRole::kHealth), "health");
  EXPECT_EQ(ProbeRoleName(ProbeRole::kIntegration), "integration");
  EXPECT_EQ(ProbeRoleName(ProbeRole::kNone), "none");
}

TEST(ProbeRoleTest, ParsesBackAndRefusesOthers) {
  for (ProbeRole r : {ProbeRole::kHealth, ProbeRole::kIntegration, ProbeRole::kNone}) {
    EXPECT_EQ(ParseProbeRole(ProbeRoleName(r)), r);
  }
  EXPECT_FALSE(ParseProbeRole("Health").has_value());
  EXPECT_FALSE(ParseProbeRole("").has_value());
}

}  // namespace
}  // namespace obsmon::storage
