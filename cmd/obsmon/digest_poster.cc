#include "cmd/obsmon/digest_poster.h"

#include <fmt/format.h>

#include "render/report_format.h"
#include "report/period_days.h"
#include "report/periods.h"
#include "storage/period_store.h"

namespace obsmon {

DigestPoster::DigestPoster(std::string db_path, OutboxStore* store,
                           std::vector<DigestTarget> targets)
    : db_path_(std::move(db_path)), store_(store), targets_(std::move(targets)) {}

DigestPoster::~DigestPoster() { Stop(); }

void DigestPoster::Start(const Clock& clock, int64_t poll_ms,
                         std::function<void(const Status&)> on_error,
                         std::function<void(const std::string& receiver)> on_stored) {
  if (thread_.joinable() || targets_.empty()) return;
  on_stored_ = std::move(on_stored);  // before the thread: only it reads on_stored_ after this
  thread_ = std::thread([this, &clock, poll_ms, on_error = std::move(on_error)] {
    MutexLock lock(run_mu_);
    while (!stop_) {
      lock.unlock();
      auto n = Tick(clock.NowMs());
      if (!n.ok() && on_error) on_error(n.status());
      lock.lock();
      clock.WaitFor(lock.native(), run_cv_, std::chrono::milliseconds(poll_ms), [this] {
        run_mu_.AssertHeld();  // the predicate runs with the lock held
        return stop_;
      });
    }
  });
}

void DigestPoster::Stop() {
  {
    MutexLock lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string DigestPoster::OnceKey(int64_t period_id, const std::string& destination_id,
                                  const std::string& item) {
  return fmt::format("digest:{}:{}:{}", period_id, destination_id, item);
}

std::string DigestPoster::ReceiverName(const std::string& component, const DigestDestination& d) {
  return fmt::format("digest:{}:{}", component, d.id);
}

Result<int> DigestPoster::Tick(TimestampMs now_ms) {
  if (targets_.empty()) return 0;
  auto store = storage::PeriodStore::OpenReadOnly(db_path_);
  if (!store.ok()) return store.status();
  auto periods = (*store)->Periods();
  if (!periods.ok()) return periods.status();
  store->reset();  // the reports below open their own connections
  int enqueued = 0;
  Status first_error = Status::Ok();
  for (const DigestTarget& target : targets_) {
    for (const PeriodRecord& p : *periods) {
      if (p.component != target.component || p.start_ms >= now_ms) continue;
      if (PeriodEnd(p) <= p.start_ms || PeriodEnd(p) + kMaxLateMs < now_ms) continue;
      // One period that cannot be reported (no run stored yet, a zone gone) holds back neither
      // the other periods nor the other destinations.
      auto n = TickPeriod(target, p, now_ms);
      if (n.ok()) {
        enqueued += *n;
      } else if (first_error.ok()) {
        first_error = Status::Unavailable(fmt::format("period #{} of {} to {}: {}", p.id, p.component,
                                                  target.destination.id,
                                                  n.status().message()));
      }
    }
  }
  if (!first_error.ok()) return first_error;
  return enqueued;
}

Result<int> DigestPoster::TickPeriod(const DigestTarget& target, const PeriodRecord& p,
                                     TimestampMs now_ms) {
  std::optional<TimeZone> zone;
  if (!p.time_zone.empty()) {
    auto z = TimeZone::Load(p.time_zone);
    if (!z.ok()) return z.status();
    zone = std::move(*z);
  }
  int enqueued = 0;
  for (const PeriodDay& day : PeriodDays(p.start_ms, PeriodEnd(p), zone)) {
    if (day.end_ms > now_ms) break;
    auto done = EnqueueItem(target, p, fmt::format("day{}", day.number), day.number, now_ms);
    if (!done.ok()) return done.status();
    enqueued += *done ? 1 : 0;
  }
  if (PeriodEnd(p) <= now_ms) {
    auto done = EnqueueItem(target, p, "final", std::nullopt, now_ms);
    if (!done.ok()) return done.status();
    enqueued += *done ? 1 : 0;
  }
  return enqueued;
}

Result<bool> DigestPoster::EnqueueItem(const DigestTarget& target, const PeriodRecord& p,
                                       const std::string& item, std::optional<int> day,
                                       TimestampMs now_ms) {
  const std::string key = OnceKey(p.id, target.destination.id, item);
  auto seen = store_->WasEnqueued(key);
  if (!seen.ok()) return seen.status();
  if (*seen) return false;
  PeriodReportRequest req;
  req.db_path = db_path_;
  req.component = target.component;
  req.period_id = p.id;
  req.objective = target.objective;
  req.health_probes = target.health_probes;
  req.alert_components = target.alert_components;
  req.now_ms = now_ms;
  alerts::DigestMessage message;
  message.component = target.component;
  message.item = day ? fmt::format("day {}", *day) : "final";
  if (day) {
    auto r = BuildDayReport(req, *day);
    if (!r.ok()) return r.status();
    message.markdown = RenderDayMarkdown(r->report, r->report.days[r->index]);
    message.title = fmt::format("{}: observation period #{}, Day {}", target.component, p.id, *day);
  } else {
    auto r = BuildPeriodReport(req);
    if (!r.ok()) return r.status();
    message.markdown = RenderAssessmentMarkdown(*r);
    message.title = fmt::format("{}: observation period #{}, final assessment: {}",
                                target.component, p.id, VerdictName(r->verdict));
  }
  OutboxEntry entry;
  entry.receiver = target.notifier->name();
  entry.payload = target.notifier->Body(message);
  entry.created_ms = now_ms;
  entry.next_attempt_ms = now_ms;
  auto stored = store_->EnqueueOnce(key, &entry);
  if (stored.ok() && *stored && on_stored_) on_stored_(entry.receiver);
  return stored;
}

}  // namespace obsmon
