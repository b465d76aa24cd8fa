// The durable outbox: retries with exponential backoff against a failing receiver, loses nothing.
#include "alerts/outbox.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "alerts/memory_alert_store.h"

namespace obsmon::alerts {
namespace {

// A receiver that fails while `down` is set and records what it got.
class FakeNotifier final : public Notifier {
 public:
  explicit FakeNotifier(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::string> Render(const std::vector<OutgoingAlert>& alerts) const override {
    std::string body;
    for (const auto& a : alerts) body += a.labels.Get("alertname") + (a.resolved ? "-" : "+") + ";";
    return {body};
  }
  Status Deliver(const std::string& body) override {
    ++attempts;
    if (down) return Status::Unavailable("connection refused");
    received.push_back(body);
    return Status::Ok();
  }
  bool down = false;
  int attempts = 0;
  std::vector<std::string> received;

 private:
  std::string name_;
};

OutgoingAlert Alert(const std::string& name, bool resolved = false) {
  OutgoingAlert a;
  a.labels.Set("alertname", name);
  a.resolved = resolved;
  return a;
}

TEST(OutboxTest, DeliversToEveryReceiver) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am"), hook("hook");
  Outbox outbox({&clock, &store, {&am, &hook}});
  outbox.Send({Alert("A"), Alert("B")});
  EXPECT_EQ(*store.Pending(), 2);
  EXPECT_EQ(outbox.DeliverDue(), 2);
  EXPECT_EQ(am.received, std::vector<std::string>{"A+;B+;"});
  EXPECT_EQ(hook.received, std::vector<std::string>{"A+;B+;"});
  EXPECT_EQ(*store.Pending(), 0);
  EXPECT_EQ(outbox.Stats().sent, 2u);
}

// A receiver that hangs makes every send take its whole timeout: once Stop() is asked (SIGTERM)
// no new send may start, or shutdown takes a timeout per queued row and receiver. The rows
// not sent stay in the outbox for the next start.
TEST(OutboxTest, StopStartsNoNewSend) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier first("first"), second("second"), third("third");
  Outbox outbox({&clock, &store, {&first, &second, &third}});
  outbox.Send({Alert("A")});
  ASSERT_EQ(*store.Pending(), 3);
  outbox.Stop();  // as SIGTERM does, here before the dispatcher's next pass
  EXPECT_EQ(outbox.DeliverDue(), 0);
  EXPECT_EQ(first.attempts + second.attempts + third.attempts, 0);
  EXPECT_EQ(*store.Pending(), 3);
}

TEST(OutboxTest, RetriesWithExponentialBackoffUntilDelivered) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  OutboxOptions o{&clock, &store, {&am}};
  o.backoff_initial_ms = 1'000;
  o.backoff_max_ms = 4'000;
  Outbox outbox(o);
  am.down = true;
  outbox.Send({Alert("A")});
  outbox.Send({Alert("A", true)});
  // Only the receiver's oldest row is tried: the later one waits behind it, keeping the order.
  EXPECT_EQ(outbox.DeliverDue(), 0);  // attempt 1: fail, next in 1s
  EXPECT_EQ(am.attempts, 1);
  EXPECT_EQ(outbox.DeliverDue(), 0);  // not due yet: no attempt
  EXPECT_EQ(am.attempts, 1);
  clock.Advance(1'000);
  outbox.DeliverDue();  // attempt 2: fail, next in 2s
  EXPECT_EQ(am.attempts, 2);
  clock.Advance(1'999);
  outbox.DeliverDue();
  EXPECT_EQ(am.attempts, 2);
  clock.Advance(1);
  outbox.DeliverDue();  // attempt 3: fail, next in 4s
  clock.Advance(4'000);
  outbox.DeliverDue();  // attempt 4: fail, capped at 4s
  EXPECT_EQ(am.attempts, 4);
  auto due = store.Due(INT64_MAX, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].attempts, 4);
  EXPECT_EQ((*due)[0].next_attempt_ms, clock.NowMs() + 4'000);
  EXPECT_EQ((*due)[0].last_error, "connection refused");
  EXPECT_EQ((*due)[1].attempts, 0);
  am.down = false;
  clock.Advance(4'000);
  EXPECT_EQ(outbox.DeliverDue(), 2);
  // Nothing lost, order kept (firing before resolved).
  EXPECT_EQ(am.received, (std::vector<std::string>{"A+;", "A-;"}));
  OutboxStats s = outbox.Stats();
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.retried, 4u);  // attempts 2..5 of the first row
  EXPECT_EQ(s.sent, 2u);
  EXPECT_EQ(*store.Pending(), 0);
}

// Regression (issue 14, item 2): rows retried with their own backoff overtook each other after a
// receiver outage, and the receiver ended on a "firing" that had been followed by a "resolved".
TEST(OutboxTest, AfterAnOutageEveryReceiverGetsRowsInTheOrderTheyWereMade) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am"), hook("hook");
  OutboxOptions o{&clock, &store, {&am, &hook}};
  o.backoff_initial_ms = 1'000;
  o.backoff_max_ms = 60'000;
  Outbox outbox(o);
  am.down = true;
  outbox.Send({Alert("A")});  // firing, during the outage: backs off 1, 2, 4, 8 ... s
  for (int i = 0; i < 6; ++i) {
    outbox.DeliverDue();
    clock.Advance(500);
  }
  // Much later, still down: a resend, then the resolve. Fresh rows would be due now, long
  // before the first row's next attempt.
  clock.Advance(10'000);
  outbox.Send({Alert("A")});
  outbox.Send({Alert("A", true)});
  outbox.DeliverDue();
  am.down = false;
  for (int i = 0; i < 200 && *store.Pending() > 0; ++i) {
    clock.Advance(1'000);
    outbox.DeliverDue();
  }
  EXPECT_EQ(am.received, (std::vector<std::string>{"A+;", "A+;", "A-;"}));
  // The other receiver was never held up by the first one's outage.
  EXPECT_EQ(hook.received, (std::vector<std::string>{"A+;", "A+;", "A-;"}));
}

// A receiver that refuses a body (4xx) would refuse it for ever; with rows in order it would hold
// every later one until max_age. Dropped and counted at once, as Prometheus's notifier does.
TEST(OutboxTest, RefusedRowIsDroppedAndDoesNotHoldTheNextOnes) {
  FakeClock clock;
  MemoryAlertStore store;
  class Refusing final : public Notifier {
   public:
    const std::string& name() const override { return name_; }
    std::vector<std::string> Render(const std::vector<OutgoingAlert>& alerts) const override {
      return {alerts.front().labels.Get("alertname")};
    }
    Status Deliver(const std::string& body) override {
      if (body == "Bad") return Status::InvalidArgument("am: status 400: bad alert");
      received.push_back(body);
      return Status::Ok();
    }
    std::vector<std::string> received;

   private:
    std::string name_ = "am";
  } am;
  Outbox outbox({&clock, &store, {&am}});
  outbox.Send({Alert("Bad")});
  outbox.Send({Alert("Good")});
  EXPECT_EQ(outbox.DeliverDue(), 1);
  EXPECT_EQ(am.received, std::vector<std::string>{"Good"});
  EXPECT_EQ(outbox.Stats().dropped, 1u);
  EXPECT_EQ(*store.Pending(), 0);
}

TEST(OutboxTest, SurvivesRestartThroughTheStore) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  am.down = true;
  {
    Outbox outbox({&clock, &store, {&am}});
    outbox.Send({Alert("A")});
    outbox.DeliverDue();
  }
  am.down = false;
  Outbox again({&clock, &store, {&am}});
  clock.Advance(60'000);
  EXPECT_EQ(again.DeliverDue(), 1);
  EXPECT_EQ(am.received.size(), 1u);
}

TEST(OutboxTest, DropsRowsOlderThanMaxAgeAndCountsThem) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  OutboxOptions o{&clock, &store, {&am}};
  o.max_age_ms = 10'000;
  Outbox outbox(o);
  am.down = true;
  outbox.Send({Alert("A")});
  outbox.DeliverDue();
  clock.Advance(10'001);
  am.down = false;
  EXPECT_EQ(outbox.DeliverDue(), 0);
  EXPECT_EQ(outbox.Stats().dropped, 1u);
  EXPECT_TRUE(am.received.empty());
}

TEST(OutboxTest, StoreFailureIsCountedNotThrown) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  Outbox outbox({&clock, &store, {&am}});
  store.SetFailing(true);
  outbox.Send({Alert("A")});
  EXPECT_EQ(outbox.DeliverDue(), 0);
  // Send's Enqueue, then the pass's: storing the kept row, and Due.
  EXPECT_EQ(outbox.Stats().store_errors, 3u);
}

// The dispatcher thread (Start): an empty outbox is looked at once every idle_poll_ms, not every
// second; a failed row is tried again at its next attempt; rows stored behind the outbox's back
// (the digests' EnqueueOnce) go out at StoredElsewhere(), without waiting, and are counted.
TEST(OutboxTest, TheDispatcherSleepsUntilTheNextAttemptOrAWake) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  OutboxOptions o{&clock, &store, {&am}};
  o.backoff_initial_ms = 1'000;
  Outbox outbox(o);
  outbox.Start();
  ASSERT_TRUE(clock.WaitForWaiters(1));
  const auto deadline_after = [&](int64_t ms) {
    return clock.SteadyNow() + std::chrono::milliseconds(ms);
  };
  EXPECT_EQ(clock.NextDeadline(), deadline_after(10'000));  // empty: idle_poll_ms
  // A row stored behind its back, then StoredElsewhere(): counted as enqueued for its receiver,
  // and delivered with no time passing.
  std::vector<OutboxEntry> rows{{0, "am", "digest day 3", clock.NowMs(), clock.NowMs(), 0, ""}};
  ASSERT_TRUE(store.Enqueue(&rows).ok());
  outbox.StoredElsewhere("am");
  EXPECT_EQ(outbox.Stats().enqueued, 1u);
  // The store is thread-safe, the notifier is not: wait on the store, then for the dispatcher to
  // wait again (its pass is over).
  const auto wait_for = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 2'500 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return clock.WaitForWaiters(1) && done();
  };
  ASSERT_TRUE(wait_for([&] { return *store.Pending() == 0; }));
  EXPECT_EQ(am.received, std::vector<std::string>{"digest day 3"});
  EXPECT_EQ(clock.NextDeadline(), deadline_after(10'000));
  // A failed delivery: the next pass is at the row's next attempt, 1 s on.
  am.down = true;
  outbox.Send({Alert("A")});
  ASSERT_TRUE(wait_for([&] {
    auto due = store.Due(INT64_MAX, 10);
    return due.ok() && due->size() == 1 && (*due)[0].attempts == 1;
  }));
  EXPECT_EQ(am.attempts, 2);
  EXPECT_EQ(clock.NextDeadline(), deadline_after(1'000));
  am.down = false;
  clock.Advance(1'000);
  ASSERT_TRUE(wait_for([&] { return *store.Pending() == 0; }));
  EXPECT_EQ(am.received, (std::vector<std::string>{"digest day 3", "A+;"}));
  EXPECT_EQ(clock.NextDeadline(), deadline_after(10'000));
  outbox.Stop();
}

// Regression (fresh eyes, issue 17): a sqlite3 shell holding the write lock past busy_timeout
// made Send()'s Enqueue fail, and the firing (or the resolved) was lost for good while the alert
// counted as sent. The rows are kept and stored at the next pass, in order with later ones.
TEST(OutboxTest, RowsTheStoreRefusedAreKeptAndStoredInOrderAtTheNextPass) {
  FakeClock clock;
  MemoryAlertStore store;
  FakeNotifier am("am");
  Outbox outbox({&clock, &store, {&am}});
  store.SetFailing(true);
  outbox.Send({Alert("A")});
  store.SetFailing(false);
  outbox.Send({Alert("A", true)});  // stored behind the firing, not before it
  EXPECT_EQ(*store.Pending(), 0);
  EXPECT_EQ(outbox.Stats().store_errors, 1u);
  EXPECT_EQ(outbox.DeliverDue(), 2);
  EXPECT_EQ(am.received, (std::vector<std::string>{"A+;", "A-;"}));
  EXPECT_EQ(outbox.Stats().enqueued, 2u);
  // Refused again at the pass: kept for the one after.
  store.SetFailing(true);
  outbox.Send({Alert("B")});
  EXPECT_EQ(outbox.DeliverDue(), 0);
  store.SetFailing(false);
  EXPECT_EQ(outbox.DeliverDue(), 1);
  EXPECT_EQ(am.received.back(), "B+;");
}

}  // namespace
}  // namespace obsmon::alerts
