// log_scan_bench: obsmon's log scan against GNU grep on the same >= 500 MB file, in one run.
//
// Generates /tmp/obsmon-log-bench.log (unless it exists with the right size) with known numbers
// of ERROR and CRITICAL lines, then times (a) a LogFollower reading the whole file through the
// same code the log probe runs (reads, prefilter, RE2 on candidate lines, newline count) and
// (b) `grep -c -E 'ERROR|CRITICAL'`. Severities are `ERROR` and `CRITICAL` so that both count
// the same lines. Prints both throughputs, the ratio and the counts; exits 1 if counts differ.
//
// Usage: log_scan_bench [size_mb=512] [path=/tmp/obsmon-log-bench.log]
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "probes/log_follower.h"
#include "probes/log_scanner.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Writes the file; returns the number of lines that contain ERROR or CRITICAL.
uint64_t Generate(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::mt19937_64 rng(1234);
  const char* kInfo[] = {"INFO  http.server request completed path=/api/v1/items status=200",
                         "DEBUG worker.pool task finished queue=emissions took_ms=",
                         "INFO  carbon.tracker sample stored kg=0.000123 errors=0 region=eu",
                         "WARN  db.pool slow query table=runs error_rate=0.01 took_ms="};
  uint64_t written = 0, matches = 0, n = 0;
  std::string buf;
  while (written < bytes) {
    buf.clear();
    for (int i = 0; i < 4096; ++i, ++n) {
      const uint64_t dice = rng() % 1000;
      buf += "2025-10-14T12:";
      buf += std::to_string(10 + n % 50);
      buf += ":00.123Z ";
      if (dice < 5) {
        buf += "ERROR api.handler request failed id=" + std::to_string(n) + "\n";
        ++matches;
      } else if (dice < 6) {
        buf += "CRITICAL storage disk full id=" + std::to_string(n) + "\n";
        ++matches;
      } else {
        buf += kInfo[dice % 4];
        buf += std::to_string(n % 997);
        buf += '\n';
      }
    }
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    written += buf.size();
  }
  return matches;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t size_mb = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 512;
  const std::string path = argc > 2 ? argv[2] : "/tmp/obsmon-log-bench.log";
  std::printf("generating %llu MB at %s ...\n", static_cast<unsigned long long>(size_mb),
              path.c_str());
  const uint64_t expected = Generate(path, size_mb << 20);
  struct stat st {};
  ::stat(path.c_str(), &st);
  const double gb = static_cast<double>(st.st_size) / 1e9;

  auto scanner = std::move(obsmon::probes::LogScanner::Create(
                               {{"error", "ERROR"}, {"critical", "CRITICAL"}}, false))
                     .value();
  // Warm the page cache once for both (grep runs after, from the same cache).
  obsmon::testing::ScratchDir scratch;
  (void)obsmon::testing::RunCommand({"cat", path}, "/dev/null");

  double best_obsmon = 1e9;
  uint64_t obsmon_count = 0, lines = 0;
  for (int round = 0; round < 3; ++round) {
    obsmon::probes::LogFollower follower(path, scanner.get(),
                                       {.read_chunk_bytes = 1 << 20, .max_events_per_poll = 0});
    const auto t0 = std::chrono::steady_clock::now();
    auto out = follower.Poll([] { return false; });
    const auto t1 = std::chrono::steady_clock::now();
    best_obsmon = std::min(best_obsmon, Seconds(t0, t1));
    obsmon_count = out.matches[0] + out.matches[1];
    lines = out.lines;
  }

  double best_grep = 1e9;
  uint64_t grep_count = 0;
  for (int round = 0; round < 3; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [code, out] = obsmon::testing::RunCommand(
        {"grep", "-c", "-E", "ERROR|CRITICAL", path},
        {.output_path = scratch.File("grep.out"), .stderr_path = scratch.File("grep.err")});
    const auto t1 = std::chrono::steady_clock::now();
    unsigned long long c = 0;
    if (std::sscanf(out.c_str(), "%llu", &c) != 1) {
      std::fprintf(stderr, "grep exit %d: %s\n", code,
                   obsmon::testing::ReadWholeFile(scratch.File("grep.err")).c_str());
      return 2;
    }
    best_grep = std::min(best_grep, Seconds(t0, t1));
    grep_count = c;
  }

  std::printf("file:    %.3f GB, %llu lines, %llu generated matches\n", gb,
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(expected));
  std::printf("obsmon:  %.3f s  %.2f GB/s  count=%llu\n", best_obsmon, gb / best_obsmon,
              static_cast<unsigned long long>(obsmon_count));
  std::printf("grep:    %.3f s  %.2f GB/s  count=%llu\n", best_grep, gb / best_grep,
              static_cast<unsigned long long>(grep_count));
  std::printf("ratio:   obsmon/grep throughput = %.2fx (target >= 1.2x)\n",
              best_grep / best_obsmon);
  const bool agree = obsmon_count == grep_count && grep_count == expected;
  std::printf("counts:  %s\n", agree ? "agree" : "DIFFER");
  return agree ? 0 : 1;
}
