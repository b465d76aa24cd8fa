// A helper thread started on a CPU other than its creator's, then free to move like any thread.
//
// Why: Linux places a new thread by load averages that take tens of milliseconds to catch up. A
// daemon's worker that slept for seconds looks idle, so the helper it creates for the other half
// of a job is often queued on the worker's own CPU while another CPU is idle, and the two then
// share one CPU in 4 ms slices until the balancer moves one. perf sched timehist showed 19 ms of
// a 40 ms two-thread log read spent so (docs/benchmarks.md, "Issue 17, item 3, stop 45"). Created
// pinned to the other CPUs this process may use, the helper starts at once where there is room;
// its first act is to take back the whole set, so the scheduler may move it again as it likes.
#pragma once

#include <pthread.h>

#include <functional>

namespace obsmon {

class SpreadThread {
 public:
  // Starts `body`, which must not throw. Throws std::system_error when no thread can be made
  // (as std::thread does).
  explicit SpreadThread(std::function<void()> body);
  // Joins.
  ~SpreadThread();
  SpreadThread(const SpreadThread&) = delete;
  SpreadThread& operator=(const SpreadThread&) = delete;

  // The creator's CPU the thread was started away from, or -1 when it was started as any other
  // thread (one CPU allowed, or the placement refused).
  int avoided_cpu() const { return avoided_cpu_; }
  // Waits for the thread to end; the destructor does it when this was not called.
  void Join();
  // The CPU the thread ran its first instruction on, before it widened its CPU set (after
  // Join(); the body itself may already have been moved to any CPU).
  int started_on_cpu() const { return started_on_; }

 private:
  static void* Main(void* self);
  // Starts the thread on `cpus`; false when the placement or the thread was refused.
  bool StartOn(const cpu_set_t& cpus);

  std::function<void()> body_;
  pthread_t thread_{};
  int avoided_cpu_ = -1;
  int started_on_ = -1;
  bool joined_ = false;
  bool release_ = false;  // the helper widens its CPU set back to allowed_ first
  cpu_set_t allowed_{};
};

}  // namespace obsmon
