// Opening databases: migrations from an empty file, refusing newer schemas and non-databases.
#include "storage/migrations.h"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/files.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ScratchDir;

int UserVersion(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("PRAGMA user_version").getInt();
}


TEST(MigrationsTest, NewDatabaseGetsEveryStepAndWal) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("new.db");
  {
    auto w = Writer::Start(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  EXPECT_EQ(UserVersion(o.path), static_cast<int>(Migrations().size()));
  EXPECT_EQ(LatestSchemaVersion(), static_cast<int>(Migrations().size()));
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  for (const char* table : {"series", "samples_by_series", "samples_head", "samples_head_floor",
                            "probes", "probe_runs_by_probe", "probe_runs_head", "rollup_hourly",
                            "log_cursors", "log_events", "counters"}) {
    EXPECT_TRUE(db.tableExists(table)) << table;
  }
  // `samples` and `probe_runs` are the views of both parts, for readers and sqlite3 users.
  for (const char* view : {"samples", "probe_runs"}) {
    EXPECT_EQ(db.execAndGet(std::string("SELECT type FROM sqlite_schema WHERE name = '") + view +
                            "'")
                  .getString(),
              "view")
        << view;
  }
}

// Version 13 adds log_cursors.birth_ns: a cursor stored before keeps its place, its birth
// unknown (0), until its file is read again.
TEST(MigrationsTest, ACursorStoredBeforeTheBirthColumnKeepsItsPlace) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("v12.db");
  { ASSERT_TRUE(Writer::Start(o).ok()); }
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE alert_history DROP COLUMN component;"
            "ALTER TABLE log_cursors DROP COLUMN birth_ns; PRAGMA user_version = 12;"
            "INSERT INTO log_cursors VALUES ('c', 'logs', '/var/log/c.log', 2049, 77, '5:ab', "
            "1234, 1764892800000)");
  }
  { ASSERT_TRUE(Writer::Start(o).ok()); }
  EXPECT_EQ(UserVersion(o.path), LatestSchemaVersion());
  auto r = Reader::Open(o.path);
  ASSERT_TRUE(r.ok());
  const auto cursors = (*r)->LogCursors({"c", "logs"});
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0].inode, 77u);
  EXPECT_EQ(cursors[0].offset, 1234);
  EXPECT_EQ(cursors[0].birth_ns, 0);
}

// Version 14 adds alert_history.component: a row stored before keeps all it had, its
// component unknown (NULL), and reports tell it by their config as before.
TEST(MigrationsTest, AnAlertHistoryRowStoredBeforeTheComponentColumnHasNone) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("v13.db");
  { ASSERT_TRUE(Writer::Start(o).ok()); }
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE alert_history DROP COLUMN component; PRAGMA user_version = 13;"
            "INSERT INTO alert_history (ts_ms, event, group_key, rule, labels, annotations, "
            "active_at_ms, fired_at_ms, value) VALUES (1000, 'firing', 'g', 'Down', "
            "'{job=\"x\"}', '{}', 900, 1000, 0)");
  }
  { ASSERT_TRUE(Writer::Start(o).ok()); }
  EXPECT_EQ(UserVersion(o.path), LatestSchemaVersion());
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT rule || ':' || ifnull(component, 'NULL') FROM alert_history")
                .getString(),
            "Down:NULL");
}

TEST(MigrationsTest, EmptyFileIsMigrated) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("empty.db");
  { std::ofstream(o.path).flush(); }
  auto w = Writer::Start(o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  (*w)->Stop();
  EXPECT_EQ(UserVersion(o.path), LatestSchemaVersion());
}

TEST(MigrationsTest, ReopeningKeepsDataAndVersion) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("re.db");
  for (int round = 0; round < 2; ++round) {
    auto w = Writer::Start(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    WriteBatch b;
    b.counters.push_back({"opens_total", Labels{{"component", "c"}}, 1});
    ASSERT_TRUE((*w)->Enqueue(b));
    ASSERT_TRUE((*w)->Flush().ok());
  }
  EXPECT_EQ(UserVersion(o.path), LatestSchemaVersion());
  auto r = Reader::Open(o.path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->CounterTotal("opens_total", Labels{{"component", "c"}}).value(), 2.0);
}

TEST(MigrationsTest, NewerSchemaIsRefusedByWriterAndReader) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("newer.db");
  {
    auto w = Writer::Start(o);
    ASSERT_TRUE(w.ok());
  }
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 1));
  }
  auto w = Writer::Start(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("newer"), std::string::npos) << w.status().message();
  EXPECT_NE(w.status().message().find(o.path), std::string::npos);
  auto r = Reader::Open(o.path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("newer"), std::string::npos);
  EXPECT_EQ(UserVersion(o.path), LatestSchemaVersion() + 1);  // untouched
}

TEST(MigrationsTest, NonDatabaseFileIsRefusedAndNeverOverwritten) {
  ScratchDir dir;
  StorageOptions o;
  o.path = dir.File("notes.txt");
  const std::string content = "these are a user's notes, not a database\n";
  { std::ofstream(o.path) << content; }
  auto w = Writer::Start(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument());
  EXPECT_NE(w.status().message().find("is not an SQLite database"), std::string::npos)
      << w.status().message();
  auto r = Reader::Open(o.path);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(testing::ReadWholeFile(o.path), content);
}

TEST(MigrationsTest, ReaderRefusesMissingFile) {
  ScratchDir dir;
  auto r = Reader::Open(dir.File("missing.db"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
}

}  // namespace
}  // namespace obsmon::storage
