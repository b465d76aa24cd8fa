// A database held by another process's write transaction stops obsmon's writer at start with a
// clear message (issue 7: "the database is locked by another process: clear error at start").
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::storage {
namespace {

TEST(DatabaseLockedTest, WriterRefusesToStartWhileAnotherConnectionHoldsAWriteLock) {
  obsmon::testing::ScratchDir dir;
  StorageOptions options;
  options.path = dir.File("obsmon.db");
  // The refusal comes once SQLite's busy timeout has passed: a short one, not the 5 s default.
  options.busy_timeout_ms = 50;
  {
    auto writer = Writer::Start(options);  // creates and migrates
    ASSERT_TRUE(writer.ok()) << writer.status().message();
  }
  // Another process (here: another connection, which SQLite treats alike) holds a write lock.
  SQLite::Database other(options.path, SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto refused = Writer::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is locked by another process"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find(options.path), std::string::npos);
  other.exec("ROLLBACK");
  // Once the other writer is gone, obsmon starts on the same, intact database.
  auto started = Writer::Start(options);
  EXPECT_TRUE(started.ok()) << started.status().message();
}

}  // namespace
}  // namespace obsmon::storage
