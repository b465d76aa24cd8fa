#include "core/status.h"

#include <gtest/gtest.h>

#include <string>

namespace obsmon {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument("odd");
  return n / 2;
}

TEST(StatusTest, NamedConstructorsCarryCodeAndMessage) {
  const Status s = Status::NotFound("no such probe");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "no such probe");
  EXPECT_TRUE(Status::InvalidConfig("a.yml:3:1: unknown key").IsInvalidConfig());
  EXPECT_FALSE(Status::InvalidConfig("x").IsInvalidArgument());
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = Half(4);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, 2);
  EXPECT_EQ(good.value(), 2);

  Result<int> bad = Half(3);
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

// Issue 12: Result(Status::Ok()) used to be a Result with ok() == false and an OK status.
TEST(ResultTest, OkStatusWithoutValueIsAnInternalError) {
  Result<std::string> r(Status::Ok());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.status().ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInternal);
  EXPECT_NE(r.status().message().find("OK Status"), std::string::npos);
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithTheMessage) {
  Result<std::string> r(Status::IoError("disk full"));
  EXPECT_DEATH((void)r.value(), "holds an error: disk full");
  EXPECT_DEATH((void)r->size(), "disk full");
  EXPECT_DEATH((void)*r, "disk full");
}

}  // namespace
}  // namespace obsmon
