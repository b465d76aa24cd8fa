// One remote_write destination's sender. The `samples` table is its queue (docs/remote-write.md):
// it reads the window [cursor, min(cursor + window, now - settle)) with its own Reader, turns it
// into series (labels + __name__ + external labels, write_relabel_configs), sends them in shards
// and requests of at most max_samples_per_send, and moves the cursor stored in SQLite to the
// window's end only when every request of the window was answered 2xx or dropped and counted.
// A restart (even kill -9) resumes from the stored cursor: nothing acknowledged is lost; a
// window in flight at the kill is sent again (receivers ignore or deduplicate identical samples).
//
// Retries: no answer (refused, timeout) is retried with backoff for as long as obsmon runs;
// answered 5xx (and 429 unless retry_on_http_429 is false) up to retry_cap attempts, then the
// request is dropped (reason "retry_cap"); any other status is dropped at once ("rejected") and
// its body logged (at most 1 KiB). Samples older than sample_age_limit are dropped ("too_old").
// A drop, and a request that starts failing, is logged the first time, then at most once per
// repeat_log_ms with the count of those held back (log_limiter.h); what is still held back is
// logged when a request is accepted again and when the sender stops (reload, shutdown). The
// counters count every one. A receiver's answer is logged with its control bytes and invalid
// UTF-8 escaped (\xNN): a body cannot forge log lines.
//
// Threads: Start() runs one thread (obsmon-rw) and, with shards > 1, one thread per shard for
// each window. Every wait goes through the Clock, so a FakeClock drives it in tests. Stats()
// and Stop() may be called from any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/mutex.h"
#include "core/records.h"
#include "remote/log_limiter.h"
#include "remote/remote_client.h"
#include "remote/remote_write_config.h"
#include "remote/write_request.h"
#include "storage/remote_cursor_store.h"
#include "storage/storage.h"

namespace obsmon::remote {

// Totals since the sender started, unless noted.
struct SenderStats {
  std::string remote;
  uint64_t samples_sent = 0;
  // Samples of attempts that failed and were retried (each failed attempt counts them again).
  uint64_t samples_failed = 0;
  std::map<std::string, uint64_t> samples_dropped;  // by reason: rejected, retry_cap, too_old
  std::map<std::string, uint64_t> requests;         // by HTTP status, "none" for no answer
  int64_t samples_pending = -1;  // stored samples at or after the cursor; -1 before it is known
  TimestampMs highest_sent_ms = 0;  // newest sample answered 2xx, 0 before any
  TimestampMs cursor_ms = 0;        // now
};

struct SenderOptions {
  RemoteWriteConfig config;
  Labels external_labels;
  int64_t settle_ms = 2'000;
  // The earliest sample time the writer has accepted and not committed yet
  // (storage::Writer::UncommittedSamplesFrom); a window ends there at the latest, so that a
  // commit held up past the settle delay (a `sqlite3` write lock, a full disk) delays the
  // window instead of leaving its late samples behind the cursor. Empty: the settle delay alone.
  std::function<TimestampMs()> uncommitted_from;
  // The longest window read at once, and the most samples it may hold (more: halved).
  int64_t window_ms = 60'000;
  size_t max_window_samples = 100'000;
  // How often samples_pending is counted again (one index range per series).
  int64_t pending_refresh_ms = 10'000;
  std::function<void(const std::string&)> warn;  // may be empty
  // The least time between two log lines of dropped requests (rejected, retry_cap).
  int64_t repeat_log_ms = 60'000;
};

// The series of one window as they go out, in shards (exposed for tests).
std::vector<std::vector<OutgoingSeries>> BuildShards(const std::vector<Sample>& samples,
                                                     const SenderOptions& options,
                                                     TimestampMs min_ts, uint64_t* too_old);

class Sender {
 public:
  Sender(const Clock& clock, SenderOptions options, std::unique_ptr<storage::Reader> reader,
         std::unique_ptr<storage::RemoteCursorStore> store, std::unique_ptr<RemoteClient> client);
  ~Sender();
  void Start();
  // Ends the loop (a request being retried is abandoned, its window left for the next start)
  // and joins the threads. Idempotent.
  void Stop();
  SenderStats Stats() const;

 private:
  void Loop();
  // Waits until the clock reaches SteadyNow() + ms or Stop(); false when stopping.
  bool Wait(int64_t ms);
  bool stopping();
  // Sends one window's samples; false when stopped before every request was resolved.
  bool SendWindow(const std::vector<Sample>& samples, TimestampMs now_ms);
  bool SendShard(const std::vector<OutgoingSeries>& shard);
  bool SendRequest(const std::vector<OutgoingSeries>& batch);
  void RefreshPending(bool force);
  void Warn(const std::string& message);
  // Counts `samples` dropped for `reason` ("rejected" or "retry_cap") and logs `message`, limited.
  void Drop(const std::string& reason, uint64_t samples, const std::string& message);
  // `message` if `limiter` lets it through now (with what it held back before), else nullopt.
  std::optional<std::string> LimitedLine(LogLimiter& limiter, const std::string& message,
                                         uint64_t samples, const char* what) REQUIRES(stats_mu_);
  // A line per kind of drop held back since its last line, for when a request is accepted.
  std::vector<std::string> TakeHeldBackLines() REQUIRES(stats_mu_);

  const Clock& clock_;
  const SenderOptions options_;
  const std::unique_ptr<storage::Reader> reader_;  // the loop thread only
  const std::unique_ptr<storage::RemoteCursorStore> store_;
  const std::unique_ptr<RemoteClient> client_;
  TimestampMs cursor_ = 0;  // written by the loop thread only (copied into stats_)

  Mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ GUARDED_BY(stop_mu_) = false;
  std::thread thread_;

  mutable Mutex stats_mu_;
  SenderStats stats_ GUARDED_BY(stats_mu_);
  SteadyTime pending_at_ GUARDED_BY(stats_mu_){};  // when samples_pending is counted next
  LogLimiter rejected_log_ GUARDED_BY(stats_mu_);   // 4xx and other statuses not retried
  LogLimiter retry_cap_log_ GUARDED_BY(stats_mu_);  // dropped after retry_cap answers
  LogLimiter retry_log_ GUARDED_BY(stats_mu_);      // a request failing, to be retried
};

}  // namespace obsmon::remote
