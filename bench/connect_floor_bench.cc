// The kernel floor of a plain-HTTP probe run on this machine, independent of obsmon: a bare loop
// of socket(SOCK_NONBLOCK) / connect / send / poll / recv / close against a small Python target
// (another process: its CPU is not counted), at the pace of N probes at 1 s, and the CPU of this
// process per run (getrusage). B runs started together every B x gap (connect all, send all,
// poll all) show what serving several runs per wake-up saves; B=1 is one run per wake-up, and
// "back to back" has no sleep at all.
//
//   build/bench/connect_floor_bench [runs=3000] [gap_us=10000] [B...=1 5 10 20]
//
// From /tmp/floor/{floor,batch}.c (issue 17, item 2); docs/benchmarks.md, "Probing".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

// `runs` runs, `batch` at a time every batch x gap_us (no sleep when gap_us is 0); returns CPU
// microseconds per run and counts the answered ones in *ok.
double Measure(const sockaddr_in& addr, int runs, long gap_us, int batch, int* ok) {
  const std::string req =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: floor\r\nConnection: close\r\n\r\n";
  char buf[4096];
  *ok = 0;
  const double c0 = CpuSeconds();
  for (int i = 0; i < runs; i += batch) {
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us * batch));
    std::vector<int> fds(batch);
    for (int& fd : fds) {
      fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }
    for (int fd : fds) send(fd, req.data(), req.size(), MSG_NOSIGNAL);  // EAGAIN: see below
    int left = batch;
    std::vector<pollfd> p;
    while (left > 0) {
      p.clear();
      for (int fd : fds) {
        if (fd >= 0) p.push_back({fd, POLLIN, 0});
      }
      if (poll(p.data(), p.size(), 1000) <= 0) break;
      for (const pollfd& q : p) {
        if (q.revents == 0) continue;
        const ssize_t n = recv(q.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN) continue;
        const bool answered = n > 0 && memmem(buf, n, "OK\"}", 4) != nullptr;
        if (n > 0 && !answered) continue;  // the head came first: the body follows
        if (answered) ++*ok;
        close(q.fd);
        for (int& fd : fds) {
          if (fd == q.fd) fd = -1;
        }
        --left;
      }
    }
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
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
  const int port = FreePort();
  const pid_t target = fork();
  if (target == 0) {
    execlp("python3", "python3", kTarget, std::to_string(port).c_str(), nullptr);
    _exit(127);
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
  const double b2b = Measure(addr, runs, 0, 1, &ok);
  std::printf("back to back      runs %d ok %d cpu/run %.1f us\n", runs, ok, b2b);
  for (int b : batches) {
    const double us = Measure(addr, runs, gap_us, b, &ok);
    std::printf("B=%-3d every %3ld ms runs %d ok %d cpu/run %.1f us\n", b, gap_us * b / 1000, runs,
                ok, us);
  }
  kill(target, SIGTERM);
  waitpid(target, nullptr, 0);
  return 0;
}
