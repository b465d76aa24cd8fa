// An exclusive, non-blocking flock() on "<database>.lock" holding the writer's pid, and on the
// database file itself (so that a symlink or hard link cannot bypass it), so that two obsmon
// processes never write one database. Destroy it only after the SQLite connections of the
// database in this process are closed: it holds a descriptor of the database file. (A failed
// Acquire() in a process that already writes the database closes the descriptor it opened,
// which drops that process's POSIX locks: only tests do that; the daemon has one writer.) The kernel releases the lock when the process dies
// (even by SIGKILL), so a stale lock file never blocks a restart.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace obsmon::storage {

class LockFile {
 public:
  // Takes the lock or fails with "database X is in use by another obsmon (pid N)". The lock is
  // per open file description: a second LockFile in the same process also fails.
  static Result<std::unique_ptr<LockFile>> Acquire(const std::string& db_path);
  ~LockFile();  // releases the lock (the file itself stays, harmless)

  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

 private:
  LockFile(int fd, int db_fd) : fd_(fd), db_fd_(db_fd) {}
  int fd_;     // "<database>.lock"
  int db_fd_;  // the database file itself (flock on the file, whatever its name)
};

}  // namespace obsmon::storage
