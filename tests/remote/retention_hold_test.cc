// Retention keeps the samples a configured remote_write destination has not acknowledged, up to
// storage.remote_write_hold_max past retention; what it deletes unsent is counted per remote and
// its cursor moved past it; a remote taken out of the config holds nothing.
#include <gtest/gtest.h>

#include "storage/remote_cursor_store.h"
#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace obsmon::storage {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr TimestampMs kNow = 1'700'000'000'000;

class RetentionHoldTest : public ::testing::Test {
 protected:
  RetentionHoldTest() : clock_(kNow) {
    db_ = dir_.File("obsmon.db");
    // One sample per series every 12 h from 4 days ago: 8 per series, 2 series.
    WriteBatch b;
    for (int i = 0; i < 8; ++i) {
      for (const char* s : {"a", "b"}) {
        b.samples.push_back({"m", Labels{{"s", s}}, kNow - 4 * kDay + i * kDay / 2, 1.0 * i});
      }
    }
    testing::WriteThroughWriter(db_, clock_, std::move(b));
  }

  size_t Stored() {
    auto r = testing::OpenReaderOrFail(db_);
    auto all = r->AllSamples(0, kNow + kDay, 1000);
    EXPECT_TRUE(all.ok());
    return all.ok() ? all->size() : 0;
  }

  void RunRetention(int64_t hold_max_ms) {
    StorageOptions o;
    o.path = db_;
    o.clock = &clock_;
    o.retention_ms = kDay;
    o.remote_write_hold_max_ms = hold_max_ms;
    auto w = testing::StartWriterOrFail(o);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->RunRetention().ok());
    w->Stop();
  }

  std::unique_ptr<RemoteCursorStore> Store() {
    auto s = RemoteCursorStore::Open(db_);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  testing::ScratchDir dir_;
  std::string db_;
  FakeClock clock_;
};

TEST_F(RetentionHoldTest, UnacknowledgedSamplesOutliveRetention) {
  ASSERT_EQ(Stored(), 16u);
  ASSERT_TRUE(Store()->SetConfigured({"r"}, kNow - 5 * kDay).ok());
  RunRetention(0);
  EXPECT_EQ(Stored(), 16u);  // all held for r
  auto row = Store()->Get("r");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->dropped_retention, 0);
}

TEST_F(RetentionHoldTest, AcknowledgedSamplesGoAtRetention) {
  ASSERT_TRUE(Store()->SetConfigured({"r"}, kNow - 5 * kDay).ok());
  ASSERT_TRUE(Store()->Advance("r", kNow - 2 * kDay).ok());  // the first 4 per series sent
  RunRetention(0);
  // Kept: from 2 days ago on (the cursor), not only the last day.
  EXPECT_EQ(Stored(), 8u);
}

TEST_F(RetentionHoldTest, HoldLimitDeletesUnsentAndCountsThem) {
  ASSERT_TRUE(Store()->SetConfigured({"r", "q"}, kNow - 5 * kDay).ok());
  ASSERT_TRUE(Store()->Advance("q", kNow - 3 * kDay).ok());  // q has sent the first 2 per series
  RunRetention(kDay);  // kept at most 1 day past retention: from 2 days ago
  EXPECT_EQ(Stored(), 8u);
  auto r = Store()->Get("r");
  auto q = Store()->Get("q");
  ASSERT_TRUE(r.ok() && q.ok());
  EXPECT_EQ(r->dropped_retention, 8);  // 4 per series, none sent
  EXPECT_EQ(q->dropped_retention, 4);  // 2 per series it had not sent
  EXPECT_EQ(r->cursor_ms, kNow - 2 * kDay);
  EXPECT_EQ(q->cursor_ms, kNow - 2 * kDay);
  RunRetention(kDay);  // nothing more goes: counted once
  EXPECT_EQ(Store()->Get("r")->dropped_retention, 8);
}

TEST_F(RetentionHoldTest, RemovedRemoteHoldsNothing) {
  ASSERT_TRUE(Store()->SetConfigured({"r"}, kNow - 5 * kDay).ok());
  ASSERT_TRUE(Store()->SetConfigured({}, kNow).ok());  // taken out of the config
  RunRetention(0);
  EXPECT_EQ(Stored(), 4u);  // retention alone: 1 day ago and 12 h ago, per series
  auto row = Store()->Get("r");
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->active);
  EXPECT_EQ(row->dropped_retention, 0);  // not counted: it no longer asks for them
}

}  // namespace
}  // namespace obsmon::storage
