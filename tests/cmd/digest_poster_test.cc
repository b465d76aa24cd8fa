// Issue 15, item 3: the promotion issue fills itself. A 7-day period (started at 06:36) of a
// component with a GitHub digest destination, stepped hour by hour on a FakeClock (no sleep):
// Day 1 .. Day 7 comments and the final assessment reach a loopback fake of GitHub's
// "create an issue comment" endpoint exactly once each, in order, across a restart (new poster,
// outbox and store on the same database) and a receiver outage (503 for a day and a half), and
// each comment's figures are those of the period report's day row (figures checked by hand for
// Day 3). Then the body shapes of Slack, Teams and a template webhook against their fakes.
#include "cmd/obsmon/digest_poster.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "alerts/outbox.h"
#include "core/time_format.h"
#include "render/report_format.h"
#include "report/periods.h"
#include "storage/alert_store.h"
#include "storage/period_store.h"
#include "tests/report/uptime_oracle.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"
#include "tests/support/test_http_server.h"

namespace obsmon {
namespace {

using namespace obsmon::uptime_oracle;  // NOLINT: test vocabulary
using nlohmann::json;

struct Received {
  std::string method, path, authorization, accept, api_version, user_agent, content_type, body;
};

// A loopback receiver that records every request and answers `status` (503 during an outage).
class FakeReceiver {
 public:
  FakeReceiver() {
    server_.server().Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      const int status = status_.load();
      if (status < 300) {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back({req.method, req.path, req.get_header_value("Authorization"),
                             req.get_header_value("Accept"),
                             req.get_header_value("X-GitHub-Api-Version"),
                             req.get_header_value("User-Agent"),
                             req.get_header_value("Content-Type"), req.body});
      } else {
        ++refused_;
      }
      res.status = status;
      res.set_content(status < 300 ? R"({"id": 1})" : R"({"message": "unavailable"})",
                      "application/json");
    });
    port_ = server_.Start();
  }
  std::string Url(const std::string& path) const { return server_.Url(path); }
  void SetStatus(int status) { status_ = status; }
  std::vector<Received> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int refused() const { return refused_.load(); }
  int port() const { return port_; }

 private:
  testing::TestHttpServer server_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::atomic<int> status_{201};
  std::atomic<int> refused_{0};
  int port_ = 0;
};

int64_t At(const char* rfc3339) { return *ParseTimestamp(rfc3339); }

class DigestPosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(receiver_.port(), 0);
    std::ofstream(scratch_.File("token")) << "ghp_secret123\n";
    // A health probe every minute (20 ms, valid 90 s); down 10:36-11:06 on Day 3 (2026-10-16).
    WriteBatch batch;
    for (int64_t ts = from_ - kMinute; ts < to_ + kHour; ts += kMinute) {
      const bool down = ts >= from_ + 2 * kDay + 4 * kHour && ts < from_ + 2 * kDay + 4 * kHour +
                                                                       30 * kMinute;
      batch.runs.push_back(MakeRun("health", ts, !down, 90 * kSecond, "status 503", 0.02));
    }
    FakeClock writer_clock(to_ + kDay);
    testing::WriteThroughWriter(path_, writer_clock, std::move(batch));
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    PeriodRecord p;
    p.component = "carbon";
    p.start_ms = from_;
    p.end_ms = to_;
    p.objective_percent = 99.5;
    auto id = (*store)->AddPeriod(p);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    period_id_ = *id;
  }

  DigestDestination Github() const {
    DigestDestination d;
    d.kind = DigestDestination::Kind::kGithub;
    d.repo = "owner/name";
    d.issue = 42;
    d.token_file = scratch_.File("token");
    d.api_url = receiver_.Url("");
    d.id = "github:owner/name#42";
    d.timeout_ms = 2000;
    return d;
  }

  // What obsmon runs: the poster and the outbox over the store, on the fake clock.
  struct Daemon {
    std::unique_ptr<storage::AlertStore> store;
    std::unique_ptr<alerts::DigestNotifier> notifier;
    std::unique_ptr<alerts::Outbox> outbox;
    std::unique_ptr<DigestPoster> poster;
  };
  Daemon StartDaemon() {
    Daemon d;
    auto store = storage::AlertStore::Open(path_);
    EXPECT_TRUE(store.ok());
    d.store = std::move(*store);
    d.notifier = std::make_unique<alerts::DigestNotifier>(
        DigestPoster::ReceiverName("carbon", Github()), Github());
    alerts::OutboxOptions oo;
    oo.clock = &clock_;
    oo.store = d.store.get();
    oo.notifiers = {d.notifier.get()};
    d.outbox = std::make_unique<alerts::Outbox>(oo);
    DigestTarget t;
    t.component = "carbon";
    t.objective.uptime_percent = 99.5;
    t.health_probes = {"health"};
    t.destination = Github();
    t.notifier = d.notifier.get();
    d.poster = std::make_unique<DigestPoster>(path_, d.store.get(), std::vector<DigestTarget>{t});
    return d;
  }

  // The Day N comment as `obsmon observe report --day N --format markdown` prints it.
  std::string DayComment(int day) {
    PeriodReportRequest req;
    req.db_path = path_;
    req.component = "carbon";
    req.period_id = period_id_;
    req.objective.uptime_percent = 99.5;
    req.health_probes = {"health"};
    req.format = "markdown";
    req.day = day;
    req.now_ms = to_ + 2 * kDay;
    auto body = RenderPeriodReport(req);
    EXPECT_TRUE(body.ok()) << body.status().ToString();
    return body.ok() ? body->body : "";
  }

  testing::ScratchDir scratch_;
  std::string path_ = scratch_.File("obsmon.db");
  FakeReceiver receiver_;
  int64_t from_ = At("2026-10-14T06:36:00Z");
  int64_t to_ = from_ + 7 * kDay;
  int64_t period_id_ = 0;
  FakeClock clock_{from_};
};

TEST_F(DigestPosterTest, SevenDaysAndTheFinalAssessmentOnceEachAcrossARestartAndAnOutage) {
  auto daemon = std::make_unique<Daemon>(StartDaemon());
  for (int64_t now = from_; now <= to_ + 6 * kHour; now += kHour) {
    clock_.SetWall(now);
    if (now == from_ + 4 * kDay) receiver_.SetStatus(503);  // Day 5 and half of Day 6: down
    if (now == from_ + 5 * kDay + 12 * kHour) receiver_.SetStatus(201);
    if (now == from_ + 3 * kDay + 3 * kHour) {
      daemon.reset();  // restart: everything rebuilt on the same database
      daemon = std::make_unique<Daemon>(StartDaemon());
    }
    if (now == from_ + 2 * kDay + 2 * kHour) continue;  // a tick missed (obsmon busy): no harm
    auto n = daemon->poster->Tick(now);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    daemon->outbox->DeliverDue();
  }
  // The restart at Day 4 03:00 and a second poster on the same store enqueue nothing more.
  auto again = daemon->poster->Tick(to_ + 7 * kHour);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_GT(receiver_.refused(), 0);  // the outage was seen, and retried

  const auto got = receiver_.Requests();
  ASSERT_EQ(got.size(), 8u);  // Day 1 .. Day 7 and the final assessment, once each
  for (size_t i = 0; i < got.size(); ++i) {
    const Received& r = got[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/repos/owner/name/issues/42/comments");
    EXPECT_EQ(r.authorization, "Bearer ghp_secret123");
    EXPECT_EQ(r.accept, "application/vnd.github+json");
    EXPECT_EQ(r.api_version, "2022-11-28");
    EXPECT_FALSE(r.user_agent.empty());  // GitHub refuses requests without one
    EXPECT_EQ(r.content_type, "application/json");
    const json j = json::parse(r.body);
    ASSERT_TRUE(j.is_object());
    ASSERT_EQ(j.size(), 1u);
    ASSERT_TRUE(j["body"].is_string());
    const std::string body = j["body"];
    if (i < 7) {
      // In order, and exactly what `observe report --day N` prints.
      EXPECT_EQ(body.rfind(fmt::format("### Day {} (", i + 1), 0), 0u) << body;
      EXPECT_EQ(body, DayComment(static_cast<int>(i) + 1));
    } else {
      EXPECT_EQ(body.rfind("### Final Assessment (2026-10-21)", 0), 0u) << body;
      // 30 min down of 50m 24s allowed over 7 days at 99.5 %: PASS.
      EXPECT_NE(body.find("**PASS**"), std::string::npos) << body;
    }
  }
  // Day 3's figures by hand: 30 min down of 24 h (97.916 %), one incident at 10:36.
  const std::string day3 = json::parse(got[2].body)["body"];
  EXPECT_NE(day3.find("_Day 3 — 2026-10-16 06:36 → 2026-10-17 06:36 UTC_"), std::string::npos);
  EXPECT_NE(day3.find("- Uptime: 97.916 % (down 30m 00s, unknown 0ms)"), std::string::npos)
      << day3;
  EXPECT_NE(day3.find("  - 2026-10-16 10:36:00 UTC, 30m 00s: health: status 503"),
            std::string::npos)
      << day3;
}

TEST_F(DigestPosterTest, NothingBeforeTheFirstDayEnds) {
  Daemon d = StartDaemon();
  auto n = d.poster->Tick(from_ + kDay - 1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  n = d.poster->Tick(from_ + kDay);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

// A period that cannot be reported yet (its component has no stored run) is an error of that
// period only: the others are still posted.
TEST_F(DigestPosterTest, APeriodThatCannotBeReportedHoldsBackNoOther) {
  {
    auto store = storage::PeriodStore::Open(path_);
    ASSERT_TRUE(store.ok());
    PeriodRecord ghost;
    ghost.component = "ghost";
    ghost.start_ms = from_;
    ghost.end_ms = to_;
    ASSERT_TRUE((*store)->AddPeriod(ghost).ok());
  }
  Daemon d = StartDaemon();
  DigestTarget ghost;
  ghost.component = "ghost";
  ghost.destination = Github();
  ghost.notifier = d.notifier.get();
  DigestTarget carbon;
  carbon.component = "carbon";
  carbon.objective.uptime_percent = 99.5;
  carbon.destination = Github();
  carbon.notifier = d.notifier.get();
  DigestPoster poster(path_, d.store.get(), {ghost, carbon});
  auto n = poster.Tick(from_ + kDay);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("of ghost"), std::string::npos) << n.status().ToString();
  auto carbon_day1 = d.store->WasEnqueued(DigestPoster::OnceKey(period_id_, Github().id, "day1"));
  ASSERT_TRUE(carbon_day1.ok());
  EXPECT_TRUE(*carbon_day1);
}

TEST(DigestNotifierTest, SlackTeamsAndTemplateWebhookBodies) {
  FakeReceiver receiver;
  ASSERT_GT(receiver.port(), 0);
  alerts::DigestMessage m{"carbon", "day 3", "carbon: Day 3", "### Day 3\n- \"quoted\" & more"};
  DigestDestination slack;
  slack.kind = DigestDestination::Kind::kSlack;
  slack.url = receiver.Url("/services/T000/B000/XXXX");
  DigestDestination teams;
  teams.kind = DigestDestination::Kind::kTeams;
  teams.url = receiver.Url("/webhookb2/abc");
  DigestDestination hook;
  hook.kind = DigestDestination::Kind::kWebhook;
  hook.url = receiver.Url("/hook");
  hook.body_template = R"({"title": "{{title}}", "message": "{{text}}", "c": "{{component}}"})";
  for (const auto& d : {slack, teams, hook}) {
    alerts::DigestNotifier n("digest:carbon:x", d);
    ASSERT_TRUE(n.Deliver(n.Body(m)).ok());
  }
  const auto got = receiver.Requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, "/services/T000/B000/XXXX");
  EXPECT_EQ(json::parse(got[0].body), (json{{"text", m.markdown}}));
  EXPECT_EQ(got[1].path, "/webhookb2/abc");
  const json teams_body = json::parse(got[1].body);
  EXPECT_EQ(teams_body["type"], "message");
  ASSERT_EQ(teams_body["attachments"].size(), 1u);
  EXPECT_EQ(teams_body["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
  const json card = teams_body["attachments"][0]["content"];
  EXPECT_EQ(card["type"], "AdaptiveCard");
  EXPECT_EQ(card["body"][0]["type"], "TextBlock");
  EXPECT_EQ(card["body"][0]["text"], m.markdown);
  EXPECT_EQ(card["body"][0]["wrap"], true);
  EXPECT_EQ(got[2].path, "/hook");
  EXPECT_EQ(json::parse(got[2].body),
            (json{{"title", "carbon: Day 3"}, {"message", m.markdown}, {"c", "carbon"}}));
  for (const auto& r : got) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(r.authorization.empty());  // no token but GitHub's
  }
}

TEST(DigestNotifierTest, AnyRefusalIsRetriedNotDropped) {
  FakeReceiver receiver;
  receiver.SetStatus(404);
  DigestDestination d;
  d.kind = DigestDestination::Kind::kSlack;
  d.url = receiver.Url("/x");
  alerts::DigestNotifier n("digest:carbon:slack", d);
  const Status s = n.Deliver(n.Body({"carbon", "final", "t", "text"}));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.IsInvalidArgument()) << s.ToString();  // the outbox drops InvalidArgument rows
}

}  // namespace
}  // namespace obsmon
