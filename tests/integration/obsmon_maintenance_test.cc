// Issue 15, "one truth everywhere", on the real binary: a target that goes down once inside a
// maintenance window and once outside it, and writes its own up/down schedule to a file (the
// independent truth). The overview JSON (/api/v1/components), the obsmon_component_* series on
// /metrics and `obsmon observe report --format json` must each agree with the truth (maintenance
// excluded) and with one another. Then alerts: a rule on the same kind of target fires inside a
// window and is suppressed (listed, marked, not sent to the webhook), and a still-firing alert is
// sent once the window is over, with no "resolved" of the episode that ended inside it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/duration.h"
#include "core/time_format.h"
#include "tests/integration/ops_support.h"
#include "tests/support/alert_webhook.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::MetricValue;
using testing::ScratchDir;
using testing::WaitUntil;
using testing::WallMs;
using testing::WriteWholeFile;

// How long `obsmon maintenance add` may take before a window that must begin after it returns:
// a sanitized process start on a loaded machine used up 4 s (flake audit #9).
constexpr int64_t kCliSlackMs = testing::kAddressSanitizer ? 8000 : 4000;


struct Span {
  int64_t start = 0, end = 0;
};

int64_t Overlap(Span a, Span b) {
  return std::max<int64_t>(0, std::min(a.end, b.end) - std::max(a.start, b.start));
}

// /health answers 503 inside its down spans and 200 elsewhere, looking up the wall clock at each
// answer. The spans are set once obsmon probes (Schedule, which writes them to `log`, one
// "start_ms end_ms" a line), so a slow start on a loaded machine cannot eat into them; and the
// target keeps every answer it gave, so the truth is what it answered, when (Answered).
class ScheduledTarget {
 public:
  explicit ScheduledTarget(std::string log) : log_(std::move(log)) {
    server_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      const int64_t now = WallMs();
      for (const Span& s : down_) {
        if (s.start <= now && now < s.end) res.status = 503;
      }
      answers_.push_back({now, res.status == 503});
      res.set_content(res.status == 503 ? "DOWN" : "OK", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, 5s);
  }
  ~ScheduledTarget() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

  void Schedule(std::vector<Span> down) {
    std::ofstream out(log_);
    for (const Span& s : down) out << s.start << " " << s.end << " down\n";
    std::lock_guard lock(mu_);
    down_ = std::move(down);
  }
  size_t Answers() {
    std::lock_guard lock(mu_);
    return answers_.size();
  }
  // When the first probe was answered (0 before any).
  int64_t FirstAnswerMs() {
    std::lock_guard lock(mu_);
    return answers_.empty() ? 0 : answers_.front().first;
  }
  // The down spans as answered: from the first 503 to the next 200 (or the last answer).
  std::vector<Span> Answered() {
    std::lock_guard lock(mu_);
    std::vector<Span> out;
    for (const auto& [ms, down] : answers_) {
      const bool open = !out.empty() && out.back().end == 0;
      if (down && !open) out.push_back({ms, 0});
      if (!down && open) out.back().end = ms;
    }
    if (!out.empty() && out.back().end == 0) out.back().end = answers_.back().first;
    return out;
  }

 private:
  const std::string log_;
  std::mutex mu_;
  std::vector<Span> down_;
  std::vector<std::pair<int64_t, bool>> answers_;  // (wall ms, answered 503)
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// The down spans the target was scheduled with.
std::vector<Span> ReadSchedule(const std::string& log) {
  std::vector<Span> out;
  std::ifstream in(log);
  Span s;
  std::string what;
  while (in >> s.start >> s.end >> what) out.push_back(s);
  return out;
}

// Each answered span lies within the scheduled one of the same rank (the target is honest).
void ExpectAnsweredWithinSchedule(const std::vector<Span>& answered,
                                  const std::vector<Span>& scheduled) {
  ASSERT_EQ(answered.size(), scheduled.size());
  for (size_t i = 0; i < answered.size(); ++i) {
    EXPECT_GE(answered[i].start, scheduled[i].start);
    EXPECT_LE(answered[i].start, scheduled[i].end);
  }
}

std::string UnixSeconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

// One refresh's figures as a view shows them.
struct Figures {
  double uptime = 0, coverage = 0, budget_left_s = 0;
  std::optional<double> down_s;  // not on /metrics
  int64_t at_ms = 0;             // when computed
};

class ObsmonMaintenanceTest : public ::testing::Test {
 protected:
  std::string Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{testing::kObsmonBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", dir_.File("obsmon.yml")});
    auto [code, out] = testing::RunCommand(argv, dir_.File("cli.out"));
    EXPECT_EQ(code, 0) << out;
    return out;
  }
  // When (wall ms) sqlite3, reading the live database beside the daemon, first saw an up run
  // that began after `after_ms` committed; 0 when none was within 30 s.
  int64_t UpRunCommittedAfter(int64_t after_ms) {
    int64_t seen_ms = 0;
    WaitUntil(
        [&] {
          auto [code, out] = testing::RunCommand(
              {"sqlite3", dir_.File("obsmon.db"),
               "SELECT count(*) FROM probe_runs WHERE success = 1 AND ts_ms > " +
                   std::to_string(after_ms)},
              dir_.File("sqlite3.out"));
          if (code != 0 || std::atoll(out.c_str()) == 0) return false;
          seen_ms = WallMs();
          return true;
        },
        30s);
    return seen_ms;
  }
  void WriteConfig(int target_port) {
    WriteWholeFile(dir_.File("obsmon.yml"),
                   "listen: 127.0.0.1:0\n"
                   "storage: {path: " + dir_.File("obsmon.db") + "}\n"
                   "uptime_refresh: 200ms\n"
                   "components:\n" +
                       testing::HealthComponentYaml("svc", target_port));
  }

  ScratchDir dir_;
};

nlohmann::json ComponentJson(httplib::Client& api) {
  auto res = api.Get("/api/v1/components");
  if (!res) return nullptr;
  auto all = nlohmann::json::parse(res->body, nullptr, false);
  if (all.is_discarded()) return nullptr;
  for (const auto& c : all["data"]) {
    if (c.value("name", "") == "svc") return c;
  }
  return nullptr;
}

// The API's figures and, from the same refresh (the computed_at before and after agree), /metrics',
// from a refresh computed at `not_before_ms` or later: the refresher is paced by its CPU share, so
// under a sanitizer its last refresh may be seconds old (CI once read one made 0.1 s after the
// last down span ended, before that span's last run was committed; see UpRunCommittedAfter).
std::pair<Figures, Figures> ApiAndMetrics(httplib::Client& api, nlohmann::json* api_json,
                                          int64_t not_before_ms) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int attempt = 0;; ++attempt) {
    const nlohmann::json before = ComponentJson(api);
    const std::string metrics = api.Get("/metrics")->body;
    const nlohmann::json after = ComponentJson(api);
    const auto computed_at = ParseTimestamp(before["window"]["computed_at"].get<std::string>());
    if (computed_at && *computed_at < not_before_ms &&
        std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    if (before["window"]["computed_at"] != after["window"]["computed_at"] && attempt < 50) continue;
    const auto& w = before["window"];
    Figures a{w["uptime_ratio"], w["coverage_ratio"], w["error_budget_remaining_seconds"],
              w["down_seconds"].get<double>(), 0};
    const std::string l = "component=\"svc\"";
    Figures m{*MetricValue(metrics, "obsmon_component_uptime_ratio", l),
              *MetricValue(metrics, "obsmon_component_coverage_ratio", l),
              *MetricValue(metrics, "obsmon_component_error_budget_remaining_seconds", l),
              std::nullopt, 0};
    *api_json = before;
    return {a, m};
  }
}

TEST_F(ObsmonMaintenanceTest, OverviewMetricsAndPeriodReportAgreeWithTheTruth) {
  ScheduledTarget target(dir_.File("target.log"));
  WriteConfig(target.port());
  Cli({"observe", "start", "svc", "--days", "1"});
  int port = 0;
  auto obsmon = testing::StartObsmon(dir_.File("obsmon.yml"), dir_.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] { return target.Answers() >= 3; }, 20s)) << obsmon->Output();
  // The schedule starts once obsmon probes; the window is added beside the running daemon (as
  // a user does), before the first span begins: 4 s for the CLI, 8 s sanitized (flake audit #9).
  const int64_t lead = WallMs() + kCliSlackMs - 4000;
  const std::vector<Span> down = {{lead + 4500, lead + 7500},     // inside maintenance
                                  {lead + 10000, lead + 12000}};  // outside
  const Span maintenance{lead + 4000, lead + 8500};
  target.Schedule(down);
  Cli({"maintenance", "add", "svc", "--from", UnixSeconds(maintenance.start), "--to",
       UnixSeconds(maintenance.end), "--reason", "planned restart"});
  ASSERT_LT(WallMs(), maintenance.start) << "`obsmon maintenance add` took too long";
  std::this_thread::sleep_for(std::chrono::milliseconds(lead + 13500 - WallMs()));

  // The truth, from the target's own answers: down outside maintenance only.
  const std::vector<Span> truth = target.Answered();
  ExpectAnsweredWithinSchedule(truth, ReadSchedule(dir_.File("target.log")));
  ASSERT_EQ(truth.size(), 2u);

  // A refresh made once the first up run after the last down span is committed, seen with
  // sqlite3 beside the daemon: from then on down and budget no longer move. (A fixed second
  // after the span was not enough: the group commit waits up to storage.commit_interval, 1 s,
  // and CI read a refresh that saw the span's last down run but not the up run after it.)
  const int64_t up_committed_ms = UpRunCommittedAfter(truth[1].start);
  ASSERT_GT(up_committed_ms, 0) << "no up run after the last down span was committed";
  httplib::Client api("127.0.0.1", port);
  nlohmann::json api_json;
  auto [from_api, from_metrics] = ApiAndMetrics(api, &api_json, up_committed_ms);
  const auto report =
      nlohmann::json::parse(Cli({"observe", "report", "svc", "--format", "json"}), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  int64_t truth_down = 0, truth_down_in_maintenance = 0;
  for (const Span& s : truth) {
    truth_down_in_maintenance += Overlap(s, maintenance);
    truth_down += (s.end - s.start) - Overlap(s, maintenance);
  }
  const int64_t period_from = report["window"]["from_ms"], period_to = report["window"]["to_ms"];
  const int64_t excluded = maintenance.end - maintenance.start;
  const double allowed_s = std::llround(0.005 * static_cast<double>(period_to - period_from -
                                                                    excluded)) / 1000.0;
  const double truth_left_s = allowed_s - truth_down / 1000.0;
  // The target's answers and obsmon's runs differ by the request's latency at each transition.
  const double slack_s = 0.25;

  // The report against the truth.
  const auto& u = report["uptime"];
  EXPECT_NEAR(u["down_ms"].get<double>() / 1000.0, truth_down / 1000.0, slack_s) << report.dump();
  EXPECT_EQ(u["excluded_ms"].get<int64_t>(), excluded);
  EXPECT_NEAR(report["error_budget"]["left_seconds"].get<double>(), truth_left_s, slack_s);
  EXPECT_EQ(report["error_budget"]["allowed_ms"].get<int64_t>(), std::llround(allowed_s * 1000));

  // The overview JSON: the same window, the same figures.
  const auto& w = api_json["window"];
  EXPECT_EQ(w["period_id"], report["period_id"]) << api_json.dump();
  EXPECT_EQ(w["from"], report["window"]["from"]);
  EXPECT_NEAR(*from_api.down_s, truth_down / 1000.0, slack_s);
  EXPECT_NEAR(from_api.budget_left_s, truth_left_s, slack_s);
  // Down and budget no longer move once the target is up for good: equal to the millisecond.
  EXPECT_NEAR(*from_api.down_s, u["down_ms"].get<double>() / 1000.0, 0.0011);
  EXPECT_NEAR(from_api.budget_left_s, report["error_budget"]["left_seconds"].get<double>(), 0.0011);
  // Uptime and coverage move with time: carry the API's figures to the report's instant (the
  // target is up and probed all along in between: up and known time grow by the elapsed time).
  // Slack: at a refresh, the runs of the group commit's wait (storage.commit_interval) and the
  // last interval (200 ms, HealthComponentYaml) may not be committed yet, so the refresh sees
  // that tail as unknown and the later report as up (0.69 s once under the sanitizers).
  const double tail_s = (StorageConfig{}.commit_interval_ms + 200) / 1000.0;
  const int64_t api_at = *ParseTimestamp(w["computed_at"].get<std::string>());
  const int64_t report_at = report["window"]["now_ms"];
  const double dt = (report_at - api_at) / 1000.0;
  ASSERT_GE(dt, 0);
  const double denominator_api = (api_at - period_from - excluded) / 1000.0;
  const double known_api = from_api.coverage * denominator_api;
  const double up_api = from_api.uptime * known_api;
  const double up_report = u["up_ms"].get<double>() / 1000.0;
  const double known_report = up_report + u["down_ms"].get<double>() / 1000.0;
  EXPECT_NEAR(up_api + dt, up_report, tail_s);
  EXPECT_NEAR(known_api + dt, known_report, tail_s);
  // The ratio moves with that same tail: up time missing from both up and known by e <= tail_s
  // shifts up/known by e * down / (known * (known - e)). (A fixed 0.01 was tighter than the
  // two checks above allow: a full run under load saw 0.018 with a 9.4 s known and 2 s down.)
  const double down_report = known_report - up_report;
  const double ratio_tolerance =
      tail_s * down_report / (known_report * std::max(known_report - tail_s, 1.0)) + 0.001;
  EXPECT_NEAR((up_api + dt) / (known_api + dt), u["uptime_ratio"].get<double>(), ratio_tolerance);
  EXPECT_NEAR((known_api + dt) / (denominator_api + dt), u["coverage_ratio"].get<double>(),
              tail_s / denominator_api);
  // And against the truth: uptime = 1 - down / known.
  EXPECT_NEAR(from_api.uptime, 1.0 - (truth_down / 1000.0) / known_api, 0.035);

  // /metrics: the very figures of the API's refresh.
  EXPECT_DOUBLE_EQ(from_metrics.uptime, from_api.uptime);
  EXPECT_DOUBLE_EQ(from_metrics.coverage, from_api.coverage);
  EXPECT_DOUBLE_EQ(from_metrics.budget_left_s, from_api.budget_left_s);

  std::printf(
      "truth: down %.3f s outside maintenance (%.3f s inside, excluded), budget left %.3f s\n"
      "report: down %.3f s, budget left %.3f s, uptime %.5f, coverage %.5f (made %.3f s later)\n"
      "api:    down %.3f s, budget left %.3f s, uptime %.5f, coverage %.5f\n"
      "metrics:                budget left %.3f s, uptime %.5f, coverage %.5f\n",
      truth_down / 1000.0, truth_down_in_maintenance / 1000.0, truth_left_s,
      u["down_ms"].get<double>() / 1000.0, report["error_budget"]["left_seconds"].get<double>(),
      u["uptime_ratio"].get<double>(), u["coverage_ratio"].get<double>(), dt, *from_api.down_s,
      from_api.budget_left_s, from_api.uptime, from_api.coverage, from_metrics.budget_left_s,
      from_metrics.uptime, from_metrics.coverage);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// The text of the overview card's element marked data-figure="<figure>" (or data-criterion's
// class); "" when absent.
std::string PageFigure(const std::string& card, const std::string& figure) {
  const std::string key = "data-figure=\"" + figure + "\">";
  const size_t at = card.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return card.substr(from, card.find('<', from) - from);
}

// "99.688 %" as the reports write a ratio: rounded down to three decimals of a percent.
std::string PercentDown(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f %%", std::floor(ratio * 100'000.0 + 1e-9) / 1000.0);
  return buf;
}

// Issue 15, item 5: the overview page (GET /) and the badge of a component whose target fails on
// a known schedule. The page is read as HTML and its figures compared with /api/v1/components of
// the same refresh (the page's report is computed at that refresh's instant), with the JSON
// report, and with the uptime and budget computed here from the target's own log.
TEST_F(ObsmonMaintenanceTest, OverviewPageAndBadgeShowTheFiguresOfTheApiReportAndTruth) {
  ScheduledTarget target(dir_.File("target.log"));
  WriteConfig(target.port());
  const int64_t period_start_before = WallMs();
  Cli({"observe", "start", "svc", "--days", "1"});
  // The period begins 1.5 s before obsmon's first run, so coverage stays under 99 % for the
  // 150 s after it and the verdict is INSUFFICIENT DATA all through this test. Without the pause
  // the gap was whatever starting obsmon took: CI once had it so short (about 60 ms) that the
  // page's refresh said INSUFFICIENT DATA and the report made a moment later IN PROGRESS.
  std::this_thread::sleep_for(1500ms);
  int port = 0;
  auto obsmon = testing::StartObsmon(dir_.File("obsmon.yml"), dir_.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] { return target.Answers() >= 3; }, 20s)) << obsmon->Output();
  const int64_t first_answer = target.FirstAnswerMs();
  const int64_t lead = WallMs();
  target.Schedule({{lead + 500, lead + 2500}});
  std::this_thread::sleep_for(std::chrono::milliseconds(lead + 4000 - WallMs()));

  // The truth: one outage of about 2 s, as the target answered it.
  const std::vector<Span> truth = target.Answered();
  ExpectAnsweredWithinSchedule(truth, ReadSchedule(dir_.File("target.log")));
  ASSERT_EQ(truth.size(), 1u);
  const int64_t up_committed_ms = UpRunCommittedAfter(truth[0].start);
  ASSERT_GT(up_committed_ms, 0) << "no up run after the outage was committed";

  httplib::Client api("127.0.0.1", port);
  // The page and the API from one refresh (computed_at before and after the page agree), made
  // once the first up run after the outage was committed (see the other test).
  std::string page;
  nlohmann::json before, after;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int attempt = 0; attempt < 50;) {
    before = ComponentJson(api);
    auto res = api.Get("/");
    after = ComponentJson(api);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    page = res->body;
    const auto computed_at = ParseTimestamp(before["window"]["computed_at"].get<std::string>());
    if (computed_at && *computed_at < up_committed_ms &&
        std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    ++attempt;
    if (before["window"]["computed_at"] == after["window"]["computed_at"]) break;
  }
  ASSERT_EQ(before["window"]["computed_at"], after["window"]["computed_at"]);
  const auto report_res = api.Get("/api/v1/components/svc/report?format=json");
  ASSERT_TRUE(report_res);
  const auto report = nlohmann::json::parse(report_res->body, nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  const size_t at = page.find("data-component=\"svc\"");
  ASSERT_NE(at, std::string::npos) << page;
  const std::string card = page.substr(at, page.find("</section>", at) - at);
  const auto& w = before["window"];

  // The same figures as the API's refresh, as the reports write them.
  EXPECT_EQ(PageFigure(card, "uptime"), PercentDown(w["uptime_ratio"].get<double>())) << card;
  EXPECT_EQ(PageFigure(card, "coverage"), PercentDown(w["coverage_ratio"].get<double>()));
  const int64_t left_ms = std::llround(w["error_budget_remaining_seconds"].get<double>() * 1000);
  EXPECT_EQ(PageFigure(card, "budget"), HumanDurationMs(left_ms));
  // The JSON report (made a moment later): the budget no longer moves once the target is up.
  EXPECT_EQ(PageFigure(card, "budget"), HumanDurationMs(report["error_budget"]["left_ms"]));
  EXPECT_EQ(PageFigure(card, "verdict"), report["verdict"]["status"].get<std::string>());
  // INSUFFICIENT DATA, as the truth says: nothing was known from the period's start to the
  // target's first answer, and that is more than 1 % of the period so far.
  const int64_t report_at = report["window"]["evaluated_to_ms"].get<int64_t>();
  const double truth_unknown_share = static_cast<double>(first_answer - period_start_before) /
                                     static_cast<double>(report_at - period_start_before);
  ASSERT_GT(truth_unknown_share, 0.01) << "the test's premise: coverage under 99 %";
  EXPECT_EQ(report["verdict"]["status"], "INSUFFICIENT DATA");
  EXPECT_EQ(PageFigure(card, "day"), "Day 1 of 1");
  EXPECT_EQ(PageFigure(card, "incidents"), std::to_string(report["incidents"].size()));
  EXPECT_EQ(PageFigure(card, "critical_lines"), "0");

  // The budget is 0.5 % of one day (432 s) less the outage the target answered.
  const int64_t truth_down = truth[0].end - truth[0].start;
  EXPECT_EQ(PageFigure(card, "incidents"), "1");
  const double slack_ms = 250;  // the target's answers and obsmon's runs differ by the latency
  EXPECT_NEAR(static_cast<double>(left_ms), 432'000.0 - truth_down, slack_ms);
  const int64_t computed_at = *ParseTimestamp(w["computed_at"].get<std::string>());
  const double known_ms = w["coverage_ratio"].get<double>() *
                          static_cast<double>(computed_at - report["window"]["from_ms"].get<int64_t>());
  const double page_uptime = std::stod(PageFigure(card, "uptime")) / 100.0;
  EXPECT_NEAR(page_uptime, 1.0 - truth_down / known_ms, slack_ms / known_ms + 1e-5);
  // Uptime below the objective with budget left: not yet met, not failed; as the report says.
  EXPECT_NE(card.find("<li class=\"notyet\" data-criterion=\"uptime\">"), std::string::npos)
      << card;
  EXPECT_EQ(report["verdict"]["criteria"][0]["state"], "not yet");
  // The one day so far had down time; so has this hour.
  EXPECT_NE(card.find("<div class=\"bar days\"><i class=\"down\" title=\"Day 1 "),
            std::string::npos);
  EXPECT_NE(card.find("<i class=\"down\" title=\""), std::string::npos);
  EXPECT_NE(card.find("href=\"/api/v1/components/svc/report?format=html&amp;period=1\""),
            std::string::npos);

  // The badge: SVG, well-formed, the verdict; unknown components are 404.
  auto badge = api.Get("/api/v1/components/svc/badge.svg");
  ASSERT_TRUE(badge);
  EXPECT_EQ(badge->status, 200);
  EXPECT_EQ(badge->get_header_value("Content-Type"), "image/svg+xml; charset=utf-8");
  EXPECT_NE(badge->body.find(">svc</text>"), std::string::npos) << badge->body;
  const std::string verdict = report["verdict"]["status"];
  // (Its uptime is of the refresh it was asked at, which may be a later one than the page's.)
  EXPECT_NE(badge->body.find(">" + verdict + " "), std::string::npos)
      << badge->body;
  WriteWholeFile(dir_.File("badge.svg"), badge->body);
  if (std::system("command -v xmllint >/dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("xmllint --noout " + dir_.File("badge.svg")).c_str()), 0);
  }
  auto unknown = api.Get("/api/v1/components/nope/badge.svg");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// Issue 15, windows managed beside a running daemon: a recurring window (weekly, in a time
// zone), then edited, a one-off window added and deleted, the recurring one deleted. After each
// change `obsmon observe report --format json` and /api/v1/components must show the excluded
// time computed here by hand from the schedule. The zone is Etc/GMT-2 (a real TZif file, always
// UTC+2, so the hand computation is "local = UTC + 2 h"; DST is tested in
// tests/core/time_zone_test.cc). The target is always up, so the error budget left is exactly
// 0.5 % of (7 days - excluded): the API's figure checks the excluded time to the millisecond.
TEST_F(ObsmonMaintenanceTest, RecurringEditedAndDeletedWindowsShowInReportAndApi) {
  ScheduledTarget target(dir_.File("target.log"));
  WriteConfig(target.port());
  const int64_t now0 = WallMs() / 60'000 * 60'000;
  const int64_t period_from = now0 - 3 * 86'400'000LL;
  Cli({"observe", "start", "svc", "--start", UnixSeconds(period_from), "--days", "7"});
  int port = 0;
  auto obsmon = testing::StartObsmon(dir_.File("obsmon.yml"), dir_.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client api("127.0.0.1", port);
  // A report needs a stored run: wait for the first ones.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return testing::RunCommand({testing::kObsmonBinary, "observe", "report", "svc", "--config",
                                    dir_.File("obsmon.yml")},
                                   dir_.File("wait.out"))
                   .first == 0;
      },
      10s));

  // The occurrence: two days ago, at that instant's wall-clock time in UTC+2.
  const int64_t occurrence = now0 - 2 * 86'400'000LL;
  const int64_t local_s = occurrence / 1000 + 2 * 3600;
  const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  char weekly[32];
  std::snprintf(weekly, sizeof weekly, "%s %02lld:%02lld", kDays[(local_s / 86400 + 4) % 7],
                static_cast<long long>(local_s % 86400 / 3600),
                static_cast<long long>(local_s % 3600 / 60));
  // The next occurrence (in 5 days) is after the period's end (in 4 days): one in the period.

  const int64_t kWeekMs = 7 * 86'400'000LL;
  auto check = [&](int64_t excluded_ms, const std::string& step) {
    SCOPED_TRACE(step);
    const int64_t allowed = std::llround(0.005 * static_cast<double>(kWeekMs - excluded_ms));
    const auto report = nlohmann::json::parse(Cli({"observe", "report", "svc", "--format", "json"}),
                                              nullptr, false);
    ASSERT_FALSE(report.is_discarded());
    EXPECT_EQ(report["window"]["from_ms"].get<int64_t>(), period_from);
    EXPECT_EQ(report["uptime"]["excluded_ms"].get<int64_t>(), excluded_ms) << report.dump();
    EXPECT_EQ(report["error_budget"]["allowed_ms"].get<int64_t>(), allowed);
    // The daemon reads windows at every refresh (200 ms): the API follows within a few.
    nlohmann::json last;
    EXPECT_TRUE(WaitUntil(
        [&] {
          last = ComponentJson(api);
          return !last.is_null() && last["window"].is_object() &&
                 last["window"]["down_seconds"] == 0.0 &&
                 // null until the first run is stored (nothing known yet)
                 last["window"]["error_budget_remaining_seconds"].is_number() &&
                 std::abs(last["window"]["error_budget_remaining_seconds"].get<double>() -
                          allowed / 1000.0) < 0.0005;
        },
        5s))
        << "want budget left " << allowed / 1000.0 << " s; api: " << last.dump();
  };
  auto id_of = [](const std::string& out) {
    const auto at = out.find('#');
    return at == std::string::npos ? std::string() : out.substr(at + 1, out.find(' ', at) - at - 1);
  };

  check(0, "no window");
  const std::string weekly_id =
      id_of(Cli({"maintenance", "add", "svc", "--weekly", weekly, "--duration", "90m", "--timezone",
                 "Etc/GMT-2", "--from", UnixSeconds(period_from), "--reason", "weekly backups"}));
  ASSERT_FALSE(weekly_id.empty());
  check(90 * 60'000, "weekly window added");
  EXPECT_NE(Cli({"maintenance", "list", "svc"}).find(std::string(weekly) + " Etc/GMT-2"),
            std::string::npos);

  Cli({"maintenance", "edit", weekly_id, "--duration", "45m"});
  check(45 * 60'000, "weekly window shortened to 45m");

  const int64_t one_off = now0 - 86'400'000LL;
  const std::string one_off_id =
      id_of(Cli({"maintenance", "add", "svc", "--from", UnixSeconds(one_off), "--to",
                 UnixSeconds(one_off + 10 * 60'000), "--reason", "one-off"}));
  check(55 * 60'000, "one-off window added");
  Cli({"maintenance", "edit", one_off_id, "--to", UnixSeconds(one_off + 20 * 60'000)});
  check(65 * 60'000, "one-off window lengthened");
  Cli({"maintenance", "delete", one_off_id});
  check(45 * 60'000, "one-off window deleted");
  Cli({"maintenance", "delete", weekly_id});
  check(0, "weekly window deleted");

  // Refused beside the daemon too: a window longer than the period, an unknown component.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"maintenance", "add", "svc", "--from", "2026-01-01", "--to",
                                 "2036-01-01", "--reason", "ten years"},
        std::vector<std::string>{"maintenance", "add", "svx", "--from", "2026-01-01", "--to",
                                 "2026-01-02", "--reason", "typo"}}) {
    std::vector<std::string> argv{testing::kObsmonBinary};
    argv.insert(argv.end(), bad.begin(), bad.end());
    argv.insert(argv.end(), {"--config", dir_.File("obsmon.yml")});
    auto [code, out] = testing::RunCommand(argv, dir_.File("cli.out"));
    EXPECT_NE(code, 0) << out;
    EXPECT_TRUE(out.find("longer than observation period") != std::string::npos ||
                out.find("unknown component 'svx'") != std::string::npos)
        << out;
  }
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

// The WebDown alert as /api/v1/alerts lists it, or null.
nlohmann::json WebDown(httplib::Client& api) {
  auto res = api.Get("/api/v1/alerts");
  if (!res) return nullptr;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return nullptr;
  for (const auto& a : j["data"]["alerts"]) {
    if (a["labels"]["alertname"] == "WebDown") return a;
  }
  return nullptr;
}

TEST_F(ObsmonMaintenanceTest, AlertsOfAComponentInMaintenanceAreSuppressed) {
  ScheduledTarget target(dir_.File("target.log"));
  testing::AlertWebhook hook;
  WriteWholeFile(dir_.File("rules.yml"), R"(groups:
  - name: web
    interval: 1s
    rules:
      - alert: WebDown
        expr: up{job="svc"} == 0
        for: 1s
)");
  WriteWholeFile(dir_.File("obsmon.yml"),
                 "listen: 127.0.0.1:0\n"
                 "storage: {path: " + dir_.File("obsmon.db") + "}\n"
                 "uptime_refresh: 200ms\n"
                 "rule_files: [rules.yml]\n"
                 "alerting:\n"
                 "  evaluation_interval: 1s\n"
                 "  webhooks: [{name: ops, url: \"http://127.0.0.1:" +
                     std::to_string(hook.port()) + "/hook\"}]\n"
                 "  outbox: {backoff_initial: 100ms, backoff_max: 1s}\n"
                 "components:\n" + testing::HealthComponentYaml("svc", target.port()));
  int port = 0;
  auto obsmon = testing::StartObsmon(dir_.File("obsmon.yml"), dir_.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  httplib::Client api("127.0.0.1", port);
  ASSERT_TRUE(WaitUntil([&] { return target.Answers() >= 3; }, 20s)) << obsmon->Output();
  // The window is added beside the running daemon, before it begins.
  const int64_t lead = WallMs() + kCliSlackMs;
  const Span maintenance{lead, lead + 8000};
  Cli({"maintenance", "add", "svc", "--from", UnixSeconds(maintenance.start), "--to",
       UnixSeconds(maintenance.end), "--reason", "planned restart"});
  ASSERT_LT(WallMs(), lead) << "`obsmon maintenance add` took too long";
  // Down twice: once inside the window only (fires and resolves there: never notified), once
  // across its end (fires inside it: notified after it, then resolved).
  target.Schedule({{lead + 500, lead + 3000}, {lead + 4000, lead + 11000}});

  // Firing inside the window (the second episode): listed, marked, not sent.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto a = WebDown(api);
        return WallMs() > lead + 4000 && a.is_object() && a["state"] == "firing";
      },
      20s))
      << obsmon->Output();
  const nlohmann::json held = WebDown(api);
  EXPECT_EQ(held.value("suppressed", false), true) << held.dump();
  EXPECT_NE(held["suppressedBy"][0].get<std::string>().find("planned restart"), std::string::npos);
  ASSERT_LT(WallMs(), maintenance.end);
  EXPECT_TRUE(hook.Received("WebDown").empty());

  // After the window: told once it is over, then resolved; nothing of the first episode.
  ASSERT_TRUE(WaitUntil([&] { return hook.Received("WebDown").size() >= 2; }, 20s)) << obsmon->Output();
  const auto got = hook.Received("WebDown");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].status, "firing");
  EXPECT_GE(got[0].wall_ms, maintenance.end);
  EXPECT_LT(got[0].wall_ms, maintenance.end + 3000);  // the first evaluation after, plus delivery
  EXPECT_EQ(got[1].status, "resolved");
  EXPECT_GE(got[1].wall_ms, lead + 11000);
  std::printf("window ends at +%.3f s; firing received at +%.3f s, resolved at +%.3f s\n",
              (maintenance.end - lead) / 1000.0, (got[0].wall_ms - lead) / 1000.0,
              (got[1].wall_ms - lead) / 1000.0);
  // The report, beside the daemon, lists both episodes, and says each fired in the window
  // (they were listed as if they had paged, before stop 69): the first was never sent and the
  // second only once the window was over, as the webhook saw.
  const auto report = nlohmann::json::parse(
      Cli({"report", "svc", "--last", "1h", "--format", "json"}), nullptr, false);
  ASSERT_TRUE(report.is_object());
  std::vector<int64_t> fired;
  for (const auto& a : report["alerts_fired"]) {
    if (a["rule"] != "WebDown") continue;
    const int64_t at = a["fired_ms"].get<int64_t>();
    fired.push_back(at);
    const bool inside = maintenance.start <= at && at < maintenance.end;
    EXPECT_TRUE(inside) << "episodes are scheduled to fire inside the window: " << a.dump();
    ASSERT_EQ(a["in_maintenance"].is_object(), inside) << a.dump();
    if (inside) EXPECT_EQ(a["in_maintenance"]["reason"], "planned restart");
  }
  EXPECT_EQ(fired.size(), 2u) << report["alerts_fired"].dump();
  EXPECT_EQ(report["alerts_fired_not_listed"], 0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0);
}

}  // namespace
}  // namespace obsmon
