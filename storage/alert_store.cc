#include "storage/alert_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cmath>

#include "storage/database.h"
#include "storage/labels_text.h"

namespace obsmon::storage {

namespace {

// Stored as text so that users can read the table with sqlite3.
const char* StateText(AlertState s) {
  switch (s) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kInactive:
      break;
  }
  return "inactive";
}

AlertState StateFromText(const std::string& s) {
  if (s == "pending") return AlertState::kPending;
  if (s == "firing") return AlertState::kFiring;
  return AlertState::kInactive;
}

Labels ParseOrEmpty(const std::string& text) { return ParseLabelsText(text).value_or(Labels()); }

}  // namespace

AlertStore::AlertStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
AlertStore::~AlertStore() = default;

Result<std::unique_ptr<AlertStore>> AlertStore::Open(const std::string& path,
                                                     int busy_timeout_ms) {
  auto db = OpenForWrite(path, busy_timeout_ms);
  if (!db.ok()) return db.status();
  return std::unique_ptr<AlertStore>(new AlertStore(std::move(db).value()));
}

Result<std::vector<Alert>> AlertStore::LoadAlerts() {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT group_key, rule, labels, annotations, state, value, active_at_ms, "
                        "fired_at_ms, resolved_at_ms, last_sent_at_ms, valid_until_ms, "
                        "keep_firing_since_ms FROM alerts ORDER BY group_key, rule, labels");
    std::vector<Alert> out;
    while (q.executeStep()) {
      Alert a;
      a.group_key = q.getColumn(0).getString();
      a.rule = q.getColumn(1).getString();
      a.labels = ParseOrEmpty(q.getColumn(2).getString());
      a.annotations = ParseOrEmpty(q.getColumn(3).getString());
      a.state = StateFromText(q.getColumn(4).getString());
      a.value = q.getColumn(5).isNull() ? 0 : q.getColumn(5).getDouble();
      a.active_at_ms = q.getColumn(6).getInt64();
      a.fired_at_ms = q.getColumn(7).getInt64();
      a.resolved_at_ms = q.getColumn(8).getInt64();
      a.last_sent_at_ms = q.getColumn(9).getInt64();
      a.valid_until_ms = q.getColumn(10).getInt64();
      a.keep_firing_since_ms = q.getColumn(11).getInt64();
      out.push_back(std::move(a));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "loading alerts");
  }
}

Status AlertStore::SaveAlerts(const std::string& group_key, const std::string& rule,
                              const std::vector<Alert>& alerts) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement del(*db_, "DELETE FROM alerts WHERE group_key = ? AND rule = ?");
    del.bind(1, group_key);
    del.bind(2, rule);
    del.exec();
    SQLite::Statement ins(*db_,
                          "INSERT INTO alerts (group_key, rule, labels, annotations, state, value, "
                          "active_at_ms, fired_at_ms, resolved_at_ms, last_sent_at_ms, "
                          "valid_until_ms, keep_firing_since_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    for (const auto& a : alerts) {
      ins.bind(1, group_key);
      ins.bind(2, rule);
      ins.bind(3, a.labels.ToString());
      ins.bind(4, a.annotations.ToString());
      ins.bind(5, StateText(a.state));
      if (std::isnan(a.value)) {
        ins.bind(6);
      } else {
        ins.bind(6, a.value);
      }
      ins.bind(7, static_cast<int64_t>(a.active_at_ms));
      ins.bind(8, static_cast<int64_t>(a.fired_at_ms));
      ins.bind(9, static_cast<int64_t>(a.resolved_at_ms));
      ins.bind(10, static_cast<int64_t>(a.last_sent_at_ms));
      ins.bind(11, static_cast<int64_t>(a.valid_until_ms));
      ins.bind(12, static_cast<int64_t>(a.keep_firing_since_ms));
      ins.exec();
      ins.reset();
    }
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "saving alerts of " + rule);
  }
}

Status AlertStore::AppendHistory(const std::vector<AlertHistoryEvent>& events) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement ins(
        *db_,
        "INSERT INTO alert_history (ts_ms, event, group_key, rule, labels, "
        "annotations, active_at_ms, fired_at_ms, value, component) VALUES (?,?,?,?,?,?,?,?,?,?)");
    for (const auto& e : events) {
      ins.bind(1, static_cast<int64_t>(e.ts_ms));
      ins.bind(2, e.event);
      ins.bind(3, e.group_key);
      ins.bind(4, e.rule);
      ins.bind(5, e.labels.ToString());
      ins.bind(6, e.annotations.ToString());
      ins.bind(7, static_cast<int64_t>(e.active_at_ms));
      ins.bind(8, static_cast<int64_t>(e.fired_at_ms));
      if (std::isnan(e.value)) {
        ins.bind(9);
      } else {
        ins.bind(9, e.value);
      }
      if (e.component) {
        ins.bind(10, *e.component);
      } else {
        ins.bind(10);
      }
      ins.exec();
      ins.reset();
    }
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "appending alert history");
  }
}

Result<std::vector<AlertHistoryEvent>> AlertStore::History(int64_t from_ms, int64_t to_ms) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT ts_ms, event, group_key, rule, labels, annotations, active_at_ms, "
                        "fired_at_ms, value FROM alert_history WHERE ts_ms >= ? AND ts_ms < ? "
                        "ORDER BY ts_ms, id");
    q.bind(1, static_cast<int64_t>(from_ms));
    q.bind(2, static_cast<int64_t>(to_ms));
    std::vector<AlertHistoryEvent> out;
    while (q.executeStep()) {
      AlertHistoryEvent e;
      e.ts_ms = q.getColumn(0).getInt64();
      e.event = q.getColumn(1).getString();
      e.group_key = q.getColumn(2).getString();
      e.rule = q.getColumn(3).getString();
      e.labels = ParseOrEmpty(q.getColumn(4).getString());
      e.annotations = ParseOrEmpty(q.getColumn(5).getString());
      e.active_at_ms = q.getColumn(6).getInt64();
      e.fired_at_ms = q.getColumn(7).getInt64();
      e.value = q.getColumn(8).isNull() ? 0 : q.getColumn(8).getDouble();
      out.push_back(std::move(e));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading alert history");
  }
}

Status AlertStore::SaveSeriesEnds(const std::vector<SeriesEnd>& ends) {
  if (ends.empty()) return Status::Ok();
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement ins(*db_, "INSERT INTO series_ends (labels, ts_ms) VALUES (?, ?)");
    int64_t newest = INT64_MIN;
    for (const auto& e : ends) {
      ins.bind(1, e.labels.ToString());
      ins.bind(2, static_cast<int64_t>(e.ts_ms));
      ins.exec();
      ins.reset();
      newest = std::max(newest, e.ts_ms);
    }
    SQLite::Statement old(*db_, "DELETE FROM series_ends WHERE ts_ms < ?");
    old.bind(1, static_cast<int64_t>(newest - kSeriesEndsKeepMs));
    old.exec();
    SQLite::Statement over(*db_,
                           "DELETE FROM series_ends WHERE rowid <= "
                           "(SELECT max(rowid) FROM series_ends) - ?");
    over.bind(1, static_cast<int64_t>(kMaxSeriesEnds));
    over.exec();
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "saving series ends");
  }
}

Result<std::vector<SeriesEnd>> AlertStore::SeriesEnds(int64_t from_ms, int64_t to_ms) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT labels, ts_ms FROM series_ends WHERE typeof(ts_ms) = 'integer' "
                        "AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms, rowid");
    q.bind(1, static_cast<int64_t>(from_ms));
    q.bind(2, static_cast<int64_t>(to_ms));
    std::vector<SeriesEnd> out;
    while (q.executeStep()) {
      auto labels = ParseLabelsText(q.getColumn(0).getString());
      if (!labels) continue;  // hand-edited: the series just fades with the lookback
      out.push_back({std::move(*labels), q.getColumn(1).getInt64()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading series ends");
  }
}

Status AlertStore::Enqueue(std::vector<OutboxEntry>* entries) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement ins(*db_,
                          "INSERT INTO alert_outbox (receiver, payload, created_ms, "
                          "next_attempt_ms, attempts, last_error) VALUES (?,?,?,?,?,?)");
    for (auto& e : *entries) {
      ins.bind(1, e.receiver);
      ins.bind(2, e.payload);
      ins.bind(3, static_cast<int64_t>(e.created_ms));
      ins.bind(4, static_cast<int64_t>(e.next_attempt_ms));
      ins.bind(5, e.attempts);
      ins.bind(6, e.last_error);
      ins.exec();
      ins.reset();
      e.id = db_->getLastInsertRowid();
    }
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "enqueueing notifications");
  }
}

Result<bool> AlertStore::EnqueueOnce(const std::string& once_key, OutboxEntry* e) {
  MutexLock lock(mu_);
  try {
    SQLite::Transaction tx = WriteTransaction(*db_);
    SQLite::Statement seen(*db_, "SELECT 1 FROM outbox_once WHERE once_key = ?");
    seen.bind(1, once_key);
    if (seen.executeStep()) return false;
    SQLite::Statement ins(*db_,
                          "INSERT INTO alert_outbox (receiver, payload, created_ms, "
                          "next_attempt_ms, attempts, last_error) VALUES (?,?,?,?,?,?)");
    ins.bind(1, e->receiver);
    ins.bind(2, e->payload);
    ins.bind(3, static_cast<int64_t>(e->created_ms));
    ins.bind(4, static_cast<int64_t>(e->next_attempt_ms));
    ins.bind(5, e->attempts);
    ins.bind(6, e->last_error);
    ins.exec();
    e->id = db_->getLastInsertRowid();
    SQLite::Statement key(*db_,
                          "INSERT INTO outbox_once (once_key, outbox_id, created_ms) VALUES (?,?,?)");
    key.bind(1, once_key);
    key.bind(2, static_cast<int64_t>(e->id));
    key.bind(3, static_cast<int64_t>(e->created_ms));
    key.exec();
    tx.commit();
    return true;
  } catch (const SQLite::Exception& ex) {
    return StatusFromException(ex, "enqueueing a notification once");
  }
}

Result<bool> AlertStore::WasEnqueued(const std::string& once_key) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement seen(*db_, "SELECT 1 FROM outbox_once WHERE once_key = ?");
    seen.bind(1, once_key);
    return seen.executeStep();
  } catch (const SQLite::Exception& ex) {
    return StatusFromException(ex, "reading exactly-once outbox keys");
  }
}

Result<std::vector<OutboxEntry>> AlertStore::Due(int64_t now_ms, size_t limit) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT id, receiver, payload, created_ms, next_attempt_ms, attempts, "
                        "last_error FROM alert_outbox o WHERE next_attempt_ms <= ?1 AND NOT EXISTS "
                        "(SELECT 1 FROM alert_outbox w WHERE w.receiver = o.receiver AND "
                        "w.id < o.id AND w.next_attempt_ms > ?1) ORDER BY id LIMIT ?2");
    q.bind(1, static_cast<int64_t>(now_ms));
    q.bind(2, static_cast<int64_t>(limit));
    std::vector<OutboxEntry> out;
    while (q.executeStep()) {
      OutboxEntry e;
      e.id = q.getColumn(0).getInt64();
      e.receiver = q.getColumn(1).getString();
      e.payload = q.getColumn(2).getString();
      e.created_ms = q.getColumn(3).getInt64();
      e.next_attempt_ms = q.getColumn(4).getInt64();
      e.attempts = q.getColumn(5).getInt();
      e.last_error = q.getColumn(6).getString();
      out.push_back(std::move(e));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading the outbox");
  }
}

Status AlertStore::Remove(int64_t id) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement del(*db_, "DELETE FROM alert_outbox WHERE id = ?");
    del.bind(1, static_cast<int64_t>(id));
    del.exec();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "removing an outbox row");
  }
}

Status AlertStore::Reschedule(int64_t id, int attempts, int64_t next_attempt_ms,
                              const std::string& error) {
  MutexLock lock(mu_);
  try {
    SQLite::Statement up(*db_,
                         "UPDATE alert_outbox SET attempts = ?, next_attempt_ms = ?, "
                         "last_error = ? WHERE id = ?");
    up.bind(1, attempts);
    up.bind(2, static_cast<int64_t>(next_attempt_ms));
    up.bind(3, error);
    up.bind(4, static_cast<int64_t>(id));
    if (up.exec() == 0) return Status::NotFound("no outbox row " + std::to_string(id));
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "rescheduling an outbox row");
  }
}

Result<int64_t> AlertStore::Pending() {
  MutexLock lock(mu_);
  try {
    return static_cast<int64_t>(db_->execAndGet("SELECT count(*) FROM alert_outbox").getInt64());
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "counting the outbox");
  }
}

Result<std::optional<int64_t>> AlertStore::NextAttempt() {
  MutexLock lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT min(next_attempt_ms) FROM alert_outbox");
    q.executeStep();
    if (q.getColumn(0).isNull()) return std::optional<int64_t>();
    return std::optional<int64_t>(q.getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return StatusFromException(e, "reading the outbox's next attempt");
  }
}

}  // namespace obsmon::storage
