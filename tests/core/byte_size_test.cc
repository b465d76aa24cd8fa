// Sizes in the config as Prometheus writes them: every unit, and the numbers that do not fit
// refused rather than wrapped.
#include "core/byte_size.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(ByteSizeTest, EveryUnitIsAPowerOf1024) {
  EXPECT_EQ(ParseByteSize("1048576"), 1048576);
  EXPECT_EQ(ParseByteSize("0"), 0);
  EXPECT_EQ(ParseByteSize("7B"), 7);
  EXPECT_EQ(ParseByteSize("4MB"), 4 << 20);
  EXPECT_EQ(ParseByteSize("4MiB"), 4 << 20);
  EXPECT_EQ(ParseByteSize("512KB"), 512 << 10);
  EXPECT_EQ(ParseByteSize("3GiB"), int64_t{3} << 30);
  EXPECT_EQ(ParseByteSize("2TB"), int64_t{2} << 40);
}

TEST(ByteSizeTest, WhatIsNotASizeIsRefused) {
  for (const char* text : {"", "MiB", "-1", "1.5MiB", "1 MiB", "1kb", "0x10", "1e6", "4Mi"}) {
    EXPECT_FALSE(ParseByteSize(text).has_value()) << text;
  }
}

// Regression (fresh eyes, stop 64): 2^64 wrapped to 0 and 2^64 + 1 to 1, so an absurd
// `output_buffer` silently turned the buffer off.
TEST(ByteSizeTest, NumbersPastTwoToTheSixtySecondAreRefusedNotWrapped) {
  EXPECT_EQ(ParseByteSize("4611686018427387904"), int64_t{1} << 62);  // the largest taken
  for (const char* text : {"4611686018427387905", "9223372036854775807", "9223372036854775808",
                           "18446744073709551615", "18446744073709551616",
                           "18446744073709551617", "36893488147419103233",
                           "99999999999999999999999999", "4194305TiB", "4611686018427387904KiB"}) {
    EXPECT_FALSE(ParseByteSize(text).has_value()) << text;
  }
  EXPECT_EQ(ParseByteSize("4194304TiB"), int64_t{1} << 62);
}

}  // namespace
}  // namespace obsmon
