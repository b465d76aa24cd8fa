// Test support: run real programs (obsmon itself, promtool, sqlite3) as children and wait for
// what they do. Header-only. Integration tests only: unit tests use FakeClock and never wait.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

// A child process with stdout and stderr captured to a file (or discarded). Killed (SIGKILL) and reaped when the
// object dies, unless it already exited.
//
// A child that ends by SIGABRT, SIGSEGV, SIGBUS, SIGFPE or SIGILL without the test having sent
// that signal crashed, and the test fails (ADD_FAILURE), even if it only expected "not 0" or
// never waited. Under the sanitizers (scripts/test-sanitized.sh) this is also how a report in the
// child fails the test: ASan, LSan and UBSan abort with abort_on_error=1.
class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv,
                      std::string output_path = "/dev/null")
      : output_path_(std::move(output_path)), program_(argv.empty() ? "" : argv[0]) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Subprocess() { Kill(); }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string Output() const { return ReadWholeFile(output_path_); }

  void Signal(int sig) {
    if (pid_ <= 0) return;
    if (sig > 0 && sig < NSIG) signalled_[sig] = true;
    ::kill(pid_, sig);
  }

  // The exit code (or 128 + signal) once the process ends within `timeout`; nullopt otherwise.
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_code_;
    std::optional<int> code;
    WaitUntil(
        [&] {
          int status = 0;
          pid_t r = waitpid(pid_, &status, WNOHANG);
          if (r == pid_) {
            code = Ended(status);
            return true;
          }
          return false;
        },
        timeout);
    if (code) {
      pid_ = -1;
      exit_code_ = code;
    }
    return code;
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

 private:
  // The exit code (or 128 + signal) of a wait status; a crash fails the test.
  int Ended(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    const int sig = WTERMSIG(status);
    const bool crash =
        sig == SIGABRT || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
    if (crash && !signalled_[sig]) {
      std::string out = Output();
      if (out.size() > 8000) out = "...\n" + out.substr(out.size() - 8000);
      std::ostringstream what;
      what << program_ << " (pid " << pid_ << ") crashed: " << strsignal(sig) << ". Its output ("
           << output_path_ << "):\n"
           << out;
#ifndef OBSMON_SUBPROCESS_WITHOUT_GTEST
      ADD_FAILURE() << what.str();
#else
      std::fprintf(stderr, "%s\n", what.str().c_str());
#endif
    }
    return 128 + sig;
  }

  std::string output_path_;
  std::string program_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  bool signalled_[NSIG] = {};
};

// Runs a command to completion; returns its exit code and output.
inline std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv,
                                              const std::string& output_path) {
  Subprocess p(argv, output_path);
  if (!p.started()) return {127, "cannot start " + argv[0]};
  auto code = p.Wait(std::chrono::seconds(120));
  return {code.value_or(-1), p.Output()};
}

}  // namespace obsmon::testing
