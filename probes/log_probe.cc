#include "probes/log_probe.h"

#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "core/bounded_read.h"

namespace obsmon::probes {

namespace {

constexpr char kLinesRead[] = "obsmon_log_lines_read_total";
constexpr char kBytesRead[] = "obsmon_log_bytes_read_total";
constexpr char kMatches[] = "obsmon_log_matches_total";
// Not "_dropped_": storage counts its per-day drops as obsmon_log_events_dropped_total{component}.
constexpr char kEventsCapped[] = "obsmon_log_events_capped_total";
constexpr char kScanLag[] = "obsmon_log_scan_lag_bytes";
// Bytes of rotated files the probe could not open (permission denied, ...) that held lines it
// had not read: lost, and said so (FollowOutput::unreadable_bytes).
constexpr char kUnreadable[] = "obsmon_log_unreadable_bytes_total";
// Runs that found the file they were reading gone (FollowOutput::files_missed): lines may be lost.
constexpr char kFilesMissed[] = "obsmon_log_files_missed_total";
constexpr size_t kMaxDetailBytes = 4096;

// A glob walks every directory its wildcard segments reach: `/**/**/**/*` walked the whole file
// system past the probe's timeout and SIGTERM (fresh eyes, issue 13, second pass). Bounded as
// rule_files are: at most kMaxWildcardSegments segments with wildcards (refused at load) and
// max_files files (a run with more is down, and follows none of that glob's).
constexpr size_t kMaxWildcardSegments = 3;
constexpr size_t kMaxMaxFiles = 100'000;
constexpr char kFilesFollowed[] = "obsmon_log_files_followed";

Result<std::vector<std::string>> ExpandGlob(const std::string& pattern, size_t max_matches) {
  auto out = ExpandGlobBounded(pattern, max_matches, kMaxWildcardSegments);
  if (out.ok()) std::sort(out->begin(), out->end());
  return out;
}

// Whether glob(3) could list `path` for `pattern`: the same wildcards, '/' and a leading '.'
// matched only literally.
bool GlobCovers(const std::string& pattern, const std::string& path) {
  return ::fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0;
}

std::string TotalKey(const std::string& name, const Labels& labels) {
  return name + labels.ToString();
}

}  // namespace

Result<std::unique_ptr<LogProbe>> LogProbe::Create(const ProbeSpec& spec, LogProbeOptions options,
                                                   const Clock& clock) {
  if (options.paths.empty()) return Status::InvalidArgument("no paths configured");
  if (options.max_files == 0) return Status::InvalidArgument("max_files must be at least 1");
  auto scanner = LogScanner::Create(options.severities, options.case_insensitive);
  if (!scanner.ok()) return scanner.status();
  return std::unique_ptr<LogProbe>(
      new LogProbe(spec, std::move(options), clock, std::move(scanner).value()));
}

LogProbe::LogProbe(const ProbeSpec& spec, LogProbeOptions options, const Clock& clock,
                   std::unique_ptr<LogScanner> scanner)
    : spec_(spec), options_(std::move(options)), clock_(clock), scanner_(std::move(scanner)) {}

std::string LogProbe::Instance() const {
  if (options_.paths.size() == 1) return options_.paths.front();
  return options_.paths.front() + " (+" + std::to_string(options_.paths.size() - 1) + ")";
}

Labels LogProbe::SourceLabels(const std::string& path) const {
  Labels labels = spec_.labels;
  labels.Set("component", spec_.key.component);
  labels.Set("probe", spec_.key.probe);
  labels.Set("source", path);
  return labels;
}

void LogProbe::Restore(ProbeStateSource& state) {
  // The probe becomes what a start would make of storage. Besides the start, the daemon restores
  // a probe when storage lost one of its batches after accepting it: its followers and totals
  // then hold lines storage never got, also for files storage has no cursor of at all (a first
  // run lost, a new glob match), so none of them is kept: each is made again at the next run
  // from its stored cursor, or from none, and reads what storage has not counted.
  followers_.clear();
  restored_.clear();
  totals_.clear();
  last_lag_.clear();
  resume_at_.clear();
  for (auto& cursor : state.LogCursors(spec_.key)) restored_[cursor.path] = cursor;
  adopt_restored_ = true;
  for (auto& counter : state.Counters(spec_.key)) {
    const std::string& n = counter.name;
    if (n != kLinesRead && n != kBytesRead && n != kMatches && n != kEventsCapped &&
        n != kUnreadable && n != kFilesMissed) {
      continue;
    }
    const std::string source = counter.labels.Get("source");
    totals_[source][TotalKey(n, counter.labels)] = counter;
  }
}

LogFollower& LogProbe::FollowerFor(const std::string& path) {
  auto it = followers_.find(path);
  if (it != followers_.end()) return *it->second;
  auto follower = std::make_unique<LogFollower>(path, scanner_.get(), options_.follow);
  follower->ShareReadBuffer(&read_buffer_);
  if (auto r = restored_.find(path); r != restored_.end()) {
    follower->Restore(r->second);
    restored_.erase(r);
  }
  auto& ref = *follower;
  followers_.emplace(path, std::move(follower));
  return ref;
}

void LogProbe::AddCounter(const std::string& name, const Labels& labels, double delta,
                          ProbeResult* out) {
  auto& total = totals_[labels.Get("source")][TotalKey(name, labels)];
  if (total.name.empty()) {
    total.name = name;
    total.labels = labels;
  }
  total.value += delta;
  if (delta != 0) out->counters.push_back({name, labels, delta});
}

void LogProbe::AddFollowers(const Deadline& deadline, std::vector<std::string>* explicit_paths,
                            std::vector<std::string>* waiting, std::vector<std::string>* stored,
                            std::vector<std::string>* notes, std::vector<std::string>* troubles) {
  auto follow = [&](const std::string& path) {
    if (followers_.contains(path)) return;
    if (followers_.size() >= options_.max_files) {
      waiting->push_back(path);
    } else {
      FollowerFor(path);
    }
  };
  std::vector<const std::string*> globs;
  for (const auto& p : options_.paths) {
    if (HasGlobChars(p)) {
      globs.push_back(&p);
    } else {
      explicit_paths->push_back(p);
      follow(p);
    }
  }
  // Past the timeout the listing stops after at least one glob, and the next run begins with
  // the first it left: a glob slow to list (a huge directory) cannot keep those after it from
  // ever being listed (fresh eyes, stop 48).
  const size_t n = globs.size();
  const size_t first = n == 0 ? 0 : next_glob_ % n;
  next_glob_ = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t at = (first + i) % n;
    const std::string& p = *globs[at];
    if (i > 0 && deadline.Expired(clock_)) {
      next_glob_ = at;
      notes->push_back(std::to_string(n - i) + " of " + std::to_string(n) +
                       " globs not listed: the timeout came first (the next run begins with them)");
      break;
    }
    auto matches = ExpandGlob(p, options_.max_files);
    if (!matches.ok()) {
      troubles->push_back(p + ": " + matches.status().message() + " (max_files)");
      continue;
    }
    if (matches->empty()) troubles->push_back(p + ": no file matches");
    for (const auto& m : *matches) {
      // A wildcard matching a subdirectory (`/var/log/app/*`) is not a log to follow. Asked of
      // new matches only: a followed one is not stat'ed again every run.
      struct stat st {};
      if (!followers_.contains(m) && ::stat(m.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
      follow(m);
    }
  }
  if (adopt_restored_) {
    // A stored cursor whose file no glob lists any more (deleted while obsmon was down) is read
    // once by Run(), found gone and retired; one no pattern covers (the paths were changed)
    // stays in storage as it was.
    for (const auto& restored : restored_) {
      const std::string& path = restored.first;  // a name, not a binding: clang 14's lambdas
      if (!followers_.contains(path) &&
          std::any_of(globs.begin(), globs.end(),
                      [&](const std::string* g) { return GlobCovers(*g, path); })) {
        stored->push_back(path);
      }
    }
    adopt_restored_ = !stored->empty();
  }
}

void LogProbe::Retire(const std::string& path, ProbeResult* out) {
  followers_.erase(path);
  last_lag_.erase(path);
  LogCursor gone;
  gone.key = spec_.key;
  gone.path = path;
  gone.retired = true;
  out->log_cursors.push_back(std::move(gone));
  if (auto it = totals_.find(path); it != totals_.end()) {
    for (auto& [key, total] : it->second) {
      // Its last figures (this run may have finished its rotated file), then forgotten.
      out->samples.push_back({total.name, total.labels, 0, total.value});
      CounterDelta forget{total.name, total.labels, 0};
      forget.forget = true;
      out->counters.push_back(std::move(forget));
    }
    totals_.erase(it);
  }
}

ProbeResult LogProbe::Run(const Deadline& deadline) {
  ProbeResult result = ProbeResult::Up();
  std::vector<std::string> troubles;
  std::vector<std::string> notes;
  std::vector<std::string> explicit_paths;
  // Files to follow when max_files leaves a place: after this run's retirements.
  std::vector<std::string> waiting;
  std::vector<std::string> stored;  // stored cursors a glob covers, not followed
  AddFollowers(deadline, &explicit_paths, &waiting, &stored, &notes, &troubles);

  const auto expired = [&] { return deadline.Expired(clock_); };
  const TimestampMs now = clock_.NowMs();
  const auto& severities = scanner_->severities();
  // Reads one follower and adds what it read to the result; false when the file is gone once
  // that was read (a glob's match: to be retired).
  auto read = [&](const std::string& path, LogFollower& follower) {
    FollowOutput out = follower.Poll(expired);
    const bool is_explicit =
        std::find(explicit_paths.begin(), explicit_paths.end(), path) != explicit_paths.end();
    // A glob's match that went away is not reported (rotated or deleted); one that cannot be
    // read (permission denied, a FIFO, a dangling symlink) is, as an explicit path's: it is a
    // log obsmon misses.
    if (!out.trouble.empty() && (is_explicit || !out.trouble_is_no_file)) {
      troubles.push_back(path + ": " + out.trouble);
    }
    for (auto& note : out.notes) notes.push_back(std::move(note));

    const Labels labels = SourceLabels(path);
    AddCounter(kLinesRead, labels, static_cast<double>(out.lines), &result);
    AddCounter(kBytesRead, labels, static_cast<double>(out.bytes), &result);
    for (size_t i = 0; i < severities.size(); ++i) {
      Labels with = labels;
      with.Set("severity", severities[i].name);
      AddCounter(kMatches, with, static_cast<double>(out.matches[i]), &result);
    }
    if (out.events_dropped > 0) {
      AddCounter(kEventsCapped, labels, static_cast<double>(out.events_dropped), &result);
      notes.push_back(path + ": " + std::to_string(out.events_dropped) +
                      " matched lines counted but not kept (max_events_per_run)");
    }
    if (out.unreadable_bytes > 0) {
      AddCounter(kUnreadable, labels, static_cast<double>(out.unreadable_bytes), &result);
    }
    if (out.files_missed > 0) {
      AddCounter(kFilesMissed, labels, static_cast<double>(out.files_missed), &result);
    }
    for (auto& e : out.events) {
      result.log_events.push_back({spec_.key, now, std::move(e.file),
                                   severities[static_cast<size_t>(e.severity)].name,
                                   std::move(e.line)});
    }
    if (out.cursor) {
      LogCursor c = std::move(*out.cursor);
      c.key = spec_.key;
      c.path = path;
      c.updated_ms = now;
      result.log_cursors.push_back(std::move(c));
    }
    if (out.trouble.empty()) {
      last_lag_[path] = out.lag_bytes;
    } else {
      last_lag_.erase(path);
    }
    return !out.gone || is_explicit;
  };

  std::vector<std::string> retired;
  size_t polled = 0;
  size_t left = 0;
  // From where the previous run stopped, round to it again.
  auto it = followers_.lower_bound(resume_at_);
  resume_at_.clear();
  for (size_t n = 0; n < followers_.size(); ++n, ++it) {
    if (it == followers_.end()) it = followers_.begin();
    if (polled > 0 && expired()) {
      left = followers_.size() - n;
      resume_at_ = it->first;
      break;
    }
    ++polled;
    if (!read(it->first, *it->second)) retired.push_back(it->first);
  }
  for (const auto& path : retired) Retire(path, &result);
  // The places the retirements left go to the files waiting for one, read at once while the
  // timeout allows (else by the next run).
  size_t refused = 0;
  for (const auto& path : waiting) {
    if (followers_.contains(path)) continue;
    if (followers_.size() >= options_.max_files) {
      ++refused;
      continue;
    }
    LogFollower& follower = FollowerFor(path);
    if (!expired() && !read(path, follower)) Retire(path, &result);
  }
  // Stored cursors a glob covers that are not followed (deleted while obsmon was down, or the
  // paths changed by a reload): one whose file is gone is read once whatever max_files says
  // (its rotated files) and retired (fresh eyes, stop 48: with max_files reached they stayed in
  // storage until the next restart); one made meanwhile goes back to wait with its new cursor.
  for (const auto& path : stored) {
    if (followers_.contains(path)) continue;
    if (expired()) break;  // the next run goes on with them
    // One that is there waits for a place as a new match does, unread: max_files bounds what a
    // run reads (fresh eyes, stop 48: read every run, its counts never exported).
    struct stat st {};
    if (followers_.size() >= options_.max_files && ::stat(path.c_str(), &st) == 0) continue;
    LogFollower& follower = FollowerFor(path);
    if (!read(path, follower)) {
      Retire(path, &result);
    } else if (followers_.size() > options_.max_files) {
      LogCursor parked = follower.cursor();
      parked.key = spec_.key;
      parked.path = path;
      restored_[path] = std::move(parked);
      followers_.erase(path);
      last_lag_.erase(path);
    }
  }
  if (refused > 0) {
    troubles.push_back(std::to_string(refused) + " matching file" + (refused == 1 ? "" : "s") +
                       " not followed: " + std::to_string(followers_.size()) +
                       " are, max_files is " + std::to_string(options_.max_files));
  }
  if (left > 0) {
    notes.push_back(std::to_string(left) + " of " + std::to_string(followers_.size()) +
                    " files not read: the timeout came first (the next run begins with them)");
  }

  // Before the sources' series: /metrics exports at most its series limit, in the order given,
  // and the probe's own gauge must not be the one left out (fresh eyes, stop 49: at 20,000
  // files, 100,000 series, it was).
  Labels probe_labels = spec_.labels;
  probe_labels.Set("component", spec_.key.component);
  probe_labels.Set("probe", spec_.key.probe);
  result.samples.push_back(
      {kFilesFollowed, std::move(probe_labels), 0, static_cast<double>(followers_.size())});
  // The followed sources' series: their running totals and scan lag. A retired source's are
  // no longer exported, as a target that went away.
  for (const auto& [path, follower] : followers_) {
    if (auto lag = last_lag_.find(path); lag != last_lag_.end()) {
      result.samples.push_back({kScanLag, SourceLabels(path), 0, static_cast<double>(lag->second)});
    }
    if (auto totals = totals_.find(path); totals != totals_.end()) {
      for (const auto& [key, total] : totals->second) {
        result.samples.push_back({total.name, total.labels, 0, total.value});
      }
    }
  }

  if (!troubles.empty()) {
    result.success = false;
    result.reason = troubles.front();
  }
  std::string detail;
  for (const auto* list : {&troubles, &notes}) {
    for (const auto& line : *list) {
      if (detail.size() + line.size() + 1 > kMaxDetailBytes) break;
      if (!detail.empty()) detail += '\n';
      detail += line;
    }
  }
  result.detail = std::move(detail);
  return result;
}

std::unique_ptr<Probe> MakeLogProbe(const ProbeSpec& spec, ConfigNode& settings,
                                    const Clock& clock) {
  LogProbeOptions options;
  const size_t errors_before = settings.errors()->errors().size();
  if (auto paths = settings.StringList("paths", /*required=*/true)) options.paths = *paths;
  if (options.paths.empty() && settings.Has("paths")) settings.ErrorAt("paths", "no paths given");
  for (const auto& p : options.paths) {
    // The wildcard-segment bound is known at load: refuse it there, not at every run.
    if (const size_t n = WildcardSegments(p); n > kMaxWildcardSegments) {
      settings.ErrorAt("paths", "glob '" + p + "' has " + std::to_string(n) +
                                    " path segments with wildcards (at most " +
                                    std::to_string(kMaxWildcardSegments) + ")");
    }
  }
  if (auto sev = settings.Map("severities")) {
    options.severities.clear();
    // Iterated in document order: a line counts under the first severity that matches it.
    for (const auto& kv : sev->raw()) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
        settings.ErrorAt("severities", "each severity must map a name to a pattern");
        continue;
      }
      options.severities.push_back({kv.first.Scalar(), kv.second.Scalar()});
    }
    if (options.severities.empty()) settings.ErrorAt("severities", "no severities given");
  } else if (settings.Has("severities")) {
    settings.ErrorAt("severities", "must be a mapping of name to RE2 pattern");
  }
  if (auto ci = settings.Bool("case_insensitive")) options.case_insensitive = *ci;
  if (auto n = settings.Int("max_line_bytes")) {
    if (*n < 16 || *n > 1'048'576) {
      settings.ErrorAt("max_line_bytes", "'max_line_bytes' must be between 16 and 1048576");
    } else {
      options.follow.max_line_bytes = static_cast<size_t>(*n);
    }
  }
  if (auto n = settings.Int("read_chunk_bytes")) {
    if (*n < 4096 || *n > 64 * 1'048'576) {
      settings.ErrorAt("read_chunk_bytes", "'read_chunk_bytes' must be between 4096 and 67108864");
    } else {
      options.follow.read_chunk_bytes = static_cast<size_t>(*n);
    }
  }
  if (auto n = settings.Int("max_files")) {
    if (*n < 1 || *n > static_cast<int64_t>(kMaxMaxFiles)) {
      settings.ErrorAt("max_files", "'max_files' must be between 1 and " +
                                        std::to_string(kMaxMaxFiles));
    } else {
      options.max_files = static_cast<size_t>(*n);
    }
  }
  if (auto n = settings.Int("max_events_per_run")) {
    if (*n < 0) {
      settings.ErrorAt("max_events_per_run", "'max_events_per_run' must not be negative");
    } else {
      options.follow.max_events_per_poll = static_cast<size_t>(*n);
    }
  }
  if (settings.errors()->errors().size() != errors_before) return nullptr;
  auto probe = LogProbe::Create(spec, std::move(options), clock);
  if (!probe.ok()) {
    settings.ErrorAt(settings.Has("severities") ? "severities" : "paths", probe.status().message());
    return nullptr;
  }
  return std::move(probe).value();
}

}  // namespace obsmon::probes
