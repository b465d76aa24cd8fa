#include "storage/remote_cursor_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "storage/database.h"

namespace obsmon::storage {

RemoteCursorStore::RemoteCursorStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
RemoteCursorStore::~RemoteCursorStore() = default;

Result<std::unique_ptr<RemoteCursorStore>> RemoteCursorStore::Open(const std::string& path) {
  auto db = OpenForWrite(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<RemoteCursorStore>(new RemoteCursorStore(std::move(db).value()));
}

Status RemoteCursorStore::SetConfigured(const std::vector<std::string>& remotes,
                                        TimestampMs start_ms) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    db_->exec("UPDATE remote_write_cursors SET active = 0");
    SQLite::Statement up(*db_,
                         "INSERT INTO remote_write_cursors (remote, cursor_ms, active) "
                         "VALUES (?, ?, 1) ON CONFLICT (remote) DO UPDATE SET active = 1");
    for (const auto& r : remotes) {
      up.bind(1, r);
      up.bind(2, static_cast<int64_t>(start_ms));
      up.exec();
      up.reset();
    }
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "storing the configured remote_write destinations");
  }
}

Result<RemoteCursor> RemoteCursorStore::Get(const std::string& remote) {
  auto all = All();
  if (!all.ok()) return all.status();
  for (auto& c : *all) {
    if (c.remote == remote) return c;
  }
  return Status::NotFound("no remote_write cursor for " + remote);
}

Result<std::vector<RemoteCursor>> RemoteCursorStore::All() {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT remote, cursor_ms, active, dropped_retention "
                        "FROM remote_write_cursors ORDER BY remote");
    std::vector<RemoteCursor> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64(),
                     q.getColumn(2).getInt() != 0, q.getColumn(3).getInt64()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading remote_write cursors");
  }
}

Status RemoteCursorStore::Advance(const std::string& remote, TimestampMs ts_ms) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "UPDATE remote_write_cursors SET cursor_ms = max(cursor_ms, ?) "
                        "WHERE remote = ?");
    q.bind(1, static_cast<int64_t>(ts_ms));
    q.bind(2, remote);
    if (q.exec() == 0) return Status::NotFound("no remote_write cursor for " + remote);
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "advancing the remote_write cursor of " + remote);
  }
}

Result<int64_t> RemoteCursorStore::CountSamplesSince(TimestampMs from_ms) {
  MutexLock lock(mu_);
  try {
    // A range of the (series_id, ts_ms) key per series, not a scan of the whole table; the
    // head is in time order, one range.
    SQLite::Statement q(*db_,
                        "SELECT coalesce(sum((SELECT count(*) FROM samples_by_series x "
                        "WHERE x.series_id = s.id AND x.ts_ms >= ?1)), 0) + (SELECT count(*) "
                        "FROM samples_head WHERE ts_ms >= ?1) FROM series s");
    q.bind(1, static_cast<int64_t>(from_ms));
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "counting samples not yet sent");
  }
}

}  // namespace obsmon::storage
