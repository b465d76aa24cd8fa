// The HTTP API writes a time as the report does ("2025-10-14T00:00:00.000Z", always with
// milliseconds), so one instant reads the same in /api/v1/components, a period's record and the
// report JSON, and sorts as text. CI once saw a period start on a whole second: the overview
// wrote "...:45Z" and the report "...:45.000Z" for the same window.
#include <gtest/gtest.h>

#include "cmd/obsmon/api_backend.h"
#include "cmd/obsmon/period_json.h"
#include "runtime/monitor_state.h"
#include "runtime/uptime_board.h"

namespace obsmon {
namespace {

// `date -u -d @1760400000` = Tue Oct 14 00:00:00 UTC 2025.
constexpr TimestampMs kWholeSecond = 1'760'400'000'000;

TEST(ApiTimesTest, TheOverviewWindowIsSpelledWithMillisecondsEvenOnAWholeSecond) {
  FakeClock clock{kWholeSecond};
  Config config;
  ComponentConfig c;
  c.name = "carbon";
  config.components = {c};
  MonitorState state(clock);
  state.SetConfig(config);
  UptimeBoard board;
  UptimeFigures f;
  f.component = "carbon";
  f.from_ms = kWholeSecond;
  f.to_ms = kWholeSecond + 7 * 86'400'000LL + 250;
  f.computed_at_ms = kWholeSecond + 3'600'000;
  board.Set(f);
  ApiBackendImpl api(state, board, "/nonexistent/obsmon.db", clock, [] { return ""; },
                     [] { return "[]"; });
  const auto j = api.ComponentJson("carbon");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["window"]["from"], "2025-10-14T00:00:00.000Z") << j->dump();
  EXPECT_EQ((*j)["window"]["to"], "2025-10-21T00:00:00.250Z");
  EXPECT_EQ((*j)["window"]["computed_at"], "2025-10-14T01:00:00.000Z");
}

TEST(ApiTimesTest, PeriodAndWindowRecordsAreSpelledWithMilliseconds) {
  PeriodRecord p;
  p.component = "carbon";
  p.start_ms = kWholeSecond;
  p.end_ms = kWholeSecond + 7 * 86'400'000LL;
  const auto period = PeriodToJson(p, kWholeSecond);
  EXPECT_EQ(period["start"], "2025-10-14T00:00:00.000Z") << period.dump();
  EXPECT_EQ(period["end"], "2025-10-21T00:00:00.000Z");
  MaintenanceRecord m;
  m.component = "carbon";
  m.start_ms = kWholeSecond + 2 * 3'600'000;
  m.end_ms = kWholeSecond + 3 * 3'600'000 + 500;
  const auto window = WindowToJson(m);
  EXPECT_EQ(window["from"], "2025-10-14T02:00:00.000Z") << window.dump();
  EXPECT_EQ(window["to"], "2025-10-14T03:00:00.500Z");
}

}  // namespace
}  // namespace obsmon
