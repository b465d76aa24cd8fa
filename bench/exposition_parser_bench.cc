// exposition_parser_bench: parse throughput of the scrape probe's parser on a generated body of
// N samples (histograms, labelled gauges, escaped values), in MB/s and samples/s.
//   exposition_parser_bench [samples=50000] [rounds=20]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "probes/exposition_parser.h"

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::atoi(argv[1]) : 50'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  std::string body;
  int n = 0;
  for (int family = 0; n < samples; ++family) {
    const std::string name = "bench_family_" + std::to_string(family);
    body += "# HELP " + name + "_seconds A histogram.\n# TYPE " + name + "_seconds histogram\n";
    const char* les[] = {"0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"};
    for (int i = 0; i < 8 && n < samples; ++i, ++n) {
      body += name + "_seconds_bucket{handler=\"/api/v1/query\",method=\"GET\",le=\"" + les[i] +
              "\"} " + std::to_string(1000 * i + family) + "\n";
    }
    body += name + "_seconds_sum{handler=\"/api/v1/query\",method=\"GET\"} 1234.5678\n";
    body += name + "_seconds_count{handler=\"/api/v1/query\",method=\"GET\"} 7000\n";
    body += name + "_info{path=\"C:\\\\dir\\\\\\\"x\\\"\",note=\"a\\nb\"} 1 1700000000000\n";
    n += 3;
  }
  obsmon::probes::ParseOptions options;
  options.max_samples = static_cast<size_t>(n) + 1;
  options.max_body_bytes = body.size() + 1;
  size_t parsed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    auto out = obsmon::probes::Parse(body, options);
    if (!out.ok()) {
      std::fprintf(stderr, "parse failed: %s\n",
                   out.errors.empty() ? out.fatal.c_str() : out.errors[0].ToString().c_str());
      return 1;
    }
    parsed += out.samples.size();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("body %.2f MB, %d samples: %.1f MB/s, %.2f M samples/s, %.2f ms per parse\n",
              body.size() / 1e6, n, body.size() * rounds / 1e6 / secs, parsed / 1e6 / secs,
              1000 * secs / rounds);
  return 0;
}
