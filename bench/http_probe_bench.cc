// CPU per HTTP probe run: N loopback httplib targets, probed round-robin from one thread for
// --runs runs; reports the probing thread's CPU time per run (CLOCK_THREAD_CPUTIME_ID, so the
// in-process servers' work is not counted) and the wall time per run.
//   http_probe_bench [targets=100] [runs=2000]
#include <httplib.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "probes/http_probe.h"

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace obsmon;
  int targets = argc > 1 ? std::atoi(argv[1]) : 100;
  int runs = argc > 2 ? std::atoi(argv[2]) : 2000;

  // Targets share one server with several listeners would skew little; one server per target
  // mirrors N distinct host:port instances.
  std::vector<std::unique_ptr<httplib::Server>> servers;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<probes::HttpProbe>> probes_list;
  const Clock& clock = SystemClock::Instance();
  for (int i = 0; i < targets; ++i) {
    auto server = std::make_unique<httplib::Server>();
    server->new_task_queue = [] { return new httplib::ThreadPool(1); };
    server->Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"OK\"}", "application/json");
    });
    int port = server->bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      std::fprintf(stderr, "cannot bind target %d\n", i);
      return 1;
    }
    threads.emplace_back([s = server.get()] { s->listen_after_bind(); });
    ProbeSpec spec;
    spec.key = {"bench", "t" + std::to_string(i)};
    spec.kind = "http";
    spec.timeout_ms = 2000;
    probes::HttpProbeOptions options;
    options.url =
        probes::ParseHttpUrl("http://127.0.0.1:" + std::to_string(port) + "/health").value();
    probes_list.push_back(std::make_unique<probes::HttpProbe>(spec, std::move(options), clock));
    servers.push_back(std::move(server));
  }
  for (auto& s : servers) {
    while (!s->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  int failures = 0;
  double cpu0 = ThreadCpuSeconds();
  auto wall0 = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    auto& probe = *probes_list[static_cast<size_t>(i % targets)];
    ProbeResult r = probe.Run(Deadline{clock.SteadyNow() + std::chrono::seconds(2)});
    if (!r.success) ++failures;
  }
  double cpu = ThreadCpuSeconds() - cpu0;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf(
      "http_probe_bench targets=%d runs=%d failures=%d cpu_per_probe_us=%.1f "
      "wall_per_probe_us=%.1f\n",
      targets, runs, failures, cpu / runs * 1e6, wall / runs * 1e6);
  for (auto& s : servers) s->stop();
  for (auto& t : threads) t.join();
  return failures == 0 ? 0 : 1;
}
