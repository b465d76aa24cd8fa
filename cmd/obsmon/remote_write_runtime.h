// remote_write in the daemon: the `remote_write:` section parsed by remote/, the senders started
// from a Config, and their figures as web/'s snapshot structs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/config_node.h"
#include "remote/remote_write.h"
#include "web/metrics_snapshot.h"

namespace obsmon {

// The destinations of `config`; problems go to `errors` (obsmon check, start, reload).
std::vector<remote::RemoteWriteConfig> RemoteWriteConfigsOf(const Config& config,
                                                            ConfigErrors* errors);

// The settle delay for remotes that do not set one: the longest probe timeout + the writer's
// group commit (storage.commit_interval) + 1 s (a run is stamped when it starts, ends up to its
// timeout later and then waits up to the group commit; the second is for the transaction and
// the scheduler), at least 2 s.
int64_t DefaultSettleMs(const Config& config);

// Everything the senders are built from (the section as written, external labels, the default
// settle delay): a reload restarts them only when it changes.
std::string RemoteWriteFingerprint(const Config& config);

// Starts a sender per destination (none: a RemoteWrite with nothing to do).
Result<std::unique_ptr<remote::RemoteWrite>> StartRemoteWrite(
    const Config& config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
    const std::string& version, std::function<TimestampMs()> uncommitted_from = {});

std::vector<RemoteWriteMetrics> RemoteWriteMetricsOf(
    const std::vector<remote::RemoteWriteStats>& stats);

}  // namespace obsmon
