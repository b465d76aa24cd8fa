// Where each remote_write destination has been acknowledged up to (table `remote_write_cursors`,
// docs/storage.md and docs/remote-write.md). The `samples` table is remote_write's queue: a
// remote's cursor is a timestamp, and every sample with ts_ms < cursor has been answered 2xx (or
// dropped and counted). The cursor only moves forward (every write is max(old, new)), so the
// sender and retention (which moves a lagging cursor past what it deletes) never undo each other.
//
// Opens its own connection (WAL: it coexists with the storage writer). Thread-safe: one mutex
// around the connection; each sender owns one store anyway.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace SQLite {
class Database;
}

namespace obsmon::storage {

struct RemoteCursor {
  std::string remote;            // the remote's name (`name:` or a hash of its URL)
  TimestampMs cursor_ms = 0;     // everything with ts_ms < cursor_ms is acknowledged
  bool active = false;           // configured now: holds retention
  // Samples retention deleted before this remote acknowledged them (persisted total).
  int64_t dropped_retention = 0;
};

class RemoteCursorStore {
 public:
  // Opens (creating and migrating as needed) the database at `path`.
  static Result<std::unique_ptr<RemoteCursorStore>> Open(const std::string& path);
  ~RemoteCursorStore();

  // Marks exactly `remotes` as configured (active, holding retention) and every other row as
  // not; a remote without a row starts at `start_ms`. Rows are never deleted: a remote taken out
  // of the config and put back resumes where it was (retention may have moved it meanwhile).
  Status SetConfigured(const std::vector<std::string>& remotes, TimestampMs start_ms);
  // The remote's row, or NotFound.
  Result<RemoteCursor> Get(const std::string& remote);
  // Every row, by name.
  Result<std::vector<RemoteCursor>> All();
  // Moves the cursor to max(cursor, ts_ms).
  Status Advance(const std::string& remote, TimestampMs ts_ms);
  // Number of stored samples with ts_ms >= from_ms (one index range per series).
  Result<int64_t> CountSamplesSince(TimestampMs from_ms);

 private:
  explicit RemoteCursorStore(std::unique_ptr<SQLite::Database> db);
  Mutex mu_;
  std::unique_ptr<SQLite::Database> db_ GUARDED_BY(mu_);
};

}  // namespace obsmon::storage
