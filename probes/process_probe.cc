#include "probes/process_probe.h"

#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/bounded_read.h"

namespace obsmon::probes {

namespace {

constexpr const char* kRestarts = "process_restarts_total";
constexpr const char* kStartTime = "process_start_time_seconds";
// Two readings of one process's start time may differ by up to a second: btime is rounded to
// whole seconds and some kernels let it drift by one. Larger differences are another process.
constexpr double kStartTimeSlackSeconds = 1.5;

// At most `max` bytes of `path`, read in pieces: /proc files report size 0, so the buffer grows
// with what is read. (It was allocated and zeroed at `max` up front: 1 MB for /proc/stat and
// 64 KB for every stat and cmdline a `match` scan reads, on every run.)
std::optional<std::string> ReadSmallFile(const std::string& path, size_t max = 1 << 16) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < max) {
    in.read(buf, static_cast<std::streamsize>(std::min(sizeof buf, max - out.size())));
    if (in.gcount() <= 0) break;
    out.append(buf, static_cast<size_t>(in.gcount()));
  }
  return out;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::optional<ProcessStat> ReadProcessStat(const std::string& proc_root, int pid) {
  auto text = ReadSmallFile(proc_root + "/" + std::to_string(pid) + "/stat");
  if (!text || text->empty()) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text->substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string word;
  while (fields >> word && f.size() < 30) f.push_back(word);
  if (f.size() < 22) return std::nullopt;
  if (f[0] == "Z" || f[0] == "X") return std::nullopt;  // zombie or dead: not running
  ProcessStat st;
  st.pid = pid;
  st.cpu_ticks = std::strtoull(f[11].c_str(), nullptr, 10) +   // field 14 utime
                 std::strtoull(f[12].c_str(), nullptr, 10);    // field 15 stime
  st.start_ticks = std::strtoull(f[19].c_str(), nullptr, 10);  // field 22 starttime
  st.rss_bytes = std::strtoull(f[21].c_str(), nullptr, 10) *   // field 24 rss (pages)
                 static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return st;
}

std::optional<double> ReadBootTimeSeconds(const std::string& proc_root) {
  auto text = ReadSmallFile(proc_root + "/stat", 1 << 20);
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    const std::string value = line.substr(6);
    if (!AllDigits(value)) return std::nullopt;
    // from_chars, not stoull: digits beyond uint64 threw std::out_of_range out of the probe.
    uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return static_cast<double>(seconds);
  }
  return std::nullopt;
}

std::string ReadCommandLine(const std::string& proc_root, int pid) {
  auto text = ReadSmallFile(proc_root + "/" + std::to_string(pid) + "/cmdline");
  if (!text) return "";
  while (!text->empty() && text->back() == '\0') text->pop_back();
  for (char& c : *text) {
    if (c == '\0') c = ' ';
  }
  return *text;
}

ProcessProbe::ProcessProbe(const ProbeSpec& spec, ProcessOptions options, const Clock& clock)
    : spec_(spec), options_(std::move(options)), clock_(clock) {}
ProcessProbe::~ProcessProbe() = default;

Result<std::unique_ptr<ProcessProbe>> ProcessProbe::Create(const ProbeSpec& spec,
                                                           ProcessOptions options,
                                                           const Clock& clock) {
  if (options.pid_file.empty() && options.match.empty()) {
    return Status::InvalidArgument("process probe needs pid_file or match");
  }
  std::unique_ptr<ProcessProbe> probe(new ProcessProbe(spec, std::move(options), clock));
  if (!probe->options_.match.empty()) {
    re2::RE2::Options re_options;
    re_options.set_log_errors(false);
    probe->match_ = std::make_unique<re2::RE2>(probe->options_.match, re_options);
    if (!probe->match_->ok()) {
      return Status::InvalidArgument("bad regex '" + probe->options_.match +
                                     "': " + probe->match_->error());
    }
  }
  return probe;
}

std::string ProcessProbe::Instance() const {
  return options_.pid_file.empty() ? options_.match : options_.pid_file;
}

void ProcessProbe::Restore(ProbeStateSource& state) {
  // As at a start: the daemon also restores after storage lost an accepted batch with a restart
  // in it; the next run then compares the process with the start time storage has, and counts
  // that restart again, once.
  restarts_ = 0;
  last_.reset();
  stored_start_time_.reset();
  for (const auto& counter : state.Counters(spec_.key)) {
    if (counter.name == kRestarts) restarts_ = counter.value;
  }
  const Labels mine{{"component", spec_.key.component}, {"probe", spec_.key.probe}};
  if (auto last = state.LatestSample(kStartTime, mine); last && std::isfinite(last->value)) {
    stored_start_time_ = last->value;
  }
}

bool ProcessProbe::Matches(int pid) const {
  return re2::RE2::PartialMatch(ReadCommandLine(options_.proc_root, pid), *match_);
}

Result<int> ProcessProbe::FindPid() const {
  if (!options_.pid_file.empty()) {
    // A regular file only, opened without blocking: a FIFO here hung the probe's worker in
    // open(2), and with it SIGTERM (issue 13, fresh eyes F1).
    auto text = ReadRegularFile(options_.pid_file, 64);
    if (!text.ok()) {
      return Status::NotFound("cannot read pid file: " + text.status().message());
    }
    // The pid is the file's one token: "27\n317" is no pid (joining the pieces watched pid
    // 27317; fresh eyes, issue 13, second pass).
    const std::string& raw = *text;
    const size_t first = raw.find_first_not_of(" \t\r\n");
    const size_t last = raw.find_last_not_of(" \t\r\n");
    const std::string trimmed =
        first == std::string::npos ? "" : raw.substr(first, last - first + 1);
    if (!AllDigits(trimmed) || trimmed.size() > 9 || std::stoi(trimmed) <= 0) {
      return Status::NotFound("pid file " + options_.pid_file + " holds no pid");
    }
    int pid = std::stoi(trimmed);
    if (!ReadProcessStat(options_.proc_root, pid)) {
      return Status::NotFound("pid " + trimmed + " from " + options_.pid_file +
                              " is not running (stale pid file)");
    }
    if (match_ && !Matches(pid)) {
      std::string cmd = ReadCommandLine(options_.proc_root, pid).substr(0, 80);
      return Status::NotFound("pid " + trimmed + " from " + options_.pid_file + " is '" + cmd +
                              "', not a process matching '" + options_.match + "'");
    }
    return pid;
  }
  const int self = static_cast<int>(getpid());
  std::optional<ProcessStat> oldest;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.proc_root, ec)) {
    std::string name = entry.path().filename().string();
    if (!AllDigits(name) || name.size() > 9) continue;
    int pid = std::stoi(name);
    if (pid == self || !Matches(pid)) continue;
    auto st = ReadProcessStat(options_.proc_root, pid);
    if (st && (!oldest || st->start_ticks < oldest->start_ticks)) oldest = st;
  }
  if (!oldest) {
    return Status::NotFound("no process matches '" + options_.match + "'");
  }
  return oldest->pid;
}

ProbeResult ProcessProbe::Run(const Deadline& deadline) {
  auto pid = FindPid();
  std::string reason = pid.status().message();
  std::optional<ProcessStat> st;
  if (pid.ok()) {
    st = ReadProcessStat(options_.proc_root, *pid);
    if (!st) reason = "pid " + std::to_string(*pid) + " exited while being read";
  }
  const SteadyTime now = clock_.SteadyNow();
  Labels labels = spec_.labels;
  labels.Set("component", spec_.key.component);
  labels.Set("probe", spec_.key.probe);
  labels.Set("instance", Instance());
  ProbeResult result = st ? ProbeResult::Up() : ProbeResult::Down(reason);
  if (st) {
    std::optional<double> start_time;
    if (auto boot = ReadBootTimeSeconds(options_.proc_root)) {
      start_time = *boot + static_cast<double>(st->start_ticks) /
                               static_cast<double>(sysconf(_SC_CLK_TCK));
      result.samples.push_back({kStartTime, labels, 0, *start_time});
    }
    const bool same = last_ && last_->pid == st->pid && last_->start_ticks == st->start_ticks;
    // The first run after obsmon started knows the process only from what was stored.
    const bool restarted_while_away =
        !last_ && stored_start_time_ && start_time &&
        std::abs(*start_time - *stored_start_time_) > kStartTimeSlackSeconds;
    stored_start_time_.reset();
    if ((last_ && !same) || restarted_while_away) {
      restarts_ += 1;
      result.counters.push_back(
          {kRestarts, Labels{{"component", spec_.key.component}, {"probe", spec_.key.probe}}, 1});
    }
    if (same && now > last_time_ && st->cpu_ticks >= last_->cpu_ticks) {
      const double cpu_seconds = static_cast<double>(st->cpu_ticks - last_->cpu_ticks) /
                                 static_cast<double>(sysconf(_SC_CLK_TCK));
      const double wall_seconds = std::chrono::duration<double>(now - last_time_).count();
      result.samples.push_back(
          {"process_cpu_percent", labels, 0, 100.0 * cpu_seconds / wall_seconds});
    }
    result.samples.push_back(
        {"process_resident_memory_bytes", labels, 0, static_cast<double>(st->rss_bytes)});
    std::error_code ec;
    std::filesystem::directory_iterator fds(
        options_.proc_root + "/" + std::to_string(st->pid) + "/fd", ec);
    if (!ec) {
      double count = 0;
      for (auto it = fds; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        ++count;
      }
      if (!ec) result.samples.push_back({"process_open_fds", labels, 0, count});
    }
    last_ = st;
    last_time_ = now;
  }
  result.samples.push_back({kRestarts, labels, 0, restarts_});
  return result;
}

std::unique_ptr<Probe> MakeProcessProbe(const ProbeSpec& spec, ConfigNode& settings,
                                        const Clock& clock) {
  ProcessOptions options;
  if (auto v = settings.String("pid_file")) options.pid_file = *v;
  if (auto v = settings.String("match")) options.match = *v;
  auto probe = ProcessProbe::Create(spec, std::move(options), clock);
  if (!probe.ok()) {
    if (settings.Has("match")) {
      settings.ErrorAt("match", probe.status().message());
    } else {
      settings.Error(probe.status().message());
    }
    return nullptr;
  }
  return *std::move(probe);
}

}  // namespace obsmon::probes
