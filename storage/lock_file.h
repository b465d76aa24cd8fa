// An exclusive, non-blocking flock() on "<database>.lock" holding the writer's pid, so that two
// obsmon processes never write one database. The kernel releases the lock when the process dies
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
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace obsmon::storage
