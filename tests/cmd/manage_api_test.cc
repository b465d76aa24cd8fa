// The daemon's answers to /api/v1/periods and /api/v1/maintenance (cmd/obsmon/manage_api.h) over
// a temporary database and a fake clock, below HTTP: statuses, the JSON fields checked by name,
// what is stored (read back through the store, not through the code under test), and that a
// refusal says exactly what the CLI says for the same arguments (one set of rules).
#include "cmd/obsmon/manage_api.h"

#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>
#include <sstream>

#include "cmd/obsmon/cli_periods.h"
#include "storage/period_store.h"
#include "tests/support/maintenance_window.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'760'400'000'000;  // 2025-10-14T00:00:00Z

class ManageApiTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = scratch_.path() + "/obsmon.db"; }

  // The daemon's way: a config that knows `shop`.
  ManageReply Api(ManageOp op, json body, int64_t id = 0) {
    PeriodScope scope;
    scope.db_path = db_;
    scope.has_config = true;
    scope.config_name = "obsmon.yml";
    ComponentConfig shop;
    shop.name = "shop";
    shop.objective.uptime_percent = 99.0;
    scope.components.push_back(shop);
    return RunWith(std::move(scope), op, std::move(body), id);
  }
  // Without a config (the CLI's --db): components known by the database.
  ManageReply ApiWithoutConfig(ManageOp op, json body) {
    PeriodScope scope;
    scope.db_path = db_;
    return RunWith(std::move(scope), op, std::move(body), 0);
  }
  ManageReply RunWith(PeriodScope scope, ManageOp op, json body, int64_t id) {
    auto manager = LocalPeriodManager(std::move(scope), clock_);
    ManageRequest r;
    r.op = op;
    r.id = id;
    r.body = std::move(body);
    return RunManage(r, *manager, clock_.NowMs());
  }
  std::unique_ptr<storage::PeriodStore> Store() {
    return std::move(storage::PeriodStore::Open(db_)).value();
  }

  obsmon::testing::ScratchDir scratch_;
  std::string db_;
  FakeClock clock_{kT0};
};

TEST_F(ManageApiTest, StartListStopAPeriod) {
  auto started =
      Api(ManageOp::kStartPeriod, {{"component", "shop"}, {"days", 3}, {"note", "release 2.1"}});
  ASSERT_EQ(started.status, 201) << started.error;
  auto stored = *Store()->Periods("shop");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].start_ms, kT0);
  EXPECT_EQ(stored[0].end_ms, kT0 + 3 * kDay);
  EXPECT_EQ(stored[0].objective_percent, 99.0);  // the config's objective
  EXPECT_EQ(stored[0].note, "release 2.1");
  EXPECT_EQ(started.data["id"], stored[0].id);
  EXPECT_EQ(started.data["start"], "2025-10-14T00:00:00.000Z");
  EXPECT_EQ(started.data["state"], "active");

  auto list = Api(ManageOp::kListPeriods, nullptr);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.data.size(), 1u);
  EXPECT_EQ(list.data[0]["planned_end_ms"], kT0 + 3 * kDay);

  clock_.Advance(5 * 3'600'000);
  auto stopped = Api(ManageOp::kStopPeriod, {{"component", "shop"}});
  ASSERT_EQ(stopped.status, 200) << stopped.error;
  EXPECT_EQ(Store()->Periods("shop")->at(0).stopped_ms, kT0 + 5 * 3'600'000);
  auto again = Api(ManageOp::kStopPeriod, {{"component", "shop"}});
  EXPECT_EQ(again.status, 404) << again.error;
}

TEST_F(ManageApiTest, FieldsAreCheckedByName) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"component", "shop"}, {"dayz", 3}}, "unknown field 'dayz' (known: component, days,"},
      {{{"days", 3}}, "field 'component': required"},
      {{{"component", "shop"}, {"days", "3"}}, "field 'days': must be a whole number of days"},
      {{{"component", "shop"}, {"days", 2.5}}, "field 'days': must be a whole number of days"},
      {{{"component", 7}}, "field 'component': must be a string"},
      {{{"component", "shop"}, {"objective", "high"}}, "field 'objective': must be a number"},
      {{{"component", "shop"}, {"days", 400}}, "--days must be between 1 and 366"},
      // Its end would print as "10000-01-06T00:00:00.000Z", which nothing reads back (fresh
      // eyes, stop 67).
      {{{"component", "shop"}, {"start", "9999-12-30T00:00:00Z"}, {"days", 7}},
       "--start and --days: the period would end after 9999-12-31T23:59:59.999Z"},
      {{{"component", "shp"}}, "unknown component 'shp' in obsmon.yml (known: shop)"},
  };
  for (const auto& [body, message] : cases) {
    auto reply = Api(ManageOp::kStartPeriod, body);
    EXPECT_EQ(reply.status, 400) << body.dump();
    EXPECT_EQ(reply.error.substr(0, message.size()), message) << reply.error;
  }
  auto reply = Api(ManageOp::kAddWindow, {{"component", "shop"}, {"from", "now"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.error, "field 'reason': required");
  reply = Api(ManageOp::kEditWindow, {{"reason", nullptr}}, 1);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.error, "field 'reason': must be a string");
  reply = Api(ManageOp::kEditWindow, {{"component", "shop"}}, 1);
  EXPECT_EQ(reply.error.substr(0, 25), "unknown field 'component'");
  EXPECT_TRUE(Store()->Periods("")->empty());
  EXPECT_TRUE(Store()->MaintenanceWindows("")->empty());
}

// The same refusal over HTTP as from the CLI, word for word (after the CLI's "obsmon maintenance
// add: " and newline), for each rule of period_actions.h.
TEST_F(ManageApiTest, RefusalsAreTheClis) {
  ObserveStartArgs period;
  period.target.db_path = db_;
  period.component = "shop";
  period.days = 3;
  std::ostringstream out, err;
  ASSERT_EQ(CmdObserveStart(period, clock_, out, err), 0) << err.str();
  struct Case {
    json body;
    MaintenanceAddArgs args;
  };
  auto args = [&](std::string component, std::string from, std::string to, std::string weekly,
                  std::string duration, std::string tz) {
    MaintenanceAddArgs a;
    a.target.db_path = db_;
    a.component = component;
    a.from = from;
    a.to = to;
    a.weekly = weekly;
    a.duration = duration;
    a.time_zone = tz;
    a.reason = "r";
    return a;
  };
  const std::vector<Case> cases = {
      {{{"component", "shop"}, {"from", "2025-10-16"}, {"to", "2025-10-15"}, {"reason", "r"}},
       args("shop", "2025-10-16", "2025-10-15", "", "", "")},
      {{{"component", "shop"}, {"from", "2025-10-16"}, {"to", "2035-10-16"}, {"reason", "r"}},
       args("shop", "2025-10-16", "2035-10-16", "", "", "")},
      {{{"component", "shp"}, {"from", "2025-10-16"}, {"to", "2025-10-17"}, {"reason", "r"}},
       args("shp", "2025-10-16", "2025-10-17", "", "", "")},
      {{{"component", "shop"}, {"weekly", "sun 25:00"}, {"duration", "2h"}, {"reason", "r"}},
       args("shop", "", "", "sun 25:00", "2h", "")},
      {{{"component", "shop"}, {"weekly", "sun 02:00"}, {"duration", "8d"}, {"reason", "r"}},
       args("shop", "", "", "sun 02:00", "8d", "")},
      {{{"component", "shop"},
        {"weekly", "sun 02:00"},
        {"duration", "2h"},
        {"timezone", "Mars/Olympus"},
        {"reason", "r"}},
       args("shop", "", "", "sun 02:00", "2h", "Mars/Olympus")},
      {{{"component", "shop"}, {"from", "2025-10-16"}, {"reason", "r"}},
       args("shop", "2025-10-16", "", "", "", "")},
  };
  for (const Case& c : cases) {
    std::ostringstream cli_out, cli_err;
    ASSERT_EQ(CmdMaintenanceAdd(c.args, clock_, cli_out, cli_err), 2) << c.body.dump();
    auto reply = ApiWithoutConfig(ManageOp::kAddWindow, c.body);
    EXPECT_EQ(reply.status, 400) << c.body.dump();
    EXPECT_EQ("obsmon maintenance add: " + reply.error + "\n", cli_err.str()) << c.body.dump();
  }
  EXPECT_TRUE(Store()->MaintenanceWindows("")->empty());
}

TEST_F(ManageApiTest, AddEditDeleteAWindow) {
  auto added = Api(ManageOp::kAddWindow, {{"component", "shop"},
                                          {"weekly", "sun 02:00"},
                                          {"duration", "2h"},
                                          {"timezone", "Europe/Berlin"},
                                          {"reason", "patching"}});
  ASSERT_EQ(added.status, 201) << added.error;
  const int64_t id = added.data["id"];
  auto stored = *Store()->MaintenanceWindow(id);
  EXPECT_EQ(stored.recurrence, "weekly sun 02:00");
  EXPECT_EQ(stored.time_zone, "Europe/Berlin");
  EXPECT_EQ(stored.duration_ms, 2 * 3'600'000);
  EXPECT_EQ(stored.start_ms, kT0);
  EXPECT_EQ(stored.end_ms, kMaintenanceNoEndMs);
  EXPECT_TRUE(added.data["to"].is_null());

  auto edited = Api(ManageOp::kEditWindow, {{"duration", "90m"}, {"until", "2025-12-01"}}, id);
  ASSERT_EQ(edited.status, 200) << edited.error;
  EXPECT_EQ(edited.data["was"]["duration_ms"], 2 * 3'600'000);
  stored = *Store()->MaintenanceWindow(id);
  EXPECT_EQ(stored.duration_ms, 90 * 60'000);
  EXPECT_EQ(stored.end_ms, 1'764'547'200'000);  // 2025-12-01T00:00:00Z
  EXPECT_EQ(stored.reason, "patching");

  auto wrong = Api(ManageOp::kEditWindow, {{"to", "2025-12-01"}}, id);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.error, "--to is for a one-off window; a recurring one ends with --until");
  EXPECT_EQ(Api(ManageOp::kEditWindow, {{"reason", "x"}}, id + 100).status, 404);

  auto deleted = Api(ManageOp::kDeleteWindow, nullptr, id);
  ASSERT_EQ(deleted.status, 200) << deleted.error;
  EXPECT_EQ(deleted.data["reason"], "patching");
  EXPECT_FALSE(Store()->MaintenanceWindow(id).ok());
  EXPECT_EQ(Api(ManageOp::kDeleteWindow, nullptr, id).status, 404);
}

TEST_F(ManageApiTest, WindowsOfTheConfigAreChangedThere) {
  auto id = Store()->EnsureDeclaredMaintenance(
      obsmon::testing::Window("shop", kT0, kT0 + 3'600'000, "declared", "config", kT0));
  ASSERT_TRUE(id.ok());
  auto edit = Api(ManageOp::kEditWindow, {{"reason", "mine now"}}, *id);
  EXPECT_EQ(edit.status, 400);
  EXPECT_NE(edit.error.find("is declared in the config: change it there"), std::string::npos);
  EXPECT_EQ(Api(ManageOp::kDeleteWindow, nullptr, *id).status, 400);
  EXPECT_EQ(Store()->MaintenanceWindow(*id)->reason, "declared");
}

TEST_F(ManageApiTest, ChangesAreDescribedForTheLog) {
  ManageRequest r;
  r.op = ManageOp::kDeleteWindow;
  r.client = "10.0.0.5";
  EXPECT_EQ(DescribeChange(r, {{"id", 3}, {"component", "shop"}}),
            "maintenance window #3 of shop deleted over HTTP by 10.0.0.5");
  r.op = ManageOp::kStartPeriod;
  EXPECT_EQ(DescribeChange(r, {{"id", 1}, {"component", "shop"}}),
            "observation period #1 of shop started over HTTP by 10.0.0.5");
}

// A damaged database is the server's trouble, not the request's: 500, which a client does not
// take for its own mistake (fresh eyes, stop 72: a maintenance table with a page overwritten
// answered POST and GET with 400 bad_data).
TEST_F(ManageApiTest, ADamagedDatabaseIsAServerError) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Api(ManageOp::kAddWindow, {{"component", "shop"},
                                         {"from", "2025-10-16T0" + std::to_string(i) + ":00:00Z"},
                                         {"to", "2025-10-16T0" + std::to_string(i) + ":30:00Z"},
                                         {"reason", "r"}})
                  .status,
              201);
  }
  int64_t root = 0, page_size = 0;
  {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    root = db.execAndGet("SELECT rootpage FROM sqlite_schema WHERE name = 'maintenance'").getInt64();
    page_size = db.execAndGet("PRAGMA page_size").getInt64();
  }  // the last connection closed: the WAL is checkpointed into the file
  ASSERT_GT(root, 1);
  {
    std::fstream file(db_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp((root - 1) * page_size);
    const std::string garbage(static_cast<size_t>(page_size), '\xa5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    ASSERT_TRUE(file.good());
  }
  const ManageReply added = Api(ManageOp::kAddWindow, {{"component", "shop"},
                                                       {"from", "2025-10-17T00:00:00Z"},
                                                       {"to", "2025-10-17T01:00:00Z"},
                                                       {"reason", "after the damage"}});
  EXPECT_EQ(added.status, 500) << added.error;
  EXPECT_NE(added.error.find("malformed"), std::string::npos) << added.error;
  const ManageReply listed = Api(ManageOp::kListWindows, nullptr);
  EXPECT_EQ(listed.status, 500) << listed.error;
}

}  // namespace
}  // namespace obsmon
