// A loopback HTTP target for probes that keep their connections (keep_alive): one thread, epoll,
// every connection kept until the client closes it or asks to ("Connection: close", as
// blackbox_exporter's requests do). cpp-httplib's server serves a kept connection on a thread of
// its own that wakes every 10 ms while the connection is idle: 1,000 kept connections made the
// target itself use 1.6 cores, starving what the bench measures. Answers any GET with
// {"status":"OK"}. Bench-only: no TLS, no request bodies, no pipelining beyond what one read holds.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <string>
#include <thread>
#include <unordered_map>

namespace obsmon::bench {

class EpollHttpTarget {
 public:
  EpollHttpTarget() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 4096);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EpollHttpTarget() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, buffer] : buffers_) ::close(fd);
    ::close(epoll_);
    ::close(listener_);
  }
  EpollHttpTarget(const EpollHttpTarget&) = delete;
  EpollHttpTarget& operator=(const EpollHttpTarget&) = delete;

  int port() const { return port_; }

 private:
  void Serve() {
    epoll_event events[64];
    while (!stop_) {
      const int n = ::epoll_wait(epoll_, events, 64, 100);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_) {
          Accept();
        } else {
          Read(fd);
        }
      }
    }
  }

  void Accept() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
      buffers_[fd];
    }
  }

  void Close(int fd) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    buffers_.erase(fd);
  }

  void Read(int fd) {
    std::string& buffer = buffers_[fd];
    char chunk[4096];
    for (;;) {
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got > 0) {
        buffer.append(chunk, static_cast<size_t>(got));
        if (static_cast<size_t>(got) < sizeof chunk) break;
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(fd);  // the client closed (or reset) the connection
      return;
    }
    static const std::string kAnswer =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
        "{\"status\":\"OK\"}";
    for (size_t end; (end = buffer.find("\r\n\r\n")) != std::string::npos;) {
      std::string head = buffer.substr(0, end);
      buffer.erase(0, end + 4);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ::send(fd, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL);
      if (head.find("\r\nconnection: close") != std::string::npos) {
        Close(fd);
        return;
      }
    }
  }

  int listener_ = -1;
  int epoll_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::unordered_map<int, std::string> buffers_;  // the serving thread's only
  std::thread thread_;
};

}  // namespace obsmon::bench
