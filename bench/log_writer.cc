// log_writer: the application of bench/log_follow_compare.sh (docs/benchmarks.md, "A log that
// grows"): appends a source file's lines to a log at a steady rate, the way a service's logging
// does, and rotates it the way logrotate's default (create) mode does.
//
//   log_writer SOURCE PATH LINES_PER_S SECONDS [ROTATE_EVERY_S [create|copytruncate]]
//
// Each line is its own write() on a descriptor opened with O_APPEND (Python's logging
// FileHandler and most loggers flush every record), paced in 10 ms steps: at each step the lines
// due by then (LINES_PER_S x elapsed) are written. Every ROTATE_EVERY_S seconds (0: never) PATH
// is renamed to PATH.1 (PATH.1 to PATH.2 and so on, up to PATH.9, older ones removed) and a new
// PATH created, as `logrotate` with `create` does (PATH.1 to PATH.9 must not exist at the start:
// rotating shifts and removes them); with `copytruncate`, PATH is copied to PATH.1 and then
// truncated in place, the writer going on at offset 0 of the same file (O_APPEND), as
// logrotate's `copytruncate` does for an application that cannot reopen its log (done here
// between two lines, so no line falls in logrotate's copy-then-truncate gap). SOURCE is only
// read; PATH must not exist or be empty (the followers may have opened it already): a file
// holding data is never appended to.
//
// Prints "lines=N bytes=B rotations=R seconds=S" at the end: the first N lines of SOURCE are what
// the log holds, so `head -n N SOURCE | grep -c -E PATTERN` is the truth every follower's count
// is checked against, computed without any of them. Stops early on SIGTERM or SIGINT (and still
// prints), and exits 1 when SOURCE runs out of lines before SECONDS or a write or rotation
// fails (and still prints what it wrote).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

constexpr int kKeepRotated = 9;

bool ReadWhole(const char* path, std::string* out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

// `exclusive`: the path must not exist (a rotation's new file); otherwise it may exist empty.
int OpenNew(const std::string& path, bool exclusive) {
  const int fd = ::open(path.c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0644);
  if (fd < 0) {
    std::fprintf(stderr, "log_writer: create %s: %s\n", path.c_str(), std::strerror(errno));
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size != 0) {
    std::fprintf(stderr, "log_writer: %s holds data; it is never appended to\n", path.c_str());
    ::close(fd);
    return -1;
  }
  return fd;
}

// PATH.1 to PATH.2 and so on; the oldest removed: PATH.1 is then free.
void ShiftRotated(const std::string& path) {
  (void)::unlink((path + "." + std::to_string(kKeepRotated)).c_str());
  for (int i = kKeepRotated - 1; i >= 1; --i) {
    (void)::rename((path + "." + std::to_string(i)).c_str(),
                   (path + "." + std::to_string(i + 1)).c_str());
  }
}

bool Rotate(const std::string& path) {
  ShiftRotated(path);
  if (::rename(path.c_str(), (path + ".1").c_str()) != 0) {
    std::fprintf(stderr, "log_writer: rename %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// logrotate's copytruncate: PATH's bytes copied to a new PATH.1, then PATH truncated to 0.
bool CopyTruncate(const std::string& path, int fd) {
  std::string bytes;
  if (!ReadWhole(path.c_str(), &bytes)) return false;
  ShiftRotated(path);
  const int copy = ::open((path + ".1").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (copy < 0) return false;
  const bool copied = WriteAll(copy, bytes.data(), bytes.size());
  ::close(copy);
  return copied && ::ftruncate(fd, 0) == 0;
}


}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    std::fprintf(stderr, "usage: log_writer SOURCE PATH LINES_PER_S SECONDS "
                         "[ROTATE_EVERY_S [create|copytruncate]]\n");
    return 2;
  }
  const std::string mode = argc == 7 ? argv[6] : "create";
  if (mode != "create" && mode != "copytruncate") {
    std::fprintf(stderr, "log_writer: rotation mode '%s' is neither create nor copytruncate\n",
                 mode.c_str());
    return 2;
  }
  const std::string path = argv[2];
  const double rate = std::strtod(argv[3], nullptr);
  const double seconds = std::strtod(argv[4], nullptr);
  const double rotate_every = argc >= 6 ? std::strtod(argv[5], nullptr) : 0.0;
  if (!(rate > 0) || !(seconds > 0) || rotate_every < 0) {
    std::fprintf(stderr, "log_writer: LINES_PER_S and SECONDS must be > 0\n");
    return 2;
  }
  std::string source;
  if (!ReadWhole(argv[1], &source)) {
    std::fprintf(stderr, "log_writer: read %s: %s\n", argv[1], std::strerror(errno));
    return 2;
  }
  // Rotating shifts PATH.1..PATH.9 and removes the oldest: a user's files of those names (the
  // SOURCE among them) would be moved and deleted (fresh eyes, stop 58).
  for (int i = 1; i <= kKeepRotated; ++i) {
    const std::string rotated = path + "." + std::to_string(i);
    if (struct stat st {}; ::lstat(rotated.c_str(), &st) == 0) {
      std::fprintf(stderr, "log_writer: %s exists; rotating would move or remove it\n",
                   rotated.c_str());
      return 2;
    }
  }
  std::signal(SIGTERM, OnStop);
  std::signal(SIGINT, OnStop);
  int fd = OpenNew(path, /*exclusive=*/false);
  if (fd < 0) return 2;

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto next_rotation = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(rotate_every));
  uint64_t lines = 0, bytes = 0, rotations = 0;
  size_t at = 0;  // the next line's offset in source
  bool ran_out = false;
  bool failed = false;  // a write or a rotation failed: the account is still printed
  for (auto step = start; !g_stop; step += std::chrono::milliseconds(10)) {
    std::this_thread::sleep_until(step);
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    if (elapsed >= seconds) break;
    if (rotate_every > 0 && now >= next_rotation) {
      if (mode == "copytruncate") {
        if (!CopyTruncate(path, fd)) {
          std::fprintf(stderr, "log_writer: copytruncate %s: %s\n", path.c_str(),
                       std::strerror(errno));
          failed = true;
          break;
        }
      } else {
        ::close(fd);
        if (!Rotate(path) || (fd = OpenNew(path, /*exclusive=*/true)) < 0) {
          failed = true;
          break;
        }
      }
      ++rotations;
      next_rotation += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(rotate_every));
    }
    const auto due = static_cast<uint64_t>(rate * elapsed);
    for (; lines < due; ++lines) {
      const void* nl = std::memchr(source.data() + at, '\n', source.size() - at);
      if (nl == nullptr) {
        ran_out = true;
        break;
      }
      const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - source.data()) + 1;
      if (!WriteAll(fd, source.data() + at, end - at)) {
        std::fprintf(stderr, "log_writer: write %s: %s\n", path.c_str(), std::strerror(errno));
        failed = true;  // this line may be in part in the file: N counts the whole ones
        break;
      }
      bytes += end - at;
      at = end;
    }
    if (ran_out || failed) break;
  }
  if (fd >= 0) ::close(fd);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("lines=%llu bytes=%llu rotations=%llu seconds=%.3f\n",
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(rotations), took);
  if (ran_out) {
    std::fprintf(stderr, "log_writer: %s ran out of lines after %llu\n", argv[1],
                 static_cast<unsigned long long>(lines));
  }
  return ran_out || failed ? 1 : 0;
}
