// What users do beside a running obsmon (docs/storage.md "While obsmon runs"): reports and CLI
// commands open the database in obsmon's own process and in others, `sqlite3` reads and
// `.backup`s it. None of it may detach the writer's WAL: the bug this guards against had obsmon
// open and close the database file with a plain descriptor, which drops every POSIX lock the
// process holds on it; the next `sqlite3` to close then believed it was the last user,
// checkpointed and unlinked the WAL, and everything committed afterwards went into a deleted
// file (invisible to other processes, gone after a crash).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/period_store.h"
#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"
#include "tests/support/subprocess.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::RunCommand;
using obsmon::testing::OneHealthRun;
using obsmon::testing::ScratchDir;

constexpr TimestampMs kT0 = 1'760'400'000'000;

// Descriptors of this process that point at a deleted file under `dir`.
std::vector<std::string> DeletedDescriptors(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (!ec && target.rfind(dir, 0) == 0 && target.find("(deleted)") != std::string::npos) {
      out.push_back(target);
    }
  }
  return out;
}

// What another process sees: the independent truth of what was committed.
std::string CountFromAnotherProcess(const ScratchDir& dir, const std::string& db) {
  auto [rc, out] = RunCommand({"sqlite3", db, "SELECT count(*) FROM probe_runs"},
                              dir.File("sqlite3.out"));
  EXPECT_EQ(rc, 0) << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(DatabaseBesideToolsTest, ReportsCliAndSqlite3BesideTheWriterNeverDetachItsWal) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 not installed";
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.checkpoint_idle_ms = 0;  // keep the WAL as the bug needed it
  auto w = Writer::Start(o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Enqueue(OneHealthRun(kT0)));
  ASSERT_TRUE((*w)->Flush().ok());

  for (int round = 1; round <= 3; ++round) {
    // In this process, as the daemon's reports, uptime refresher and period API do.
    ASSERT_TRUE(Reader::Open(o.path).ok());
    ASSERT_TRUE(PeriodStore::Open(o.path).ok());
    ASSERT_TRUE(PeriodStore::OpenReadOnly(o.path).ok());
    // In other processes, as `sqlite3 var/obsmon.db "select ..."` and `.backup` do.
    EXPECT_EQ(CountFromAnotherProcess(dir, o.path), std::to_string(round));
    auto [rc, out] = RunCommand(
        {"sqlite3", o.path, ".backup " + dir.File("backup" + std::to_string(round) + ".db")},
        dir.File("backup.out"));
    ASSERT_EQ(rc, 0) << out;

    EXPECT_TRUE(std::filesystem::exists(o.path + "-wal")) << "round " << round;
    EXPECT_EQ(DeletedDescriptors(dir.path()), std::vector<std::string>{}) << "round " << round;
    // What the writer commits next must reach the file other processes read.
    ASSERT_TRUE((*w)->Enqueue(OneHealthRun(kT0 + round * 1000)));
    ASSERT_TRUE((*w)->Flush().ok());
    EXPECT_EQ(CountFromAnotherProcess(dir, o.path), std::to_string(round + 1)) << "round " << round;
  }
}

// Deleting the WAL (or the shm index) under the writer: the writer notices before its next
// commit, checkpoints what it had committed into the database file (another process, which no
// longer sees that WAL, then reads it from the database file) and stops writing.
TEST(DatabaseBesideToolsTest, ADeletedWalIsSalvagedAndStopsTheWriter) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 not installed";
  for (const char* suffix : {"-wal", "-shm"}) {
    ScratchDir dir;
    StorageOptions o;
    o.path = dir.File("obsmon.db");
    o.checkpoint_idle_ms = 0;
    o.retry_backoff_ms = 20;
    auto w = Writer::Start(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*w)->Enqueue(OneHealthRun(kT0 + i * 1000)));
    ASSERT_TRUE((*w)->Flush().ok());
    ASSERT_TRUE(std::filesystem::remove(o.path + suffix)) << suffix;
    ASSERT_TRUE((*w)->Enqueue(OneHealthRun(kT0 + 9000)));
    Status s = (*w)->Flush();
    ASSERT_FALSE(s.ok()) << suffix;
    EXPECT_NE(s.message().find(std::string(suffix) + " was deleted"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("checkpointed into the database"), std::string::npos)
        << s.message();
    // The three committed runs are in the database file itself now.
    EXPECT_EQ(CountFromAnotherProcess(dir, o.path), "3") << suffix;
    EXPECT_EQ((*w)->Stats().queue_depth, 1u);  // the fourth waits; it is not written anywhere
  }
}

// The single-writer lock holds whatever name the database is reached by.
TEST(DatabaseBesideToolsTest, ASecondWriterThroughASymlinkOrHardLinkIsRefused) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  auto w = Writer::Start(o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::filesystem::create_symlink(o.path, dir.File("symlink.db"));
  std::filesystem::create_hard_link(o.path, dir.File("hardlink.db"));
  for (const char* name : {"symlink.db", "hardlink.db"}) {
    StorageOptions other;
    other.path = dir.File(name);
    auto second = Writer::Start(other);
    ASSERT_FALSE(second.ok()) << name;
    EXPECT_NE(second.status().message().find("in use by another obsmon"), std::string::npos)
        << second.status().message();
  }
  w->reset();  // the first writer gone, the same file under another name may be written
  StorageOptions other;
  other.path = dir.File("symlink.db");
  auto again = Writer::Start(other);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// A file that is not a database is still refused, by SQLite's own check, and left untouched.
TEST(DatabaseBesideToolsTest, ANonDatabaseFileIsRefusedAndLeftAsItWas) {
  ScratchDir dir;
  const std::string path = dir.File("notes.txt");
  const std::string text = "these are my notes, not a database\n";
  obsmon::testing::WriteWholeFile(path, text);
  StorageOptions o;
  o.path = path;
  auto w = Writer::Start(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("is not an SQLite database"), std::string::npos)
      << w.status().message();
  auto r = Reader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not an SQLite database"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(obsmon::testing::ReadWholeFile(path), text);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

// A FIFO where the database should be: refused at once instead of blocking in open().
TEST(DatabaseBesideToolsTest, ANonRegularFileIsRefused) {
  ScratchDir dir;
  const std::string path = dir.File("fifo.db");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  StorageOptions o;
  o.path = path;
  auto w = Writer::Start(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("not a regular file"), std::string::npos)
      << w.status().message();
}

}  // namespace
}  // namespace obsmon::storage
