// One log file as the log probe sees it: its identity (device, inode), a fingerprint of its first
// bytes, and reading from an offset, transparently through gzip for rotated `.gz` files. Also
// lists the rotated siblings of a followed path (logrotate's `.1`, `.2.gz`, dateext `-20250101`).
//
// A LogFile owns its descriptor; it is movable, not copyable, and not thread-safe (Share() gives
// another thread its own). Errors are Status values whose message is the short reason shown to
// users ("permission denied").
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace obsmon::probes {

// Bytes hashed into a fingerprint. A shorter file has a shorter fingerprint that grows as it
// grows; a fingerprint records its length so that it can be recomputed over the same bytes.
constexpr size_t kFingerprintBytes = 1024;

struct FileId {
  uint64_t dev = 0;
  uint64_t inode = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

// "<length>:<16 hex digits of FNV-1a 64>"; "" for an empty prefix.
std::string FormatFingerprint(std::string_view prefix);
// The length recorded in a fingerprint, 0 for "" or a malformed one.
size_t FingerprintLength(std::string_view fingerprint);
// True when `head` (a file's first bytes) starts with the bytes fingerprinted by `fp` (false
// for an empty or malformed fp, or a head shorter than the fingerprint).
bool HeadMatches(std::string_view head, std::string_view fp);

class LogFile {
 public:
  // Opens `path` (following symlinks) for reading. A file starting with the gzip magic is read
  // decompressed. Fails with NotFound ("no such file"), IoError ("permission denied",
  // "is a directory", "not a regular file", ...).
  static Result<LogFile> Open(const std::string& path);

  LogFile(LogFile&&) noexcept;
  LogFile& operator=(LogFile&&) noexcept;
  ~LogFile();

  // A second reader of the same open file (plain files only) with its own read position, so
  // that two threads can read different parts of it at once; each LogFile stays single-threaded.
  Result<LogFile> Share() const;

  const std::string& path() const { return path_; }
  FileId id() const { return id_; }
  bool compressed() const { return gz_ != nullptr; }
  // Size on disk when the file was opened (compressed size for gzip files).
  int64_t size_on_disk() const { return size_; }
  int64_t mtime_ns() const { return mtime_ns_; }

  // Fingerprint over the first min(max_bytes, available) bytes (decompressed for gzip). Does not
  // move the read position of Read().
  Result<std::string> Fingerprint(size_t max_bytes = kFingerprintBytes);
  // True when the file's first FingerprintLength(fp) bytes have fingerprint `fp` (false when the
  // file is shorter, or fp is empty).
  bool MatchesFingerprint(const std::string& fp);
  // The first min(max_bytes, available) bytes (decompressed for gzip), read now. Does not move
  // the read position of Read().
  Result<std::string> Head(size_t max_bytes = kFingerprintBytes);
  // The content's length now: the size for a plain file, the decompressed length for gzip
  // (decompresses the whole file once). Moves the read position of Read() to the end.
  Result<int64_t> ContentSize();

  // fstat of the open file (its size now, not at Open()); false on error.
  bool Stat(struct stat* st) const;
  // The open file's birth time (statx), ns; 0 when the file system keeps none.
  int64_t BirthNs() const;

  // Positions the next Read() at `offset` (decompressed bytes for gzip). Seeking past the end is
  // allowed; Read() then returns 0.
  Status Seek(int64_t offset);
  // Reads up to n bytes; 0 at the end of the file.
  Result<size_t> Read(char* buf, size_t n);
  // Up to n bytes at `offset` (decompressed for gzip), fewer at the end of the file. Does not
  // move the read position of Read().
  Result<size_t> ReadAt(int64_t offset, char* buf, size_t n);

 private:
  LogFile() = default;
  void Close();

  std::string path_;
  int fd_ = -1;
  void* gz_ = nullptr;  // gzFile, opened on a dup of fd_
  FileId id_;
  int64_t size_ = 0;
  int64_t mtime_ns_ = 0;
  int64_t gz_pos_ = 0;  // decompressed read position (gzip only)
  // Plain files: the read position, and how far ahead of it posix_fadvise(WILLNEED) was asked.
  static constexpr int64_t kReadAheadBytes = 64 << 20;
  int64_t pos_ = 0;
  int64_t advised_until_ = 0;
};

// A rotated sibling of a followed path, e.g. carbon.log.1, carbon.log.2.gz, carbon.log-20250101.
struct RotatedName {
  std::string path;
  // Ordering: lower = more recent. ".N" sorts by N; any other suffix (dateext) sorts after the
  // numbered ones, newest (lexically greatest) first.
  int numbered = -1;  // N for ".N" / ".N.gz", -1 otherwise
  std::string suffix;
  uint64_t inode = 0;  // as listed (d_ino)
};

// Rotated siblings of `path` in its directory, most recent first: names `<base>.<suffix>`,
// `<base>-<suffix>` or `<base>_<suffix>`. `X.gz` is left out while `X` exists (logrotate is
// compressing X). The directory is listed until two listings agree, so a rename by a concurrent
// logrotate is not half-seen. Missing or unreadable directory: empty.
std::vector<RotatedName> ListRotated(const std::string& path);

// Reason text for an errno value, short and lowercase ("permission denied").
std::string ErrnoReason(int err);

}  // namespace obsmon::probes
