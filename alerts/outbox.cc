#include "alerts/outbox.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <set>

#include "core/thread_name.h"

namespace obsmon::alerts {

namespace {

class OutboxCollectable final : public prometheus::Collectable {
 public:
  using Snapshot = std::function<std::vector<std::pair<std::string, OutboxStats>>()>;
  using PendingFn = std::function<int64_t()>;  // rows waiting; < 0 when unknown
  OutboxCollectable(Snapshot s, PendingFn pending)
      : snapshot_(std::move(s)), pending_(std::move(pending)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto snap = snapshot_();
    std::vector<prometheus::MetricFamily> out;
    auto family = [&](const char* name, const char* help, uint64_t OutboxStats::*field) {
      prometheus::MetricFamily f{name, help, prometheus::MetricType::Counter, {}};
      for (const auto& [receiver, st] : snap) {
        prometheus::ClientMetric m;
        m.label.push_back({"receiver", receiver});
        m.counter.value = static_cast<double>(st.*field);
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    };
    family("obsmon_notifications_enqueued_total", "Notification bodies stored in the outbox.",
           &OutboxStats::enqueued);
    family("obsmon_notifications_sent_total", "Notification bodies delivered.", &OutboxStats::sent);
    family("obsmon_notifications_failed_total", "Failed delivery attempts.", &OutboxStats::failed);
    family("obsmon_notifications_retried_total", "Delivery attempts of bodies that failed before.",
           &OutboxStats::retried);
    family("obsmon_notifications_dropped_total", "Bodies dropped: older than the outbox max_age, or refused by the receiver (4xx).",
           &OutboxStats::dropped);
    // The backlog obsmon's own ObsmonOutboxBacklog rule watches (deploy/prometheus).
    if (const int64_t pending = pending_ ? pending_() : -1; pending >= 0) {
      prometheus::MetricFamily f{"obsmon_notifications_queue_length",
                                 "Notification bodies waiting in the outbox for delivery.",
                                 prometheus::MetricType::Gauge, {}};
      prometheus::ClientMetric m;
      m.gauge.value = static_cast<double>(pending);
      f.metric.push_back(std::move(m));
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  Snapshot snapshot_;
  PendingFn pending_;
};

}  // namespace

Outbox::Outbox(OutboxOptions options) : options_(std::move(options)) {
  for (Notifier* n : options_.notifiers) {
    by_name_[n->name()] = n;
    counters_[n->name()] = std::make_unique<Counters>();
  }
  collectable_ = std::make_shared<OutboxCollectable>([this] {
    std::vector<std::pair<std::string, OutboxStats>> v;
    for (const auto& [name, c] : counters_) {
      OutboxStats s;
      s.enqueued = c->enqueued, s.sent = c->sent, s.failed = c->failed;
      s.retried = c->retried, s.dropped = c->dropped;
      v.emplace_back(name, s);
    }
    return v;
  }, [this]() -> int64_t {
    // The table's rows as the dispatcher last counted them, and those waiting in memory to be
    // stored. /metrics asked the store itself, and waited with the rules and the dispatcher for
    // the database's lock, up to a busy timeout for each (a `sqlite3` shell's write lock: 10 s
    // against the 8 s timeout, stop 69).
    // (Not unsaved_ itself: Send holds its lock while it waits for the database.)
    const int64_t stored = stored_pending_.load();
    return stored < 0 ? -1 : stored + static_cast<int64_t>(unsaved_count_.load());
  });
}

Outbox::~Outbox() { Stop(); }

Outbox::Counters& Outbox::CountersFor(const std::string& receiver) {
  auto it = counters_.find(receiver);
  if (it != counters_.end()) return *it->second;
  // Rows of a receiver that is no longer configured: counted under a shared bucket.
  static Counters orphan;
  return orphan;
}

void Outbox::Send(const std::vector<OutgoingAlert>& alerts) {
  if (alerts.empty()) return;
  const int64_t now = options_.clock->NowMs();
  std::vector<OutboxEntry> rows;
  for (Notifier* n : options_.notifiers) {
    for (auto& body : n->Render(alerts)) {
      OutboxEntry e;
      e.receiver = n->name();
      e.payload = std::move(body);
      e.created_ms = now;
      e.next_attempt_ms = now;
      rows.push_back(std::move(e));
    }
  }
  if (rows.empty()) return;
  {
    MutexLock lock(unsaved_mu_);
    if (!unsaved_.empty()) {
      KeepUnsaved(rows);  // behind the rows not stored yet, to keep each receiver's order
    } else if (Status s = options_.store->Enqueue(&rows); !s.ok()) {
      ++store_errors_;
      KeepUnsaved(rows);
    } else {
      for (const auto& r : rows) ++CountersFor(r.receiver).enqueued;
    }
  }
  {
    MutexLock lock(run_mu_);
    sent_ = true;  // a notify alone did not end the dispatcher's wait: its predicate is the state
  }
  run_cv_.notify_all();  // wake the dispatcher for a prompt first attempt
}

void Outbox::KeepUnsaved(std::vector<OutboxEntry>& rows) {
  for (auto& r : rows) unsaved_.push_back(std::move(r));
  while (unsaved_.size() > kMaxUnsaved) {
    ++CountersFor(unsaved_.front().receiver).dropped;
    unsaved_.pop_front();
  }
  unsaved_count_ = unsaved_.size();
}

void Outbox::StoreUnsaved() {
  MutexLock lock(unsaved_mu_);
  if (unsaved_.empty()) return;
  std::vector<OutboxEntry> rows(std::make_move_iterator(unsaved_.begin()),
                                std::make_move_iterator(unsaved_.end()));
  if (Status s = options_.store->Enqueue(&rows); !s.ok()) {
    ++store_errors_;
    unsaved_.assign(std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    return;
  }
  for (const auto& r : rows) ++CountersFor(r.receiver).enqueued;
  unsaved_.clear();
  unsaved_count_ = 0;
}

int Outbox::DeliverDue() {
  MutexLock lock(deliver_mu_);
  StoreUnsaved();
  const int64_t now = options_.clock->NowMs();
  auto due = options_.store->Due(now, options_.batch);
  if (!due.ok()) {
    ++store_errors_;
    return 0;
  }
  int delivered = 0;
  std::set<std::string> failed;  // receivers whose earlier row failed in this pass: keep order
  for (const auto& row : *due) {
    if (failed.count(row.receiver)) continue;
    Counters& c = CountersFor(row.receiver);
    auto it = by_name_.find(row.receiver);
    const int64_t max_age = it != by_name_.end() && it->second->max_age_ms() > 0
                                ? it->second->max_age_ms()
                                : options_.max_age_ms;
    if (it == by_name_.end() || now - row.created_ms > max_age) {
      if (!options_.store->Remove(row.id).ok()) ++store_errors_;
      ++c.dropped;
      continue;
    }
    // Shutting down: start no new send (each may take the receiver's whole timeout); the rows
    // stay in the outbox and go out after the restart.
    if (stopping_.load()) break;
    if (row.attempts > 0) ++c.retried;
    Status st = it->second->Deliver(row.payload);
    if (st.ok()) {
      if (!options_.store->Remove(row.id).ok()) ++store_errors_;
      ++c.sent;
      ++delivered;
      continue;
    }
    ++c.failed;
    if (st.IsInvalidArgument()) {
      // Refused for what it is (a 4xx): retrying cannot help, and the receiver's later
      // notifications wait behind it. Dropped, as Prometheus's notifier drops a 4xx batch.
      if (!options_.store->Remove(row.id).ok()) ++store_errors_;
      ++c.dropped;
      continue;
    }
    failed.insert(row.receiver);
    const int attempts = row.attempts + 1;
    int64_t backoff = options_.backoff_initial_ms;
    for (int i = 1; i < attempts && backoff < options_.backoff_max_ms; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.backoff_max_ms);
    if (!options_.store->Reschedule(row.id, attempts, now + backoff, st.message()).ok()) {
      ++store_errors_;
    }
  }
  return delivered;
}

void Outbox::Start() {
  MutexLock lock(run_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  stopping_.store(false);
  thread_ = std::thread([this] {
    NameThisThread("obsmon-outbox");
    Loop();
  });
}

void Outbox::Stop() {
  stopping_.store(true);
  {
    MutexLock lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Outbox::StoredElsewhere(const std::string& receiver) {
  ++CountersFor(receiver).enqueued;
  {
    MutexLock lock(run_mu_);
    sent_ = true;
  }
  run_cv_.notify_all();
}

void Outbox::Loop() {
  MutexLock lock(run_mu_);
  while (!stop_) {
    sent_ = false;
    lock.unlock();
    DeliverDue();
    if (auto stored = options_.store->Pending(); stored.ok()) stored_pending_ = *stored;
    bool unsaved;
    {
      MutexLock unsaved_lock(unsaved_mu_);
      unsaved = !unsaved_.empty();
    }
    const auto next = options_.store->NextAttempt();
    const int64_t now = options_.clock->NowMs();
    lock.lock();
    // Until the earliest row is due (at most idle_poll_ms). A row already due was held behind a
    // failed row of its receiver (or the pass stopped): look again after poll_ms, as before.
    int64_t wait = options_.poll_ms;  // also while rows wait to be stored (StoreUnsaved)
    if (!unsaved && next.ok() && !next->has_value()) {
      wait = options_.idle_poll_ms;
    } else if (!unsaved && next.ok() && **next > now) {
      wait = std::min(**next - now, options_.idle_poll_ms);
    }
    // On the injected clock: under a FakeClock the next pass comes when the test advances time.
    options_.clock->WaitFor(lock.native(), run_cv_, std::chrono::milliseconds(wait),
                            [this] {
                              run_mu_.AssertHeld();  // the predicate runs with the lock held
                              return stop_ || sent_;
                            });
  }
}

OutboxStats Outbox::Stats() const {
  OutboxStats s;
  for (const auto& [name, c] : counters_) {
    s.enqueued += c->enqueued, s.sent += c->sent, s.failed += c->failed;
    s.retried += c->retried, s.dropped += c->dropped;
  }
  s.store_errors = store_errors_;
  return s;
}

std::shared_ptr<prometheus::Collectable> Outbox::Collectable() { return collectable_; }

}  // namespace obsmon::alerts
