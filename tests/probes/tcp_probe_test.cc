#include "probes/tcp_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/config_node.h"
#include "tests/support/loopback.h"
#include "tests/support/subprocess.h"
#include "tests/probes/run_probe.h"

namespace obsmon::probes {
namespace {

using std::chrono::milliseconds;

// A listening socket on 127.0.0.1:0. With a greeting, a thread accepts and writes it to each
// client; without one, the kernel completes connections from the backlog.
class Listener {
 public:
  explicit Listener(std::string greeting = "") : greeting_(std::move(greeting)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (!greeting_.empty()) {
      thread_ = std::thread([this] {
        while (true) {
          int c = accept(fd_, nullptr, nullptr);
          if (c < 0) return;
          ::send(c, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
          shutdown(c, SHUT_WR);  // FIN after the greeting
          // Read what the client sends until it closes, so close() does not reset the
          // connection under unread data (bounded by a receive timeout).
          timeval tv{0, 500'000};
          setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          char buf[64];
          while (recv(c, buf, sizeof buf, 0) > 0) {
          }
          close(c);
        }
      });
    }
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  std::string greeting_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::unique_ptr<Probe> Make(const std::string& yaml, ConfigErrors* errors,
                            int64_t timeout_ms = 1000) {
  ProbeSpec spec;
  spec.key = {"carbon", "port"};
  spec.kind = "tcp";
  spec.timeout_ms = timeout_ms;
  ConfigNode node(YAML::Load(yaml), "probes.yml", errors);
  return MakeTcpProbe(spec, node, SystemClock::Instance());
}

TEST(TcpProbeTest, OpenPortIsUp) {
  Listener listener;
  ConfigErrors errors;
  auto probe = Make("address: 127.0.0.1:" + std::to_string(listener.port()) + "\n", &errors);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  EXPECT_EQ(probe->Instance(), "127.0.0.1:" + std::to_string(listener.port()));
  ProbeResult r = RunProbe(*probe, 1000);
  EXPECT_TRUE(r.success) << r.reason;
}

TEST(TcpProbeTest, ClosedPortIsConnectionRefused) {
  const testing::ClosedLoopbackPort closed;
  const int port = closed.port();
  ConfigErrors errors;
  auto probe = Make("address: 127.0.0.1:" + std::to_string(port) + "\n", &errors);
  ASSERT_NE(probe, nullptr);
  milliseconds elapsed;
  ProbeResult r = RunProbe(*probe, 1000, &elapsed);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "connection refused");
  EXPECT_LT(elapsed.count(), 900);
}

TEST(TcpProbeTest, ExpectMatchesGreeting) {
  Listener listener("SSH-2.0-OpenSSH_9.2\r\n");
  const std::string address = "address: 127.0.0.1:" + std::to_string(listener.port()) + "\n";
  ConfigErrors errors;
  auto good = Make(address + "send: \"hello\\r\\n\"\nexpect: ^SSH-2\\.0\n", &errors);
  auto bad = Make(address + "expect: '^220 '\n", &errors);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ProbeResult r = RunProbe(*good, 1000);
  EXPECT_TRUE(r.success) << r.reason;
  ProbeResult miss = RunProbe(*bad, 1000);
  EXPECT_FALSE(miss.success);
  // The server closes after its greeting, so the probe learns at once that /^220 / never came.
  EXPECT_EQ(miss.reason,
            "connection closed before /^220 / matched (got \"SSH-2.0-OpenSSH_9.2\\r\\n\")");
}

TEST(TcpProbeTest, SilentServerTimesOutWaitingForExpect) {
  Listener listener;  // accepts through the backlog, never writes
  ConfigErrors errors;
  auto probe = Make("address: 127.0.0.1:" + std::to_string(listener.port()) + "\nexpect: OK\n",
                    &errors, 300);
  ASSERT_NE(probe, nullptr);
  milliseconds elapsed;
  ProbeResult r = RunProbe(*probe, 300, &elapsed);
  EXPECT_EQ(r.reason, "timeout after 300ms waiting for /OK/");
  EXPECT_GE(elapsed.count(), 250);
  EXPECT_LT(elapsed.count(), 1300);
}

TEST(TcpProbeTest, BadConfigReportsFileLineColumn) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"address: localhost\n", "probes.yml:1:10: bad address 'localhost': missing port"},
      {"address: h:0\n", "probes.yml:1:10: bad address 'h:0': bad port '0'"},
      {"address: ::1:80\n", "probes.yml:1:10: bad address '::1:80': IPv6 addresses must be in"},
      {"address: h:1\nexpect: '(x'\n", "probes.yml:2:9: invalid expect pattern /(x/"},
      {"send: x\n", "probes.yml:1:1: missing required key 'address'"},
  };
  for (const Case& c : cases) {
    ConfigErrors errors;
    EXPECT_EQ(Make(c.yaml, &errors), nullptr) << c.yaml;
    ASSERT_FALSE(errors.empty()) << c.yaml;
    EXPECT_EQ(errors.errors()[0].ToString().rfind(c.expected, 0), 0u)
        << "got: " << errors.errors()[0].ToString();
  }
  ConfigErrors errors;
  auto v6 = Make("address: '[::1]:9'\n", &errors);
  ASSERT_NE(v6, nullptr) << errors.ToString();
  EXPECT_EQ(v6->Instance(), "[::1]:9");
}

}  // namespace
}  // namespace obsmon::probes
