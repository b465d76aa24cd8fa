// Every configured remote_write destination: one Sender each, and their figures for /metrics.
// Built by cmd/obsmon/ from the config; a reload stops the senders and starts new ones (their
// cursors are in SQLite, so nothing is lost or sent twice by it). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/status.h"
#include "remote/remote_client.h"
#include "remote/remote_write_config.h"
#include "remote/sender.h"

namespace obsmon::remote {

struct RemoteWriteOptions {
  std::string db_path;
  Labels external_labels;
  // Used for a remote whose queue_config.settle_delay is 0 (the daemon passes the longest probe
  // timeout + the group commit + 1 s, at least 2 s: a run is stamped at its start and committed
  // after it ends).
  int64_t default_settle_ms = 2'000;
  // Every sender's SenderOptions::uncommitted_from (the daemon's writer); may be empty.
  std::function<TimestampMs()> uncommitted_from;
  std::string version = "dev";
  const Clock* clock = &SystemClock::Instance();
  std::function<void(const std::string&)> warn;
  // Makes each remote's client; default MakeHttpRemoteClient (tests pass fakes).
  std::function<std::unique_ptr<RemoteClient>(const RemoteWriteConfig&)> make_client;
};

// One remote's figures: the sender's since start, plus the persisted retention drops.
struct RemoteWriteStats {
  SenderStats sender;
  int64_t dropped_retention = 0;  // total, persisted in remote_write_cursors
};

class RemoteWrite {
 public:
  // Marks `remotes` as the configured ones in the database (only they hold retention; a new one
  // starts at now - settle), then starts a sender for each. Fails when the database cannot be
  // opened or written.
  static Result<std::unique_ptr<RemoteWrite>> Start(std::vector<RemoteWriteConfig> remotes,
                                                    RemoteWriteOptions options);
  ~RemoteWrite();
  void Stop();
  std::vector<RemoteWriteStats> Stats() const;

 private:
  RemoteWrite() = default;
  std::unique_ptr<storage::RemoteCursorStore> store_;  // for Stats(); thread-safe
  std::vector<std::unique_ptr<Sender>> senders_;
};

}  // namespace obsmon::remote
