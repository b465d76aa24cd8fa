#include "cmd/obsmon/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace obsmon {

ServiceNotifier::ServiceNotifier() {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return;
  std::string path = env;
  ::unsetenv("NOTIFY_SOCKET");
  if (path[0] != '/' && path[0] != '@') {
    // systemd 253 also accepts "vsock:CID:PORT", for a manager outside a virtual machine.
    unusable_ = "NOTIFY_SOCKET=" + path + " is neither a path nor an abstract socket name (@...)";
    return;
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    unusable_ = "NOTIFY_SOCKET is longer than a socket address holds";
    return;
  }
  if (path[0] == '@') path[0] = '\0';
  address_ = std::move(path);
}

std::string ServiceNotifier::Send(std::string_view message) const {
  if (address_.empty()) return "";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                          (address_[0] == '\0' ? 0 : 1));
  // MSG_DONTWAIT: a manager that does not read its socket must not stop a reload or a stop.
  const ssize_t n = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  ::close(fd);
  if (n < 0) return std::string("sending to NOTIFY_SOCKET: ") + std::strerror(err);
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
