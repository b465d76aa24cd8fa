// StorageHealth: which storage operations are failing, on the injected clock.
#include "core/storage_health.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(StorageHealthTest, AFailureLastsUntilTheNextSuccessOfThatOperation) {
  FakeClock clock;
  StorageHealth h(clock);
  EXPECT_EQ(h.FailureSummary(), "");
  h.Record("read", Status::IoError("disk I/O error"));
  h.Record("periods", Status::Ok());
  EXPECT_EQ(h.FailureSummary(), "read: disk I/O error");
  h.Record("periods", Status::Ok());
  EXPECT_EQ(h.FailureSummary(), "read: disk I/O error");  // another operation's success
  h.Record("read", Status::Ok());
  EXPECT_EQ(h.FailureSummary(), "");
  auto snap = h.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[1].operation, "read");
  EXPECT_EQ(snap[1].errors_total, 1u);
  EXPECT_EQ(snap[1].last_error, "disk I/O error");  // kept after recovery, for the record
  EXPECT_FALSE(snap[1].failing);
}

TEST(StorageHealthTest, AnOperationNotRetriedStopsFailingAfterTheHoldTime) {
  FakeClock clock;
  StorageHealth h(clock, /*failure_hold_ms=*/300'000);
  h.Record("alerts", Status::Unavailable("database is locked"));
  clock.Advance(299'999);
  EXPECT_EQ(h.FailureSummary(), "alerts: database is locked");
  clock.Advance(1);
  EXPECT_EQ(h.FailureSummary(), "");
  EXPECT_EQ(h.Snapshot()[0].errors_total, 1u);
}

TEST(StorageHealthTest, AnswersAreNotFailures) {
  FakeClock clock;
  StorageHealth h(clock);
  h.Record("read", Status::NotFound("no component 'x'"));
  h.Record("read", Status::InvalidArgument("bad period"));
  EXPECT_EQ(h.FailureSummary(), "");
  EXPECT_EQ(h.Snapshot()[0].errors_total, 0u);
}

// A report given up because its client left (fresh eyes, stop 63: /healthz went 503 for 8 s)
// is neither a failure nor a success: a real failure before it still shows.
TEST(StorageHealthTest, ACancelledReadSaysNothingOfStorage) {
  FakeClock clock;
  StorageHealth h(clock);
  h.Record("read", Status::Cancelled("the report was given up while it was built"));
  EXPECT_EQ(h.FailureSummary(), "");
  EXPECT_TRUE(h.Snapshot().empty());
  h.Record("read", Status::IoError("disk I/O error"));
  h.Record("read", Status::Cancelled("given up"));
  EXPECT_EQ(h.FailureSummary(), "read: disk I/O error");
}

}  // namespace
}  // namespace obsmon
