// obsmon under a service manager's readiness protocol (systemd's sd_notify, deploy/obsmon.service
// Type=notify), played by the test: it binds the datagram socket NOTIFY_SOCKET names and reads
// what the real binary says. The truth is the socket's own messages and what can be observed at
// the moment each arrives: at READY=1 the HTTP port answers and a SIGHUP sent at once is a reload,
// not the end of the process; a reload is framed by RELOADING=1 (with the monotonic time systemd
// wants) and READY=1, a refused one too; a stop says STOPPING=1 before the process exits 0; the
// probes' exec commands do not inherit NOTIFY_SOCKET (they would speak for obsmon); a name that
// is not a socket address is said in the log and the daemon runs.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/ops_support.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthComponentYaml;
using testing::HealthTarget;
using testing::ReadWholeFile;
using testing::ScopedEnv;
using testing::ScratchDir;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

// The manager's side: a datagram socket at `name` (a path, or "@..." for the abstract namespace).
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                            (name[0] == '@' ? 0 : 1));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ADD_FAILURE() << "bind " << name << ": " << std::strerror(errno);
    }
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  // The next message, or nullopt after `timeout`.
  std::optional<std::string> Next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
};

int64_t MonotonicUsec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

// The value of `key` in a message of KEY=VALUE lines.
std::optional<std::string> Field(const std::string& message, const std::string& key) {
  size_t at = 0;
  while (at <= message.size()) {
    const size_t end = std::min(message.find('\n', at), message.size());
    const std::string line = message.substr(at, end - at);
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

int PortFromLog(const std::string& log) {
  const auto at = log.find("(port ");
  return at == std::string::npos ? 0 : std::stoi(log.substr(at + 6));
}

std::string Config(const ScratchDir& dir, int target_port, const std::string& probe_name) {
  const std::string env_file = dir.File("child.env");
  return "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
         "\ncomponents:\n" + HealthComponentYaml("c", target_port, "") + "      - name: " +
         probe_name + "\n        kind: exec\n        interval: 300ms\n" +
         "        command: [/bin/sh, -c, \"env > " + env_file + ".new && mv " + env_file +
         ".new " + env_file + "\"]\n";
}

// Fills the queue of the manager's socket at `path` with the test's own datagrams until the
// kernel refuses one more (net.unix.max_dgram_qlen); returns how many it took.
int FillQueue(const std::string& path) {
  const int filler = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int queued = 0;
  while (::sendto(filler, "FILLER=1", 8, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr),
                  sizeof addr) == 8) {
    ++queued;
  }
  ::close(filler);
  return queued;
}

// obsmon on `dir`'s config (obsmon.yml, its log in `log`), NOTIFY_SOCKET set to `notify_socket`
// for it alone.
std::unique_ptr<Subprocess> StartWithNotifySocket(const ScratchDir& dir,
                                                  const std::string& notify_socket) {
  ScopedEnv env("NOTIFY_SOCKET", notify_socket.c_str());
  return std::make_unique<Subprocess>(
      std::vector<std::string>{testing::kObsmonBinary, "run", "--config", dir.File("obsmon.yml")},
      dir.File("log"));
}

void PlayTheManager(const std::string& socket_name) {
  HealthTarget target;
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  const std::string name =
      socket_name[0] == '@' ? socket_name : dir.File(socket_name);
  NotifySocket manager(name);
  const auto obsmon = StartWithNotifySocket(dir, name);

  const auto ready = manager.Next(30s);
  ASSERT_TRUE(ready.has_value()) << "no READY=1; log:\n" << ReadWholeFile(dir.File("log"));
  EXPECT_EQ(Field(*ready, "READY"), "1") << *ready;
  EXPECT_TRUE(Field(*ready, "STATUS").has_value()) << *ready;
  // Started means serving: the port is in the log and answers, before anything else is done.
  const int port = PortFromLog(ReadWholeFile(dir.File("log")));
  ASSERT_GT(port, 0);
  httplib::Client http("127.0.0.1", port);
  const auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics) << "READY=1 came before the HTTP port answered";
  EXPECT_EQ(metrics->status, 200);

  // A reload at once (what a `systemctl reload` queued behind the start does): the probe is
  // renamed, so the reload has something to change.
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env2"));
  const int64_t before = MonotonicUsec();
  ASSERT_TRUE(obsmon->Signal(SIGHUP));
  const auto reloading = manager.Next(20s);
  ASSERT_TRUE(reloading.has_value());
  EXPECT_EQ(Field(*reloading, "RELOADING"), "1") << *reloading;
  const auto usec = Field(*reloading, "MONOTONIC_USEC");
  ASSERT_TRUE(usec.has_value()) << *reloading;
  EXPECT_GE(std::stoll(*usec), before);
  EXPECT_LE(std::stoll(*usec), MonotonicUsec());
  const auto reloaded = manager.Next(20s);
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_EQ(Field(*reloaded, "READY"), "1") << *reloaded;
  EXPECT_EQ(Field(*reloaded, "STATUS"), "probing; reloaded") << *reloaded;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto m = http.Get("/metrics");
        return m && m->body.find("probe=\"env2\"") != std::string::npos;
      },
      20s))
      << "the reload did not take the renamed probe";

  // A refused reload is framed the same way: the manager must not wait for a READY=1 forever.
  WriteWholeFile(dir.File("obsmon.yml"), "components: [\n");
  ASSERT_TRUE(obsmon->Signal(SIGHUP));
  const auto refusing = manager.Next(20s);
  ASSERT_TRUE(refusing.has_value());
  EXPECT_EQ(Field(*refusing, "RELOADING"), "1") << *refusing;
  const auto refused = manager.Next(20s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(Field(*refused, "READY"), "1") << *refused;
  EXPECT_NE(Field(*refused, "STATUS").value_or("").find("refused"), std::string::npos)
      << *refused;

  // POST /-/reload is framed the same way: the manager's status must not keep "refused" while
  // the config running is the one just fixed (fresh eyes).
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  const auto posted = http.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 200) << posted->body;
  const auto post_reloading = manager.Next(20s);
  ASSERT_TRUE(post_reloading.has_value());
  EXPECT_EQ(Field(*post_reloading, "RELOADING"), "1") << *post_reloading;
  const auto post_reloaded = manager.Next(20s);
  ASSERT_TRUE(post_reloaded.has_value());
  EXPECT_EQ(Field(*post_reloaded, "READY"), "1") << *post_reloaded;
  EXPECT_EQ(Field(*post_reloaded, "STATUS"), "probing; reloaded") << *post_reloaded;

  // The exec probe's command ran after the start and does not see the manager's socket.
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir.File("child.env")); }, 20s));
  const std::string child_env = ReadWholeFile(dir.File("child.env"));
  EXPECT_EQ(child_env.find("NOTIFY_SOCKET"), std::string::npos) << child_env;

  ASSERT_TRUE(obsmon->Signal(SIGTERM));
  const auto stopping = manager.Next(20s);
  ASSERT_TRUE(stopping.has_value());
  EXPECT_EQ(Field(*stopping, "STOPPING"), "1") << *stopping;
  EXPECT_EQ(obsmon->Wait(30s), 0);
  EXPECT_FALSE(manager.Next(100ms).has_value()) << "a message after STOPPING=1";
}

TEST(OpsServiceNotifyTest, APathSocketHearsReadyReloadingAndStoppingAtTheirMoments) {
  PlayTheManager("notify.sock");
}

TEST(OpsServiceNotifyTest, AnAbstractSocketNameWorksAsAPath) {
  PlayTheManager("@obsmon-notify-test-" + std::to_string(::getpid()));
}

TEST(OpsServiceNotifyTest, ANameThatIsNoSocketAddressIsLoggedAndTheDaemonRuns) {
  HealthTarget target;
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  const auto obsmon = StartWithNotifySocket(dir, "relative/notify.sock");
  ASSERT_TRUE(WaitUntil(
      [&] { return ReadWholeFile(dir.File("log")).find("not telling the service manager") !=
                   std::string::npos; },
      30s))
      << ReadWholeFile(dir.File("log"));
  const int port = PortFromLog(ReadWholeFile(dir.File("log")));
  ASSERT_GT(port, 0);
  httplib::Client http("127.0.0.1", port);
  const auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  ASSERT_TRUE(obsmon->Signal(SIGTERM));
  EXPECT_EQ(obsmon->Wait(30s), 0);
}

// The manager's queue full when obsmon is ready (its socket is shared by every service, and
// holds net.unix.max_dgram_qlen datagrams): READY=1 waits for room instead of being dropped,
// as systemd-notify's does (fresh eyes: it was lost, and a unit would have stayed
// "activating" until its start timed out).
TEST(OpsServiceNotifyTest, AQueueFullForAMomentDelaysReadyButDoesNotLoseIt) {
  HealthTarget target;
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  NotifySocket manager(dir.File("notify.sock"));
  const std::string path = dir.File("notify.sock");
  const int queued = FillQueue(path);
  ASSERT_GT(queued, 0);
  const auto obsmon = StartWithNotifySocket(dir, path);
  ASSERT_TRUE(WaitUntil([&] { return PortFromLog(ReadWholeFile(dir.File("log"))) > 0; }, 30s));
  std::this_thread::sleep_for(300ms);  // obsmon is serving and its READY=1 waits for room
  std::vector<std::string> got;
  for (int i = 0; i < queued + 1; ++i) {
    const auto m = manager.Next(5s);
    ASSERT_TRUE(m.has_value()) << "after " << got.size() << " messages";
    got.push_back(*m);
  }
  EXPECT_EQ(Field(got.back(), "READY"), "1") << got.back();
  EXPECT_EQ(ReadWholeFile(dir.File("log")).find("could not tell"), std::string::npos)
      << ReadWholeFile(dir.File("log"));
  ASSERT_TRUE(obsmon->Signal(SIGTERM));
  const auto stopping = manager.Next(20s);
  ASSERT_TRUE(stopping.has_value());
  EXPECT_EQ(Field(*stopping, "STOPPING"), "1") << *stopping;
  EXPECT_EQ(obsmon->Wait(30s), 0);
}

// A manager that does not read (its queue full) and reloads queued over HTTP when SIGTERM
// comes: the stop is not held by them, no reload runs after it, and every request is answered
// (fresh eyes 2: each reload waited 2 s a message, they ran one after the other after the
// SIGTERM, and the stop took 23-33 s, past the unit's TimeoutStopSec).
TEST(OpsServiceNotifyTest, AStopIsNotHeldByReloadsQueuedBehindAManagerThatDoesNotRead) {
  HealthTarget target;
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  const std::string path = dir.File("notify.sock");
  NotifySocket manager(path);
  ASSERT_GT(FillQueue(path), 0);
  const auto obsmon = StartWithNotifySocket(dir, path);
  ASSERT_TRUE(WaitUntil([&] { return PortFromLog(ReadWholeFile(dir.File("log"))) > 0; }, 30s));
  const int port = PortFromLog(ReadWholeFile(dir.File("log")));
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] {
      httplib::Client http("127.0.0.1", port);
      http.set_read_timeout(60, 0);
      if (http.Post("/-/reload", "", "text/plain")) ++answered;
    });
  }
  std::this_thread::sleep_for(1s);
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(obsmon->Signal(SIGTERM));
  EXPECT_EQ(obsmon->Wait(60s), 0);
  const double stop_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  for (auto& c : clients) c.join();
  // Two seconds at most for STOPPING=1 (none once a wait has run out), the drain's moment.
  EXPECT_LT(stop_s, 8.0);
  EXPECT_EQ(answered.load(), 6) << "a reload request left unanswered";
  const std::string log = ReadWholeFile(dir.File("log"));
  const auto stop_at = log.find("received SIGTERM");
  ASSERT_NE(stop_at, std::string::npos) << log;
  // The reload under way when the stop began may end after it; no other starts.
  size_t after_stop = 0;
  for (size_t at = log.find("config reloaded", stop_at); at != std::string::npos;
       at = log.find("config reloaded", at + 1)) {
    ++after_stop;
  }
  EXPECT_LE(after_stop, 1u) << log;
}

// Set but empty: nothing to tell, and the exec probes do not inherit "NOTIFY_SOCKET=" either;
// "@" alone names no socket and a name with a newline cannot make a log line of its own.
TEST(OpsServiceNotifyTest, EmptyBareAndControlCharacterNamesAreHandled) {
  HealthTarget target;
  for (const std::string value : {std::string(""), std::string("@"),
                                  std::string("rel\n2026-12-07 critical FORGED")}) {
    ScratchDir dir;
    WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
    const auto obsmon = StartWithNotifySocket(dir, value);
    ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir.File("child.env")); }, 30s))
        << ReadWholeFile(dir.File("log"));
    EXPECT_EQ(ReadWholeFile(dir.File("child.env")).find("NOTIFY_SOCKET"), std::string::npos)
        << "'" << value << "'";
    const std::string log = ReadWholeFile(dir.File("log"));
    if (value.empty()) {
      EXPECT_EQ(log.find("service manager"), std::string::npos) << log;
    } else {
      EXPECT_NE(log.find("not telling the service manager"), std::string::npos) << log;
    }
    EXPECT_EQ(log.find("\n2026-12-07 critical FORGED"), std::string::npos) << log;
    ASSERT_TRUE(obsmon->Signal(SIGTERM));
    EXPECT_EQ(obsmon->Wait(30s), 0);
  }
}

// Nobody listening on the socket named (a manager gone): the daemon says so once and runs.
TEST(OpsServiceNotifyTest, ASocketNobodyReadsCostsOneLogLineAndNothingElse) {
  HealthTarget target;
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), Config(dir, target.port(), "env"));
  const auto obsmon = StartWithNotifySocket(dir, dir.File("gone.sock"));
  ASSERT_TRUE(WaitUntil([&] { return PortFromLog(ReadWholeFile(dir.File("log"))) > 0; }, 30s));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(obsmon->Signal(SIGHUP));
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string log = ReadWholeFile(dir.File("log"));
        size_t reloads = 0;
        for (size_t at = log.find("config reloaded"); at != std::string::npos;
             at = log.find("config reloaded", at + 1)) {
          ++reloads;
        }
        return reloads >= 3;
      },
      20s));
  const std::string log = ReadWholeFile(dir.File("log"));
  size_t told = 0;
  for (size_t at = log.find("could not tell the service manager"); at != std::string::npos;
       at = log.find("could not tell the service manager", at + 1)) {
    ++told;
  }
  EXPECT_EQ(told, 1u) << log;
  ASSERT_TRUE(obsmon->Signal(SIGTERM));
  EXPECT_EQ(obsmon->Wait(30s), 0);
}

}  // namespace
}  // namespace obsmon
