// Test support: child processes, and waiting for what they do. Header-only.
//
// - Subprocess: a real program (obsmon itself, promtool, sqlite3, Chromium) as a child.
// - RunCommand: a program run to completion, its exit code and output.
// - ForkedChild: a function of the test run in a forked copy of the test process, for the few
//   tests whose child must run obsmon's code in-process (a writer killed by SIGKILL mid-commit,
//   a reader that dropped its privileges, a process of known CPU and memory use).
// - WaitUntil: polls for what another process does (a port to open, a file to appear).
//
// Every test starts and waits for its children through these, so that a child that crashes
// fails the test that started it (see ChildProcess). Unit tests use FakeClock and wait for
// processes only where a real one is what is tested.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/scratch_dir.h"

// Tests fail through gtest; a program without gtest (bench/daemon_probe_bench) defines
// OBSMON_SUBPROCESS_WITHOUT_GTEST and gets the message on stderr.
#ifndef OBSMON_SUBPROCESS_WITHOUT_GTEST
#include <gtest/gtest.h>
#endif

extern char** environ;

namespace obsmon::testing {

// Polls `done` every 20 ms until it holds or `timeout` passes. For waiting on OTHER processes
// (a port to open, a file to appear), never for simulated time.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A child process this test owns: signalled, waited for, and killed (SIGKILL) and reaped when
// the object dies, unless it already exited. Not thread-safe: one thread drives it.
//
// A child that ends by SIGABRT, SIGSEGV, SIGBUS, SIGFPE or SIGILL without the test having sent
// that signal crashed, and the test fails (ADD_FAILURE), even if it only expected "not 0" or
// never waited. Under the sanitizers (scripts/test-sanitized.sh) this is also how a report in the
// child fails the test: ASan, LSan and UBSan abort with abort_on_error=1.
//
// Started through Subprocess (a program) or ForkedChild (a function of the test).
class ChildProcess {
 public:
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Sends `sig`; false when there is no child to send it to (never started, or reaped).
  bool Signal(int sig) {
    if (pid_ <= 0) return false;
    if (sig > 0 && sig < NSIG) signalled_[sig] = true;
    return ::kill(pid_, sig) == 0;
  }

  // The exit code (or 128 + signal) once the process ends within `timeout`; nullopt otherwise.
  // Returns as soon as the child ends (it is not polled at an interval).
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    if (!ReapWithin(timeout, &status)) return std::nullopt;
    exit_code_ = Ended(status);
    pid_ = -1;
    return exit_code_;
  }

  void Kill() {
    if (pid_ <= 0) return;
    int status = 0;
    // Ended by itself before the kill: a crash must not hide behind it.
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = Ended(status);
      pid_ = -1;
      return;
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 protected:
  // `program` names the child in a crash report; its output is read from `output_paths` (none:
  // the child writes to the test's own stdout and stderr).
  ChildProcess(std::string program, std::vector<std::string> output_paths)
      : program_(std::move(program)), output_paths_(std::move(output_paths)) {}
  void set_pid(pid_t pid) { pid_ = pid; }

 private:
  // Waits up to `timeout` for the child to end; true (its wait status in *status) when it did.
  // A pidfd wakes the wait the moment the child ends, so a caller that times the child (a
  // benchmark) or runs it in a loop (logrotate between two scans) sees it end when it ends.
  bool ReapWithin(std::chrono::milliseconds timeout, int* status) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    int fd = -1;
#ifdef SYS_pidfd_open
    fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
#endif
    bool ended = false;
    for (;;) {
      if (waitpid(pid_, status, WNOHANG) == pid_) {
        ended = true;
        break;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      if (fd >= 0) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
      } else {  // a kernel without pidfds (before Linux 5.3)
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(5)));
      }
    }
    if (fd >= 0) ::close(fd);
    return ended;
  }

  // The exit code (or 128 + signal) of a wait status; a crash fails the test.
  int Ended(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    const int sig = WTERMSIG(status);
    const bool crash =
        sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
    if (crash && !signalled_[sig]) {
      std::ostringstream what;
      what << program_ << " (pid " << pid_ << ") crashed: " << strsignal(sig) << ".";
      if (output_paths_.empty()) what << " Its output is in the test's.";
      for (const auto& path : output_paths_) {
        std::string out = ReadWholeFile(path);
        if (out.size() > 8000) out = "...\n" + out.substr(out.size() - 8000);
        what << " Its output (" << path << "):\n" << out;
      }
#ifndef OBSMON_SUBPROCESS_WITHOUT_GTEST
      ADD_FAILURE() << what.str();
#else
      std::fprintf(stderr, "%s\n", what.str().c_str());
#endif
    }
    return 128 + sig;
  }

  std::string program_;
  std::vector<std::string> output_paths_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  bool signalled_[NSIG] = {};
};

// Where a Subprocess's output goes. Files are created or truncated; stdin is /dev/null.
struct SubprocessOptions {
  std::string output_path = "/dev/null";  // stdout, and stderr unless stderr_path is set
  std::string stderr_path = {};           // stderr apart (for a program whose stdout is data)
};

// A program (argv[0], searched in PATH) as a child, with stdout and stderr captured to a file
// (or discarded). The test's environment; never a shell.
class Subprocess final : public ChildProcess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv, std::string output_path = "/dev/null")
      : Subprocess(argv, SubprocessOptions{.output_path = std::move(output_path)}) {}
  Subprocess(const std::vector<std::string>& argv, SubprocessOptions options)
      : ChildProcess(argv.empty() ? "" : argv[0], OutputPaths(options)),
        output_path_(std::move(options.output_path)) {
    if (argv.empty()) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (options.stderr_path.empty()) {
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    } else {
      posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) == 0) set_pid(pid);
    posix_spawn_file_actions_destroy(&actions);
  }

  // What it wrote to stdout (and stderr, unless that went to its own file) so far.
  std::string Output() const { return ReadWholeFile(output_path_); }

 private:
  static std::vector<std::string> OutputPaths(const SubprocessOptions& options) {
    std::vector<std::string> paths{options.output_path};
    if (!options.stderr_path.empty()) paths.push_back(options.stderr_path);
    return paths;
  }

  std::string output_path_;
};

// A function of this test run in a forked copy of the test process, which then exits with
// what the function returns (_exit: no atexit handlers, no gtest in the child). For a child that
// must run obsmon's code itself; use Subprocess for anything a program can do.
//
// The function reports through its exit code (or a pipe, shared memory): a gtest assertion in
// the child is not the test's. An exception that escapes it aborts the child, which fails the
// test as a crash. Only the forking thread exists in the child: the function must not need a
// lock another thread of the test may hold at the fork.
class ForkedChild final : public ChildProcess {
 public:
  explicit ForkedChild(const std::function<int()>& child_main) : ChildProcess("forked child", {}) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        code = child_main();
      } catch (...) {
        std::abort();
      }
      ::_exit(code);
    }
    set_pid(pid);
  }
};

// Runs a program to completion (`timeout` at most, then it is killed and the code is -1);
// returns its exit code (127: it could not be started; 128 + N: killed by signal N) and its
// Output().
inline std::pair<int, std::string> RunCommand(
    const std::vector<std::string>& argv, SubprocessOptions options,
    std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  Subprocess p(argv, std::move(options));
  if (!p.started()) return {127, "cannot start " + (argv.empty() ? "" : argv[0])};
  auto code = p.Wait(timeout);
  return {code.value_or(-1), p.Output()};
}

// Runs a program to completion (120 s at most); returns its exit code and its stdout and stderr
// together, which go through `output_path`.
inline std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv,
                                              const std::string& output_path) {
  return RunCommand(argv, SubprocessOptions{.output_path = output_path});
}

}  // namespace obsmon::testing
