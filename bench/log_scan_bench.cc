// log_scan_bench: the helper tool of bench/log_compare.sh (docs/benchmarks.md, "Log scanning").
//
//   log_scan_bench generate SHAPE PATH SIZE_MB
//       Writes a realistic log of SHAPE (python, json, nginx, long) to PATH, which must NOT exist
//       (opened with O_CREAT|O_EXCL: an existing file is never written, truncated or replaced).
//       Prints "lines=N error=E critical=C" (the generator's own count of the lines the shape's
//       patterns match), the truth the daemon's, grep's and rg's counts are checked against.
//   log_scan_bench evict PATH
//       Drops PATH's pages from the page cache: fdatasync (writes back dirty pages, which
//       DONTNEED would skip) and posix_fadvise(POSIX_FADV_DONTNEED) on a read-only descriptor, so
//       the file's content is never modified. Prints "resident=P%" afterwards (mincore), so a
//       cold run shows it was cold. For cold-cache runs.
//   log_scan_bench warm PATH
//       Reads PATH whole (read-only) into the page cache and prints "resident=P%" (mincore), for
//       warm runs: taken just before each tool's timed read, because a machine may drop a file's
//       pages seconds after they were read (this one's kernel runs DAMON's proactive pageout: a
//       file read once went from 100 % to 98 % resident in 12 s; docs/benchmarks.md).
//   log_scan_bench scan PATH [RUNS] NAME=PATTERN...
//       Times a LogFollower reading the whole of PATH (read-only) in-process, through the code the
//       log probe runs, with the given severities (most severe first). For perf profiling; the
//       figures docs/benchmarks.md quotes come from the real daemon (bench/log_compare.sh).
//
// Shapes (each line ends in '\n'; the lowercase word "error" is everywhere, as in real logs):
//   python  `2025-10-14 12:34:56,789 - app.db - INFO - ...`: ~70 % of lines carry lowercase
//           "error" words (error_rate=, "retrying after error"), ERROR 0.5 %, CRITICAL 0.05 %,
//           a few traceback lines after each ERROR. Patterns: critical `CRITICAL`, error `ERROR`.
//   json    one JSON object per line, `"level":"info"` ..., 70 % with an `"error":` key or an
//           error word in "msg"; level error 0.5 %, critical 0.05 %. Patterns:
//           critical `"level":"critical"`, error `"level":"error"`.
//   nginx   nginx error_log lines, every one with a `[level]`; 45 % `[error]`, 0.2 % `[crit]`,
//           0.05 % `[alert]`, 0.02 % `[emerg]`, the rest `[warn]`/`[notice]`/`[info]`, many
//           lowercase "error"s in messages ("SSL_do_handshake() failed (SSL: error:...)").
//           Patterns: critical `\[crit\]|\[alert\]|\[emerg\]`, error `\[error\]`.
//   long    python-logging lines of 4-64 KB (a dumped payload full of lowercase "error"),
//           ERROR 1 %, CRITICAL 0.1 %. Patterns as python.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "probes/log_follower.h"
#include "probes/log_scanner.h"

namespace {

struct Counts {
  uint64_t lines = 0, error = 0, critical = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // Appends one "line" (possibly several physical lines: a traceback) to *out.
  void Python(std::string* out, Counts* c) { PythonLine(out, c, false); }
  void Long(std::string* out, Counts* c) { PythonLine(out, c, true); }

  void Json(std::string* out, Counts* c) {
    const uint32_t d = Roll();
    const char* level = d < 50     ? "error"
                        : d < 55   ? "critical"
                        : d < 3000 ? "warning"
                        : d < 8000 ? "info"
                                   : "debug";
    if (d < 50) ++c->error;
    if (d >= 50 && d < 55) ++c->critical;
    *out += "{\"time\":\"";
    Timestamp(out, 'T');
    *out += "Z\",\"level\":\"";
    *out += level;
    *out += "\",\"logger\":\"";
    *out += kLoggers[rng_() % 6];
    *out += "\",\"msg\":\"";
    const bool lower_error = Roll() < 7000;
    static const char* kMsgs[] = {"request completed", "cache refreshed", "job scheduled",
                                  "connection pool resized", "payload validated"};
    static const char* kErrMsgs[] = {"retrying after error: connection reset by peer",
                                     "request completed with error_count=0",
                                     "upstream error ignored (will retry)", "no error in batch"};
    *out += lower_error ? kErrMsgs[rng_() % 4] : kMsgs[rng_() % 5];
    *out += "\",\"request_id\":\"";
    Hex(out, 16);
    *out += "\",\"duration_ms\":";
    *out += std::to_string(rng_() % 5000);
    if (lower_error) *out += ",\"error\":null,\"error_rate\":0.0";
    *out += ",\"status\":";
    *out += std::to_string(kStatus[rng_() % 5]);
    *out += "}\n";
    ++c->lines;
  }

  void Nginx(std::string* out, Counts* c) {
    const uint32_t d = Roll();
    const char* level;
    if (d < 4500) {
      level = "error";
      ++c->error;
    } else if (d < 4520) {
      level = "crit";
      ++c->critical;
    } else if (d < 4525) {
      level = "alert";
      ++c->critical;
    } else if (d < 4527) {
      level = "emerg";
      ++c->critical;
    } else {
      level = d < 8000 ? "warn" : d < 9500 ? "notice" : "info";
    }
    char date[32];
    std::snprintf(date, sizeof date, "2025/10/%02u %02u:%02u:%02u [",
                  static_cast<unsigned>(1 + (n_ / 86400) % 28),
                  static_cast<unsigned>((n_ / 3600) % 24), static_cast<unsigned>((n_ / 60) % 60),
                  static_cast<unsigned>(n_ % 60));
    ++n_;
    *out += date;
    *out += level;
    *out += "] ";
    *out += std::to_string(1000 + rng_() % 50);
    *out += "#0: *";
    *out += std::to_string(rng_() % 10000000);
    static const char* kMsgs[] = {
        "upstream prematurely closed connection while reading response header from upstream",
        "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) "
        "while SSL handshaking",
        "open() \"/var/www/html/favicon.ico\" failed (2: No such file or directory)",
        "recv() failed (104: Connection reset by peer) while reading upstream, error_page "
        "fallback used",
        "an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00",
        "client intended to send too large body: 10485760 bytes, error logged"};
    *out += kMsgs[rng_() % 6];
    *out += ", client: 10.0.";
    *out += std::to_string(rng_() % 256);
    *out += '.';
    *out += std::to_string(rng_() % 256);
    *out += ", server: api.example.org, request: \"GET /api/v1/errors/";
    *out += std::to_string(rng_() % 100000);
    *out +=
        " HTTP/1.1\", upstream: \"http://127.0.0.1:8080/api/v1/errors\", host: "
        "\"api.example.org\"\n";
    ++c->lines;
  }

 private:
  uint32_t Roll() { return static_cast<uint32_t>(rng_() % 10000); }  // per ten thousand

  void Timestamp(std::string* out, char sep) {
    char ts[40];
    std::snprintf(ts, sizeof ts, "2025-10-%02u%c%02u:%02u:%02u%c%03u",
                  static_cast<unsigned>(1 + (n_ / 86400) % 28), sep,
                  static_cast<unsigned>((n_ / 3600) % 24), static_cast<unsigned>((n_ / 60) % 60),
                  static_cast<unsigned>(n_ % 60), sep == 'T' ? '.' : ',',
                  static_cast<unsigned>(rng_() % 1000));
    ++n_;
    *out += ts;
  }

  void Hex(std::string* out, int digits) {
    static const char kDigits[] = "0123456789abcdef";
    uint64_t v = rng_();
    for (int i = 0; i < digits; ++i, v >>= 4) *out += kDigits[v & 15];
  }

  void PythonLine(std::string* out, Counts* c, bool long_lines) {
    const uint32_t d = Roll();
    const uint32_t error_below = long_lines ? 100 : 50;
    const uint32_t critical_below = error_below + (long_lines ? 10 : 5);
    const char* level = d < error_below      ? "ERROR"
                        : d < critical_below ? "CRITICAL"
                        : d < 800            ? "WARNING"
                        : d < 8800           ? "INFO"
                                             : "DEBUG";
    Timestamp(out, ' ');
    *out += " - ";
    *out += kLoggers[rng_() % 6];
    *out += " - ";
    *out += level;
    *out += " - ";
    const bool lower_error = Roll() < 7000;
    if (d < error_below) {
      ++c->error;
      *out += "request failed id=";
      Hex(out, 8);
    } else if (d < critical_below) {
      ++c->critical;
      *out += "database unavailable, giving up after 5 retries";
    } else if (lower_error) {
      static const char* kMsgs[] = {"retrying after transient error: connection reset",
                                    "batch stored rows=500 error_rate=0.000 errors=0",
                                    "validation error on field 'email' (user input), ignored",
                                    "health ok, last error 3h ago"};
      *out += kMsgs[rng_() % 4];
    } else {
      static const char* kMsgs[] = {"request completed path=/api/v1/items status=200",
                                    "cache refreshed entries=4096",
                                    "emissions sample stored kg=0.000123 region=eu-west"};
      *out += kMsgs[rng_() % 3];
    }
    if (long_lines) {
      // A dumped payload: 4-64 KB, with lowercase "error" words and no uppercase severity.
      const size_t want = 4096 + rng_() % (60 * 1024);
      *out += " payload=";
      const size_t start = out->size();
      while (out->size() - start < want) {
        *out += "{\"item\":\"";
        Hex(out, 12);
        *out += "\",\"error\":null,\"retries\":";
        *out += std::to_string(rng_() % 4);
        *out += "},";
      }
    }
    *out += '\n';
    ++c->lines;
    if (d < error_below && !long_lines && rng_() % 2 == 0) {
      *out +=
          "Traceback (most recent call last):\n"
          "  File \"/app/handlers.py\", line 88, in handle\n"
          "    raise ValueError(\"bad error code\")\n"
          "ValueError: bad error code\n";
      c->lines += 4;
    }
  }

  static constexpr const char* kLoggers[] = {"app.api",      "app.db",         "app.worker",
                                             "urllib3.pool", "carbon.tracker", "app.auth"};
  static constexpr int kStatus[] = {200, 200, 201, 404, 500};
  std::mt19937_64 rng_;
  uint64_t n_ = 0;
};

int Generate(const std::string& shape, const std::string& path, uint64_t size_mb) {
  // O_EXCL: never write to a file that exists (a user's log, a previous run's file).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "generate: %s: %s (an existing file is never overwritten)\n", path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  Generator gen(1234);
  Counts counts;
  const uint64_t target = size_mb << 20;
  uint64_t written = 0;
  std::string buf;
  while (written < target) {
    buf.clear();
    while (buf.size() < (4u << 20)) {
      if (shape == "python") {
        gen.Python(&buf, &counts);
      } else if (shape == "long") {
        gen.Long(&buf, &counts);
      } else if (shape == "json") {
        gen.Json(&buf, &counts);
      } else if (shape == "nginx") {
        gen.Nginx(&buf, &counts);
      } else {
        std::fprintf(stderr, "generate: unknown shape '%s' (python, json, nginx, long)\n",
                     shape.c_str());
        ::close(fd);
        ::unlink(path.c_str());
        return 2;
      }
    }
    size_t off = 0;
    while (off < buf.size()) {
      const ssize_t w = ::write(fd, buf.data() + off, buf.size() - off);
      if (w < 0) {
        std::fprintf(stderr, "generate: write %s: %s\n", path.c_str(), std::strerror(errno));
        ::close(fd);
        return 2;
      }
      off += static_cast<size_t>(w);
    }
    written += buf.size();
  }
  ::close(fd);
  std::printf("lines=%llu error=%llu critical=%llu\n",
              static_cast<unsigned long long>(counts.lines),
              static_cast<unsigned long long>(counts.error),
              static_cast<unsigned long long>(counts.critical));
  return 0;
}

// Percentage of the file's pages in the page cache (mincore over a read-only mapping).
double ResidentPercent(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size == 0) return 0;
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return -1;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size + page - 1) / page);
  double pct = -1;
  if (::mincore(map, size, vec.data()) == 0) {
    size_t in = 0;
    for (unsigned char v : vec) in += v & 1;
    pct = 100.0 * static_cast<double>(in) / static_cast<double>(vec.size());
  }
  ::munmap(map, size);
  return pct;
}

// PATH opened read-only for `what` (evict, warm), or -1 after saying why.
int OpenReadOnly(const char* what, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) std::fprintf(stderr, "%s: %s: %s\n", what, path.c_str(), std::strerror(errno));
  return fd;
}

// Prints "resident=P%" of `fd` and closes it, or says why `what` failed (err: an errno value).
int ReportAndClose(const char* what, const std::string& path, int fd, int err) {
  const double resident = ResidentPercent(fd);
  ::close(fd);
  if (err != 0) {
    std::fprintf(stderr, "%s: %s: %s\n", what, path.c_str(), std::strerror(err));
    return 2;
  }
  std::printf("resident=%.1f%%\n", resident);
  return 0;
}

int Evict(const std::string& path) {
  const int fd = OpenReadOnly("evict", path);
  if (fd < 0) return 2;
  (void)::fdatasync(fd);  // dirty pages (a file just generated) are not dropped by DONTNEED
  return ReportAndClose("evict", path, fd, ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
}

int Scan(const std::string& path, int runs, const std::vector<std::string>& specs) {
  std::vector<obsmon::probes::SeverityPattern> severities;
  for (const auto& s : specs) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "scan: severity '%s' is not NAME=PATTERN\n", s.c_str());
      return 2;
    }
    severities.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  if (severities.empty()) severities = obsmon::probes::DefaultSeverities();
  auto created = obsmon::probes::LogScanner::Create(severities, false);
  if (!created.ok()) {
    std::fprintf(stderr, "scan: %s\n", created.status().message().c_str());
    return 2;
  }
  auto scanner = std::move(created).value();
  for (int round = 0; round < runs; ++round) {
    obsmon::probes::LogFollower follower(
        path, scanner.get(), {.read_chunk_bytes = 1 << 20, .max_events_per_poll = 1000});
    const auto t0 = std::chrono::steady_clock::now();
    auto out = follower.Poll([] { return false; });
    const auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("run %d: %.3f s %.2f GB/s lines=%llu bytes=%llu", round, s,
                static_cast<double>(out.bytes) / 1e9 / s,
                static_cast<unsigned long long>(out.lines),
                static_cast<unsigned long long>(out.bytes));
    for (size_t i = 0; i < severities.size(); ++i) {
      std::printf(" %s=%llu", severities[i].name.c_str(),
                  static_cast<unsigned long long>(out.matches[i]));
    }
    std::printf("\n");
  }
  return 0;
}

int Warm(const std::string& path) {
  const int fd = OpenReadOnly("warm", path);
  if (fd < 0) return 2;
  std::vector<char> buf(4 << 20);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
  }
  return ReportAndClose("warm", path, fd, n < 0 ? errno : 0);
}

int Usage() {
  std::fprintf(stderr,
               "usage: log_scan_bench generate SHAPE PATH SIZE_MB\n"
               "       log_scan_bench evict PATH\n"
               "       log_scan_bench warm PATH\n"
               "       log_scan_bench scan PATH [RUNS] [NAME=PATTERN...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string cmd = argv[1];
  if (cmd == "generate" && argc == 5) {
    return Generate(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  }
  if (cmd == "evict" && argc == 3) return Evict(argv[2]);
  if (cmd == "warm" && argc == 3) return Warm(argv[2]);
  if (cmd == "scan") {
    int runs = 3;
    int next = 3;
    if (argc > 3 && std::strchr(argv[3], '=') == nullptr) {
      runs = std::atoi(argv[3]);
      next = 4;
    }
    return Scan(argv[2], runs, std::vector<std::string>(argv + next, argv + argc));
  }
  return Usage();
}
