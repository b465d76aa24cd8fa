#include "core/spread_thread.h"

#include <sched.h>

#include <cerrno>
#include <system_error>

namespace obsmon {

SpreadThread::SpreadThread(std::function<void()> body) : body_(std::move(body)) {
  CPU_ZERO(&allowed_);
  cpu_set_t others;
  CPU_ZERO(&others);
  const int here = sched_getcpu();
  if (here >= 0 && sched_getaffinity(0, sizeof(allowed_), &allowed_) == 0) {
    CPU_OR(&others, &others, &allowed_);
    if (here < CPU_SETSIZE) CPU_CLR(here, &others);
  }
  if (CPU_COUNT(&others) > 0) {
    // glibc applies an attribute's CPU set before the new thread runs any of its code.
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
      if (pthread_attr_setaffinity_np(&attr, sizeof(others), &others) == 0) {
        release_ = true;
        if (pthread_create(&thread_, &attr, &SpreadThread::Main, this) == 0) {
          avoided_cpu_ = here;
        } else {
          release_ = false;
        }
      }
      pthread_attr_destroy(&attr);
    }
    if (avoided_cpu_ >= 0) return;
  }
  if (const int err = pthread_create(&thread_, nullptr, &SpreadThread::Main, this); err != 0) {
    throw std::system_error(err, std::generic_category(), "SpreadThread");
  }
}

SpreadThread::~SpreadThread() { pthread_join(thread_, nullptr); }

void* SpreadThread::Main(void* arg) {
  auto* self = static_cast<SpreadThread*>(arg);
  // Failure leaves the helper on the other CPUs for its (short) life: slower at worst, never wrong.
  if (self->release_) sched_setaffinity(0, sizeof(self->allowed_), &self->allowed_);
  self->body_();
  return nullptr;
}

}  // namespace obsmon
