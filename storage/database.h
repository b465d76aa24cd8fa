// Private to storage/: opening SQLite connections with obsmon's pragmas, checks and migrations,
// and turning SQLiteCpp exceptions into Status values. Nothing outside storage/ includes this.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <memory>
#include <string>

#include "core/status.h"

namespace obsmon::storage {

// Refuses (InvalidArgument, naming the path) an existing non-empty file that does not start with
// SQLite's header, so obsmon never "recreates" a file a user pointed it at by mistake. A missing
// or empty file is fine (it becomes a new database).
Status CheckDatabaseFile(const std::string& path);

// Opens read-write (creating), sets WAL, synchronous=NORMAL, busy_timeout, then applies missing
// migrations. Refuses a database whose user_version is newer than this build knows.
Result<std::unique_ptr<SQLite::Database>> OpenForWrite(const std::string& path);

// Opens read-only. Refuses a missing file (NotFound), a non-database, a database without
// obsmon's schema, and a newer schema.
Result<std::unique_ptr<SQLite::Database>> OpenForRead(const std::string& path);

// Applies the missing migrations. Exposed for tests.
Status Migrate(SQLite::Database& db, const std::string& path);

// A Status for an SQLiteCpp exception: IoError for disk/IO trouble, Unavailable for busy/locked,
// Internal otherwise. `what` says what was being done.
Status StatusFromException(const SQLite::Exception& e, const std::string& what);

// True for errors worth retrying later with the same data (disk full, I/O error, busy, locked,
// out of memory); false for errors the data itself causes (constraints, mismatches).
bool IsTransientError(int sqlite_code);

}  // namespace obsmon::storage
