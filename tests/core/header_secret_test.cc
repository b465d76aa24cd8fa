// The one rule for secrets that go into HTTP headers (core/header_secret.h): a newline inside a
// token file must never reach a request, where it would start a header of the file's choosing.
#include "core/header_secret.h"

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

TEST(HeaderSecretTest, OnlyATrailingNewlineIsDropped) {
  testing::ScratchDir dir;
  testing::WriteWholeFile(dir.File("ok"), "ghp_abc123\n");
  EXPECT_EQ(ReadHeaderSecretFile(dir.File("ok")).value(), "ghp_abc123");
  testing::WriteWholeFile(dir.File("crlf"), "ghp_abc123\r\n");
  EXPECT_EQ(ReadHeaderSecretFile(dir.File("crlf")).value(), "ghp_abc123");
}

TEST(HeaderSecretTest, WhatNoHeaderCouldCarryIsRefusedWithoutShowingIt) {
  testing::ScratchDir dir;
  const std::pair<const char*, std::string> bad[] = {
      {"inject", "ghp_A\r\nX-Injected: yes\r\n"},  // the fresh eyes' file
      {"two_lines", "ghp_MULTI\nsecondline\n"},
      {"nul", std::string("ghp\0x", 5)},
      {"empty", ""},
      {"newline_only", "\n"},
      {"lead_space", " ghp"},
      {"trail_tab", "ghp\t"},
      {"del", "ghp\x7f"},
      {"huge", std::string(5000, 'a')},
  };
  for (const auto& [name, text] : bad) {
    testing::WriteWholeFile(dir.File(name), text);
    auto s = ReadHeaderSecretFile(dir.File(name));
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_TRUE(s.status().IsInvalidArgument()) << name << ": " << s.status().ToString();
    EXPECT_EQ(s.status().message().find("ghp_"), std::string::npos) << name;
  }
  EXPECT_TRUE(ReadHeaderSecretFile(dir.File("missing")).status().IsNotFound());
  EXPECT_FALSE(ReadHeaderSecretFile("/dev/zero").ok());
}

}  // namespace
}  // namespace obsmon
