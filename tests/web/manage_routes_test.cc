// The routes of /api/v1/periods and /api/v1/maintenance in the real HTTP server on 127.0.0.1:0
// against a fake backend that records what reached it: which operation each method and path
// means, 405 with Allow, bad ids, the list filter, JSON errors with their position, nesting and
// size bounds, auth, and who may change anything without auth (MayChange). A refused request must
// never reach the backend.
#include "web/manage_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "web/http_server.h"

namespace obsmon {
namespace {

class RecordingBackend final : public ApiBackend {
 public:
  std::string MetricsText() override { return ""; }
  nlohmann::json Components() override { return nlohmann::json::array(); }
  std::optional<nlohmann::json> ComponentJson(const std::string&) override { return std::nullopt; }
  std::optional<int64_t> ObjectiveWindowMs(const std::string&) override { return std::nullopt; }
  Result<HttpBody> Report(const ReportQuery&) override { return Status::NotFound("none"); }
  ManageReply Manage(const ManageRequest& request) override {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(request);
    return reply;
  }
  std::mutex mu;
  std::vector<ManageRequest> seen;
  ManageReply reply{200, nlohmann::json{{"ok", true}}, ""};
};

class ManageRoutesTest : public ::testing::Test {
 protected:
  void Start(HttpAuthOptions auth = {}) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.auth = auth;
    server_ = std::make_unique<HttpServer>(options, backend_, clock_);
    ASSERT_TRUE(server_->Start().ok());
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }
  static std::string Error(const httplib::Result& res) {
    return nlohmann::json::parse(res->body, nullptr, false).value("error", "<no error field>");
  }
  size_t Seen() {
    std::lock_guard<std::mutex> lock(backend_.mu);
    return backend_.seen.size();
  }
  ManageRequest Last() {
    std::lock_guard<std::mutex> lock(backend_.mu);
    return backend_.seen.back();
  }

  FakeClock clock_;
  RecordingBackend backend_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ManageRoutesTest, EachMethodAndPathIsOneOperation) {
  Start();
  auto c = Client();
  ASSERT_EQ(c.Get("/api/v1/periods?component=shop")->status, 200);
  EXPECT_EQ(Last().op, ManageOp::kListPeriods);
  EXPECT_EQ(Last().component, "shop");
  ASSERT_EQ(
      c.Post("/api/v1/periods", R"({"component":"shop","days":3})", "application/json")->status,
      200);
  EXPECT_EQ(Last().op, ManageOp::kStartPeriod);
  EXPECT_EQ(Last().body, nlohmann::json::parse(R"({"component":"shop","days":3})"));
  ASSERT_EQ(c.Post("/api/v1/periods/stop", R"({"component":"shop"})", "application/json")->status,
            200);
  EXPECT_EQ(Last().op, ManageOp::kStopPeriod);
  ASSERT_EQ(c.Get("/api/v1/maintenance")->status, 200);
  EXPECT_EQ(Last().op, ManageOp::kListWindows);
  EXPECT_EQ(Last().component, "");
  ASSERT_EQ(c.Post("/api/v1/maintenance", R"({"component":"shop"})", "application/json")->status,
            200);
  EXPECT_EQ(Last().op, ManageOp::kAddWindow);
  ASSERT_EQ(c.Patch("/api/v1/maintenance/42", R"({"reason":"r"})", "application/json")->status,
            200);
  EXPECT_EQ(Last().op, ManageOp::kEditWindow);
  EXPECT_EQ(Last().id, 42);
  EXPECT_EQ(Last().body["reason"], "r");
  ASSERT_EQ(c.Delete("/api/v1/maintenance/7")->status, 200);
  EXPECT_EQ(Last().op, ManageOp::kDeleteWindow);
  EXPECT_EQ(Last().id, 7);
  EXPECT_EQ(Seen(), 7u);
}

TEST_F(ManageRoutesTest, BackendStatusAndErrorReachTheClient) {
  Start();
  backend_.reply = {400, nullptr, "--to: must be after --from"};
  auto res = Client().Post("/api/v1/maintenance", "{}", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Error(res), "--to: must be after --from");
  backend_.reply = {201, nlohmann::json{{"id", 5}}, ""};
  res = Client().Post("/api/v1/maintenance", "{}", "application/json");
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(nlohmann::json::parse(res->body)["data"]["id"], 5);
}

TEST_F(ManageRoutesTest, WrongMethodIs405WithAllow) {
  Start();
  auto c = Client();
  auto res = c.Delete("/api/v1/periods");
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD, POST");
  res = c.Get("/api/v1/periods/stop");
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  res = c.Put("/api/v1/maintenance/3", "{}", "application/json");
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "PATCH, DELETE");
  res = c.Get("/api/v1/maintenance/3");
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ManageRoutesTest, BadIdsAndPathsAre404AndParametersNamed) {
  Start();
  auto c = Client();
  for (const char* path :
       {"/api/v1/maintenance/abc", "/api/v1/maintenance/0", "/api/v1/maintenance/-1",
        "/api/v1/maintenance/1234567890123456789", "/api/v1/maintenance/", "/api/v1/periods/9"}) {
    auto res = c.Delete(path);
    EXPECT_EQ(res->status, 404) << path;
  }
  auto res = c.Get("/api/v1/periods?compnent=shop");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(Error(res).find("unknown parameter 'compnent'"), std::string::npos) << Error(res);
  res = c.Get("/api/v1/maintenance?component=a&component=b");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(Error(res).find("'component' given more than once"), std::string::npos);
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ManageRoutesTest, BadJsonIsRefusedWithWhere) {
  Start();
  auto c = Client();
  auto res = c.Post("/api/v1/periods", "{\"component\": shop}", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(Error(res).find("body: invalid JSON"), std::string::npos) << Error(res);
  EXPECT_NE(Error(res).find("line 1, column 15"), std::string::npos) << Error(res);
  res = c.Post("/api/v1/maintenance", R"({"to":"2025-10-17","reason":"r","to":"2035-10-17"})",
               "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Error(res), "body: field 'to' given more than once");
  // The same key in two objects is no repetition (the backend refuses the nesting itself).
  ASSERT_EQ(
      c.Post("/api/v1/periods/stop", R"({"a":{"to":1},"b":{"to":2}})", "application/json")->status,
      200);
  EXPECT_EQ(Seen(), 1u);
  res = c.Post("/api/v1/maintenance", "[1,2]", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Error(res), "body: must be a JSON object");
  res = c.Post("/api/v1/maintenance", std::string(5000, '[') + std::string(5000, ']'),
               "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(Error(res).find("nested deeper than"), std::string::npos) << Error(res);
  res = c.Post("/api/v1/maintenance", std::string(200'000, ' '), "application/json");
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(Seen(), 1u);  // only the well-formed body above
  // An empty body is an empty object: the backend names the missing fields.
  ASSERT_EQ(c.Post("/api/v1/periods/stop", "", "application/json")->status, 200);
  EXPECT_EQ(Last().body, nlohmann::json::object());
}

TEST_F(ManageRoutesTest, WithAuthEveryRouteNeedsCredentials) {
  HttpAuthOptions auth;
  auth.bearer_token = "s3cret";
  Start(auth);
  auto c = Client();
  EXPECT_EQ(c.Get("/api/v1/periods")->status, 401);
  EXPECT_EQ(c.Post("/api/v1/periods", "{}", "application/json")->status, 401);
  EXPECT_EQ(c.Delete("/api/v1/maintenance/1")->status, 401);
  c.set_bearer_token_auth("wrong");
  EXPECT_EQ(c.Patch("/api/v1/maintenance/1", "{}", "application/json")->status, 401);
  EXPECT_EQ(Seen(), 0u);
  c.set_bearer_token_auth("s3cret");
  EXPECT_EQ(c.Delete("/api/v1/maintenance/1")->status, 200);
  EXPECT_EQ(Seen(), 1u);
}

TEST(MayChangeTest, WithoutAuthOnlyLoopbackClients) {
  EXPECT_TRUE(MayChange(false, "127.0.0.1"));
  EXPECT_TRUE(MayChange(false, "127.1.2.3"));
  EXPECT_TRUE(MayChange(false, "::1"));
  EXPECT_TRUE(MayChange(false, "::ffff:127.0.0.1"));
  EXPECT_FALSE(MayChange(false, "10.0.0.5"));
  EXPECT_FALSE(MayChange(false, "::ffff:10.0.0.5"));
  EXPECT_FALSE(MayChange(false, "fe80::1"));
  EXPECT_FALSE(MayChange(false, "1127.0.0.1"));
  EXPECT_FALSE(MayChange(false, ""));
  EXPECT_TRUE(MayChange(true, "10.0.0.5"));
}

}  // namespace
}  // namespace obsmon
