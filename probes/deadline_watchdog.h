// A backstop for calls that cannot watch a Deadline themselves: httplib applies its read timeout
// per read, so a server that trickles header lines forever would hold a probe indefinitely. A
// watchdog runs one thread that, once a watched deadline has passed, calls that entry's cancel
// function (for http: httplib::Client::stop(), which shuts the socket down).
//
// Thread-safe. The thread starts with the first Arm() and waits on the injected clock for the
// earliest armed deadline (so with a FakeClock nothing fires until the test advances time past
// it), or, with nothing armed, until the next Arm().
//
// The daemon owns one watchdog and hands it to the probes that need one (probe_registry.h,
// ProbeContext); a probe built without one (unit tests) makes its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace obsmon::probes {

class DeadlineWatchdog {
 public:
  // `clock` must outlive the watchdog.
  explicit DeadlineWatchdog(const Clock& clock);
  ~DeadlineWatchdog();
  DeadlineWatchdog(const DeadlineWatchdog&) = delete;
  DeadlineWatchdog& operator=(const DeadlineWatchdog&) = delete;

  // Unwatches on destruction; once the destructor returns, `cancel` is not running and will not
  // run, so it may capture objects that die right after the Watch.
  class Watch {
   public:
    Watch(DeadlineWatchdog* owner, uint64_t id) : owner_(owner), id_(id) {}
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    // True when the deadline passed and `cancel` was called.
    bool fired() const;

   private:
    DeadlineWatchdog* owner_;
    uint64_t id_;
  };

  // Calls `cancel` (on the watchdog's thread) once `deadline` has passed, unless the returned
  // Watch is destroyed first. `cancel` must be quick and must not call back into the watchdog.
  std::unique_ptr<Watch> Arm(const Deadline& deadline, std::function<void()> cancel);

 private:
  struct Entry {
    Deadline deadline;
    std::function<void()> cancel;
    bool fired = false;
  };

  void Loop();
  void Disarm(uint64_t id);
  bool Fired(uint64_t id) const;

  const Clock& clock_;
  mutable Mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable cancel_done_;
  uint64_t firing_id_ GUARDED_BY(mutex_) = 0;  // the entry whose cancel runs now
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mutex_);
  uint64_t next_id_ GUARDED_BY(mutex_) = 1;
  bool stopping_ GUARDED_BY(mutex_) = false;
  // The deadline the thread waits for; nullopt while it waits for an Arm with nothing armed.
  std::optional<SteadyTime> waiting_until_ GUARDED_BY(mutex_);
  bool rearmed_ GUARDED_BY(mutex_) = false;  // an Arm() moved the next deadline earlier
  std::thread thread_ GUARDED_BY(mutex_);     // started by the first Arm()
};

}  // namespace obsmon::probes
