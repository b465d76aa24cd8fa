#include "probes/exec_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "probes/probe_helpers.h"

extern char** environ;

namespace obsmon::probes {

namespace {

// Without a pidfd, process exit is noticed by polling at this period.
constexpr int kExitPollMs = 10;
constexpr size_t kReasonLineChars = 200;

// Keeps the last `cap` bytes written to it. Amortised O(1) per byte.
class OutputTail {
 public:
  explicit OutputTail(size_t cap) : cap_(cap) {}
  void Append(const char* data, size_t n) {
    buf_.append(data, n);
    if (buf_.size() > 2 * cap_) {
      buf_.erase(0, buf_.size() - cap_);
      cut_ = true;
    }
  }
  // The kept text, marked with a leading "..." when earlier output was dropped.
  std::string Text() const {
    if (buf_.size() <= cap_ && !cut_) return buf_;
    size_t start = buf_.size() > cap_ ? buf_.size() - cap_ : 0;
    // Never start inside a UTF-8 sequence.
    while (start < buf_.size() && (static_cast<unsigned char>(buf_[start]) & 0xC0) == 0x80) {
      ++start;
    }
    return "..." + buf_.substr(start);
  }
  // The last line with something other than whitespace, without its line ending.
  std::string LastLine() const {
    size_t end = buf_.size();
    while (end > 0) {
      size_t start = buf_.rfind('\n', end - 1);
      size_t from = start == std::string::npos ? 0 : start + 1;
      std::string_view line(buf_.data() + from, end - from);
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
        line.remove_suffix(1);
      }
      size_t lead = 0;
      while (lead < line.size() && std::isspace(static_cast<unsigned char>(line[lead]))) ++lead;
      line.remove_prefix(lead);
      if (!line.empty()) return CutText(line, kReasonLineChars);
      if (start == std::string::npos) break;
      end = start;
    }
    return {};
  }

 private:
  size_t cap_;
  std::string buf_;
  bool cut_ = false;
};

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// True once `pid` has exited; leaves it a zombie (WNOWAIT) so that its pid, which is also the
// process group id, cannot be reused before the group is killed and the child reaped.
bool HasExited(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;  // someone else reaped it: treat as gone
  }
  return info.si_pid == pid;
}

int OpenPidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  return -1;
#endif
}

// Reads whatever is available without blocking. Returns false at end of file or on error.
bool DrainAvailable(int fd, OutputTail* tail) {
  char buf[16 * 1024];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      tail->Append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    if (extra.count(name) == 0) out.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

ExecProbe::ExecProbe(ProbeSpec spec, ExecProbeOptions options, const Clock& clock)
    : spec_(std::move(spec)), options_(std::move(options)), clock_(clock) {}

ExecProbe::~ExecProbe() = default;

ProbeResult ExecProbe::Run(const Deadline& deadline) {
  const std::string timeout_reason = TimeoutReason(spec_.timeout_ms);
  if (deadline.Expired(clock_)) return ProbeResult::Down(timeout_reason);
  const std::string& program = options_.command.front();

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return ProbeResult::Down(std::string("cannot create pipe: ") + strerror(errno));
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  if (options_.workdir) posix_spawn_file_actions_addchdir_np(&actions, options_.workdir->c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&default_signals, sig);
  }
  posix_spawnattr_setpgroup(&attr, 0);  // a new group led by the child
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_strings = options_.command;
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<std::string> env_strings = BuildEnv(options_.env);
  std::vector<char*> envp = CStrings(env_strings);

  pid_t pid = -1;
  bool search_path = program.find('/') == std::string::npos;
  int rc = search_path
               ? posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data())
               : posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  write_end.Reset();  // only the child (and its children) keep the write end
  if (rc != 0) {
    std::string where = options_.workdir ? " (in " + *options_.workdir + ")" : "";
    return ProbeResult::Down("cannot execute " + program + where + ": " + strerror(rc));
  }
  fcntl(read_end.get(), F_SETFL, fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
  Fd pidfd(OpenPidfd(pid));

  OutputTail tail(options_.max_output_bytes);
  bool pipe_open = true;
  bool exited = false;
  bool timed_out = false;
  while (!exited) {
    auto left = deadline.Remaining(clock_);
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    nfds_t nfds = 0;
    if (pipe_open) fds[nfds++] = pollfd{read_end.get(), POLLIN, 0};
    if (pidfd.get() >= 0) fds[nfds++] = pollfd{pidfd.get(), POLLIN, 0};
    int wait_ms = static_cast<int>(left.count());
    if (pidfd.get() < 0) wait_ms = std::min(wait_ms, kExitPollMs);
    int n = poll(nfds > 0 ? fds : nullptr, nfds, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (pipe_open && n > 0 && fds[0].revents != 0) {
      pipe_open = DrainAvailable(read_end.get(), &tail);
    }
    exited = HasExited(pid);
  }

  if (exited) {
    // What the command wrote before exiting is in the pipe now; later output from anything it
    // left running is not waited for.
    if (pipe_open) DrainAvailable(read_end.get(), &tail);
    kill(-pid, SIGKILL);  // leftovers in its group; ESRCH when there are none
  } else {
    kill(-pid, SIGTERM);
    // Bounded by iterations as well as by the clock, so a fake clock cannot stretch the grace.
    int64_t slices = std::max<int64_t>(1, options_.kill_grace.count() / kExitPollMs);
    SteadyTime grace_end = clock_.SteadyNow() + options_.kill_grace;
    for (int64_t i = 0; i < slices && clock_.SteadyNow() < grace_end; ++i) {
      if (HasExited(pid)) break;
      if (pidfd.get() >= 0) {
        pollfd p{pidfd.get(), POLLIN, 0};
        poll(&p, 1, kExitPollMs);
      } else {
        poll(nullptr, 0, kExitPollMs);
      }
    }
    if (pipe_open) DrainAvailable(read_end.get(), &tail);
    kill(-pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  ProbeResult result;
  result.detail = tail.Text();
  if (timed_out) {
    result.reason = timeout_reason;
    return result;
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    result.samples.push_back(Sample{"probe_exec_exit_code", ExtraSampleLabels(spec_, Instance()), 0,
                                    static_cast<double>(code)});
    if (code == 0) {
      result.success = true;
      return result;
    }
    std::string line = tail.LastLine();
    result.reason = "exit " + std::to_string(code) + (line.empty() ? "" : ": " + line);
    return result;
  }
  if (WIFSIGNALED(status)) {
    result.reason = "killed by signal " + std::to_string(WTERMSIG(status));
    return result;
  }
  result.reason = "ended with wait status " + std::to_string(status);
  return result;
}

std::unique_ptr<Probe> MakeExecProbe(const ProbeSpec& spec, ConfigNode& settings,
                                     const Clock& clock) {
  bool ok = true;
  ExecProbeOptions opts;
  if (auto command = settings.StringList("command", /*required=*/true)) {
    bool scalar = settings.raw()["command"].IsScalar();
    if (scalar && command->front().find_first_of(" \t") != std::string::npos) {
      settings.ErrorAt("command",
                       "command must be a list of arguments such as [\"/bin/check\", "
                       "\"--fast\"]; it is not split or run through a shell");
      ok = false;
    } else if (command->empty() || command->front().empty()) {
      settings.ErrorAt("command", "command must name a program (an argv list, not run by a shell)");
      ok = false;
    } else {
      opts.command = std::move(*command);
    }
  } else {
    ok = false;
  }
  if (auto env = settings.StringMap("env")) {
    for (const auto& [name, value] : *env) {
      if (name.empty() || name.find('=') != std::string::npos) {
        settings.ErrorAt("env", "bad environment variable name '" + name + "'");
        ok = false;
      }
    }
    opts.env = std::move(*env);
  } else if (settings.Has("env")) {
    ok = false;
  }
  if (auto workdir = settings.String("workdir")) {
    if (workdir->empty()) {
      settings.ErrorAt("workdir", "workdir must not be empty");
      ok = false;
    }
    opts.workdir = std::move(*workdir);
  } else if (settings.Has("workdir")) {
    ok = false;
  }
  if (!ok) return nullptr;
  return std::make_unique<ExecProbe>(spec, std::move(opts), clock);
}

}  // namespace obsmon::probes
