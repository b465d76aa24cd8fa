#include "cmd/obsmon/remote_write_runtime.h"

#include <algorithm>

namespace obsmon {

std::vector<remote::RemoteWriteConfig> RemoteWriteConfigsOf(const Config& config,
                                                            ConfigErrors* errors) {
  return remote::ParseRemoteWriteConfigs(config.remote_write, config.file, errors);
}

int64_t DefaultSettleMs(const Config& config) {
  int64_t longest = 0;
  for (const auto& c : config.components) {
    for (const auto& p : c.probes) longest = std::max(longest, p.spec.timeout_ms);
  }
  return std::max<int64_t>(2'000, longest + config.storage.commit_interval_ms + 1'000);
}

std::string RemoteWriteFingerprint(const Config& config) {
  std::string text;
  if (config.remote_write.IsDefined() && !config.remote_write.IsNull()) {
    text = YAML::Dump(config.remote_write);
  }
  return text + "\n" + config.external_labels.ToString() + "\n" +
         std::to_string(DefaultSettleMs(config));
}

Result<std::unique_ptr<remote::RemoteWrite>> StartRemoteWrite(
    const Config& config, const Clock& clock, std::shared_ptr<spdlog::logger> log,
    const std::string& version, std::function<TimestampMs()> uncommitted_from) {
  ConfigErrors errors;
  auto remotes = RemoteWriteConfigsOf(config, &errors);
  if (!errors.empty()) return Status::InvalidConfig(errors.ToString());
  remote::RemoteWriteOptions options;
  options.db_path = config.storage.path;
  options.external_labels = config.external_labels;
  options.default_settle_ms = DefaultSettleMs(config);
  options.uncommitted_from = std::move(uncommitted_from);
  options.version = version;
  options.clock = &clock;
  // Logged as they happen: a sender logs once per failing request, not per attempt.
  options.warn = [log](const std::string& message) { log->warn("{}", message); };
  for (const auto& r : remotes) {
    log->info("remote_write {} to {}, settle delay {} ms", r.name, r.url,
              r.queue.settle_delay_ms > 0 ? r.queue.settle_delay_ms : options.default_settle_ms);
  }
  return remote::RemoteWrite::Start(std::move(remotes), std::move(options));
}

std::vector<RemoteWriteMetrics> RemoteWriteMetricsOf(
    const std::vector<remote::RemoteWriteStats>& stats) {
  std::vector<RemoteWriteMetrics> out;
  for (const auto& s : stats) {
    RemoteWriteMetrics m;
    m.remote = s.sender.remote;
    m.samples_sent = s.sender.samples_sent;
    m.samples_failed = s.sender.samples_failed;
    m.samples_dropped = s.sender.samples_dropped;
    m.samples_dropped["retention"] = static_cast<uint64_t>(s.dropped_retention);
    m.requests = s.sender.requests;
    m.samples_pending = s.sender.samples_pending;
    m.highest_sent_ms = s.sender.highest_sent_ms;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace obsmon
