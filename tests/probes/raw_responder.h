// A hostile HTTP target for the probe tests: a loopback listener whose thread answers every
// connection by calling `respond(fd, stop)` with raw bytes of its choosing (giant headers, endless
// header lists), then closes it. The destructor stops and joins; `respond` must watch `stop`.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace obsmon::testing {

class RawResponder {
 public:
  using Respond = std::function<void(int fd, const std::atomic<bool>& stop)>;

  explicit RawResponder(Respond respond) : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RawResponder() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  RawResponder(const RawResponder&) = delete;
  RawResponder& operator=(const RawResponder&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_; }

  std::string HttpsUrl(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }

  // A TLS server that never finishes its handshake: reads the ClientHello, announces a 16 KiB
  // handshake record and sends it a byte every 100 ms (at most 20 s, so a broken probe fails,
  // not hangs). Every read of the client succeeds in time; only a deadline of its own ends it.
  static void TrickleTlsHandshake(int fd, const std::atomic<bool>& stop) {
    char hello[4096];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0 || ::recv(fd, hello, sizeof hello, 0) <= 0) return;
    if (!SendAll(fd, std::string("\x16\x03\x03\x40\x00", 5), stop)) return;
    for (int i = 0; i < 200 && !stop; ++i) {
      if (!SendAll(fd, std::string(1, '\x02'), stop)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Sends all of `data`; false once the peer is gone or `stop` is set.
  static bool SendAll(int fd, const std::string& data, const std::atomic<bool>& stop) {
    size_t done = 0;
    while (done < data.size() && !stop) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return done == data.size();
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      respond_(fd, stop_);
      ::close(fd);
    }
  }

  Respond respond_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace obsmon::testing
