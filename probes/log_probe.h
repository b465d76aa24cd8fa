// The `log` probe kind: counts every line of the configured files that matches a severity
// (error, critical, ...) exactly once, across logrotate and restarts, and keeps the matched lines
// as evidence. See docs/log-probe.md for the configuration and the guarantees.
//
// Each Run() returns, in one ProbeResult, the counter increments (obsmon_log_lines_read_total,
// obsmon_log_bytes_read_total, obsmon_log_matches_total{severity}), the matched lines and the new
// cursors; the storage writer commits them in one transaction. Samples carry the running totals
// (restored from storage by Restore()) and obsmon_log_scan_lag_bytes.
//
// Run() is not reentrant (the scheduler never runs one probe twice at once); the clock outlives
// the probe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/read_buffer.h"
#include "core/status.h"
#include "probes/log_follower.h"
#include "probes/log_scanner.h"
#include "probes/probe.h"

namespace obsmon::probes {

struct LogProbeOptions {
  std::vector<std::string> paths;  // files or glob patterns; symlinks are followed
  std::vector<SeverityPattern> severities = DefaultSeverities();
  bool case_insensitive = false;
  FollowOptions follow;
  // At most this many files are followed at once (explicit paths, glob matches, rotated-away
  // matches still being finished), and a glob matching more is refused: each costs a follower
  // and its running totals (several series). A glob's match that is gone with every rotation of
  // it is forgotten, so this bounds the files alive at once, not those seen over time.
  size_t max_files = 1000;
};

class LogProbe final : public Probe {
 public:
  // Fails with InvalidArgument for a bad pattern or no paths.
  static Result<std::unique_ptr<LogProbe>> Create(const ProbeSpec& spec, LogProbeOptions options,
                                                  const Clock& clock);

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override;
  void Restore(ProbeStateSource& state) override;

  const LogScanner& scanner() const { return *scanner_; }

 private:
  LogProbe(const ProbeSpec& spec, LogProbeOptions options, const Clock& clock,
           std::unique_ptr<LogScanner> scanner);
  LogFollower& FollowerFor(const std::string& path);
  Labels SourceLabels(const std::string& path) const;
  // Adds `delta` to the running total and to the result's counter increments.
  void AddCounter(const std::string& name, const Labels& labels, double delta, ProbeResult* out);
  // Adds the followers of this run: explicit paths and glob matches. Those max_files has no
  // place for go to `waiting`; after Restore(), the stored cursors' paths a glob covers that
  // are not followed go to `stored` (read once so that a file deleted while obsmon was down is
  // retired, not kept forever); `explicit_paths` gets the explicit ones; globs that fail go to
  // `troubles`, those the timeout left to `notes`.
  void AddFollowers(const Deadline& deadline, std::vector<std::string>* explicit_paths,
                    std::vector<std::string>* waiting, std::vector<std::string>* stored,
                    std::vector<std::string>* notes, std::vector<std::string>* troubles);
  // Forgets a glob's match that is gone with every rotation of it: its follower, its totals
  // (no longer exported) and, through `out`, its stored cursor and counters.
  void Retire(const std::string& path, ProbeResult* out);

  ProbeSpec spec_;
  LogProbeOptions options_;
  const Clock& clock_;
  std::unique_ptr<LogScanner> scanner_;
  // The one-thread read buffer of every follower (LogFollower::ShareReadBuffer): they are polled
  // one at a time, by one run.
  ReadBuffer read_buffer_;
  std::map<std::string, std::unique_ptr<LogFollower>> followers_;  // by path
  std::map<std::string, LogCursor> restored_;  // stored cursors by path, not yet used
  bool adopt_restored_ = false;  // restored_ may hold paths a glob covers (AddFollowers)
  size_t next_glob_ = 0;         // the glob the next run lists first (AddFollowers)
  // Running totals of the persistent counters by source path, then by name + labels text. Only
  // the followed sources' are exported (a restored one waits for its file to be matched).
  std::map<std::string, std::map<std::string, CounterValue>> totals_;
  // The scan lag each follower last reported, exported for one the timeout left unread.
  std::map<std::string, int64_t> last_lag_;
  // Where the next run starts polling: past the timeout a run stops between files, and the
  // next one begins with the first it left, so every file is read in turn.
  std::string resume_at_;
};

// The registry's factory: reads `paths`, `severities` (a mapping name -> RE2 pattern, in order of
// precedence), `case_insensitive`, `max_line_bytes`, `read_chunk_bytes`, `max_events_per_run`,
// `max_files`.
std::unique_ptr<Probe> MakeLogProbe(const ProbeSpec& spec, ConfigNode& settings,
                                    const Clock& clock);

}  // namespace obsmon::probes
