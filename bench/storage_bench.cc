// storage_bench: how fast the storage Writer commits, on this machine.
//
//   storage_bench [--samples N] [--batch B] [--runs R] [--probes P] [--run-samples S]
//                 [--dir DIR] [--cache-kib K]
//
// Phase 1 writes N samples (default 2,000,000) in batches of B (default 100, like one scrape or
// probe result) over 1,000 series; phase 2 writes R probe runs (default 200,000) of P probes
// (default 20) taking turns, one run plus its S samples (default 2) per batch, as the scheduler
// does (an http probe writes 5: `--probes 1000 --run-samples 5` is the daemon of 1,000 http
// probes, 5,000 series, at R/1000 seconds of its time). Each phase is timed from the first
// Enqueue to the end of Flush (everything committed). Prints samples/s, runs/s, CPU seconds and
// the database size per sample after a WAL checkpoint. Target: >= 200,000 samples/s.
#include <SQLiteCpp/Database.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "storage/storage.h"

namespace {

using obsmon::Labels;
using obsmon::ProbeRun;
using obsmon::Sample;
using obsmon::WriteBatch;
using obsmon::storage::StorageOptions;
using obsmon::storage::Writer;

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Enqueue with back-pressure: the benchmark measures sustained throughput, so a full queue makes
// the producer wait instead of dropping (the refusals are reported).
uint64_t EnqueueWaiting(Writer& w, WriteBatch b) {
  uint64_t refused = 0;
  while (!w.Enqueue(b)) {
    ++refused;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return refused;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n_samples = 2'000'000, batch = 100, n_runs = 200'000, cache_kib = -1;
  int64_t n_probes = 20, run_samples = 2;
  std::string dir =
      std::filesystem::temp_directory_path() / ("obsmon-storage-bench-" + std::to_string(getpid()));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--samples"))
      n_samples = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch"))
      batch = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs"))
      n_runs = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--probes"))
      n_probes = std::max<int64_t>(1, atoll(argv[i + 1]));
    else if (!strcmp(argv[i], "--run-samples"))
      run_samples = std::max<int64_t>(2, atoll(argv[i + 1]));
    else if (!strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!strcmp(argv[i], "--cache-kib"))  // the writer's page cache (storage.cache_size)
      cache_kib = atoll(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--samples N] [--batch B] [--runs R] [--probes P] [--run-samples S] "
              "[--dir DIR] [--cache-kib K]\n", argv[0]);
      return 2;
    }
  }
  std::filesystem::create_directories(dir);
  StorageOptions o;
  o.path = dir + "/bench.db";
  std::filesystem::remove(o.path);
  o.queue_capacity = 4096;
  if (cache_kib > 0) o.cache_bytes = cache_kib << 10;
  auto started = Writer::Start(o);
  if (!started.ok()) {
    fprintf(stderr, "storage_bench: %s\n", started.status().ToString().c_str());
    return 1;
  }
  Writer& w = **started;

  // 1,000 series: 10 targets x 100 metrics, labels like a scraped component's.
  std::vector<std::pair<std::string, Labels>> series;
  for (int t = 0; t < 10; ++t) {
    for (int m = 0; m < 100; ++m) {
      series.emplace_back("bench_metric_" + std::to_string(m),
                          Labels{{"component", "carbon"},
                                 {"job", "tta-staging-carbon"},
                                 {"instance", "10.0.0." + std::to_string(t) + ":9100"},
                                 {"probe", "scrape"}});
    }
  }
  const int64_t t0_ms = 1'760'400'000'000;
  uint64_t refused = 0;

  double cpu0 = CpuSeconds();
  auto wall0 = std::chrono::steady_clock::now();
  int64_t written = 0, step = 0;
  while (written < n_samples) {
    WriteBatch b;
    b.samples.reserve(batch);
    for (int64_t k = 0; k < batch && written < n_samples; ++k, ++written) {
      const auto& s = series[written % series.size()];
      b.samples.push_back({s.first, s.second,
                           t0_ms + static_cast<int64_t>(written / series.size()) * 1000,
                           static_cast<double>(written)});
    }
    refused += EnqueueWaiting(w, std::move(b));
    ++step;
  }
  if (auto s = w.Flush(); !s.ok()) {
    fprintf(stderr, "storage_bench: flush failed: %s\n", s.ToString().c_str());
    return 1;
  }
  double wall1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  double cpu1 = CpuSeconds() - cpu0;
  auto stats1 = w.Stats();

  cpu0 = CpuSeconds();
  wall0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_runs; ++i) {
    WriteBatch b;
    ProbeRun r;
    r.key = {"carbon", "health-" + std::to_string(i % n_probes)};
    r.ts_ms = t0_ms + (i / n_probes) * 1000;
    r.success = i % 97 != 0;
    r.duration_seconds = 0.002 + (i % 50) * 1e-4;
    r.valid_for_ms = 1500;
    if (!r.success) r.reason = "status 503";
    Labels l{{"component", "carbon"}, {"probe", r.key.probe}, {"job", "tta-staging-carbon"}};
    b.samples.push_back({"probe_success", l, r.ts_ms, r.success ? 1.0 : 0.0});
    b.samples.push_back({"probe_duration_seconds", l, r.ts_ms, r.duration_seconds});
    for (int64_t k = 2; k < run_samples; ++k) {
      b.samples.push_back({"probe_extra_" + std::to_string(k), l, r.ts_ms, static_cast<double>(i)});
    }
    b.runs.push_back(std::move(r));
    refused += EnqueueWaiting(w, std::move(b));
  }
  if (auto s = w.Flush(); !s.ok()) {
    fprintf(stderr, "storage_bench: flush failed: %s\n", s.ToString().c_str());
    return 1;
  }
  double wall2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  double cpu2 = CpuSeconds() - cpu0;
  auto stats2 = w.Stats();
  w.Stop();

  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const int64_t db_bytes = FileSize(o.path);
  const int64_t total_samples = n_samples + run_samples * n_runs;

  printf("storage_bench (%s)\n", o.path.c_str());
  printf("  samples: %lld in batches of %lld over %zu series\n", (long long)n_samples,
         (long long)batch, series.size());
  printf("    %.0f samples/s   (%.2f s wall, %.2f s CPU, %llu transactions, mean %.1f ms)\n",
         n_samples / wall1, wall1, cpu1, (unsigned long long)stats1.commits,
         1000 * stats1.commit_seconds_sum / std::max<uint64_t>(1, stats1.commits));
  printf("  probe runs: %lld, one run + %lld samples per batch, %lld probes\n", (long long)n_runs,
         (long long)run_samples, (long long)n_probes);
  printf("    %.0f runs/s (%.0f rows/s)   (%.2f s wall, %.2f s CPU, %llu transactions)\n",
         n_runs / wall2, static_cast<double>(1 + run_samples) * n_runs / wall2, wall2, cpu2,
         (unsigned long long)(stats2.commits - stats1.commits));
  printf("  database: %.1f MiB, %.1f bytes per stored sample/run row\n", db_bytes / 1048576.0,
         static_cast<double>(db_bytes) / (total_samples + n_runs));
  printf("  enqueue refusals while waiting for the writer: %llu, write errors: %llu\n",
         (unsigned long long)refused, (unsigned long long)stats2.write_errors);
  std::filesystem::remove_all(dir);
  return 0;
}
