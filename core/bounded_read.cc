#include "core/bounded_read.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace obsmon {

namespace {

// Closes the descriptor on every path out of ReadRegularFile.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("'" + path + "' does not exist");
    return Status::IoError("cannot open '" + path + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return Status::IoError("cannot stat '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("'" + path + "' is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::InvalidArgument("'" + path + "' is larger than " + std::to_string(max_bytes) +
                                   " bytes");
  }
  // The size may change while reading (a file being written): read at most max_bytes + 1 bytes
  // so that growth past the limit is noticed too.
  std::string out;
  out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min(max_bytes + 1, out.size() * 2 + 4096));
    }
    ssize_t n = ::read(f.fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("cannot read '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > max_bytes) {
    return Status::InvalidArgument("'" + path + "' is larger than " + std::to_string(max_bytes) +
                                   " bytes");
  }
  out.resize(have);
  return out;
}

bool HasGlobChars(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

size_t WildcardSegments(const std::string& pattern) {
  size_t wild_segments = 0;
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t slash = pattern.find('/', start);
    if (slash == std::string::npos) slash = pattern.size();
    if (pattern.find_first_of("*?[", start) < slash) ++wild_segments;
    start = slash + 1;
  }
  return wild_segments;
}

Result<std::vector<std::string>> ExpandGlobBounded(const std::string& pattern, size_t max_matches,
                                                   size_t max_wildcard_segments) {
  if (!HasGlobChars(pattern)) return std::vector<std::string>{pattern};
  // glob(3) reads every directory a wildcard segment can reach: several wildcard segments in a
  // row multiply into a walk of the whole file system. Count them before calling it.
  const size_t wild_segments = WildcardSegments(pattern);
  if (wild_segments > max_wildcard_segments) {
    return Status::InvalidArgument("glob '" + pattern + "' has " + std::to_string(wild_segments) +
                                   " path segments with wildcards (at most " +
                                   std::to_string(max_wildcard_segments) + ")");
  }
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    if (g.gl_pathc > max_matches) {
      const size_t n = g.gl_pathc;
      globfree(&g);
      return Status::InvalidArgument("glob '" + pattern + "' matches " + std::to_string(n) +
                                     " paths (at most " + std::to_string(max_matches) + ")");
    }
    out.reserve(g.gl_pathc);
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace obsmon
