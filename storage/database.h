// Private to storage/: opening SQLite connections with obsmon's pragmas, checks and migrations,
// and turning SQLiteCpp exceptions into Status values. Nothing outside storage/ includes this.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Transaction.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/storage.h"

namespace obsmon::storage {

// Refuses (InvalidArgument, naming the path) a directory or a non-regular file. Never opens the
// file: a process holding SQLite connections must not open and close other descriptors of the
// database (that drops its POSIX locks). A file that is not a database is refused by SQLite on
// its first read, before anything is written, and reported as "X is not an SQLite database".
Status CheckDatabaseFile(const std::string& path);

// Which file a path names (by stat(), never open()). The writer remembers the identity of the
// file it opened and checks it before each commit: a database deleted or replaced under a running
// obsmon is a storage failure at once, not data silently written into an unlinked inode.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t inode = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};
Result<FileIdentity> IdentifyFile(const std::string& path);
// The files of an open WAL-mode database: the database, "-wal" and "-shm".
struct DatabaseFiles {
  FileIdentity db, wal, shm;
};
// IoError naming the path when it no longer names `opened` (deleted, or replaced by a rename).
Status CheckSameFile(const std::string& path, const FileIdentity& opened);

// Opens read-write (creating), sets WAL, synchronous=NORMAL, busy_timeout, then applies missing
// migrations. Refuses a database whose user_version is newer than this build knows.
inline constexpr int kDefaultBusyTimeoutMs = 5000;
// The page cache of the small write connections (alert and period stores): their tables are a
// few pages, and SQLite's 2 MiB default would be resident memory they never need.
inline constexpr int64_t kSmallCacheBytes = 256 << 10;
Result<std::unique_ptr<SQLite::Database>> OpenForWrite(const std::string& path,
                                                       int busy_timeout_ms = kDefaultBusyTimeoutMs,
                                                       int64_t cache_bytes = kSmallCacheBytes);

// Opens read-only with `memory` (storage.h: ReadMemory). Refuses a missing file (NotFound), a
// non-database, a database without obsmon's schema, and a newer schema.
Result<std::unique_ptr<SQLite::Database>> OpenForRead(const std::string& path,
                                                      const ReadMemory& memory = {});

// A write transaction that takes the write lock at BEGIN (IMMEDIATE). A DEFERRED transaction
// that reads and then writes fails at once with SQLITE_BUSY, without waiting for the busy timeout
// (SQLite's deadlock avoidance), when another connection committed in between: "database is
// locked" from `obsmon observe stop` beside a daemon that commits every 200 ms.
inline SQLite::Transaction WriteTransaction(SQLite::Database& db) {
  return SQLite::Transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
}

// Applies the missing migrations. Exposed for tests.
Status Migrate(SQLite::Database& db, const std::string& path);

// A Status for an SQLiteCpp exception: IoError for disk/IO trouble, Unavailable for busy/locked,
// Internal otherwise. `what` says what was being done.
Status StatusFromException(const SQLite::Exception& e, const std::string& what);

// True for errors worth retrying later with the same data (disk full, I/O error, busy, locked,
// out of memory); false for errors the data itself causes (constraints, mismatches).
bool IsTransientError(int sqlite_code);

}  // namespace obsmon::storage
