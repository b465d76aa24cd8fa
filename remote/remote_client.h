// Where a remote_write request goes: an interface, so the sender's tests use a fake, and its
// HTTP implementation (cpp-httplib through probes/' bounded client, so an answer can cost at most
// 64 KiB of head and 1 MiB of body, and no read waits past remote_timeout).
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "remote/remote_write_config.h"

namespace obsmon::remote {

struct SendResult {
  int status = 0;      // the HTTP status; 0 when there was no answer (refused, timeout, TLS ...)
  std::string error;   // why there was no answer (status 0), or a secret could not be read
  std::string body;    // the answer's body, cut to kMaxLoggedBody bytes
};

inline constexpr size_t kMaxLoggedBody = 1024;

class RemoteClient {
 public:
  virtual ~RemoteClient() = default;
  // Sends one compressed WriteRequest. Thread-safe (shards send at once).
  virtual SendResult Send(const std::string& body) = 0;
};

// `version` goes into the User-Agent ("obsmon/<version>").
std::unique_ptr<RemoteClient> MakeHttpRemoteClient(const RemoteWriteConfig& config,
                                                   std::string version);

}  // namespace obsmon::remote
