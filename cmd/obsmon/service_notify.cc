#include "cmd/obsmon/service_notify.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace obsmon {

namespace {

// NOTIFY_SOCKET as it may be logged: control bytes escaped (a newline in it must not make a log
// line of its own), at most 120 bytes.
std::string Printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 120)) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 120) out += "...";
  return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier() {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr) return;
  std::string path = env;
  ::unsetenv("NOTIFY_SOCKET");  // even empty: exec probes inherit nothing of it
  if (path.empty()) return;
  shown_ = Printable(path);
  if (path[0] != '/' && path[0] != '@') {
    // systemd 253 also accepts "vsock:CID:PORT", for a manager outside a virtual machine.
    unusable_ = "NOTIFY_SOCKET=" + shown_ + " is neither a path nor an abstract socket name (@...)";
    return;
  }
  if (path == "@") {
    unusable_ = "NOTIFY_SOCKET=@ names no abstract socket";
    return;
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    unusable_ = "NOTIFY_SOCKET=" + shown_ + " is longer than a socket address holds";
    return;
  }
  if (path[0] == '@') path[0] = '\0';
  address_ = std::move(path);
}

std::string ServiceNotifier::Send(std::string_view message) const {
  if (address_.empty()) return "";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  // A manager's queue may be full for a moment (it is shared by every service): wait for room
  // as systemd-notify does, but bounded, and only until a wait has run out: a manager that
  // does not read then costs one wait, not one a message (fresh eyes 2: four seconds a
  // reload), until a message gets through again.
  const bool wait_for_room = !backlogged_.load();
  const timeval wait{kSendWaitSeconds, 0};
  if (wait_for_room) ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                          (address_[0] == '\0' ? 0 : 1));
  ssize_t n;
  do {
    n = ::sendto(fd, message.data(), message.size(),
                 MSG_NOSIGNAL | (wait_for_room ? 0 : MSG_DONTWAIT),
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    if (err == EAGAIN || err == EWOULDBLOCK) backlogged_ = true;
    return "sending to NOTIFY_SOCKET=" + shown_ + ": " + std::strerror(err);
  }
  backlogged_ = false;
  return "";
}

std::string ServiceNotifier::Ready(std::string_view status) const {
  std::string message = "READY=1";
  if (!status.empty()) {
    message += "\nSTATUS=";
    message += status;
  }
  return Send(message);
}

std::string ServiceNotifier::Reloading() const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  return Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

std::string ServiceNotifier::Stopping() const { return Send("STOPPING=1"); }

}  // namespace obsmon
