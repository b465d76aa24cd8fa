// kind: tcp — connects to `address` ("host:port"); optionally sends `send` and requires the first
// bytes received to match `expect` (RE2). Up when all of that happens before the deadline.
// Not thread-safe: Run() is never called concurrently for one probe (probe.h).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/config_node.h"
#include "probes/probe.h"
#include "probes/url.h"

namespace re2 {
class RE2;
}

namespace obsmon::probes {

struct TcpProbeOptions {
  HostPort address;
  std::optional<std::string> send;         // written once connected, as given
  std::shared_ptr<const re2::RE2> expect;  // null: connecting is enough
  size_t max_read_bytes = 64 * 1024;       // how much is read while waiting for `expect`
};

class TcpProbe final : public Probe {
 public:
  // `clock` must outlive the probe.
  TcpProbe(ProbeSpec spec, TcpProbeOptions options, const Clock& clock);
  ~TcpProbe() override;

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override { return options_.address.ToString(); }

 private:
  ProbeSpec spec_;
  TcpProbeOptions options_;
  const Clock& clock_;
};

// The registry's factory for kind "tcp" (keys: address, send, expect).
std::unique_ptr<Probe> MakeTcpProbe(const ProbeSpec& spec, ConfigNode& settings,
                                    const Clock& clock);

}  // namespace obsmon::probes
