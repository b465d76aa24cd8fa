#include "storage/database.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "storage/migrations.h"

namespace obsmon::storage {

namespace {


int UserVersion(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

// SQLite's answer for a file that is not a database, said the way obsmon says it.
Status NotADatabase(const std::string& path) {
  return Status::InvalidArgument(fmt::format(
      "{} is not an SQLite database (refusing to use or overwrite it; point storage.path at "
      "a new file)",
      path));
}

Status RefuseNewer(const std::string& path, int version) {
  return Status::InvalidArgument(
      fmt::format("database {} has schema version {}, newer than the {} this obsmon knows: it "
                  "was written by a newer obsmon; refusing to open it (upgrade obsmon)",
                  path, version, LatestSchemaVersion()));
}

}  // namespace

Status CheckDatabaseFile(const std::string& path) {
  // stat() only: this process holds SQLite connections to the file, and closing ANY descriptor
  // of it would drop all of the process's POSIX locks on it (sqlite.org/howtocorrupt.html,
  // 2.2). The next process to close its connection would then think it is the last one,
  // checkpoint and unlink the WAL under us. SQLite itself refuses a non-database file
  // (SQLITE_NOTADB) on its first read, before anything is written: see NotADatabase().
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::Ok();  // missing: will be created
  if (S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(fmt::format("database path {} is a directory", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(
        fmt::format("database path {} is not a regular file (a FIFO, device or socket?)", path));
  }
  return Status::Ok();
}

Result<FileIdentity> IdentifyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IoError(fmt::format("database file {} is gone: {}", path, strerror(errno)));
  }
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

Status CheckSameFile(const std::string& path, const FileIdentity& opened) {
  auto now = IdentifyFile(path);
  if (!now.ok()) {
    return Status::IoError(fmt::format(
        "database file {} was deleted while obsmon had it open (moved away?); writes wait in "
        "memory until it is back",
        path));
  }
  if (!(*now == opened)) {
    return Status::IoError(fmt::format(
        "database file {} was replaced by another file while obsmon had it open (inode {} -> "
        "{}); writes wait in memory until the original is back",
        path, opened.inode, now->inode));
  }
  return Status::Ok();
}

bool IsTransientError(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
      return true;
    default:
      return false;
  }
}

Status StatusFromException(const SQLite::Exception& e, const std::string& what) {
  std::string msg = fmt::format("{}: {}", what, e.what());
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status::IoError(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      // The file, not the request: a server error (fresh eyes, stop 72: a damaged maintenance
      // table answered POST /api/v1/maintenance with 400 bad_data, and nothing was logged).
      return Status::IoError(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status Migrate(SQLite::Database& db, const std::string& path) {
  try {
    int version = UserVersion(db);
    const auto& steps = Migrations();
    if (version > static_cast<int>(steps.size())) return RefuseNewer(path, version);
    for (int i = version; i < static_cast<int>(steps.size()); ++i) {
      // IMMEDIATE: take the write lock first so two processes never migrate at once.
      db.exec("BEGIN IMMEDIATE");
      try {
        // Re-read inside the transaction: another process may have migrated meanwhile.
        int now = UserVersion(db);
        if (now > i) {
          db.exec("COMMIT");
          if (now > static_cast<int>(steps.size())) return RefuseNewer(path, now);
          i = now - 1;
          continue;
        }
        db.exec(std::string(steps[i].sql));
        db.exec(fmt::format("PRAGMA user_version = {}", i + 1));
        db.exec("COMMIT");
      } catch (...) {
        db.exec("ROLLBACK");
        throw;
      }
    }
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, fmt::format("migrating database {}", path));
  }
}

Result<std::unique_ptr<SQLite::Database>> OpenForWrite(const std::string& path,
                                                       int busy_timeout_ms, int64_t cache_bytes) {
  if (Status s = CheckDatabaseFile(path); !s.ok()) return s;
  try {
    auto db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    db->setBusyTimeout(busy_timeout_ms);
    // The first statement reads the header: a damaged file fails here, before anything writes.
    std::string mode = db->execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return Status::IoError(
          fmt::format("database {}: cannot enable WAL journal mode (got '{}')", path, mode));
    }
    // A process crash loses nothing committed; a power loss may lose the last transactions.
    db->exec("PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA foreign_keys = OFF");
    // Negative: a size in KiB rather than in pages (StorageOptions::cache_bytes says why small).
    db->exec(fmt::format("PRAGMA cache_size = -{}", std::max<int64_t>(cache_bytes >> 10, 64)));
    if (Status s = Migrate(*db, path); !s.ok()) return s;
    // Prove we can write now: a database held by another process (an open `sqlite3` shell in a
    // write transaction, say) must stop obsmon at start with a clear message, not fail every
    // commit later. Migrate() alone only writes when the schema is out of date.
    try {
      db->exec("BEGIN IMMEDIATE");
      db->exec("ROLLBACK");
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() == SQLITE_BUSY || e.getErrorCode() == SQLITE_LOCKED) {
        return Status::Unavailable(fmt::format(
            "database {} is locked by another process (a sqlite3 shell or another tool holding "
            "a write transaction?); obsmon needs to write to it",
            path));
      }
      throw;
    }
    return db;
  } catch (const SQLite::Exception& e) {
    if ((e.getErrorCode() & 0xff) == SQLITE_NOTADB) return NotADatabase(path);
    return StatusFromException(e, fmt::format("opening database {}", path));
  }
}

Result<std::unique_ptr<SQLite::Database>> OpenForRead(const std::string& path,
                                                      const ReadMemory& memory) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound(fmt::format("database {} does not exist", path));
  }
  if (Status s = CheckDatabaseFile(path); !s.ok()) return s;
  try {
    auto db =
        std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX);
    db->setBusyTimeout(kDefaultBusyTimeoutMs);
    // Reports scan hundreds of thousands of rows: by default map the file instead of copying
    // every page through read(), and keep more pages cached between statements.
    db->exec(fmt::format("PRAGMA mmap_size = {}", std::max<int64_t>(memory.mmap_bytes, 0)));
    db->exec(fmt::format("PRAGMA cache_size = -{}",
                         std::max<int64_t>(memory.cache_bytes >> 10, 64)));
    int version = UserVersion(*db);
    if (version == 0) {
      return Status::NotFound(
          fmt::format("database {} has no obsmon schema yet (has obsmon run on it?)", path));
    }
    if (version > LatestSchemaVersion()) return RefuseNewer(path, version);
    return db;
  } catch (const SQLite::Exception& e) {
    if ((e.getErrorCode() & 0xff) == SQLITE_NOTADB) return NotADatabase(path);
    return StatusFromException(e, fmt::format("opening database {} for reading", path));
  }
}

}  // namespace obsmon::storage
