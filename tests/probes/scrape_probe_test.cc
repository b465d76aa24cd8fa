#include "probes/scrape_probe.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>

#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"
#include "tests/probes/raw_responder.h"
#include "tests/support/test_http_server.h"

namespace obsmon::probes {
namespace {

using namespace std::chrono_literals;

const Clock& RealClock() { return SystemClock::Instance(); }

Deadline In(std::chrono::milliseconds ms) { return Deadline{RealClock().SteadyNow() + ms}; }

ProbeSpec Spec() {
  ProbeSpec spec;
  spec.key = {"carbon", "metrics"};
  spec.kind = "scrape";
  spec.labels = Labels{{"job", "tta-staging-carbon"}};
  return spec;
}

std::unique_ptr<ScrapeProbe> MakeProbe(const std::string& url, ScrapeOptions options = {},
                                       RelabelRules rules = {}) {
  options.url = url;
  auto probe = ScrapeProbe::Create(Spec(), options, std::move(rules), RealClock());
  EXPECT_TRUE(probe.ok()) << probe.status().message();
  return probe.ok() ? std::move(probe).value() : nullptr;
}

const Sample* Find(const ProbeResult& r, const std::string& name) {
  for (const auto& s : r.samples) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

double Value(const ProbeResult& r, const std::string& name) {
  auto* s = Find(r, name);
  return s ? s->value : -1;
}

// A fetched body through Ingest, as a run that got it at once would (no network).
ProbeResult IngestWith(const std::string& body, RelabelRules rules, ScrapeOptions options = {}) {
  FakeClock clock;
  options.url = "http://127.0.0.1:9/metrics";
  auto created = ScrapeProbe::Create(Spec(), options, std::move(rules), clock);
  EXPECT_TRUE(created.ok()) << created.status().message();
  const SteadyTime start = clock.SteadyNow();
  return created.value()->Ingest(body, "text/plain; version=0.0.4", "", Deadline{start + 1s},
                                 start);
}

const char* kBody =
    "# HELP carbon_emissions_kg Emissions so far.\n"
    "# TYPE carbon_emissions_kg gauge\n"
    "carbon_emissions_kg{project=\"TTA-Staging\"} 1.5\n"
    "# TYPE go_goroutines gauge\n"
    "go_goroutines 12\n"
    "exported_thing{job=\"other\",instance=\"x:1\"} 7 1700000000000\n";

TEST(ScrapeProbeTest, IngestsSamplesWithTargetLabelsAndRecordsUpAsPrometheus) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request& req, httplib::Response& res) {
    EXPECT_NE(req.get_header_value("Accept").find("text/plain;version=0.0.4"), std::string::npos);
    res.set_content(kBody, "text/plain; version=0.0.4");
  });
  ASSERT_GT(server.Start(), 0);
  auto probe = MakeProbe(server.Url("/metrics"));
  const std::string instance = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(probe->Instance(), instance);

  auto r = probe->Run(In(2s));
  ASSERT_TRUE(r.success) << r.reason;
  const Labels target{{"job", "tta-staging-carbon"}, {"instance", instance}};
  auto* carbon = Find(r, "carbon_emissions_kg");
  ASSERT_NE(carbon, nullptr);
  EXPECT_EQ(
      carbon->labels,
      (Labels{{"job", "tta-staging-carbon"}, {"instance", instance}, {"project", "TTA-Staging"}}));
  EXPECT_EQ(carbon->value, 1.5);
  EXPECT_EQ(carbon->ts_ms, 0);  // no timestamp exposed: the run's time
  // Conflicting target labels move to exported_*, the exposed timestamp is honoured.
  auto* exported = Find(r, "exported_thing");
  ASSERT_NE(exported, nullptr);
  EXPECT_EQ(exported->labels.Get("job"), "tta-staging-carbon");
  EXPECT_EQ(exported->labels.Get("exported_job"), "other");
  EXPECT_EQ(exported->labels.Get("exported_instance"), "x:1");
  EXPECT_EQ(exported->ts_ms, 1700000000000);

  EXPECT_EQ(Find(r, "up")->labels, target);
  EXPECT_EQ(Value(r, "up"), 1);
  EXPECT_EQ(Value(r, "scrape_samples_scraped"), 3);
  EXPECT_EQ(Value(r, "scrape_samples_post_metric_relabeling"), 3);
  EXPECT_GT(Value(r, "scrape_duration_seconds"), 0);
  EXPECT_LT(Value(r, "scrape_duration_seconds"), 2);
  EXPECT_EQ(r.samples.size(), 3u + 4u);
}

// A target's own `up` and scrape_* samples would be written into series obsmon writes: the
// scrape's own (its target labels), or, for up{probe="h"}, the up{job, instance, probe} of a
// health probe h of the same target (fresh eyes, stop 34: `up{probe="h"} 0` marked h down). They
// are dropped and the run says so; an `up` with any other label set is the target's business.
TEST(ScrapeProbeTest, ScrapedSamplesPosingAsObsmonsOwnSeriesAreDropped) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "up 0\nup{probe=\"h\"} 0\nup{probe=\"h\",shard=\"1\"} 0\nscrape_duration_seconds 99\n"
        "scrape_duration_seconds{probe=\"h\"} 5\ngo_goroutines 12\n",
        "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  auto r = MakeProbe(server.Url("/metrics"))->Run(In(2s));
  ASSERT_TRUE(r.success) << r.reason;
  const std::string instance = "127.0.0.1:" + std::to_string(server.port());
  const Labels target{{"job", "tta-staging-carbon"}, {"instance", instance}};
  std::vector<std::pair<std::string, std::string>> got;
  for (const Sample& s : r.samples) got.push_back({s.name, s.labels.ToString()});
  Labels shard = target;
  shard.Set("probe", "h");
  shard.Set("shard", "1");
  Labels other_duration = target;
  other_duration.Set("probe", "h");
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"up", shard.ToString()},
                     {"scrape_duration_seconds", other_duration.ToString()},
                     {"go_goroutines", target.ToString()},
                     {"up", target.ToString()},
                     {"scrape_duration_seconds", target.ToString()},
                     {"scrape_samples_scraped", target.ToString()},
                     {"scrape_samples_post_metric_relabeling", target.ToString()}}));
  EXPECT_EQ(Value(r, "up"), 0);  // the first `up` found: the target's own up{probe,shard}
  EXPECT_EQ(r.samples[3].value, 1);  // the scrape's own up: it worked
  EXPECT_EQ(r.samples[4].value < 2, true);  // the measured duration, not the exposed 99
  EXPECT_EQ(Value(r, "scrape_samples_scraped"), 6);
  EXPECT_NE(r.detail.find("3 scraped sample(s) dropped"), std::string::npos) << r.detail;
}

TEST(ScrapeProbeTest, HonorLabelsKeepsTheExposedValues) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kBody, "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  ScrapeOptions options;
  options.honor_labels = true;
  auto r = MakeProbe(server.Url("/metrics"), options)->Run(In(2s));
  ASSERT_TRUE(r.success) << r.reason;
  auto* exported = Find(r, "exported_thing");
  EXPECT_EQ(exported->labels.Get("job"), "other");
  EXPECT_EQ(exported->labels.Get("instance"), "x:1");
  EXPECT_FALSE(exported->labels.Has("exported_job"));
}

TEST(ScrapeProbeTest, MetricRelabelKeepsDropsAndRewrites) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kBody, "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  RelabelRules rules;
  RuleSpec drop;
  drop.source_labels = {"__name__"};
  drop.regex = "go_.*";
  drop.action = Action::kDrop;
  rules.Add(Rule::Compile(drop).value());
  RuleSpec replace;
  replace.source_labels = {"project"};
  replace.regex = "TTA-(.*)";
  replace.target_label = "stage";
  replace.replacement = "${1}_env";
  rules.Add(Rule::Compile(replace).value());
  RuleSpec labeldrop;
  labeldrop.regex = "exported_.*";
  labeldrop.action = Action::kLabelDrop;
  rules.Add(Rule::Compile(labeldrop).value());
  auto r = MakeProbe(server.Url("/metrics"), {}, std::move(rules))->Run(In(2s));
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_EQ(Find(r, "go_goroutines"), nullptr);
  EXPECT_EQ(Find(r, "carbon_emissions_kg")->labels.Get("stage"), "Staging_env");
  EXPECT_FALSE(Find(r, "exported_thing")->labels.Has("exported_job"));
  EXPECT_EQ(Value(r, "scrape_samples_scraped"), 3);
  EXPECT_EQ(Value(r, "scrape_samples_post_metric_relabeling"), 2);
}

TEST(ScrapeProbeTest, ParsesOpenMetricsWhenTheTargetAnnouncesIt) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("# TYPE a gauge\na 2 1700000000.5\n# EOF\n",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8");
  });
  ASSERT_GT(server.Start(), 0);
  auto r = MakeProbe(server.Url("/metrics"))->Run(In(2s));
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_EQ(Find(r, "a")->ts_ms, 1700000000500);
}

// A target that streams 1 GB: reading stops at the body limit, well before the deadline, and the
// process never holds more than the limit.
TEST(ScrapeProbeTest, OneGigabyteBodyStopsAtTheSizeLimit) {
  testing::TestHttpServer server;
  std::atomic<size_t> sent{0};
  server.server().Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      static const std::string chunk = [] {
        std::string c;
        for (int i = 0; c.size() < (64 << 10); ++i) c += "m{i=\"" + std::to_string(i) + "\"} 1\n";
        return c;
      }();
      if (sent >= (1ull << 30)) {
        sink.done();
        return true;
      }
      sent += chunk.size();
      return sink.write(chunk.data(), chunk.size());
    });
  });
  ASSERT_GT(server.Start(), 0);
  ScrapeOptions options;
  options.body_size_limit = 4 << 20;
  auto probe = MakeProbe(server.Url("/metrics"), options);
  auto start = std::chrono::steady_clock::now();
  auto r = probe->Run(In(10s));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason.rfind("body size limit exceeded", 0), 0u) << r.reason;
  EXPECT_EQ(Value(r, "up"), 0);
  EXPECT_LT(took, 5s);
  EXPECT_LT(sent.load(), 1ull << 30);  // the server was cut off long before 1 GB
}

TEST(ScrapeProbeTest, GarbageIsAParseErrorWithALineNumber) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    std::mt19937 rng(3);
    std::string garbage = "ok_metric 1\n";
    for (int i = 0; i < 5000; ++i) garbage += static_cast<char>(rng() % 256);
    res.set_content(garbage, "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  auto r = MakeProbe(server.Url("/metrics"))->Run(In(2s));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason.rfind("parse error: line 2", 0), 0u) << r.reason;
  EXPECT_EQ(Value(r, "up"), 0);
  EXPECT_EQ(Find(r, "ok_metric"), nullptr);  // a failed scrape ingests nothing, as Prometheus
}

TEST(ScrapeProbeTest, NeverFinishingTargetEndsAtTheDeadline) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t offset, httplib::DataSink& sink) {
      if (offset == 0) {
        sink.write("a 1\n", 4);
        return true;
      }
      server.WaitStopped(3s);  // never sends the rest
      return false;
    });
  });
  ASSERT_GT(server.Start(), 0);
  ProbeSpec spec = Spec();
  spec.timeout_ms = 500;
  ScrapeOptions options;
  options.url = server.Url("/metrics");
  auto probe = ScrapeProbe::Create(spec, options, {}, RealClock());
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  auto start = std::chrono::steady_clock::now();
  auto r = (*probe)->Run(In(500ms));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.success);
  // The configured timeout, as the http probe says it (fresh eyes: "timeout after 0.999s" with
  // `timeout: 1s`; the read is cut a moment before the clock reaches the deadline).
  EXPECT_EQ(r.reason, "timeout after 500ms");
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(took, 450ms);
}

// As Prometheus's metrics_path default: a URL without a path scrapes /metrics, keeping its query;
// a URL with a path scrapes that path.
TEST(ScrapeProbeTest, AUrlWithoutAPathScrapesMetricsWithItsQuery) {
  testing::TestHttpServer server;
  std::vector<std::string> seen;
  server.server().Get(R"(/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    seen.push_back(req.path + (req.params.empty() ? "" : "?x=" + req.get_param_value("x")));
    res.set_content(kBody, "text/plain; version=0.0.4");
  });
  ASSERT_GT(server.Start(), 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  for (const std::string& url : {base, base + "?x=1", base + "/", base + "/other?x=2"}) {
    auto r = MakeProbe(url)->Run(In(2s));
    EXPECT_TRUE(r.success) << url << ": " << r.reason;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"/metrics", "/metrics?x=1", "/", "/other?x=2"}));
}

TEST(ScrapeProbeTest, AnUnusableUrlIsRefusedSayingWhy) {
  for (const auto& [url, why] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:9100/metrics", "url must start with http:// or https://"},
           {"ftp://h/metrics", "unsupported url scheme 'ftp'"},
           {"http://h:65536/metrics", "bad port '65536'"},
           {"http:///metrics", "missing host"}}) {
    ScrapeOptions options;
    options.url = url;
    auto probe = ScrapeProbe::Create(Spec(), options, {}, RealClock());
    ASSERT_FALSE(probe.ok()) << url;
    EXPECT_TRUE(probe.status().IsInvalidArgument()) << url;
    EXPECT_NE(probe.status().message().find(why), std::string::npos)
        << url << ": " << probe.status().message();
  }
}

// Issue 13, case 3: a body that arrived a moment before the deadline, or whose parse ran past
// it, was recorded as a success (1.25-1.69 s against a 0.9 s timeout). The deadline covers the
// whole run: Ingest, the half after the fetch, re-checks it.
TEST(ScrapeProbeTest, ABodyParsedPastTheDeadlineIsATimeoutNotASuccess) {
  FakeClock clock;
  ScrapeOptions options;
  options.url = "http://127.0.0.1:9/metrics";
  auto created = ScrapeProbe::Create(Spec(), options, {}, clock);
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto& probe = created.value();
  const SteadyTime start = clock.SteadyNow();
  const Deadline deadline{start + 900ms};

  auto in_time = probe->Ingest(kBody, "text/plain; version=0.0.4", "", deadline, start);
  EXPECT_TRUE(in_time.success) << in_time.reason;
  EXPECT_EQ(Value(in_time, "up"), 1);

  clock.Advance(1250);  // the fetch took 1.25 s; the body is all there
  auto late = probe->Ingest(kBody, "text/plain; version=0.0.4", "", deadline, start);
  EXPECT_FALSE(late.success);
  EXPECT_EQ(late.reason, "timeout after 1.25s (the body arrived; parsing it ran past the deadline)");
  EXPECT_EQ(Value(late, "up"), 0);
  EXPECT_EQ(Value(late, "scrape_samples_scraped"), 0);
  EXPECT_EQ(Value(late, "scrape_duration_seconds"), 1.25);
  EXPECT_EQ(Find(late, "carbon_emissions_kg"), nullptr) << "no sample of a failed scrape is kept";
}

// A scrape's samples wait whole for the writer, so what each label set holds is multiplied by
// the series of every scrape in flight: sets grown one label at a time held room for twice
// their pairs (2 x 40,000 series at 5 s: 123 MB of label pairs at the daemon's peak, stop 67).
TEST(ScrapeProbeTest, AScrapedSeriesHoldsNoRoomForLabelsItDoesNotUse) {
  const std::string body =
      "plain 1\n"
      "one{a=\"1\"} 2\n"
      "two{a=\"1\",b=\"2\"} 3\n"
      "five{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\"} 4\n"
      "clash{job=\"other\",z=\"9\"} 5\n";
  for (const bool with_rules : {false, true}) {
    SCOPED_TRACE(with_rules ? "with metric_relabel" : "without metric_relabel");
    RelabelRules rules;
    if (with_rules) {
      RuleSpec keep;
      keep.source_labels = {"__name__"};
      keep.regex = ".+";
      keep.action = Action::kKeep;
      rules.Add(Rule::Compile(keep).value());
    }
    auto r = IngestWith(body, std::move(rules));
    ASSERT_TRUE(r.success) << r.reason;
    // Each series' own labels plus job and instance (the clash's job kept as exported_job).
    const std::map<std::string, size_t> pairs = {
        {"plain", 2}, {"one", 3}, {"two", 4}, {"five", 7}, {"clash", 4}};
    size_t seen = 0;
    for (const Sample& s : r.samples) {
      auto it = pairs.find(s.name);
      if (it == pairs.end()) continue;  // up and scrape_*: the target's own set, shared
      ++seen;
      EXPECT_EQ(s.labels.size(), it->second) << s.name << s.labels.ToString();
      // Without rules the room is the pairs; the rules see __name__ too, one pair more.
      EXPECT_EQ(s.labels.pairs().capacity(), it->second + (with_rules ? 1 : 0)) << s.name;
    }
    EXPECT_EQ(seen, pairs.size());
  }
}

// A series that names itself twice (its name, and __name__ in its braces) fails the scrape as
// in Prometheus, with or without metric_relabel rules: stored, its __name__ label made obsmon's
// own /metrics unreadable to Prometheus (fresh eyes, stop 67).
TEST(ScrapeProbeTest, ASeriesWithANameLabelFailsTheScrape) {
  auto r = IngestWith("fine 1\nweird{__name__=\"other\",a=\"1\"} 2\n", {});
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("line 2: duplicate label name __name__"), std::string::npos) << r.reason;
  EXPECT_EQ(Find(r, "weird"), nullptr);
  EXPECT_EQ(Find(r, "fine"), nullptr) << "no sample of a failed scrape is kept";
  EXPECT_EQ(Value(r, "up"), 0);
}

// After metric_relabel, as Prometheus 2.42 checks a scrape (a reviewer compared both on the same
// expositions, stop 67): a series whose name a rule dropped fails the scrape ("missing metric
// name"), a series over label_limit counting __name__ and the target's labels fails it, and two
// series that honor_labels or the rules made one keep the first sample (Prometheus appends the
// first and refuses the second as a duplicate). Before: the nameless were dropped in silence
// (up 1, nothing stored), the limit counted the exposed labels only, and the last sample won.
RelabelRules LabelDrop(const std::string& regex) {
  RelabelRules rules;
  RuleSpec drop;
  drop.regex = regex;
  drop.action = Action::kLabelDrop;
  rules.Add(Rule::Compile(drop).value());
  return rules;
}

TEST(ScrapeProbeTest, ARuleThatDropsTheNameFailsTheScrape) {
  auto r = IngestWith("a{x=\"1\"} 1\nb 2\n", LabelDrop("__name__"));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "missing metric name (__name__ label) after metric_relabel (line 1: a)");
  EXPECT_EQ(Value(r, "up"), 0);
  EXPECT_EQ(Find(r, "a"), nullptr);
}

TEST(ScrapeProbeTest, LabelLimitCountsTheNameAndTheTargetLabelsAsPrometheus) {
  // Spec(): job, plus instance: with __name__, a series of 2 own labels has 5.
  ScrapeOptions options;
  options.label_limit = 5;
  auto fits = IngestWith("m{a=\"1\",b=\"2\"} 1\n", {}, options);
  EXPECT_TRUE(fits.success) << fits.reason;
  options.label_limit = 4;
  auto over = IngestWith("m{a=\"1\",b=\"2\"} 1\n", {}, options);
  EXPECT_FALSE(over.success);
  EXPECT_EQ(over.reason.rfind("label_limit exceeded (metric: m{a=\"1\",b=\"2\",instance=", 0), 0u)
      << over.reason;
  EXPECT_NE(over.reason.find("number of labels: 5, limit: 4)"), std::string::npos) << over.reason;
  EXPECT_EQ(Find(over, "m"), nullptr);
}

TEST(ScrapeProbeTest, SeriesMadeOneByTheRulesOrHonorLabelsKeepTheFirstSample) {
  auto r = IngestWith("rd{a=\"1\",secret=\"x\"} 1\nrd{a=\"1\",secret=\"y\"} 2\nother 3\n",
                      LabelDrop("secret"));
  ASSERT_TRUE(r.success) << r.reason;
  size_t rd = 0;
  for (const auto& s : r.samples) rd += s.name == "rd";
  EXPECT_EQ(rd, 1u);
  EXPECT_EQ(Value(r, "rd"), 1);
  EXPECT_EQ(Value(r, "other"), 3);
  EXPECT_EQ(Value(r, "scrape_samples_post_metric_relabeling"), 2);
  EXPECT_NE(r.detail.find("1 series made equal to an earlier one"), std::string::npos) << r.detail;

  ScrapeOptions honor;
  honor.honor_labels = true;
  // The second names the target's own job: with honor_labels both are m{job="tta-staging-carbon"}.
  auto h = IngestWith("m 1\nm{job=\"tta-staging-carbon\"} 2\n", {}, honor);
  ASSERT_TRUE(h.success) << h.reason;
  EXPECT_EQ(Value(h, "m"), 1);
  size_t m = 0;
  for (const auto& s : h.samples) m += s.name == "m";
  EXPECT_EQ(m, 1u);
}

TEST(ScrapeProbeTest, SampleLimitExceededFailsTheScrape) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    std::string body;
    for (int i = 0; i < 100; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
    res.set_content(body, "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  ScrapeOptions options;
  options.sample_limit = 50;
  auto r = MakeProbe(server.Url("/metrics"), options)->Run(In(2s));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason.rfind("sample limit exceeded", 0), 0u) << r.reason;
  EXPECT_EQ(Value(r, "up"), 0);
  EXPECT_EQ(Find(r, "m"), nullptr);
  options.sample_limit = 100;
  EXPECT_TRUE(MakeProbe(server.Url("/metrics"), options)->Run(In(2s)).success);
}

// Regression (issue 13): httplib read a target's headers without any bound.
TEST(ScrapeProbeTest, EndlessResponseHeadFailsTheScrapeAtSixtyFourKiB) {
  testing::RawResponder target([](int fd, const std::atomic<bool>& stop) {
    testing::RawResponder::SendAll(fd, "HTTP/1.1 200 OK\r\n", stop);
    const std::string headers = [] {
      std::string h;
      while (h.size() < 64 * 1024) h += "X-Many: v\r\n";
      return h;
    }();
    for (int i = 0; i < 100 && testing::RawResponder::SendAll(fd, headers, stop); ++i) {
    }
  });
  auto r = MakeProbe(target.Url("/metrics"))->Run(In(5s));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "response head larger than 65536 bytes (status line and headers)");
  EXPECT_EQ(Value(r, "up"), 0);
}

// Regression (fresh eyes, issue 13): httplib's read timeout is per read, so a target dripping its
// status line and headers a byte at a time, or sending "100 Continue" for ever, held the scrape,
// its worker and obsmon's shutdown indefinitely.
TEST(ScrapeProbeTest, HeadTrickledOrEndlessInterimResponsesEndAtTheDeadline) {
  testing::RawResponder drip([](int fd, const std::atomic<bool>& stop) {
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
    for (int i = 0; i < 200 && !stop; ++i) {
      if (!testing::RawResponder::SendAll(fd, std::string(1, head[i % head.size()]), stop)) return;
      std::this_thread::sleep_for(100ms);  // a real server trickling over a real socket
    }
  });
  testing::RawResponder interim([](int fd, const std::atomic<bool>& stop) {
    for (int i = 0; i < 2000 && !stop; ++i) {
      if (!testing::RawResponder::SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n", stop)) return;
      std::this_thread::sleep_for(10ms);
    }
  });
  for (const testing::RawResponder* target : {&drip, &interim}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = MakeProbe(target->Url("/metrics"))->Run(In(600ms));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.reason.rfind("timeout after", 0), 0u) << r.reason;
    EXPECT_LT(took, 1500ms) << r.reason;
  }
}

// The same for a TLS handshake trickled a byte at a time (fresh eyes, issue 17: 120 s past a
// 2 s timeout; probes/bounded_http_client.h).
TEST(ScrapeProbeTest, ATrickledTlsHandshakeEndsAtTheDeadline) {
  testing::RawResponder tls(&testing::RawResponder::TrickleTlsHandshake);
  const auto start = std::chrono::steady_clock::now();
  auto r = MakeProbe(tls.HttpsUrl("/metrics"))->Run(In(600ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason.rfind("timeout after", 0), 0u) << r.reason;
  EXPECT_LT(took, 1500ms) << r.reason;
}

TEST(ScrapeProbeTest, HttpErrorAndRefusedConnectionAreReasons) {
  testing::TestHttpServer server;
  server.server().Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("down", "text/plain");
  });
  ASSERT_GT(server.Start(), 0);
  auto r = MakeProbe(server.Url("/metrics"))->Run(In(2s));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "server returned HTTP status 503");

  const testing::ClosedLoopbackPort closed;
  const int port = closed.port();
  auto refused = MakeProbe("http://127.0.0.1:" + std::to_string(port) + "/metrics")->Run(In(2s));
  EXPECT_FALSE(refused.success);
  EXPECT_FALSE(refused.reason.empty());
  EXPECT_EQ(Value(refused, "up"), 0);
  EXPECT_EQ(Value(refused, "scrape_samples_scraped"), 0);
}

TEST(ScrapeProbeTest, FactoryReportsBadSettingsWithPositions) {
  ConfigErrors errors;
  auto yaml = YAML::Load(
      "url: ftp://x/metrics\n"
      "metric_relabel:\n"
      "  - source_labels: [__name__]\n"
      "    regex: '(unclosed'\n"
      "    action: drop\n");
  ConfigNode node(yaml, "obsmon.yml", &errors);
  EXPECT_EQ(MakeScrapeProbe(Spec(), node, RealClock()), nullptr);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.ToString().find("bad regex"), std::string::npos) << errors.ToString();

  ConfigErrors ok_errors;
  auto good = YAML::Load(
      "url: http://127.0.0.1:9/metrics\nhonor_labels: true\nsample_limit: 10\n"
      "headers: {Authorization: Bearer x}\n");
  ConfigNode good_node(good, "obsmon.yml", &ok_errors);
  auto probe = MakeScrapeProbe(Spec(), good_node, RealClock());
  EXPECT_NE(probe, nullptr) << ok_errors.ToString();
  EXPECT_EQ(probe->Instance(), "127.0.0.1:9");
}

}  // namespace
}  // namespace obsmon::probes
