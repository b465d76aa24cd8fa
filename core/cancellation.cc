#include "core/cancellation.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace obsmon {

Cancellation::Cancellation() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Cancellation::~Cancellation() {
  if (fd_ >= 0) ::close(fd_);
}

void Cancellation::Cancel() {
  if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
  if (fd_ >= 0) {
    const uint64_t one = 1;  // never read back: the counter stays non-zero, so fd_ stays readable
    (void)!::write(fd_, &one, sizeof one);
  }
}

}  // namespace obsmon
