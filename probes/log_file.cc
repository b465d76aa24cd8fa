#include "probes/log_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace obsmon::probes {

namespace {

gzFile AsGz(void* p) { return static_cast<gzFile>(p); }

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() < 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string ErrnoReason(int err) {
  switch (err) {
    case ENOENT:
      return "no such file";
    case EACCES:
    case EPERM:
      return "permission denied";
    case EISDIR:
      return "is a directory";
    case ELOOP:
      return "too many symlinks";
    case ENOTDIR:
      return "a path component is not a directory";
    default: {
      std::string s = std::strerror(err);
      if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
      return s;
    }
  }
}

std::string FormatFingerprint(std::string_view prefix) {
  if (prefix.empty()) return "";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a64(prefix)));
  return std::to_string(prefix.size()) + ":" + hex;
}

size_t FingerprintLength(std::string_view fingerprint) {
  const size_t colon = fingerprint.find(':');
  if (colon == std::string_view::npos || colon == 0) return 0;
  size_t n = 0;
  for (char c : fingerprint.substr(0, colon)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

bool HeadMatches(std::string_view head, std::string_view fp) {
  const size_t len = FingerprintLength(fp);
  return len > 0 && head.size() >= len && FormatFingerprint(head.substr(0, len)) == fp;
}

Result<LogFile> LogFile::Open(const std::string& path) {
  LogFile f;
  f.path_ = path;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (f.fd_ < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(ErrnoReason(err));
    return Status::IoError(ErrnoReason(err));
  }
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0) return Status::IoError(ErrnoReason(errno));
  if (S_ISDIR(st.st_mode)) return Status::IoError("is a directory");
  if (!S_ISREG(st.st_mode)) return Status::IoError("not a regular file");
  f.id_ = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  f.size_ = static_cast<int64_t>(st.st_size);
  f.mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  unsigned char magic[2] = {0, 0};
  if (::pread(f.fd_, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    const int dup = ::fcntl(f.fd_, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Status::IoError(ErrnoReason(errno));
    gzFile gz = gzdopen(dup, "rb");
    if (gz == nullptr) {
      ::close(dup);
      return Status::IoError("cannot open gzip stream");
    }
    gzbuffer(gz, 256 * 1024);
    f.gz_ = gz;
  }
  return f;
}

LogFile::LogFile(LogFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(o.fd_),
      gz_(o.gz_),
      id_(o.id_),
      size_(o.size_),
      mtime_ns_(o.mtime_ns_),
      gz_pos_(o.gz_pos_),
      pos_(o.pos_),
      advised_until_(o.advised_until_) {
  o.fd_ = -1;
  o.gz_ = nullptr;
}

LogFile& LogFile::operator=(LogFile&& o) noexcept {
  if (this != &o) {
    Close();
    path_ = std::move(o.path_);
    fd_ = o.fd_;
    gz_ = o.gz_;
    id_ = o.id_;
    size_ = o.size_;
    mtime_ns_ = o.mtime_ns_;
    gz_pos_ = o.gz_pos_;
    pos_ = o.pos_;
    advised_until_ = o.advised_until_;
    o.fd_ = -1;
    o.gz_ = nullptr;
  }
  return *this;
}

LogFile::~LogFile() { Close(); }

Result<LogFile> LogFile::Share() const {
  if (gz_ != nullptr) return Status::InvalidArgument("a compressed file cannot be shared");
  LogFile f;
  f.fd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (f.fd_ < 0) return Status::IoError(ErrnoReason(errno));
  f.path_ = path_;
  f.id_ = id_;
  f.size_ = size_;
  f.mtime_ns_ = mtime_ns_;
  return f;
}

void LogFile::Close() {
  if (gz_ != nullptr) gzclose(AsGz(gz_));
  gz_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<size_t> LogFile::ReadAt(int64_t offset, char* buf, size_t n) {
  if (gz_ == nullptr) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, buf + got, n - got, offset + static_cast<int64_t>(got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::IoError(ErrnoReason(errno));
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }
  // gzip: rewind, read, and restore the sequential position.
  const int64_t keep = gz_pos_;
  if (Status s = Seek(offset); !s.ok()) return s;
  size_t got = 0;
  while (got < n) {
    auto r = Read(buf + got, n - got);
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    got += *r;
  }
  if (Status s = Seek(keep); !s.ok()) return s;
  return got;
}

Result<std::string> LogFile::Head(size_t max_bytes) {
  std::string prefix(max_bytes, '\0');
  auto got = ReadAt(0, prefix.data(), max_bytes);
  if (!got.ok()) return got.status();
  prefix.resize(*got);
  return prefix;
}

Result<std::string> LogFile::Fingerprint(size_t max_bytes) {
  auto head = Head(max_bytes);
  if (!head.ok()) return head.status();
  return FormatFingerprint(*head);
}

Result<int64_t> LogFile::ContentSize() {
  if (gz_ == nullptr) {
    struct stat st {};
    if (!Stat(&st)) return Status::IoError(ErrnoReason(errno));
    return static_cast<int64_t>(st.st_size);
  }
  if (Status s = Seek(INT64_MAX); !s.ok()) return s;
  return gz_pos_;
}

bool LogFile::MatchesFingerprint(const std::string& fp) {
  const size_t len = FingerprintLength(fp);
  if (len == 0) return false;
  auto mine = Fingerprint(len);
  return mine.ok() && *mine == fp;
}

bool LogFile::Stat(struct stat* st) const { return fd_ >= 0 && ::fstat(fd_, st) == 0; }

int64_t LogFile::BirthNs() const {
  struct statx stx {};
  if (fd_ < 0 || ::statx(fd_, "", AT_EMPTY_PATH, STATX_BTIME, &stx) != 0) return 0;
  if ((stx.stx_mask & STATX_BTIME) == 0) return 0;
  return static_cast<int64_t>(stx.stx_btime.tv_sec) * 1'000'000'000 + stx.stx_btime.tv_nsec;
}

Status LogFile::Seek(int64_t offset) {
  if (gz_ == nullptr) {
    if (offset < 0) return Status::InvalidArgument("negative offset");
    pos_ = offset;
    advised_until_ = offset;
    return Status::Ok();
  }
  if (offset < gz_pos_) {
    if (gzrewind(AsGz(gz_)) != 0) return Status::IoError("gzip rewind failed");
    gz_pos_ = 0;
  }
  // gzseek would do the same: decompress and discard up to `offset`.
  char skip[64 * 1024];
  while (gz_pos_ < offset) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(sizeof skip, offset - gz_pos_));
    auto r = Read(skip, want);
    if (!r.ok()) return r.status();
    if (*r == 0) break;  // past the end: reads return 0
  }
  return Status::Ok();
}

Result<size_t> LogFile::Read(char* buf, size_t n) {
  if (gz_ == nullptr) {
    // Ask for the next kReadAheadBytes ahead of time: from a cold page cache the kernel's own
    // readahead (read_ahead_kb, often 128 KiB) keeps too little in flight. Measured on the
    // 2-core VM of docs/benchmarks.md (read_ahead_kb 8192): a cold 839 MB scan took 1.0-2.9 s
    // without, 1.0-1.3 s with 16 MiB, 0.7-1.6 s with 64 MiB. Cheap when the pages are cached.
    if (pos_ + kReadAheadBytes / 2 > advised_until_) {
      const int64_t from = std::max(pos_, advised_until_);
      (void)::posix_fadvise(fd_, from, pos_ + kReadAheadBytes - from, POSIX_FADV_WILLNEED);
      advised_until_ = pos_ + kReadAheadBytes;
    }
    for (;;) {
      // pread at our own position: a Share() of this file reads elsewhere at the same time.
      const ssize_t r = ::pread(fd_, buf, n, pos_);
      if (r >= 0) {
        pos_ += r;
        return static_cast<size_t>(r);
      }
      if (errno == EINTR) continue;
      return Status::IoError(ErrnoReason(errno));
    }
  }
  const int r = gzread(AsGz(gz_), buf, static_cast<unsigned>(std::min<size_t>(n, 1u << 30)));
  if (r < 0) {
    int errnum = 0;
    const char* msg = gzerror(AsGz(gz_), &errnum);
    return Status::IoError(std::string("gzip: ") + (msg ? msg : "read error"));
  }
  gz_pos_ += r;
  return static_cast<size_t>(r);
}

namespace {

std::vector<RotatedName> ListOnce(const std::string& path) {
  std::vector<RotatedName> out;
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= base.size() + 1 || name.substr(0, base.size()) != base) continue;
    const char sep = name[base.size()];
    if (sep != '.' && sep != '-' && sep != '_') continue;
    RotatedName r;
    r.inode = static_cast<uint64_t>(e->d_ino);
    r.suffix = std::string(name.substr(base.size() + 1));
    r.path = (dir == "/" ? "" : dir) + "/" + std::string(name);
    std::string_view num = r.suffix;
    for (std::string_view ext : {".gz", ".z", ".Z"}) {
      if (num.size() > ext.size() && num.substr(num.size() - ext.size()) == ext) {
        num.remove_suffix(ext.size());
        break;
      }
    }
    if (sep == '.' && AllDigits(num)) r.numbered = std::stoi(std::string(num));
    out.push_back(std::move(r));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const RotatedName& a, const RotatedName& b) {
    if ((a.numbered >= 0) != (b.numbered >= 0)) return a.numbered >= 0;
    if (a.numbered >= 0 && a.numbered != b.numbered) return a.numbered < b.numbered;
    if (a.numbered >= 0) return a.path < b.path;  // ".1" before ".1.gz" (same N: either)
    return a.suffix > b.suffix;
  });
  // A compression in progress: the plain file is complete, the .gz not yet.
  // Decide for every entry first, then move: moving while deciding would empty the path of a
  // plain file (".1" sorts before ".1.gz") before its ".gz" looks for it.
  std::vector<bool> keep(out.size(), true);
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string& p = out[i].path;
    if (p.size() <= 3 || p.compare(p.size() - 3, 3, ".gz") != 0) continue;
    const std::string plain = p.substr(0, p.size() - 3);
    for (const auto& o : out) keep[i] = keep[i] && o.path != plain;
  }
  std::vector<RotatedName> kept;
  for (size_t i = 0; i < out.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(out[i]));
  }
  return kept;
}

bool SameListing(const std::vector<RotatedName>& a, const std::vector<RotatedName>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].inode != b[i].inode) return false;
  }
  return true;
}

}  // namespace

std::vector<RotatedName> ListRotated(const std::string& path) {
  std::vector<RotatedName> last = ListOnce(path);
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::vector<RotatedName> now = ListOnce(path);
    if (SameListing(now, last)) return now;
    last = std::move(now);
  }
  return last;
}

}  // namespace obsmon::probes
