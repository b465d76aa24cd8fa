// kind: exec — runs `command` (an argv list, never through a shell); exit 0 is up.
//
// The child runs in a new process group with stdin from /dev/null and stdout+stderr on one pipe.
// At the deadline the whole group gets SIGTERM, then SIGKILL after a short grace, and is reaped;
// when the command exits by itself, members it left behind in its group are killed too, so a
// grandchild holding the pipe open can never hang the probe. The last `max_output_bytes` of output
// go to ProbeResult::detail; the reason quotes the last non-empty line ("exit 1: disk full").
// Not thread-safe: Run() is never called concurrently for one probe (probe.h). Safe to use from
// a multi-threaded process (posix_spawn, close-on-exec pipes).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "probes/probe.h"

namespace obsmon::probes {

struct ExecProbeOptions {
  std::vector<std::string> command;           // argv; argv[0] without '/' is looked up in PATH
  std::map<std::string, std::string> env;     // added to (or overriding) obsmon's environment
  std::optional<std::string> workdir;         // the child's working directory
  size_t max_output_bytes = 4096;             // tail of the output kept in `detail`
  std::chrono::milliseconds kill_grace{200};  // SIGTERM -> SIGKILL at the deadline
};

class ExecProbe final : public Probe {
 public:
  // `clock` must outlive the probe.
  ExecProbe(ProbeSpec spec, ExecProbeOptions options, const Clock& clock);
  ~ExecProbe() override;

  ProbeResult Run(const Deadline& deadline) override;
  // The probe's name: a command has no network identity.
  std::string Instance() const override { return spec_.key.probe; }

 private:
  ProbeSpec spec_;
  ExecProbeOptions options_;
  const Clock& clock_;
};

// The registry's factory for kind "exec" (keys: command, env, workdir).
std::unique_ptr<Probe> MakeExecProbe(const ProbeSpec& spec, ConfigNode& settings,
                                     const Clock& clock);

}  // namespace obsmon::probes
