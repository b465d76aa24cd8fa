// The kernel floor of a plain-HTTP probe run on this machine, independent of obsmon: a bare loop
// of socket(SOCK_NONBLOCK) / connect / send / poll / recv / close against a small Python target
// (another process: its CPU is not counted), at the pace of N probes at 1 s, and the CPU of this
// process per run (getrusage). B runs started together every B x gap (connect all, send all,
// poll all) show what serving several runs per wake-up saves; B=1 is one run per wake-up, and
// "back to back" has no sleep at all.
//
//   build/bench/connect_floor_bench [runs=3000] [gap_us=10000] [B...=1 5 10 20]
//   FLOOR_TARGET_PORT=PORT FLOOR_IN_FLIGHT=4 build/bench/connect_floor_bench 3000 10000 10 25
//
// Variants of the kernel's part, each against the loop as is (docs/benchmarks.md, "Stop 71"):
// FLOOR_CLOSE=rst closes with an RST (SO_LINGER 0) instead of a FIN, FLOOR_CC=NAME sets the
// socket's congestion control (cubic, reno, bbr), FLOOR_TIMESTAMPS=1 turns on SO_TIMESTAMPNS
// as obsmon's http probe does. FLOOR_PATH=/t/0 asks for that path instead of / (the paths
// bench/loopback_targets.h serves, e.g. beside bench/probe_stack_bench on its target).
// FLOOR_PACED_ONLY=1 runs only the paced batches, not the back-to-back loop first.
//
// Each line also gives the mean time from a run's connect to its answer read: a batch's
// requests sent together queue at their server (docs/benchmarks.md, "A few requests to a
// server at once").
//
// From /tmp/floor/{floor,batch}.c (issue 17, item 2); docs/benchmarks.md, "Probing".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// The benchmarks' HTTP target (bench/http_target.py), in a process of its own.
const char* kTarget = OBSMON_BENCH_DIR "/http_target.py";

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// `runs` runs, `batch` at a time every batch x gap_us (no sleep when gap_us is 0), at most
// `in_flight` of a batch's requests unanswered at once (0: the whole batch at once; the others
// start as answers are read, as RunBatch does with batch_in_flight_per_server); returns CPU
// microseconds per run, counts the answered ones in *ok and sums each run's connect-to-answer
// time in *latency_s.
// The variants of the kernel's part (FLOOR_CLOSE, FLOOR_CC, FLOOR_TIMESTAMPS).
struct RunOptions {
  bool reset_close = false;
  const char* congestion = nullptr;
  bool timestamps = false;
  std::string path = "/";  // what the request asks for (FLOOR_PATH)
};

double Measure(const sockaddr_in& addr, int runs, long gap_us, int batch, int in_flight,
               const RunOptions& options, int* ok, double* latency_s) {
  const std::string req = "GET " + options.path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: floor\r\n"
                          "Connection: close\r\n\r\n";
  char buf[4096];
  *ok = 0;
  *latency_s = 0;
  const size_t cap = in_flight > 0 ? static_cast<size_t>(in_flight) : static_cast<size_t>(batch);
  struct Run {
    int fd;
    std::chrono::steady_clock::time_point start;
    bool answered = false;  // bytes came (the rest, or the close, may follow)
  };
  const double c0 = CpuSeconds();
  for (int i = 0; i < runs; i += batch) {
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us * batch));
    std::vector<Run> open;
    int started = 0;
    const auto StartMore = [&] {
      while (started < batch && open.size() < cap) {
        Run r{socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
              std::chrono::steady_clock::now(), false};
        if (options.congestion != nullptr) {
          setsockopt(r.fd, IPPROTO_TCP, TCP_CONGESTION, options.congestion,
                     static_cast<socklen_t>(std::strlen(options.congestion)));
        }
        if (options.timestamps) {
          const int on = 1;
          setsockopt(r.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
        }
        connect(r.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        send(r.fd, req.data(), req.size(), MSG_NOSIGNAL);  // loopback: connected at once
        open.push_back(r);
        ++started;
      }
    };
    StartMore();
    std::vector<pollfd> p;
    while (!open.empty()) {
      p.clear();
      for (const Run& r : open) p.push_back({r.fd, POLLIN, 0});
      if (poll(p.data(), p.size(), 1000) <= 0) break;
      std::vector<Run> still;
      for (size_t k = 0; k < open.size(); ++k) {
        if (p[k].revents == 0) {
          still.push_back(open[k]);
          continue;
        }
        ssize_t n;
        while ((n = recv(open[k].fd, buf, sizeof buf, 0)) > 0) open[k].answered = true;
        if (n < 0 && errno == EAGAIN) {  // the rest (or the close) is still to come
          still.push_back(open[k]);
          continue;
        }
        if (open[k].answered) ++*ok;
        *latency_s +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - open[k].start)
                .count();
        if (options.reset_close) {
          const linger abort{1, 0};
          setsockopt(open[k].fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        }
        close(open[k].fd);
      }
      open.swap(still);
      StartMore();
    }
    for (const Run& r : open) close(r.fd);
  }
  return (CpuSeconds() - c0) / runs * 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 3000;
  const long gap_us = argc > 2 ? std::atol(argv[2]) : 10'000;
  std::vector<int> batches;
  for (int i = 3; i < argc; ++i) batches.push_back(std::atoi(argv[i]));
  if (batches.empty()) batches = {1, 5, 10, 20};
  // FLOOR_IN_FLIGHT=K: at most K of a batch's requests unanswered at once. FLOOR_TARGET_PORT:
  // a target already listening on 127.0.0.1 (e.g. build/bench/loopback_target, four threads)
  // instead of the Python one.
  const char* in_flight_text = std::getenv("FLOOR_IN_FLIGHT");
  const int in_flight = in_flight_text ? std::atoi(in_flight_text) : 0;
  RunOptions options;
  const char* close_text = std::getenv("FLOOR_CLOSE");
  options.reset_close = close_text != nullptr && std::string(close_text) == "rst";
  options.congestion = std::getenv("FLOOR_CC");
  options.timestamps = std::getenv("FLOOR_TIMESTAMPS") != nullptr;
  if (const char* path = std::getenv("FLOOR_PATH")) options.path = path;
  const char* given_port = std::getenv("FLOOR_TARGET_PORT");
  const int port = given_port ? std::atoi(given_port) : FreePort();
  pid_t target = -1;
  if (!given_port) {
    target = fork();
    if (target == 0) {
      execlp("python3", "python3", kTarget, std::to_string(port).c_str(), nullptr);
      _exit(127);
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 100; ++i) {  // until the target listens
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int ok = 0;
  double latency_s = 0;
  // FLOOR_PACED_ONLY=1 leaves the back-to-back loop out: beside other processes (e.g. in
  // bench/probe_stack_bench's windows) it would hold a core for seconds at an unpaced rate.
  if (std::getenv("FLOOR_PACED_ONLY") == nullptr) {
    const double b2b = Measure(addr, runs, 0, 1, 0, options, &ok, &latency_s);
    std::printf("back to back      runs %d ok %d cpu/run %.1f us mean latency %.3f ms\n", runs,
                ok, b2b, latency_s / runs * 1e3);
  }
  for (int b : batches) {
    const double us = Measure(addr, runs, gap_us, b, in_flight, options, &ok, &latency_s);
    std::printf("B=%-3d every %3ld ms in flight %-3d runs %d ok %d cpu/run %.1f us mean latency "
                "%.3f ms\n",
                b, gap_us * b / 1000, in_flight > 0 ? std::min(in_flight, b) : b, runs, ok, us,
                latency_s / runs * 1e3);
  }
  if (target > 0) {
    kill(target, SIGTERM);
    waitpid(target, nullptr, 0);
  }
  return 0;
}
