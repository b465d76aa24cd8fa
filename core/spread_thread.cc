#include "core/spread_thread.h"

#include <sched.h>

#include <system_error>
#include <utility>

namespace obsmon {

SpreadThread::SpreadThread(std::function<void()> body) : body_(std::move(body)) {
  const int here = sched_getcpu();
  if (here >= 0 && here < CPU_SETSIZE && sched_getaffinity(0, sizeof(allowed_), &allowed_) == 0) {
    cpu_set_t others = allowed_;
    CPU_CLR(here, &others);
    if (CPU_COUNT(&others) > 0 && StartOn(others)) {
      avoided_cpu_ = here;
      return;
    }
  }
  if (const int err = pthread_create(&thread_, nullptr, &SpreadThread::Main, this); err != 0) {
    throw std::system_error(err, std::generic_category(), "SpreadThread");
  }
}

bool SpreadThread::StartOn(const cpu_set_t& cpus) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  bool started = false;
  // glibc applies an attribute's CPU set before the new thread runs any of its code.
  if (pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus) == 0) {
    release_ = true;  // read by the new thread: set before it exists
    started = pthread_create(&thread_, &attr, &SpreadThread::Main, this) == 0;
    if (!started) release_ = false;
  }
  pthread_attr_destroy(&attr);
  return started;
}

SpreadThread::~SpreadThread() { Join(); }

void SpreadThread::Join() {
  if (joined_) return;
  pthread_join(thread_, nullptr);
  joined_ = true;
}

void* SpreadThread::Main(void* arg) {
  auto* self = static_cast<SpreadThread*>(arg);
  self->started_on_ = sched_getcpu();
  // Failure leaves the helper on the other CPUs for its (short) life: slower at worst, never wrong.
  if (self->release_) sched_setaffinity(0, sizeof(self->allowed_), &self->allowed_);
  self->body_();
  return nullptr;
}

}  // namespace obsmon
