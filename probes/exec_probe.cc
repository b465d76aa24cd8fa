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
#include <utility>

#include "core/status.h"
#include "core/unique_fd.h"
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

// The spawned command: its process (leading a group of its own) and the read end of the pipe
// that is its stdout and stderr.
struct Child {
  pid_t pid = -1;
  UniqueFd output;
  UniqueFd pidfd;  // -1 where the kernel has no pidfd_open: exit is then polled
};

// Spawns `options.command` with stdin from /dev/null, stdout and stderr into a pipe, in a new
// process group, with the signals obsmon blocks or handles reset. Why it could not, otherwise.
Result<std::unique_ptr<Child>> Spawn(const ExecProbeOptions& options) {
  const std::string& program = options.command.front();
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    ThrowIfOutOfResources("pipe", err);  // obsmon's descriptors, not the command's failure
    return Status::IoError(std::string("cannot create pipe: ") + strerror(err));
  }
  auto child = std::make_unique<Child>();
  child->output = UniqueFd(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  if (options.workdir) posix_spawn_file_actions_addchdir_np(&actions, options.workdir->c_str());

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

  std::vector<std::string> argv_strings = options.command;
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<std::string> env_strings = BuildEnv(options.env);
  std::vector<char*> envp = CStrings(env_strings);
  const bool search_path = program.find('/') == std::string::npos;
  const int rc =
      search_path
          ? posix_spawnp(&child->pid, program.c_str(), &actions, &attr, argv.data(), envp.data())
          : posix_spawn(&child->pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  write_end.Reset();  // only the child (and its children) keep the write end
  if (rc != 0) {
    std::string where = options.workdir ? " (in " + *options.workdir + ")" : "";
    return Status::Unavailable("cannot execute " + program + where + ": " + strerror(rc));
  }
  fcntl(child->output.get(), F_SETFL, fcntl(child->output.get(), F_GETFL) | O_NONBLOCK);
  child->pidfd = UniqueFd(OpenPidfd(child->pid));
  return child;
}

enum class Ending { kExited, kDeadline, kPollFailed };

// Collects the child's output until it exits or the deadline passes. The pipe may stay open
// after the exit (a grandchild holding it), which is not waited for.
Ending CollectUntilExit(Child& child, const Deadline& deadline, const Clock& clock,
                        OutputTail* tail, bool* pipe_open) {
  while (true) {
    const auto left = deadline.Remaining(clock);
    if (left.count() <= 0) return Ending::kDeadline;
    pollfd fds[2];
    nfds_t nfds = 0;
    if (*pipe_open) fds[nfds++] = pollfd{child.output.get(), POLLIN, 0};
    if (child.pidfd.get() >= 0) fds[nfds++] = pollfd{child.pidfd.get(), POLLIN, 0};
    int wait_ms = static_cast<int>(left.count());
    if (child.pidfd.get() < 0) wait_ms = std::min(wait_ms, kExitPollMs);
    const int n = PollOrCancel(fds, nfds, wait_ms, deadline);
    if (n < 0 && errno != EINTR) return Ending::kPollFailed;
    if (*pipe_open && n > 0 && fds[0].revents != 0) {
      *pipe_open = DrainAvailable(child.output.get(), tail);
    }
    if (HasExited(child.pid)) return Ending::kExited;
  }
}

// A command past its deadline: SIGTERM to its group, then up to `grace` for it to exit. Bounded
// by iterations as well as by the clock, so a fake clock cannot stretch the grace.
void TerminateGroup(const Child& child, std::chrono::milliseconds grace, const Clock& clock) {
  kill(-child.pid, SIGTERM);
  const int64_t slices = std::max<int64_t>(1, grace.count() / kExitPollMs);
  const SteadyTime grace_end = clock.SteadyNow() + grace;
  for (int64_t i = 0; i < slices && clock.SteadyNow() < grace_end; ++i) {
    if (HasExited(child.pid)) return;
    if (child.pidfd.get() >= 0) {
      pollfd p{child.pidfd.get(), POLLIN, 0};
      poll(&p, 1, kExitPollMs);
    } else {
      poll(nullptr, 0, kExitPollMs);
    }
  }
}

// The wait status, once whatever is left of the group is killed.
int KillGroupAndReap(const Child& child) {
  kill(-child.pid, SIGKILL);  // leftovers in its group; ESRCH when there are none
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// A finished command's result: up when it exited 0; otherwise the exit code with its last
// line of output, or the signal.
ProbeResult Judge(int status, const OutputTail& tail, const Labels& exit_code_labels) {
  ProbeResult result;
  result.detail = tail.Text();
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    result.samples.push_back(
        Sample{"probe_exec_exit_code", exit_code_labels, 0, static_cast<double>(code)});
    if (code == 0) {
      result.success = true;
      return result;
    }
    const std::string line = tail.LastLine();
    result.reason = "exit " + std::to_string(code) + (line.empty() ? "" : ": " + line);
  } else if (WIFSIGNALED(status)) {
    result.reason = "killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    result.reason = "ended with wait status " + std::to_string(status);
  }
  return result;
}

}  // namespace

ExecProbe::ExecProbe(ProbeSpec spec, ExecProbeOptions options, const Clock& clock)
    : spec_(std::move(spec)), options_(std::move(options)), clock_(clock) {}

ExecProbe::~ExecProbe() = default;

ProbeResult ExecProbe::Run(const Deadline& deadline) {
  const std::string timeout_reason = TimeoutReason(spec_.timeout_ms);
  if (deadline.Expired(clock_)) return ProbeResult::Down(timeout_reason);
  auto spawned = Spawn(options_);
  if (!spawned.ok()) return ProbeResult::Down(spawned.status().message());
  Child& child = **spawned;
  OutputTail tail(options_.max_output_bytes);
  bool pipe_open = true;
  const Ending ending = CollectUntilExit(child, deadline, clock_, &tail, &pipe_open);
  // What the command wrote before exiting (or before the grace ended) is in the pipe now; later
  // output from anything it left running is not waited for.
  if (ending != Ending::kExited) TerminateGroup(child, options_.kill_grace, clock_);
  if (pipe_open) DrainAvailable(child.output.get(), &tail);
  const int status = KillGroupAndReap(child);
  if (ending == Ending::kDeadline) {
    ProbeResult result;
    result.detail = tail.Text();
    result.reason = timeout_reason;
    return result;
  }
  return Judge(status, tail, ExtraSampleLabels(spec_, Instance()));
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
