// source/'s Reader against a fake store on loopback that answers /api/v1/query as the stores
// do: a range selector holds eval - range < t <= eval (VictoriaMetrics, Prometheus 3) or,
// closed on the left, eval - range <= t <= eval (Prometheus 2.x, measured on 2.42). A FakeClock
// drives the deadline.
// The truth is the list of samples the fake holds, not what the reader computed.
#include "source/store_reader.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <regex>

#include "core/run_span.h"
#include "report/report.h"
#include "tests/support/test_http_server.h"

namespace obsmon::source {
namespace {

constexpr TimestampMs kT0 = 1'760'400'000'000;  // on the hour

struct StoredSample {
  std::string metric;
  Labels labels;
  TimestampMs ts_ms;
  std::string value;  // as the API prints it
};

// "s.mmm" as the stores print a sample's time (no decimals on a whole second).
std::string TimeText(TimestampMs ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000);
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

class FakeStore {
 public:
  explicit FakeStore(FakeClock* clock = nullptr) : clock_(clock) {
    server_.server().Get("/api/v1/query", [this](const httplib::Request& req,
                                                 httplib::Response& res) { Answer(req, res); });
    port_ = server_.Start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Add(const std::string& metric, Labels labels, TimestampMs ts, std::string value) {
    std::lock_guard<std::mutex> lock(mu_);
    samples_.push_back({metric, std::move(labels), ts, std::move(value)});
  }
  std::vector<std::string> queries() {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_;
  }
  // The next answers: this status and body instead of the data.
  void FailWith(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_status_ = status;
    fail_body_ = std::move(body);
  }
  // Each request moves the fake clock this much (a slow store).
  void AdvancePerRequest(int64_t ms) { advance_ms_ = ms; }
  // Ranges closed on the left, as Prometheus 2.x's.
  void CloseRangesOnTheLeft() { left_closed_ = true; }

 private:
  void Answer(const httplib::Request& req, httplib::Response& res) {
    if (clock_ && advance_ms_ > 0) clock_->Advance(advance_ms_);
    std::lock_guard<std::mutex> lock(mu_);
    const std::string query = req.get_param_value("query");
    const std::string time = req.get_param_value("time");
    queries_.push_back(query + " @ " + time);
    if (fail_status_ != 0) {
      res.status = fail_status_;
      res.set_content(fail_body_, "application/json");
      return;
    }
    static const std::regex kQuery(R"(^([a-z_]+)\{(.*)\}\[(\d+)ms\]$)");
    static const std::regex kMatcher(R"(([a-z_]+)=\"([^\"]*)\")");
    std::smatch m;
    if (!std::regex_match(query, m, kQuery)) {
      res.status = 400;
      res.set_content(R"({"status":"error","errorType":"bad_data","error":"fake: bad query"})",
                      "application/json");
      return;
    }
    const std::string metric = m[1];
    const std::string matchers = m[2];
    const int64_t range = std::stoll(m[3]);
    const size_t dot = time.find('.');
    const TimestampMs eval = std::stoll(time.substr(0, dot)) * 1000 +
                             (dot == std::string::npos ? 0 : std::stoll(time.substr(dot + 1)));
    std::map<Labels, std::vector<const StoredSample*>> series;
    for (const auto& s : samples_) {
      const bool before = left_closed_ ? s.ts_ms < eval - range : s.ts_ms <= eval - range;
      if (s.metric != metric || before || s.ts_ms > eval) continue;
      bool match = true;
      for (auto it = std::sregex_iterator(matchers.begin(), matchers.end(), kMatcher);
           it != std::sregex_iterator(); ++it) {
        if (s.labels.Get((*it)[1].str()) != (*it)[2].str()) match = false;
      }
      if (match) series[s.labels].push_back(&s);
    }
    std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
    bool first = true;
    for (auto& [labels, points] : series) {
      std::sort(points.begin(), points.end(),
                [](const auto* a, const auto* b) { return a->ts_ms < b->ts_ms; });
      out += first ? "" : ",";
      first = false;
      out += R"({"metric":{"__name__":")" + metric + "\"";
      for (const auto& [k, v] : labels.pairs()) out += ",\"" + k + "\":\"" + v + "\"";
      out += R"(},"values":[)";
      for (size_t i = 0; i < points.size(); ++i) {
        out += (i ? "," : "") + std::string("[") + TimeText(points[i]->ts_ms) + ",\"" +
               points[i]->value + "\"]";
      }
      out += "]}";
    }
    out += "]}}";
    res.set_content(out, "application/json");
  }

  FakeClock* clock_;
  std::atomic<int64_t> advance_ms_{0};
  std::atomic<bool> left_closed_{false};
  testing::TestHttpServer server_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<StoredSample> samples_;
  std::vector<std::string> queries_;
  int fail_status_ = 0;
  std::string fail_body_;
};

Labels ObsmonLabels(const std::string& probe) {
  return Labels{{"component", "carbon"}, {"instance", "http://127.0.0.1:8080/health"},
                {"job", "carbon"}, {"probe", probe}};
}

// A run written as obsmon writes it: probe_success and probe_duration_seconds at its start.
void AddRun(FakeStore& store, const std::string& probe, TimestampMs ts, bool up, double seconds) {
  store.Add("probe_success", ObsmonLabels(probe), ts, up ? "1" : "0");
  store.Add("probe_duration_seconds", ObsmonLabels(probe), ts, fmt::format("{}", seconds));
}

SourceOptions Options(const FakeStore& store, FakeClock& clock) {
  SourceOptions o;
  o.url = store.url();
  o.clock = &clock;
  o.lookback_ms = 0;
  o.chunk_ms = 20 * 60'000;
  return o;
}

std::unique_ptr<storage::Reader> Open(SourceOptions o) {
  auto r = OpenStoreReader(std::move(o));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(StoreReaderTest, ChunkQueryCoversExactlyStartToEnd) {
  const ChunkQuery q = MakeChunkQuery("probe_success", R"(job="b")", kT0, kT0 + 7'200'000);
  EXPECT_EQ(q.query, R"(probe_success{job="b"}[7200000ms])");
  EXPECT_EQ(q.time, "1760407199.999");  // end - 1 ms: the samples start <= t < end
  EXPECT_EQ(MakeChunkQuery("m", "", 1000, 2001).time, "2.000");
}

class ChunkEdgeTest : public ::testing::TestWithParam<bool> {};

TEST_P(ChunkEdgeTest, ReadsEverySampleOnceAcrossChunkEdges) {
  FakeClock clock;
  FakeStore store;
  if (GetParam()) store.CloseRangesOnTheLeft();
  std::vector<TimestampMs> truth;
  // Every 7 s for an hour (not a divisor of the 20 min chunk), plus samples exactly on each
  // chunk edge, one a millisecond before and the window's first and last millisecond.
  for (TimestampMs t = kT0; t < kT0 + 3'600'000; t += 7000) truth.push_back(t);
  for (TimestampMs t : {kT0 + 1'200'000, kT0 + 1'199'999, kT0 + 2'400'000, kT0 + 2'400'001,
                        kT0 + 3'599'999}) {
    truth.push_back(t);
  }
  std::sort(truth.begin(), truth.end());
  truth.erase(std::unique(truth.begin(), truth.end()), truth.end());
  for (TimestampMs t : truth) AddRun(store, "health", t, true, 0.125);
  AddRun(store, "health", kT0 - 1, true, 0.125);            // before the window
  AddRun(store, "health", kT0 + 3'600'000, true, 0.125);    // its end is not in it
  auto reader = Open(Options(store, clock));
  ASSERT_NE(reader, nullptr);
  auto runs = reader->RunsOfRole("carbon", ProbeRole::kHealth, kT0, kT0 + 3'600'000);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  std::vector<TimestampMs> got;
  for (const auto& r : *runs) got.push_back(r.ts_ms);
  EXPECT_EQ(got, truth);
  // Three chunks, two metrics.
  EXPECT_EQ(store.queries().size(), 6u);
  // The samples themselves, before runs are made of them (which would hide a sample read twice:
  // one probe has one run per millisecond).
  auto samples = reader->Samples("probe_success", Labels{{"component", "carbon"}}, kT0,
                                 kT0 + 3'600'000);
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  std::vector<TimestampMs> sample_times;
  for (const auto& s : *samples) sample_times.push_back(s.ts_ms);
  EXPECT_EQ(sample_times, truth);
  for (const auto& q : store.queries()) {
    EXPECT_NE(q.find(R"({component="carbon"}[1200000ms])"), std::string::npos) << q;
  }
}

INSTANTIATE_TEST_SUITE_P(StoreReaderTest, ChunkEdgeTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? std::string("LeftClosedLikePrometheus2")
                                              : std::string("LeftOpenLikeVictoriaMetrics");
                         });

TEST(StoreReaderTest, RunsCarryDurationRoleValidityAndTheStoresReason) {
  FakeClock clock;
  FakeStore store;
  AddRun(store, "health", kT0, true, 0.25);
  AddRun(store, "health", kT0 + 15'000, false, 5.0);
  AddRun(store, "health", kT0 + 30'000, true, 0.5);
  AddRun(store, "e2e", kT0 + 1000, false, 2.0);
  // A success sample without its duration sample.
  store.Add("probe_success", ObsmonLabels("health"), kT0 + 45'000, "1");
  SourceOptions o = Options(store, clock);
  o.mapping.known["e2e"] = {ProbeRole::kIntegration, 300'000};
  auto reader = Open(o);
  ASSERT_NE(reader, nullptr);
  auto runs = reader->ProbeRuns("carbon", kT0, kT0 + 60'000);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 5u);
  // Ordered by probe then time: e2e first.
  EXPECT_EQ((*runs)[0].key.probe, "e2e");
  EXPECT_EQ((*runs)[0].role, ProbeRole::kIntegration);
  EXPECT_EQ((*runs)[0].valid_for_ms, 450'000);  // 300 s x 1.5
  EXPECT_EQ((*runs)[0].reason, kStoreFailureReason);
  EXPECT_EQ((*runs)[1].key.probe, "health");
  EXPECT_EQ((*runs)[1].role, ProbeRole::kHealth);
  EXPECT_EQ((*runs)[1].valid_for_ms, 22'500);  // inferred: median spacing 15 s x 1.5
  EXPECT_EQ((*runs)[1].duration_seconds, 0.25);
  EXPECT_TRUE((*runs)[1].reason.empty());
  EXPECT_FALSE((*runs)[2].success);
  EXPECT_EQ((*runs)[2].duration_seconds, 5.0);
  auto durations =
      reader->SuccessDurations("carbon", ProbeRole::kHealth, kT0, kT0 + 60'000, {});
  ASSERT_TRUE(durations.ok());
  ASSERT_EQ(durations->size(), 1u);
  // The run without a duration sample is not a latency of 0.
  EXPECT_EQ((*durations)[0].seconds, (std::vector<double>{0.25, 0.5}));
  auto checks = reader->RunsOfRole("carbon", ProbeRole::kIntegration, kT0, kT0 + 60'000);
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ(checks->front().key.probe, "e2e");
  // One read for all of them.
  EXPECT_EQ(store.queries().size(), 2u);
}

TEST(StoreReaderTest, NaNAndStaleSamplesAreNotRuns) {
  FakeClock clock;
  FakeStore store;
  AddRun(store, "health", kT0, true, 0.1);
  store.Add("probe_success", ObsmonLabels("health"), kT0 + 15'000, "NaN");
  AddRun(store, "health", kT0 + 30'000, true, 0.1);
  auto reader = Open(Options(store, clock));
  ASSERT_NE(reader, nullptr);
  auto runs = reader->ProbeRuns("carbon", kT0, kT0 + 60'000);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].ts_ms, kT0 + 30'000);
}

TEST(StoreReaderTest, SpansAndTheReportAreThoseOfTheSameRunsInMemory) {
  FakeClock clock;
  FakeStore store;
  // Two hours of a 10 s probe with an outage, a gap and slow runs; a 60 s check failing once.
  std::vector<ProbeRun> truth;
  for (TimestampMs t = kT0 - 600'000; t < kT0 + 7'200'000; t += 10'000) {
    if (t >= kT0 + 3'000'000 && t < kT0 + 3'300'000) continue;  // obsmon was not looking
    const bool up = !(t >= kT0 + 1'000'000 && t < kT0 + 1'120'000);
    const double seconds = (t / 10'000) % 17 == 0 ? 1.75 : 0.05 + 0.001 * ((t / 10'000) % 13);
    AddRun(store, "health", t, up, seconds);
    truth.push_back({{"carbon", "health"}, ProbeRole::kHealth, t, up, seconds, 15'000,
                     up ? "" : kStoreFailureReason});
  }
  for (TimestampMs t = kT0; t < kT0 + 7'200'000; t += 60'000) {
    const bool up = t != kT0 + 1'800'000;
    AddRun(store, "e2e", t, up, 3.0);
    truth.push_back({{"carbon", "e2e"}, ProbeRole::kIntegration, t, up, 3.0, 90'000,
                     up ? "" : kStoreFailureReason});
  }
  SourceOptions o = Options(store, clock);
  o.lookback_ms = 3'600'000;
  o.mapping.known["health"] = {ProbeRole::kHealth, 10'000};
  o.mapping.known["e2e"] = {ProbeRole::kIntegration, 60'000};
  auto reader = Open(o);
  ASSERT_NE(reader, nullptr);
  const TimestampMs from = kT0, to = kT0 + 7'200'000;
  auto spans = reader->RunSpans("carbon", from, to);
  ASSERT_TRUE(spans.ok()) << spans.status().ToString();
  std::vector<RunSpan> want;
  for (const RunSpan& s : CompressRuns(truth)) {
    if (s.start_ms >= from) want.push_back(s);
  }
  // Plus each probe's last span starting before the window (only health has one).
  for (const RunSpan& s : CompressRuns(truth)) {
    if (s.start_ms < from && s.key.probe == "health") want.insert(want.begin() + 1, s);
  }
  std::sort(want.begin(), want.end(), [](const RunSpan& a, const RunSpan& b) {
    return std::tie(a.key, a.start_ms) < std::tie(b.key, b.start_ms);
  });
  EXPECT_EQ(*spans, want);

  Objective objective;
  objective.latency_p95_ms = 1000;
  auto from_store = BuildReport(*reader, "carbon", objective, from, to, to + 1, ReportOptions{});
  ASSERT_TRUE(from_store.ok()) << from_store.status().ToString();
  const Report memory = ComputeReport(truth, "carbon", objective, from, to, to + 1);
  EXPECT_EQ(from_store->totals.up_ms, memory.totals.up_ms);
  EXPECT_EQ(from_store->totals.down_ms, memory.totals.down_ms);
  EXPECT_EQ(from_store->totals.unknown_ms, memory.totals.unknown_ms);
  EXPECT_GT(from_store->totals.down_ms, 0);
  EXPECT_GT(from_store->totals.unknown_ms, 0);
  ASSERT_EQ(from_store->incidents.size(), memory.incidents.size());
  EXPECT_EQ(from_store->latency.p95_seconds, memory.latency.p95_seconds);
  EXPECT_EQ(from_store->latency.count, memory.latency.count);
  ASSERT_EQ(from_store->checks.size(), 1u);
  EXPECT_EQ(from_store->checks[0].failed, 1u);
  EXPECT_EQ(from_store->verdict, memory.verdict);
  EXPECT_EQ(from_store->budget.used_ms, memory.budget.used_ms);
}

// BuildReport reads a window's spans in chunks (storage::Reader::StreamRunSpans); from a
// store, whose window is loaded whole anyway, that must not load each day again.
TEST(StoreReaderTest, AReportOfThreeDaysReadsTheStoreOnce) {
  FakeClock clock;
  FakeStore store;
  for (TimestampMs t = kT0; t < kT0 + 3 * 86'400'000; t += 60'000) {
    AddRun(store, "health", t, (t / 60'000) % 97 != 0, 0.05);
  }
  SourceOptions o = Options(store, clock);
  o.mapping.known["health"] = {ProbeRole::kHealth, 60'000};
  const TimestampMs from = kT0, to = kT0 + 3 * 86'400'000;
  auto count = [&] {
    size_t n = 0;
    for (const std::string& q : store.queries()) n += q.rfind("probe_success", 0) == 0;
    return n;
  };
  auto once = Open(o);
  ASSERT_NE(once, nullptr);
  ASSERT_TRUE(once->RunSpans("carbon", from, to).ok());
  const size_t one_load = count();
  ASSERT_GT(one_load, 0u);
  auto reader = Open(o);
  ASSERT_NE(reader, nullptr);
  auto report = BuildReport(*reader, "carbon", Objective{}, from, to, to, ReportOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(count() - one_load, one_load);
  // One down minute in 97: 44 incidents in three days, each listed.
  EXPECT_EQ(report->incidents.size(), 44u);
}

TEST(StoreReaderTest, BlackboxSeriesAreMappedBySelectorAndProbeLabel) {
  FakeClock clock;
  FakeStore store;
  const Labels a{{"instance", "https://a.example"}, {"job", "blackbox"}};
  const Labels other{{"instance", "https://b.example"}, {"job", "other"}};
  for (TimestampMs t = kT0; t < kT0 + 600'000; t += 30'000) {
    store.Add("probe_success", a, t, "1");
    store.Add("probe_duration_seconds", a, t, "0.2");
    store.Add("probe_success", other, t, "0");
  }
  SourceOptions o = Options(store, clock);
  o.selector = R"({job="blackbox"})";
  o.mapping.probe_label = "instance";
  auto reader = Open(o);
  ASSERT_NE(reader, nullptr);
  auto runs = reader->ProbeRuns("site", kT0, kT0 + 600'000);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 20u);
  EXPECT_EQ(runs->front().key.component, "site");
  EXPECT_EQ(runs->front().key.probe, "https://a.example");
  EXPECT_EQ(runs->front().valid_for_ms, 45'000);
  for (const auto& q : store.queries()) EXPECT_NE(q.find(R"({job="blackbox"})"), std::string::npos);
}

TEST(StoreReaderTest, AnErrorAnswerNamesTheUrlTheStatusAndTheBody) {
  FakeClock clock;
  FakeStore store;
  store.FailWith(422, R"({"status":"error","errorType":"execution","error":"query too heavy"})");
  auto reader = Open(Options(store, clock));
  ASSERT_NE(reader, nullptr);
  auto runs = reader->RunSpans("carbon", kT0, kT0 + 60'000);
  ASSERT_FALSE(runs.ok());
  const std::string m = runs.status().message();
  EXPECT_NE(m.find(store.url() + "/api/v1/query"), std::string::npos) << m;
  EXPECT_NE(m.find("422"), std::string::npos) << m;
  EXPECT_NE(m.find("query too heavy"), std::string::npos) << m;

  store.FailWith(200, "<html>not the API</html>");
  auto reader2 = Open(Options(store, clock));
  auto garbage = reader2->RunSpans("carbon", kT0, kT0 + 60'000);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("not JSON"), std::string::npos);
  EXPECT_NE(garbage.status().message().find("<html>not the API"), std::string::npos);
}

TEST(StoreReaderTest, AnOversizedAnswerIsRefused) {
  FakeClock clock;
  FakeStore store;
  for (TimestampMs t = kT0; t < kT0 + 600'000; t += 1000) AddRun(store, "health", t, true, 0.1);
  SourceOptions o = Options(store, clock);
  o.max_answer_bytes = 4096;
  auto reader = Open(o);
  auto runs = reader->RunSpans("carbon", kT0, kT0 + 600'000);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(runs.status().message().find("larger than 4096 bytes"), std::string::npos)
      << runs.status().message();
  // With a bound on samples instead, the parser refuses and says to read smaller chunks.
  o.max_answer_bytes = 64 << 20;
  o.max_points_per_answer = 100;
  auto reader2 = Open(o);
  auto runs2 = reader2->RunSpans("carbon", kT0, kT0 + 600'000);
  ASSERT_FALSE(runs2.ok());
  EXPECT_NE(runs2.status().message().find("smaller chunk"), std::string::npos);
}

TEST(StoreReaderTest, ReadsStopAtTheDeadline) {
  FakeClock clock;
  FakeStore store(&clock);
  store.AdvancePerRequest(40'000);  // each answer takes 40 s of the fake clock
  SourceOptions o = Options(store, clock);
  o.deadline_ms = 100'000;
  auto reader = Open(o);
  auto runs = reader->RunSpans("carbon", kT0, kT0 + 3'600'000);  // 6 queries needed
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(runs.status().message().find("took longer than 100000 ms"), std::string::npos)
      << runs.status().message();
  EXPECT_EQ(store.queries().size(), 3u);  // 0, 40, 80 s; the fourth would start at 120 s
}

TEST(StoreReaderTest, AnUnreachableStoreIsAClearError) {
  FakeClock clock;
  SourceOptions o;
  o.url = "http://127.0.0.1:1";
  o.clock = &clock;
  auto reader = Open(o);
  auto runs = reader->RunSpans("carbon", kT0, kT0 + 60'000);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(runs.status().message().find("cannot read http://127.0.0.1:1/api/v1/query"),
            std::string::npos)
      << runs.status().message();
}

TEST(StoreReaderTest, BadUrlsAndSelectorsAreRefusedBeforeAnyRead) {
  for (const char* url : {"", "127.0.0.1:9090", "ftp://x", "http://", "http://h:1/?q=1"}) {
    SourceOptions o;
    o.url = url;
    EXPECT_FALSE(OpenStoreReader(o).ok()) << url;
  }
  // Every way a selector can be wrong is in tests/core/label_selector_test.cc.
  for (const char* sel : {"{job=\"a\"", "up{job=\"a\"}", "{a=\"b\"}[5m]", "{job=\"a}", "{}",
                          "{job=blackbox}"}) {
    SourceOptions o;
    o.url = "http://127.0.0.1:9090";
    o.selector = sel;
    EXPECT_FALSE(OpenStoreReader(o).ok()) << sel;
  }
  SourceOptions o;
  o.url = "http://127.0.0.1:9090/prefix/";
  EXPECT_TRUE(OpenStoreReader(o).ok());
}

}  // namespace
}  // namespace obsmon::source
