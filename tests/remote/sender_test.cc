// The sender's state machine under a FakeClock, against a loopback receiver that decodes what it
// gets (receiver.h): the cursor stored in SQLite moves only when a window is resolved.
#include "remote/sender.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <limits>

#include <mutex>
#include <thread>

#include "core/clock.h"
#include "tests/remote/receiver.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon::remote {
namespace {

using testing::ReceivedSample;

constexpr TimestampMs kT0 = 1'700'000'000'000;

class SenderTest : public ::testing::Test {
 protected:
  SenderTest() : clock_(kT0) { db_ = dir_.File("obsmon.db"); }

  // 3 series x `n` samples at kT0 + offset + i seconds.
  std::vector<ReceivedSample> Write(int n, int64_t offset_ms = 1'000) {
    WriteBatch b;
    std::vector<ReceivedSample> truth;
    for (int s = 0; s < 3; ++s) {
      for (int i = 0; i < n; ++i) {
        const TimestampMs ts = kT0 + offset_ms + i * 1'000;
        const double v = s * 100 + i + 0.25;
        b.samples.push_back({"m", Labels{{"s", std::to_string(s)}}, ts, v});
        truth.push_back({"__name__=m,s=" + std::to_string(s) + ",site=lab", ts, v});
      }
    }
    testing::WriteThroughWriter(db_, clock_, std::move(b));
    return truth;
  }

  std::unique_ptr<Sender> MakeSender(QueueConfig q = {},
                                     std::function<TimestampMs()> uncommitted_from = {}) {
    auto store = storage::RemoteCursorStore::Open(db_);
    EXPECT_TRUE(store.ok());
    if (!configured_) {
      EXPECT_TRUE((*store)->SetConfigured({"r"}, kT0).ok());
      configured_ = true;
    }
    SenderOptions o;
    o.config.name = "r";
    o.config.url = receiver_.Url();
    o.config.remote_timeout_ms = 5'000;
    o.config.bearer_token_env = bearer_env_;
    q.min_backoff_ms = 100;
    q.max_backoff_ms = 400;
    q.batch_send_deadline_ms = 1'000;
    o.config.queue = q;
    o.external_labels = Labels{{"site", "lab"}};
    o.settle_ms = 2'000;
    o.uncommitted_from = std::move(uncommitted_from);
    o.warn = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(warnings_mu_);
      warnings_.push_back(line);
    };
    auto client = MakeHttpRemoteClient(o.config, "test");
    return std::make_unique<Sender>(clock_, std::move(o), testing::OpenReaderOrFail(db_),
                                    std::move(store).value(), std::move(client));
  }

  TimestampMs StoredCursor() {
    auto store = storage::RemoteCursorStore::Open(db_);
    auto row = (*store)->Get("r");
    EXPECT_TRUE(row.ok());
    return row.ok() ? row->cursor_ms : -1;
  }

  static std::vector<ReceivedSample> Sorted(std::vector<ReceivedSample> v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return std::tie(a.labels, a.ts_ms) < std::tie(b.labels, b.ts_ms);
    });
    return v;
  }

  testing::ScratchDir dir_;
  std::string db_;
  FakeClock clock_;
  testing::FakeReceiver receiver_;
  bool configured_ = false;
  std::string bearer_env_;  // bearer_token_env of the destination, "" for none

  // The sender's log lines containing `text`.
  std::vector<std::string> Warnings(const std::string& text) {
    std::lock_guard<std::mutex> lock(warnings_mu_);
    std::vector<std::string> out;
    for (const auto& w : warnings_) {
      if (w.find(text) != std::string::npos) out.push_back(w);
    }
    return out;
  }
  std::mutex warnings_mu_;
  std::vector<std::string> warnings_;
};

TEST_F(SenderTest, TwoXxAdvancesCursorAndEverySampleArrivesOnce) {
  auto truth = Write(5);
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));  // idle: the window is resolved
  EXPECT_EQ(Sorted(receiver_.accepted()), Sorted(truth));
  EXPECT_TRUE(receiver_.headers_ok());
  EXPECT_EQ(StoredCursor(), kT0 + 18'000);  // now - settle
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_sent, 15u);
  EXPECT_EQ(st.samples_failed, 0u);
  EXPECT_EQ(st.highest_sent_ms, kT0 + 5'000);
  EXPECT_EQ(st.requests["204"], 1u);
}

TEST_F(SenderTest, SettleDelayHoldsBackRecentSamples) {
  Write(5);  // kT0+1s .. kT0+5s
  clock_.SetWall(kT0 + 5'000);  // ready up to kT0+3s
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.accepted().size(), 6u);  // 3 series x (1s, 2s)
  clock_.SetWall(kT0 + 10'000);
  clock_.Advance(1'000);  // batch_send_deadline
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.accepted().size(), 15u);
  EXPECT_EQ(sender->Stats().samples_sent, 15u);
}

// A commit held up past the settle delay (fresh eyes, issue 17: a `sqlite3` write transaction of
// 4 s left 10-32 samples behind the cursor, never sent): the window ends at the earliest sample
// the writer has not committed, and the late samples go once they are committed.
TEST_F(SenderTest, AWindowEndsAtTheWritersEarliestUncommittedSample) {
  auto truth = Write(5);  // kT0+1s .. kT0+5s, committed
  std::atomic<TimestampMs> uncommitted{kT0 + 3'000};  // a batch stamped at kT0+3s is held up
  clock_.SetWall(kT0 + 20'000);  // the settle delay alone would read up to kT0+18s
  auto sender = MakeSender({}, [&] { return uncommitted.load(); });
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.accepted().size(), 6u);  // 3 series x (1s, 2s)
  EXPECT_EQ(StoredCursor(), kT0 + 3'000);
  // The held batch commits at last, behind samples already sent.
  WriteBatch late;
  for (int s = 0; s < 3; ++s) {
    late.samples.push_back({"m", Labels{{"s", std::to_string(s)}}, kT0 + 3'500, 7.5});
    truth.push_back({"__name__=m,s=" + std::to_string(s) + ",site=lab", kT0 + 3'500, 7.5});
  }
  testing::WriteThroughWriter(db_, clock_, std::move(late));
  uncommitted = std::numeric_limits<TimestampMs>::max();
  clock_.Advance(1'000);  // batch_send_deadline
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(Sorted(receiver_.accepted()), Sorted(truth));
  EXPECT_EQ(StoredCursor(), kT0 + 19'000);  // now - settle
}

TEST_F(SenderTest, FiveXxRetriedWithBackoffUntilAccepted) {
  auto truth = Write(2);
  receiver_.Script({500, 500, 204});
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));  // backing off after the first 500
  EXPECT_EQ(receiver_.requests(), 1);
  EXPECT_EQ(StoredCursor(), kT0);  // nothing acknowledged yet
  clock_.Advance(99);
  EXPECT_EQ(receiver_.requests(), 1);  // min_backoff is 100 ms
  clock_.Advance(1);
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 2);
  clock_.Advance(200);  // doubled
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 3);
  EXPECT_EQ(Sorted(receiver_.accepted()), Sorted(truth));
  EXPECT_EQ(StoredCursor(), clock_.NowMs() - 2'000);  // the backoff moved the wall clock too
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_sent, 6u);
  EXPECT_EQ(st.samples_failed, 12u);  // two failed attempts of 6
  EXPECT_EQ(st.requests["500"], 2u);
}

TEST_F(SenderTest, BadRequestDroppedAndCountedNeverRetried) {
  Write(2);
  receiver_.Script({400}, /*repeat_last=*/true);
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  clock_.Advance(60'000);  // long enough for any retry
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 1);
  EXPECT_EQ(receiver_.samples_in_requests(), 6u);
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_dropped["rejected"], 6u);
  EXPECT_EQ(st.samples_sent, 0u);
  EXPECT_GE(StoredCursor(), kT0 + 18'000);  // dropped counts as resolved
}

// A receiver that refuses every request was logged once per window (each batch_send_deadline):
// now the first rejection, then at most one line a minute with the count held back since, and
// the rest when a request is accepted again. The counters count every request.
TEST_F(SenderTest, RejectionsAreLoggedOnceAMinuteWithTheCountHeldBack) {
  Write(100);  // 3 series, one sample a second from kT0 + 1 s
  receiver_.Script({400}, /*repeat_last=*/true);
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));  // [kT0, kT0 + 18 s): 17 seconds of samples
  ASSERT_EQ(receiver_.requests(), 1);
  auto lines = Warnings("dropped");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("remote_write r: status 400, 51 samples dropped: refused by the test "
                          "receiver (repeats are logged at most once per "),
            std::string::npos)
      << lines[0];
  // Each batch_send_deadline (1 s) reads one more second: one request of 3 samples, refused.
  for (int i = 1; i < 60; ++i) {
    clock_.Advance(1'000);
    ASSERT_TRUE(clock_.WaitForWaiters(1));
  }
  EXPECT_EQ(receiver_.requests(), 60);
  EXPECT_EQ(Warnings("dropped").size(), 1u);  // 59 held back
  clock_.Advance(1'000);                      // a minute after the first line
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  lines = Warnings("dropped");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("status 400, 3 samples dropped: refused by the test receiver (and 59 "
                          "more requests with 177 samples rejected since the last message)"),
            std::string::npos)
      << lines[1];
  clock_.Advance(1'000);  // held back
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  receiver_.Script({204}, /*repeat_last=*/true);
  clock_.Advance(1'000);  // accepted: what was held back is told
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(Warnings("dropped").size(), 2u);
  lines = Warnings("since the last message (not logged one by one)");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("remote_write r: 1 request with 3 samples rejected since"),
            std::string::npos)
      << lines[0];
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_dropped["rejected"], 51u + 61 * 3);  // every one counted
  EXPECT_EQ(st.requests["400"], 62u);
  EXPECT_EQ(st.samples_sent, 3u);
}

// Fresh eyes, stop 25: a receiver's answer cannot forge log lines (control bytes escaped); a
// receiver failing every request gets one "retrying" line, not one per request (retry_cap 2:
// each request fails anew); and what the limiters held back is said when the sender stops.
TEST_F(SenderTest, AnswersAreEscapedRetryLinesLimitedAndHeldBackSaidAtStop) {
  Write(100);
  receiver_.SetRefusalBody("out of bounds\n2026-12-01T00:00:00Z critical FAKE\x1b[31mRED");
  receiver_.Script({500}, /*repeat_last=*/true);
  clock_.SetWall(kT0 + 20'000);
  QueueConfig q;
  q.retry_cap = 2;
  auto sender = MakeSender(q);
  sender->Start();
  for (int i = 0; i < 300 && receiver_.requests() < 40; ++i) {
    ASSERT_TRUE(clock_.WaitForWaiters(1));
    clock_.Advance(100);
  }
  ASSERT_GE(receiver_.requests(), 40);
  {
    std::lock_guard<std::mutex> lock(warnings_mu_);
    for (const auto& w : warnings_) {
      EXPECT_EQ(w.find('\n'), std::string::npos) << w;
      EXPECT_EQ(w.find('\x1b'), std::string::npos) << w;
    }
  }
  const auto retrying = Warnings("retrying");
  ASSERT_EQ(retrying.size(), 1u);  // 20 requests failed, within a minute
  EXPECT_NE(retrying[0].find("status 500, retrying: out of bounds\\x0a2026-12-01T00:00:00Z "
                             "critical FAKE\\x1b[31mRED"),
            std::string::npos)
      << retrying[0];
  EXPECT_EQ(Warnings("samples dropped").size(), 1u);
  sender->Stop();
  const auto told = Warnings("since the last message (not logged one by one)");
  ASSERT_EQ(told.size(), 2u);  // the retry-cap drops and the retried requests held back
  EXPECT_NE(told[0].find("dropped at the retry cap since the last message"), std::string::npos)
      << told[0];
  EXPECT_NE(told[1].find("failed, to be retried, since the last message"), std::string::npos)
      << told[1];
}

// Fresh eyes, issue 16: an unset or empty token variable is a secret that cannot be read, like a
// missing file: nothing goes out without credentials (to be dropped for the 401), the samples
// stay, and they go once the variable is set.
TEST_F(SenderTest, UnsetTokenVariableHoldsTheSamplesInsteadOfSendingWithoutCredentials) {
  bearer_env_ = "OBSMON_SENDER_TEST_TOKEN";
  ::unsetenv(bearer_env_.c_str());
  Write(2);
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  clock_.Advance(1'000);
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 0) << "no request may go out without its token";
  EXPECT_EQ(StoredCursor(), kT0);
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_dropped["rejected"], 0u);
  EXPECT_GT(st.samples_failed, 0u);
  ::setenv(bearer_env_.c_str(), "", 1);  // empty: the same
  clock_.Advance(1'000);
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 0);
  ::setenv(bearer_env_.c_str(), "s3cret", 1);
  clock_.Advance(1'000);
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  ::unsetenv(bearer_env_.c_str());
  EXPECT_EQ(receiver_.samples_in_requests(), 6u);
  EXPECT_EQ(sender->Stats().samples_sent, 6u);
}

TEST_F(SenderTest, TooManyRequestsRetried) {
  auto truth = Write(1);
  receiver_.Script({429, 204});
  clock_.SetWall(kT0 + 20'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 1);
  clock_.Advance(100);
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 2);
  EXPECT_EQ(Sorted(receiver_.accepted()), Sorted(truth));
}

TEST_F(SenderTest, RetryCapDropsAfterThatManyAnsweredFailures) {
  Write(1);
  receiver_.Script({503}, /*repeat_last=*/true);
  clock_.SetWall(kT0 + 20'000);
  QueueConfig q;
  q.retry_cap = 3;
  auto sender = MakeSender(q);
  sender->Start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(clock_.WaitForWaiters(1));
    clock_.Advance(400);
  }
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), 3);
  auto st = sender->Stats();
  EXPECT_EQ(st.samples_dropped["retry_cap"], 3u);
  EXPECT_EQ(st.samples_failed, 9u);
  EXPECT_GE(StoredCursor(), kT0 + 18'000);
}

TEST_F(SenderTest, NoAnswerRetriedPastTheRetryCap) {
  auto truth = Write(1);
  receiver_.Stop();  // connection refused
  clock_.SetWall(kT0 + 20'000);
  QueueConfig q;
  q.retry_cap = 2;
  auto sender = MakeSender(q);
  sender->Start();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(clock_.WaitForWaiters(1));
    clock_.Advance(400);
  }
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  auto st = sender->Stats();
  EXPECT_GE(st.requests["none"], 5u);
  EXPECT_EQ(st.samples_pending, 3);  // counted while retrying, not only once caught up
  EXPECT_EQ(st.samples_dropped["retry_cap"], 0u);
  EXPECT_EQ(StoredCursor(), kT0);  // still waiting for the receiver
}

TEST_F(SenderTest, RestartResumesFromStoredCursor) {
  auto first = Write(3);
  clock_.SetWall(kT0 + 20'000);
  {
    auto sender = MakeSender();
    sender->Start();
    ASSERT_TRUE(clock_.WaitForWaiters(1));
    sender->Stop();
  }
  EXPECT_EQ(receiver_.accepted().size(), 9u);
  auto second = Write(3, 30'000);  // kT0+30s ..
  clock_.SetWall(kT0 + 60'000);
  auto sender = MakeSender();
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(Sorted(receiver_.accepted()), Sorted(all));  // nothing twice, nothing missing
  EXPECT_EQ(sender->Stats().samples_sent, 9u);
}

TEST_F(SenderTest, LargeWindowSplitIntoRequestsInTimeOrder) {
  auto truth = Write(40);
  clock_.SetWall(kT0 + 100'000);
  QueueConfig q;
  q.max_samples_per_send = 7;
  auto sender = MakeSender(q);
  sender->Start();
  ASSERT_TRUE(clock_.WaitForWaiters(1));
  EXPECT_EQ(receiver_.requests(), (120 + 6) / 7);
  const auto got = receiver_.accepted();
  EXPECT_EQ(Sorted(got), Sorted(truth));
  // Per series, the order of arrival is the order of time.
  std::map<std::string, TimestampMs> last;
  for (const auto& s : got) {
    EXPECT_GT(s.ts_ms, last[s.labels]);
    last[s.labels] = s.ts_ms;
  }
}

}  // namespace
}  // namespace obsmon::remote
