// Alertmanager v2 and webhook payloads as receivers see them, with auth, against a local server.
#include "alerts/http_notifier.h"
#include "tests/support/scratch_dir.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/test_http_server.h"

namespace obsmon::alerts {
namespace {

using nlohmann::json;

// A receiver on 127.0.0.1:<ephemeral> recording requests; responds with `status`.
class Receiver {
 public:
  Receiver() {
    server_.server().Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      paths.push_back(req.path);
      bodies.push_back(req.body);
      auth.push_back(req.get_header_value("Authorization"));
      res.status = status;
    });
    EXPECT_GT(server_.Start(), 0);
  }
  std::string Url() const { return server_.Url(""); }
  std::mutex mu_;
  std::vector<std::string> paths, bodies, auth;
  int status = 200;

 private:
  testing::TestHttpServer server_;
};

OutgoingAlert Firing(const std::string& instance) {
  OutgoingAlert a;
  a.labels = Labels{
      {"alertname", "CarbonComponentDown"}, {"severity", "critical"}, {"instance", instance}};
  a.annotations = Labels{{"summary", "down"}};
  a.starts_at_ms = 1'760'400'120'000;
  a.ends_at_ms = 1'760'400'360'000;
  a.generator_url = "http://obsmon/graph";
  return a;
}

TEST(HttpNotifierTest, Rfc3339) {
  EXPECT_EQ(Rfc3339(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(1'760'400'120'250), "2025-10-14T00:02:00.250Z");
}

TEST(HttpNotifierTest, AlertmanagerV2PayloadWithBearerTokenFromFile) {
  Receiver r;
  ::obsmon::testing::ScratchDir scratch;
  const std::filesystem::path token = scratch.File("token");
  std::ofstream(token) << "s3cret\n";
  ReceiverConfig c;
  c.name = "am";
  c.url = r.Url() + "/";
  c.bearer_token_file = token.string();
  AlertmanagerNotifier n(c);
  auto bodies = n.Render({Firing("a"), Firing("b")});
  ASSERT_EQ(bodies.size(), 1u);
  ASSERT_TRUE(n.Deliver(bodies[0]).ok());
  ASSERT_EQ(r.paths.size(), 1u);
  EXPECT_EQ(r.paths[0], "/api/v2/alerts");
  EXPECT_EQ(r.auth[0], "Bearer s3cret");
  json j = json::parse(r.bodies[0]);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["labels"]["alertname"], "CarbonComponentDown");
  EXPECT_EQ(j[0]["annotations"]["summary"], "down");
  EXPECT_EQ(j[0]["startsAt"], "2025-10-14T00:02:00.000Z");
  EXPECT_EQ(j[0]["endsAt"], "2025-10-14T00:06:00.000Z");
  EXPECT_EQ(j[0]["generatorURL"], "http://obsmon/graph");
}

// Issue 12 audit: Render() must not throw (type_error 316) on a label value that is not UTF-8:
// it runs on the rule evaluator's thread, where an exception ends the process.
TEST(HttpNotifierTest, InvalidUtf8LabelIsReplacedNotThrown) {
  ReceiverConfig c;
  c.name = "am";
  c.url = "http://127.0.0.1:9/";
  AlertmanagerNotifier n(c);
  OutgoingAlert a = Firing("a");
  a.labels.Set("path", std::string("/var/\xff"));
  std::vector<std::string> bodies;
  ASSERT_NO_THROW(bodies = n.Render({a}));
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(json::parse(bodies[0])[0]["labels"]["path"], "/var/\xEF\xBF\xBD");
}

TEST(HttpNotifierTest, WebhookPayloadGroupsByAlertnameWithBasicAuthFromEnv) {
  Receiver r;
  ::setenv("OBSMON_TEST_HOOK_PW", "pw", 1);
  ReceiverConfig c;
  c.name = "ops";
  c.url = r.Url() + "/hook";
  c.basic_username = "obsmon";
  c.basic_password_env = "OBSMON_TEST_HOOK_PW";
  WebhookNotifier n(c, "http://obsmon:9950");
  OutgoingAlert resolved = Firing("b");
  resolved.resolved = true;
  OutgoingAlert other = Firing("c");
  other.labels.Set("alertname", "Other");
  auto bodies = n.Render({Firing("a"), resolved, other});
  ASSERT_EQ(bodies.size(), 2u);  // CarbonComponentDown and Other
  ASSERT_TRUE(n.Deliver(bodies[0]).ok());
  EXPECT_EQ(r.paths[0], "/hook");
  EXPECT_EQ(r.auth[0], "Basic b2JzbW9uOnB3");  // base64("obsmon:pw")
  json j = json::parse(r.bodies[0]);
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["status"], "firing");  // one of the two still fires
  EXPECT_EQ(j["receiver"], "ops");
  EXPECT_EQ(j["groupKey"], "{}:{alertname=\"CarbonComponentDown\"}");
  EXPECT_EQ(j["groupLabels"], json({{"alertname", "CarbonComponentDown"}}));
  EXPECT_EQ(j["commonLabels"],
            json({{"alertname", "CarbonComponentDown"}, {"severity", "critical"}}));
  EXPECT_EQ(j["commonAnnotations"], json({{"summary", "down"}}));
  EXPECT_EQ(j["externalURL"], "http://obsmon:9950");
  ASSERT_EQ(j["alerts"].size(), 2u);
  EXPECT_EQ(j["alerts"][0]["status"], "firing");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(j["alerts"][1]["status"], "resolved");
  EXPECT_EQ(j["alerts"][1]["endsAt"], "2025-10-14T00:06:00.000Z");
  EXPECT_EQ(j["alerts"][0]["fingerprint"].get<std::string>().size(), 16u);
  ::unsetenv("OBSMON_TEST_HOOK_PW");
}

// An annotation common to a group's alerts has one value in all of them, as in Alertmanager's
// webhook: a summary whose template expanded empty in one alert and not in another is not
// common (a copy-on-write change once kept it as "": fresh eyes, stop 54).
TEST(HttpNotifierTest, AnAnnotationEmptyInOneAlertOfTheGroupIsNotCommon) {
  ReceiverConfig c;
  c.name = "ops";
  c.url = "http://127.0.0.1:9/hook";
  WebhookNotifier n(c, "http://obsmon:9950");
  OutgoingAlert empty = Firing("a");
  empty.annotations = Labels();
  empty.annotations.SetAllowingEmpty("summary", "");
  empty.annotations.SetAllowingEmpty("runbook", "r");
  OutgoingAlert full = Firing("b");
  full.annotations.SetAllowingEmpty("runbook", "r");
  for (const auto& order : {std::vector{empty, full}, std::vector{full, empty}}) {
    auto bodies = n.Render(order);
    ASSERT_EQ(bodies.size(), 1u);
    json j = json::parse(bodies[0]);
    EXPECT_EQ(j["commonAnnotations"], json({{"runbook", "r"}})) << j.dump();
  }
}

// A plain webhook pages a person: it gets the firing, a reminder every repeat_interval and the
// resolution, not every resend_delay resend (75 s apart in issue 14's run), and not a re-page
// after a restart (the last send is persisted in the alert).
TEST(HttpNotifierTest, WebhookGetsStateChangesAndRepeatIntervalsNotEveryResend) {
  ReceiverConfig c;
  c.name = "ops";
  c.url = "http://127.0.0.1:1/hook";
  c.repeat_interval_ms = 4 * 3'600'000LL;
  WebhookNotifier n(c, "http://obsmon:9950");
  const int64_t fired = 1'760'400'120'000;
  auto send = [&](int64_t at, int64_t previously, bool resolved = false) {
    OutgoingAlert a = Firing("a");
    a.starts_at_ms = fired;
    a.sent_at_ms = at;
    a.previously_sent_at_ms = previously;
    a.resolved = resolved;
    a.ends_at_ms = resolved ? fired + 5 * 3'600'000LL : at + 240'000;
    return n.Render({a}).size();
  };
  const int64_t m = 60'000;
  EXPECT_EQ(send(fired, 0), 1u);                        // fires
  EXPECT_EQ(send(fired + m, fired), 0u);                // resend
  EXPECT_EQ(send(fired + 239 * m, fired + 238 * m), 0u);
  EXPECT_EQ(send(fired + 240 * m, fired + 239 * m), 1u);  // 4h: a reminder
  EXPECT_EQ(send(fired + 241 * m, fired + 240 * m), 0u);
  EXPECT_EQ(send(fired + 300 * m, fired + 299 * m, true), 1u);  // resolved at 5h
  EXPECT_EQ(send(fired + 301 * m, fired + 300 * m, true), 0u);  // resolved, resent
  // An alert from before a restart, resent after it: its last send is known, no page.
  EXPECT_EQ(send(fired + 10 * m, fired + 2 * m), 0u);
}

TEST(HttpNotifierTest, ErrorsAreStatusesWithoutSecrets) {
  Receiver r;
  r.status = 503;
  ::setenv("OBSMON_TEST_TOKEN", "topsecret", 1);
  ReceiverConfig c;
  c.name = "am";
  c.url = r.Url();
  c.bearer_token_env = "OBSMON_TEST_TOKEN";
  AlertmanagerNotifier n(c);
  Status s = n.Deliver("[]");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.message(), "am: status 503");
  r.status = 400;
  Status bad = n.Deliver("[]");
  EXPECT_TRUE(bad.IsInvalidArgument());
  EXPECT_EQ(bad.message().find("topsecret"), std::string::npos);
  // Nothing listening: Unavailable.
  ReceiverConfig gone = c;
  gone.url = "http://127.0.0.1:1";
  gone.timeout_ms = 500;
  AlertmanagerNotifier down(gone);
  Status d = down.Deliver("[]");
  EXPECT_EQ(d.code(), Status::Code::kUnavailable);
  EXPECT_EQ(d.message().find("topsecret"), std::string::npos);
  ::unsetenv("OBSMON_TEST_TOKEN");
}

}  // namespace
}  // namespace obsmon::alerts
