#include "storage/lock_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace obsmon::storage {

Result<std::unique_ptr<LockFile>> LockFile::Acquire(const std::string& db_path) {
  const std::string path = db_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IoError(fmt::format("cannot open lock file {}: {}", path, strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder = "unknown pid";
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::string text(buf, static_cast<size_t>(n));
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      if (!text.empty()) holder = "pid " + text;
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Unavailable(
          fmt::format("database {} is in use by another obsmon ({})", db_path, holder));
    }
    return Status::IoError(fmt::format("cannot lock {}: {}", path, strerror(err)));
  }
  // The lock file is named after the configured path; a symlink or hard link to the same
  // database has another name. So the database file itself is locked too (flock() locks the
  // file, whatever name opened it). Kept open for the writer's life: closing a descriptor of the
  // database drops the process's POSIX locks on it (SQLite's), so it is closed only after the
  // writer's connection (see ~LockFile).
  int db_fd = ::open(db_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  if (db_fd < 0) {
    int err = errno;
    ::close(fd);
    return Status::IoError(fmt::format("cannot open database {}: {}", db_path, strerror(err)));
  }
  if (::flock(db_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(db_fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Unavailable(fmt::format(
          "database {} is in use by another obsmon (the same file under another name: a symlink "
          "or hard link?)",
          db_path));
    }
    return Status::IoError(fmt::format("cannot lock database {}: {}", db_path, strerror(err)));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds regardless; only the message of a rival would lack our pid.
  }
  return std::unique_ptr<LockFile>(new LockFile(fd, db_fd));
}

LockFile::~LockFile() {
  ::close(db_fd_);  // releases its flock; the owner has closed its SQLite connection first
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace obsmon::storage
