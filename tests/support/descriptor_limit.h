// Makes this process run out of file descriptors for a while, as obsmon does under a low
// `ulimit -n` with many hanging targets: the soft RLIMIT_NOFILE goes down to the lowest free
// descriptor, so the next socket(), pipe() or open() fails with EMFILE, until Restore() or the
// end of the scope. Tests only: the whole process is limited, so nothing else may run then.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace obsmon::testing {

// The sanitized build's runtime checks some pointers by writing them to a pipe (UBSan's vptr
// check): with no descriptor left it reports a bad vptr that is not there. Tests that make
// virtual calls while limited skip under it; the normal build runs them.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerNeedsDescriptors = true;
#else
inline constexpr bool kSanitizerNeedsDescriptors = false;
#endif

class NoDescriptorLeft {
 public:
  NoDescriptorLeft() {
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest_free < 0) return;
    ::close(lowest_free);
    if (::getrlimit(RLIMIT_NOFILE, &old_) != 0) return;
    rlimit tight = old_;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    limited_ = ::setrlimit(RLIMIT_NOFILE, &tight) == 0;
  }
  ~NoDescriptorLeft() { Restore(); }
  NoDescriptorLeft(const NoDescriptorLeft&) = delete;
  NoDescriptorLeft& operator=(const NoDescriptorLeft&) = delete;

  // Whether the limit is in force.
  bool limited() const { return limited_; }
  // Gives the descriptors back; true when that worked (or nothing was limited).
  bool Restore() {
    if (!limited_) return true;
    limited_ = false;
    return ::setrlimit(RLIMIT_NOFILE, &old_) == 0;
  }

 private:
  rlimit old_{};
  bool limited_ = false;
};

}  // namespace obsmon::testing
