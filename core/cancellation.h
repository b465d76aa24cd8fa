// A stop request for work that waits on time or sockets: set once (the daemon shutting down),
// seen by every Deadline that points to it (core/clock.h), and readable as a file descriptor so
// that a thread blocked in poll() wakes at once instead of at its deadline.
//
// Why: a SIGTERM used to wait for every probe run in flight to end by itself, up to its timeout
// (an exec check of 40 s, a target that accepts and never answers), longer than systemd's
// TimeoutStopSec, which then killed obsmon with what was still queued (docs/operations.md).
#pragma once

#include <atomic>

namespace obsmon {

class Cancellation {
 public:
  Cancellation();  // an eventfd; without one (fd limit) Cancel() still sets the flag
  ~Cancellation();
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Thread-safe; idempotent. After it, cancelled() is true and fd() stays readable.
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // POLLIN once cancelled, never before; -1 when no eventfd could be made (poll() skips it,
  // and waits then end at their deadlines as before).
  int fd() const { return fd_; }

 private:
  std::atomic<bool> cancelled_{false};
  int fd_ = -1;
};

}  // namespace obsmon
