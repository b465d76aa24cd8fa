#include "probes/exposition_parser.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"

namespace obsmon::probes {
namespace {

const ParsedSample* Find(const ParseOutput& out, const std::string& name, const Labels& labels) {
  for (const auto& s : out.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(ExpositionParserTest, ParsesTextFormatWithEscapesTimestampsAndSpecialValues) {
  const std::string body =
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# A normal comment.\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "neg_inf -Inf\n"
      "not_a_number NaN\n"
      "trailing_comma{a=\"1\",} 2\n";
  auto out = Parse(body);
  ASSERT_TRUE(out.ok()) << (out.errors.empty() ? out.fatal : out.errors[0].ToString());
  ASSERT_EQ(out.samples.size(), 8u);

  auto* s = Find(out, "http_requests_total", Labels{{"method", "post"}, {"code", "200"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 1027);
  EXPECT_EQ(s->timestamp_ms, 1395066363000);
  EXPECT_EQ(s->line, 3);

  s = Find(out, "msdos_file_access_time_seconds",
           Labels{{"path", "C:\\DIR\\FILE.TXT"}, {"error", "Cannot find file:\n\"FILE.TXT\""}});
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->value, 1.458255915e9);
  EXPECT_FALSE(s->timestamp_ms.has_value());

  s = Find(out, "something_weird", Labels{{"problem", "division by zero"}});
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(std::isinf(s->value) && s->value > 0);
  EXPECT_EQ(s->timestamp_ms, -3982045);
  EXPECT_TRUE(std::isinf(Find(out, "neg_inf", {})->value));
  EXPECT_LT(Find(out, "neg_inf", {})->value, 0);
  EXPECT_TRUE(std::isnan(Find(out, "not_a_number", {})->value));
  EXPECT_EQ(Find(out, "trailing_comma", Labels{{"a", "1"}})->value, 2);

  ASSERT_FALSE(out.families.empty());
  EXPECT_EQ(out.families[0].name, "http_requests_total");
  EXPECT_EQ(out.families[0].type, MetricType::kCounter);
  EXPECT_EQ(out.families[0].help, "The total number of HTTP requests.");
}

TEST(ExpositionParserTest, HistogramsAndSummariesBecomePlainSeries) {
  const std::string body =
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
      "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "http_request_duration_seconds_sum 53423\n"
      "http_request_duration_seconds_count 144320\n";
  auto out = Parse(body);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.samples.size(), 8u);
  EXPECT_EQ(Find(out, "http_request_duration_seconds_bucket", Labels{{"le", "+Inf"}})->value,
            144320);
  EXPECT_EQ(Find(out, "rpc_duration_seconds", Labels{{"quantile", "0.99"}})->value, 76656);
  ASSERT_EQ(out.families.size(), 2u);
  EXPECT_EQ(out.families[1].type, MetricType::kHistogram);
}

TEST(ExpositionParserTest, BucketWithoutLeIsReportedWithItsLine) {
  auto out = Parse("# TYPE h histogram\nh_bucket 1\nh_count 1\n");
  EXPECT_EQ(out.error_count, 1u);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].line, 2);
  EXPECT_EQ(out.samples.size(), 1u);
}

TEST(ExpositionParserTest, OpenMetricsTimestampsInSecondsExemplarsAndEof) {
  const std::string body =
      "# TYPE foo counter\n"
      "# UNIT foo seconds\n"
      "# HELP foo A \\\"quoted\\\" help.\n"
      "foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_created{a=\"b\"} 1520430000.123\n"
      "# TYPE bar gauge\n"
      "bar 1 1520879607\n"
      "# EOF\n";
  ParseOptions opt;
  opt.format = Format::kOpenMetrics;
  auto out = Parse(body, opt);
  ASSERT_TRUE(out.ok()) << (out.errors.empty() ? out.fatal : out.errors[0].ToString());
  ASSERT_EQ(out.samples.size(), 3u);
  EXPECT_EQ(out.samples[0].name, "foo_total");
  EXPECT_EQ(out.samples[0].value, 17.0);
  EXPECT_EQ(out.samples[0].timestamp_ms, 1520879607789);
  EXPECT_EQ(out.samples[2].timestamp_ms, 1520879607000);
  EXPECT_EQ(out.families[0].unit, "seconds");
  EXPECT_EQ(out.families[0].help, "A \"quoted\" help.");
}

TEST(ExpositionParserTest, OpenMetricsWithoutEofIsRefused) {
  ParseOptions opt;
  opt.format = Format::kOpenMetrics;
  auto out = Parse("# TYPE bar gauge\nbar 1\n", opt);
  EXPECT_EQ(out.fatal, "missing # EOF");
  auto after = Parse("bar 1\n# EOF\nbar 2\n", opt);
  EXPECT_EQ(after.error_count, 1u);
  EXPECT_EQ(after.errors[0].line, 3);
}

TEST(ExpositionParserTest, MalformedLinesAreListedWithLineNumbersAndParsingContinues) {
  const std::string body =
      "good 1\n"
      "bad{a=\"1\" 2\n"  // 2: missing '}'
      "3bad 1\n"         // 3: bad name
      "good_too 2\n"
      "v{a=\"x\\q\"} 1\n"        // 5: bad escape
      "w 1.2.3\n"                // 6: bad value
      "x 1 notatimestamp\n"      // 7: bad timestamp
      "y{a=\"unterminated} 1\n"  // 8
      "# TYPE z nonsense\n"      // 9
      "z{a=\"1\",a=\"2\"} 1\n"   // 10: duplicate label
      "good 5\n";                // 11: duplicate series
  auto out = Parse(body);
  EXPECT_FALSE(out.ok());
  std::vector<int> lines;
  for (const auto& e : out.errors) lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<int>{2, 3, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(out.duplicate_count, 1u);
  ASSERT_EQ(out.samples.size(), 2u);
  EXPECT_EQ(out.samples[0].value, 1);  // the first "good" is kept, the duplicate dropped
  EXPECT_EQ(out.samples[1].name, "good_too");
}

TEST(ExpositionParserTest, BodyAndSampleLimitsRefuseAsPrometheusDoes) {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  ParseOptions opt;
  opt.max_samples = 99;
  auto out = Parse(body, opt);
  EXPECT_EQ(out.fatal.rfind("sample limit exceeded", 0), 0u) << out.fatal;
  opt.max_samples = 100;
  EXPECT_TRUE(Parse(body, opt).ok());
  opt.max_body_bytes = body.size() - 1;
  EXPECT_EQ(Parse(body, opt).fatal.rfind("body size limit exceeded", 0), 0u);
}

// Issue 13: a series with 100k labels cost O(n^2) comparisons in the duplicate check.
TEST(ExpositionParserTest, LabelLimitRefusesTheBody) {
  std::string body = "m{";
  for (int i = 0; i < 100'000; ++i) body += "l" + std::to_string(i) + "=\"v\",";
  body += "} 1\n";
  ParseOptions opt;
  opt.max_line_bytes = 0;
  auto out = Parse(body, opt);
  EXPECT_EQ(out.fatal, "label limit exceeded (line 1 has more than 64 labels)");
  opt.max_labels = 0;  // no limit: the duplicate check is O(n log n), so this stays fast
  EXPECT_TRUE(Parse(body, opt).ok()) << Parse(body, opt).fatal;
}

TEST(ExpositionParserTest, DuplicateLabelNameIsFoundAmongMany) {
  auto out = Parse("m{b=\"1\",c=\"2\",a=\"3\",b=\"4\"} 1\nok 1\n");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].ToString(), "line 1: duplicate label name b");
  ASSERT_EQ(out.samples.size(), 1u);
}

// The metric's name is its __name__: one in the braces too names the series twice. Prometheus
// fails such a scrape; kept, the label was stored and re-exported on obsmon's own /metrics, which
// promtool then refused ("label name \"__name__\" is reserved"; fresh eyes, stop 67).
TEST(ExpositionParserTest, ANameLabelInTheBracesNamesTheSeriesTwice) {
  for (const char* line :
       {"weird{__name__=\"other\",a=\"1\"} 2\n", "same{__name__=\"same\"} 1\n"}) {
    auto out = Parse(std::string(line) + "ok 1\n");
    ASSERT_EQ(out.errors.size(), 1u) << line;
    EXPECT_EQ(out.errors[0].ToString(),
              "line 1: duplicate label name __name__ (the metric's name, before the braces)");
    ASSERT_EQ(out.samples.size(), 1u);
    EXPECT_EQ(out.samples[0].name, "ok");
  }
}

TEST(ExpositionParserTest, LineLengthLimitRefusesTheBody) {
  const std::string body = "ok 1\nm{a=\"" + std::string(70'000, 'x') + "\"} 1\n";
  auto out = Parse(body);
  EXPECT_EQ(out.fatal, "line length limit exceeded (line 2 has 70009 > 65536 bytes)");
}

// Issue 13: parsing ran to the end however long it took; the probe's timeout must hold inside it.
TEST(ExpositionParserTest, ExpiredDeadlineStopsParsing) {
  std::string body;
  for (int i = 0; i < 10'000; ++i) body += "m" + std::to_string(i) + " 1\n";
  ParseOptions opt;
  int asked = 0;
  opt.expired = [&asked] { return ++asked >= 2; };
  auto out = Parse(body, opt);
  EXPECT_EQ(out.fatal, "deadline exceeded while parsing (at line 512)");  // every 256 lines
  EXPECT_EQ(asked, 2);

  // And every 256 KiB however few lines: a line of 1 MB asks before it is parsed.
  asked = 0;
  opt.expired = [&asked] { return ++asked >= 1; };
  const std::string long_line = "m{a=\"" + std::string(1u << 20, 'x') + "\"} 1\nn 1\n";
  ParseOptions no_limit = opt;
  no_limit.max_line_bytes = 0;
  out = Parse(long_line, no_limit);
  EXPECT_EQ(out.fatal, "deadline exceeded while parsing (at line 1)");
}

TEST(ExpositionParserTest, ContentTypeSelectsTheFormat) {
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4"), Format::kPrometheusText);
  EXPECT_EQ(FormatFromContentType(""), Format::kPrometheusText);
}

// --- Randomized round trip and fuzzing ------------------------------------------------------

std::string RandomLabelValue(std::mt19937& rng) {
  static const std::string alphabet = "abcXYZ019 _-:.,{}=#\"\\\n\t/";
  std::string v;
  int n = rng() % 12;
  for (int i = 0; i < n; ++i) v += alphabet[rng() % alphabet.size()];
  return v;
}

TEST(ExpositionParserTest, RandomWellFormedBodiesRoundTripExactly) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    const bool om = round % 2 == 1;
    std::string body;
    std::vector<std::tuple<std::string, Labels, double, std::optional<int64_t>>> expected;
    std::set<std::string> keys;
    int n = 1 + rng() % 40;
    for (int i = 0; i < n; ++i) {
      std::string name = "m_" + std::to_string(rng() % 7);
      std::vector<Labels::Pair> pairs;
      std::set<std::string> used;
      int nl = rng() % 4;
      for (int j = 0; j < nl; ++j) {
        std::string ln = "l" + std::to_string(rng() % 5);
        if (!used.insert(ln).second) continue;
        pairs.emplace_back(ln, RandomLabelValue(rng));
      }
      Labels labels(pairs);
      if (!keys.insert(name + labels.ToString()).second) continue;
      double value = (static_cast<int64_t>(rng()) - (1LL << 31)) / 1000.0;
      std::optional<int64_t> ts;
      if (rng() % 3 == 0) ts = static_cast<int64_t>(rng() % 2'000'000'000) * 1000;
      body += name;
      if (!pairs.empty()) {
        body += "{";
        for (size_t j = 0; j < pairs.size(); ++j) {
          if (j) body += ",";
          body += pairs[j].first + "=\"" + EscapeLabelValue(pairs[j].second) + "\"";
        }
        body += "}";
      }
      char buf[64];
      snprintf(buf, sizeof buf, " %.17g", value);
      body += buf;
      if (ts) body += " " + (om ? std::to_string(*ts / 1000) : std::to_string(*ts));
      body += "\n";
      expected.emplace_back(name, labels, value, ts);
    }
    ParseOptions opt;
    if (om) {
      opt.format = Format::kOpenMetrics;
      body += "# EOF\n";
    }
    auto out = Parse(body, opt);
    ASSERT_TRUE(out.ok()) << "round " << round << ": "
                          << (out.errors.empty() ? out.fatal : out.errors[0].ToString());
    ASSERT_EQ(out.samples.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(out.samples[i].name, std::get<0>(expected[i]));
      EXPECT_EQ(out.samples[i].labels, std::get<1>(expected[i]));
      EXPECT_EQ(out.samples[i].value, std::get<2>(expected[i]));
      EXPECT_EQ(out.samples[i].timestamp_ms, std::get<3>(expected[i]));
    }
  }
}

TEST(ExpositionParserTest, FuzzedBodiesNeverCrashOrHang) {
  const std::string seed =
      "# HELP a_total x\\ny\n# TYPE a_total counter\na_total{x=\"1\\\"\",y=\"\\\\\"} 1e3 12\n"
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} NaN\nh_sum -Inf\nh_count 3\n# EOF\n";
  std::mt19937 rng(777);
  const auto start = std::chrono::steady_clock::now();
  size_t parsed_samples = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = seed;
    int edits = 1 + rng() % 8;
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (body.size() + 1);
      switch (rng() % 4) {
        case 0:
          body.insert(pos, 1, static_cast<char>(rng() % 256));
          break;
        case 1:
          if (pos < body.size()) body.erase(pos, 1 + rng() % 5);
          break;
        case 2:
          if (pos < body.size()) body[pos] = "{}\"\\=, \n#+-.eE"[rng() % 15];
          break;
        case 3:
          body.insert(pos, body.substr(rng() % body.size(), rng() % 20));
          break;
      }
    }
    ParseOptions opt;
    opt.format = (i % 2) ? Format::kOpenMetrics : Format::kPrometheusText;
    opt.max_samples = 5;
    auto out = Parse(body, opt);
    size_t lines = std::count(body.begin(), body.end(), '\n') + 1;
    ASSERT_LE(out.samples.size(), std::min<size_t>(lines, 5));
    ASSERT_LE(out.errors.size(), opt.max_errors);
    for (const auto& err : out.errors) {
      ASSERT_GE(err.line, 1);
      ASSERT_LE(static_cast<size_t>(err.line), lines);
    }
    parsed_samples += out.samples.size();
  }
  EXPECT_GT(parsed_samples, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// --- Real exposition output from real programs ------------------------------------------------

// Counts the sample lines of a text-format body independently of the parser: every non-empty
// line that is not a comment (and not OpenMetrics' "# EOF").
size_t CountSampleLines(const std::string& body) {
  std::istringstream in(body);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') ++n;
  }
  return n;
}

// Polls `url_path` on 127.0.0.1:port until it answers 200 (the child needs a moment to start);
// the real time here is the child's start-up, not a simulated interval.
std::optional<httplib::Result> WaitForHttp(int port, const std::string& path,
                                           const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  for (int i = 0; i < 150; ++i) {
    auto res = client.Get(path, headers);
    if (res && res->status == 200) return res;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

void CheckRealBody(const std::string& body, Format format, const std::string& must_have) {
  ParseOptions opt;
  opt.format = format;
  auto out = Parse(body, opt);
  ASSERT_TRUE(out.ok()) << (out.errors.empty() ? out.fatal : out.errors[0].ToString());
  EXPECT_EQ(out.samples.size(), CountSampleLines(body));
  bool found = false;
  for (const auto& s : out.samples) found |= s.name == must_have;
  EXPECT_TRUE(found) << must_have;
  // Every "# TYPE name type" line, read with plain string splitting, matches a family.
  std::map<std::string, std::string> types;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    types[name] = type;
  }
  ASSERT_FALSE(types.empty());
  size_t matched = 0;
  for (const auto& f : out.families) {
    auto it = types.find(f.name);
    if (it == types.end()) continue;
    EXPECT_EQ(MetricTypeName(f.type), it->second) << f.name;
    ++matched;
  }
  EXPECT_EQ(matched, types.size());
}

TEST(ExpositionParserTest, ParsesLivePrometheusMetricsInBothFormats) {
  if (access("/usr/bin/prometheus", X_OK) != 0) GTEST_SKIP() << "prometheus not installed";
  testing::ScratchDir dir;
  std::ofstream(dir.File("prometheus.yml")) << "global:\n  scrape_interval: 15s\n";
  int port = testing::FreeLoopbackPort();
  testing::Subprocess prom({"/usr/bin/prometheus", "--config.file=" + dir.File("prometheus.yml"),
                              "--storage.tsdb.path=" + dir.File("data"),
                              "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                             dir.File("prometheus.log"));
  ASSERT_TRUE(prom.started());
  auto text = WaitForHttp(port, "/metrics", {{"Accept", "text/plain;version=0.0.4"}});
  ASSERT_TRUE(text.has_value()) << "prometheus did not start";
  EXPECT_EQ(FormatFromContentType((*text)->get_header_value("Content-Type")),
            Format::kPrometheusText);
  CheckRealBody((*text)->body, Format::kPrometheusText, "prometheus_build_info");

  // Prometheus 2.42 answers its own /metrics in the text format even when OpenMetrics is
  // preferred; whatever it announces must parse.
  auto om =
      WaitForHttp(port, "/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0"}});
  ASSERT_TRUE(om.has_value());
  CheckRealBody((*om)->body, FormatFromContentType((*om)->get_header_value("Content-Type")),
                "prometheus_build_info");
}

// OpenMetrics as the reference Python client (python3-prometheus-client) writes it, with
// exemplars, _created series, info and stateset families and escaped label values.
TEST(ExpositionParserTest, ParsesOpenMetricsFromThePythonClient) {
  const char* python = "/usr/bin/python3";
  if (access(python, X_OK) != 0 ||
      testing::RunCommand({python, "-c", "import prometheus_client"}, "/dev/null").first != 0) {
    GTEST_SKIP() << "python3-prometheus-client not installed";
  }
  testing::ScratchDir dir;
  std::ofstream(dir.File("gen.py")) << R"PY(
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, Info, Enum
from prometheus_client.openmetrics.exposition import generate_latest
r = CollectorRegistry()
c = Counter('jobs', 'Jobs done.', ['kind'], registry=r)
c.labels('a"b\\c\nd').inc(3, exemplar={'trace_id': 'abc123'})
g = Gauge('carbon_emissions_kg', 'Emissions so far.', ['project'], registry=r)
g.labels('TTA-Staging').set(1.25)
h = Histogram('latency_seconds', 'Latency.', registry=r, buckets=[0.1, 1.0])
h.observe(0.05); h.observe(0.5); h.observe(5)
s = Summary('work_seconds', 'Work.', registry=r)
s.observe(2.0)
Info('build', 'Build info.', registry=r).info({'version': '1.2.3'})
Enum('state', 'State.', states=['up', 'down'], registry=r).state('down')
sys.stdout.write(generate_latest(r).decode())
)PY";
  const auto [code, body] =
      testing::RunCommand({python, dir.File("gen.py")},
                          {.output_path = dir.File("out.txt"), .stderr_path = dir.File("gen.err")});
  ASSERT_EQ(code, 0) << testing::ReadWholeFile(dir.File("gen.err"));
  ASSERT_NE(body.find("# EOF"), std::string::npos);
  ParseOptions opt;
  opt.format = Format::kOpenMetrics;
  auto out = Parse(body, opt);
  ASSERT_TRUE(out.ok()) << (out.errors.empty() ? out.fatal : out.errors[0].ToString());
  EXPECT_EQ(out.samples.size(), CountSampleLines(body));
  auto* jobs = Find(out, "jobs_total", Labels{{"kind", "a\"b\\c\nd"}});
  ASSERT_NE(jobs, nullptr);
  EXPECT_EQ(jobs->value, 3);
  EXPECT_EQ(Find(out, "carbon_emissions_kg", Labels{{"project", "TTA-Staging"}})->value, 1.25);
  EXPECT_EQ(Find(out, "latency_seconds_bucket", Labels{{"le", "1.0"}})->value, 2);
  EXPECT_EQ(Find(out, "latency_seconds_bucket", Labels{{"le", "+Inf"}})->value, 3);
  EXPECT_EQ(Find(out, "latency_seconds_count", {})->value, 3);
  EXPECT_EQ(Find(out, "work_seconds_sum", {})->value, 2.0);
  EXPECT_EQ(Find(out, "build_info", Labels{{"version", "1.2.3"}})->value, 1);
  EXPECT_EQ(Find(out, "state", Labels{{"state", "down"}})->value, 1);
  EXPECT_EQ(Find(out, "state", Labels{{"state", "up"}})->value, 0);
}

TEST(ExpositionParserTest, ParsesLiveBlackboxExporterMetrics) {
  const char* bin = "/usr/bin/prometheus-blackbox-exporter";
  if (access(bin, X_OK) != 0) GTEST_SKIP() << "prometheus-blackbox-exporter not installed";
  testing::ScratchDir dir;
  std::ofstream(dir.File("blackbox.yml"))
      << "modules:\n  tcp_connect:\n    prober: tcp\n    timeout: 1s\n";
  int port = testing::FreeLoopbackPort();
  testing::Subprocess exporter({bin, "--config.file=" + dir.File("blackbox.yml"),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                                 dir.File("blackbox.log"));
  ASSERT_TRUE(exporter.started());
  auto res = WaitForHttp(port, "/metrics");
  ASSERT_TRUE(res.has_value()) << "blackbox exporter did not start";
  CheckRealBody((*res)->body, FormatFromContentType((*res)->get_header_value("Content-Type")),
                "blackbox_exporter_build_info");
  // A probe's own output (probe_success, probe_duration_seconds) parses too.
  auto probe =
      WaitForHttp(port, "/probe?module=tcp_connect&target=127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(probe.has_value());
  auto out = Parse((*probe)->body);
  ASSERT_TRUE(out.ok());
  const ParsedSample* success = nullptr;
  for (const auto& s : out.samples) {
    if (s.name == "probe_success") success = &s;
  }
  ASSERT_NE(success, nullptr);
  EXPECT_EQ(success->value, 1);  // the exporter's own port accepts connections
}

}  // namespace
}  // namespace obsmon::probes
