#include "remote/sender.h"

#include <algorithm>
#include <limits>

#include "core/duration.h"
#include "core/text_escape.h"
#include "core/thread_name.h"

namespace obsmon::remote {
namespace {

std::string StatusLabel(int status) { return status == 0 ? "none" : std::to_string(status); }

// "1 more request", "2 more requests".
std::string Requests(uint64_t n, const std::string& adjective = "") {
  return std::to_string(n) + " " + adjective + (n == 1 ? "request" : "requests");
}

}  // namespace

std::vector<std::vector<OutgoingSeries>> BuildShards(const std::vector<Sample>& samples,
                                                     const SenderOptions& options,
                                                     TimestampMs min_ts, uint64_t* too_old) {
  const size_t shards = static_cast<size_t>(std::max(1, options.config.queue.shards));
  std::vector<std::vector<OutgoingSeries>> out(shards);
  // Samples come ordered by series then time (Reader::AllSamples), so a series is a run of
  // consecutive samples with one name and label set.
  size_t i = 0;
  while (i < samples.size()) {
    size_t j = i + 1;
    while (j < samples.size() && samples[j].name == samples[i].name &&
           samples[j].labels == samples[i].labels) {
      ++j;
    }
    OutgoingSeries series;
    // Prometheus's order: external labels are added (a series' own label wins), then relabelled.
    series.labels = samples[i].labels;
    series.labels.Set("__name__", samples[i].name);
    for (const auto& [name, value] : options.external_labels.pairs()) {
      if (!series.labels.Has(name)) series.labels.Set(name, value);
    }
    const bool keep = !options.config.relabel || options.config.relabel->Apply(&series.labels);
    if (keep && series.labels.Has("__name__")) {
      for (size_t k = i; k < j; ++k) {
        if (samples[k].ts_ms < min_ts) {
          ++*too_old;
          continue;
        }
        series.samples.emplace_back(samples[k].ts_ms, samples[k].value);
      }
      if (!series.samples.empty()) {
        out[series.labels.Hash() % shards].push_back(std::move(series));
      }
    }
    i = j;
  }
  return out;
}

Sender::Sender(const Clock& clock, SenderOptions options, std::unique_ptr<storage::Reader> reader,
               std::unique_ptr<storage::RemoteCursorStore> store,
               std::unique_ptr<RemoteClient> client)
    : clock_(clock),
      options_(std::move(options)),
      reader_(std::move(reader)),
      store_(std::move(store)),
      client_(std::move(client)),
      rejected_log_(std::chrono::milliseconds(options_.repeat_log_ms)),
      retry_cap_log_(std::chrono::milliseconds(options_.repeat_log_ms)),
      retry_log_(std::chrono::milliseconds(options_.repeat_log_ms)) {
  MutexLock lock(stats_mu_);
  stats_.remote = options_.config.name;
}

Sender::~Sender() { Stop(); }

void Sender::Start() {
  thread_ = std::thread([this] {
    NameThisThread("obsmon-rw");
    Loop();
  });
}

void Sender::Stop() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (!thread_.joinable()) return;
  thread_.join();
  // A reload or a shutdown: what the limiters held back is said now or never.
  std::vector<std::string> held_back;
  {
    MutexLock lock(stats_mu_);
    held_back = TakeHeldBackLines();
  }
  for (const auto& line : held_back) Warn(line);
}

bool Sender::stopping() {
  MutexLock lock(stop_mu_);
  return stopping_;
}

bool Sender::Wait(int64_t ms) {
  MutexLock lock(stop_mu_);
  clock_.WaitFor(lock.native(), stop_cv_, std::chrono::milliseconds(ms), [this] {
    stop_mu_.AssertHeld();
    return stopping_;
  });
  return !stopping_;
}

SenderStats Sender::Stats() const {
  MutexLock lock(stats_mu_);
  return stats_;
}

void Sender::Warn(const std::string& message) {
  if (options_.warn) options_.warn("remote_write " + options_.config.name + ": " + message);
}

std::optional<std::string> Sender::LimitedLine(LogLimiter& limiter, const std::string& message,
                                               uint64_t samples, const char* what) {
  const bool first = !limiter.started();
  auto held = limiter.Admit(clock_.SteadyNow(), samples);
  if (!held) return std::nullopt;
  if (first) {
    return message + " (repeats are logged at most once per " +
           FormatDurationMs(options_.repeat_log_ms) + ", with their count)";
  }
  if (held->occurrences == 0) return message;
  return message + " (and " + Requests(held->occurrences, "more ") + " with " +
         std::to_string(held->amount) + " samples " + what + " since the last message)";
}

void Sender::Drop(const std::string& reason, uint64_t samples, const std::string& message) {
  // A receiver that refuses one window likely refuses the next ones too (one request each
  // batch_send_deadline): the counter counts each, the log says it at most once per
  // repeat_log_ms.
  const bool rejected = reason == "rejected";
  std::optional<std::string> line;
  {
    MutexLock lock(stats_mu_);
    stats_.samples_dropped[reason] += samples;
    line = LimitedLine(rejected ? rejected_log_ : retry_cap_log_, message, samples,
                       rejected ? "rejected" : "dropped at the retry cap");
  }
  if (line) Warn(*line);
}

std::vector<std::string> Sender::TakeHeldBackLines() {
  std::vector<std::string> lines;
  for (auto [limiter, what] : {std::pair{&rejected_log_, "rejected"},
                               std::pair{&retry_cap_log_, "dropped at the retry cap"},
                               std::pair{&retry_log_, "failed, to be retried,"}}) {
    if (auto held = limiter->TakeHeldBack()) {
      lines.push_back(Requests(held->occurrences) + " with " +
                      std::to_string(held->amount) + " samples " + what +
                      " since the last message (not logged one by one)");
    }
  }
  return lines;
}

void Sender::RefreshPending(bool force) {
  const SteadyTime now = clock_.SteadyNow();
  {
    MutexLock lock(stats_mu_);
    if (!force && now < pending_at_) return;
    pending_at_ = now + std::chrono::milliseconds(options_.pending_refresh_ms);
  }
  // cursor_ is written by the loop thread only, which is waiting for the shards while a shard
  // thread gets here.
  auto n = store_->CountSamplesSince(cursor_);
  if (!n.ok()) return;
  MutexLock lock(stats_mu_);
  stats_.samples_pending = *n;
}

void Sender::Loop() {
  const std::string& name = options_.config.name;
  const QueueConfig& q = options_.config.queue;
  // The stored cursor (the daemon made the row when it configured this remote).
  for (;;) {
    auto row = store_->Get(name);
    if (row.ok()) {
      cursor_ = row->cursor_ms;
      break;
    }
    Warn("cannot read its cursor: " + row.status().message());
    if (!Wait(q.max_backoff_ms)) return;
  }
  int64_t read_backoff = q.min_backoff_ms;
  while (!stopping()) {
    {
      MutexLock lock(stats_mu_);
      stats_.cursor_ms = cursor_;
    }
    const TimestampMs now = clock_.NowMs();
    // Asked before the read: what is uncommitted now is behind the window's end.
    const TimestampMs ready_end =
        std::min(now - options_.settle_ms,
                 options_.uncommitted_from ? options_.uncommitted_from()
                                           : std::numeric_limits<TimestampMs>::max());
    if (cursor_ >= ready_end) {
      RefreshPending(false);
      if (!Wait(q.batch_send_deadline_ms)) return;
      continue;
    }
    TimestampMs end = std::min(cursor_ + options_.window_ms, ready_end);
    // A window with more samples than max_window_samples is halved until it fits.
    Result<std::vector<Sample>> samples = Status::Unavailable("not read");
    for (;;) {
      samples = reader_->AllSamples(cursor_, end, options_.max_window_samples);
      if (samples.ok() || end - cursor_ <= 1) break;
      end = cursor_ + (end - cursor_) / 2;
    }
    if (!samples.ok()) {
      Warn("cannot read samples: " + samples.status().message());
      if (!Wait(read_backoff)) return;
      read_backoff = std::min(read_backoff * 2, q.max_backoff_ms);
      continue;
    }
    read_backoff = q.min_backoff_ms;
    if (!SendWindow(*samples, now)) return;  // stopped: the window is sent again next time
    if (Status s = store_->Advance(name, end); !s.ok()) {
      // Kept in memory; after a restart this window is sent again (identical samples).
      Warn("cannot store its cursor: " + s.message());
    }
    cursor_ = end;
    // Retention may have moved the stored cursor past samples it deleted unsent.
    if (auto row = store_->Get(name); row.ok()) cursor_ = std::max(cursor_, row->cursor_ms);
    // Counted at most every pending_refresh_ms: it reads one index range per series, as much
    // as a window's read (perf of a 2,000-series steady state: the sender's SQLite reads were
    // 90 % of its CPU).
    RefreshPending(false);
  }
}

bool Sender::SendWindow(const std::vector<Sample>& samples, TimestampMs now_ms) {
  const int64_t age_limit = options_.config.queue.sample_age_limit_ms;
  const TimestampMs min_ts =
      age_limit > 0 ? now_ms - age_limit : std::numeric_limits<TimestampMs>::min();
  uint64_t too_old = 0;
  auto shards = BuildShards(samples, options_, min_ts, &too_old);
  if (too_old > 0) {
    MutexLock lock(stats_mu_);
    stats_.samples_dropped["too_old"] += too_old;
  }
  if (shards.size() == 1) return SendShard(shards[0]);
  std::vector<char> done(shards.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].empty()) {
      done[i] = 1;
      continue;
    }
    threads.emplace_back([this, &shards, &done, i] {
      NameThisThread("obsmon-rw-shard");
      done[i] = SendShard(shards[i]) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  return std::all_of(done.begin(), done.end(), [](char d) { return d != 0; });
}

bool Sender::SendShard(const std::vector<OutgoingSeries>& shard) {
  // Requests of at most max_samples_per_send samples, in order: a series cut between two
  // requests keeps its time order, since they are sent one after the other.
  const size_t max = options_.config.queue.max_samples_per_send;
  std::vector<OutgoingSeries> batch;
  size_t in_batch = 0;
  for (const auto& series : shard) {
    size_t k = 0;
    while (k < series.samples.size()) {
      const size_t take = std::min(max - in_batch, series.samples.size() - k);
      OutgoingSeries part{series.labels, {series.samples.begin() + k,
                                          series.samples.begin() + k + take}};
      batch.push_back(std::move(part));
      in_batch += take;
      k += take;
      if (in_batch == max) {
        if (!SendRequest(batch)) return false;
        batch.clear();
        in_batch = 0;
      }
    }
  }
  return batch.empty() || SendRequest(batch);
}

bool Sender::SendRequest(const std::vector<OutgoingSeries>& batch) {
  const QueueConfig& q = options_.config.queue;
  uint64_t n = 0;
  TimestampMs newest = 0;
  for (const auto& s : batch) {
    n += s.samples.size();
    for (const auto& [t, v] : s.samples) newest = std::max(newest, t);
  }
  const std::string body = EncodeWriteRequest(batch);
  int64_t backoff = q.min_backoff_ms;
  int answered_failures = 0;
  bool warned = false;
  for (;;) {
    if (stopping()) return false;
    SendResult r = client_->Send(body);
    {
      MutexLock lock(stats_mu_);
      ++stats_.requests[StatusLabel(r.status)];
    }
    if (r.status >= 200 && r.status < 300) {
      if (warned) Warn("sending again after failures");
      std::vector<std::string> held_back;
      {
        MutexLock lock(stats_mu_);
        stats_.samples_sent += n;
        stats_.highest_sent_ms = std::max(stats_.highest_sent_ms, newest);
        held_back = TakeHeldBackLines();
      }
      for (const auto& line : held_back) Warn(line);
      return true;
    }
    const bool retry_answer =
        r.status >= 500 || (r.status == 429 && q.retry_on_http_429);
    if (r.status != 0 && !retry_answer) {
      // The receiver refuses this data: sending it again cannot help.
      Drop("rejected", n,
           "status " + std::to_string(r.status) + ", " + std::to_string(n) +
               " samples dropped: " + EscapeControlAndInvalidUtf8(r.body));
      return true;
    }
    {
      MutexLock lock(stats_mu_);
      stats_.samples_failed += n;
    }
    if (r.status != 0 && ++answered_failures >= q.retry_cap) {
      Drop("retry_cap", n,
           "status " + std::to_string(r.status) + " " + std::to_string(answered_failures) +
               " times, " + std::to_string(n) +
               " samples dropped: " + EscapeControlAndInvalidUtf8(r.body));
      return true;
    }
    // While the receiver fails, samples pile up: /metrics and ObsmonRemoteWriteBehind see it.
    RefreshPending(false);
    if (!warned) {
      // Once per request; and with a short retry_cap, each request fails anew: limited too.
      const std::string message =
          r.status == 0 ? "no answer (" + r.error + "), retrying"
                        : "status " + std::to_string(r.status) +
                              ", retrying: " + EscapeControlAndInvalidUtf8(r.body);
      std::optional<std::string> line;
      {
        MutexLock lock(stats_mu_);
        line = LimitedLine(retry_log_, message, n, "failed, to be retried,");
      }
      if (line) Warn(*line);
      warned = true;
    }
    if (!Wait(backoff)) return false;
    backoff = std::min(backoff * 2, q.max_backoff_ms);
  }
}

}  // namespace obsmon::remote
